//! Micro-benchmarks of the hot codec paths: encoding a 1 KiB send request and decoding a pull body of
//! 32 × 1 KiB messages.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rmq_protocol::header::SendMessageRequestHeaderV2;
use rmq_protocol::message::{
    decode_messages, encode_message_ext_into, encode_properties, Message, MessageExt, MessageVersion,
};
use rmq_protocol::{frame, CommandHeader, RemotingCommand, RequestCode, SerializeType};

fn send_request(serialize: SerializeType) -> RemotingCommand {
    let msg = Message::new("BenchTopic", vec![b'x'; 1024])
        .with_tags("TagA")
        .with_keys(["order-123"]);
    let header = SendMessageRequestHeaderV2 {
        producer_group: "bench_producer".into(),
        topic: "BenchTopic".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(encode_properties(&msg.properties).unwrap()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    };
    RemotingCommand::new_request(RequestCode::SEND_MESSAGE_V2, header.to_ext())
        .with_body(msg.body)
        .with_serialize_type(serialize)
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_send_1KiB");
    g.throughput(Throughput::Elements(1));
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let cmd = send_request(st);
        let mut buf = BytesMut::with_capacity(4096);
        g.bench_function(format!("{st:?}/frame_only"), |b| {
            b.iter(|| {
                buf.clear();
                frame::encode(black_box(&cmd), &mut buf).unwrap();
                black_box(buf.len())
            })
        });
        // Everything a send does per message before the socket: properties string, header map, frame.
        g.bench_function(format!("{st:?}/header_and_frame"), |b| {
            b.iter(|| {
                buf.clear();
                let cmd = send_request(st);
                frame::encode(black_box(&cmd), &mut buf).unwrap();
                black_box(buf.len())
            })
        });
    }
    g.finish();
}

fn pull_body() -> Bytes {
    let mut out = BytesMut::new();
    for i in 0..32 {
        let mut m = MessageExt::from(
            Message::new("BenchTopic", vec![b'y'; 1024])
                .with_tags("TagA")
                .with_keys(["k"]),
        );
        m.queue_offset = i;
        m.commit_log_offset = i * 1200;
        m.born_host = "127.0.0.1:50000".parse().unwrap();
        m.store_host = "127.0.0.1:10911".parse().unwrap();
        m.message
            .set_unique_key(format!("7F0000010001000000000000000{i:05}"));
        encode_message_ext_into(&m, MessageVersion::V1, &mut out).unwrap();
    }
    out.freeze()
}

fn bench_decode(c: &mut Criterion) {
    let body = pull_body();
    let mut g = c.benchmark_group("decode_pull_32x1KiB");
    g.throughput(Throughput::Elements(32));
    g.bench_function("decode_messages", |b| {
        b.iter(|| black_box(decode_messages(black_box(&body)).unwrap().len()))
    });
    g.finish();
}

criterion_group!(benches, bench_encode, bench_decode);
criterion_main!(benches);
