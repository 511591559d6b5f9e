//! The request/response driver behind the `client_driver` fuzz target, shared with the stable corpus
//! test (`crates/rmq-client/tests/fuzz_corpus.rs`).
//!
//! A connection actor ([`ConnectionHandle::spawn`]) runs over an in-memory stream with requests in
//! flight, while the fuzz input plays the server: it writes raw bytes, responses (matching an in-flight
//! request's opaque or not, with any code, ext fields and body, JSON or ROCKETMQ), corrupted copies of
//! them, server-initiated requests, pauses, and finally closes or stays silent. Time is paused, so
//! deadlines cost nothing. Checked: no panic; the client writes only well-formed frames; every request
//! completes within its deadline, with a response or a typed error (timeout, disconnect, protocol).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use rmq_client::transport::{ConnectionHandle, ConnectionOptions, InboundSink};
use rmq_client::ErrorKind;
use rmq_protocol::{frame, ExtFields, RemotingCommand, RequestCode, ResponseCode, SerializeType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Deadline of every request.
const TIMEOUT: Duration = Duration::from_millis(300);

/// Reads the fuzz input front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes([self.byte(), self.byte()])
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn text(&mut self) -> String {
        let n = self.byte() as usize % 24;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
    fn command(&mut self, opaque: i32) -> RemotingCommand {
        let code = self.i16() as i32;
        let flag = self.byte() as i32 & 0b11;
        let mut cmd = RemotingCommand::new_response(ResponseCode(code), opaque, None);
        cmd.flag = flag;
        if self.byte() & 1 == 1 {
            cmd.remark = Some(self.text());
        }
        let mut ext = ExtFields::new();
        for _ in 0..self.byte() % 4 {
            let k = self.text();
            let v = self.text();
            ext.insert(k, v);
        }
        cmd.ext_fields = ext;
        let n = self.byte() as usize;
        cmd.body = bytes::Bytes::copy_from_slice(self.take(n));
        cmd.serialize_type = if self.byte() & 1 == 1 {
            SerializeType::RocketMq
        } else {
            SerializeType::Json
        };
        cmd
    }
}

/// Run one fuzz input (builds its own single-threaded runtime with paused time).
pub fn run(data: &[u8]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(drive(data));
}

async fn drive(data: &[u8]) {
    let mut input = Input(data);
    let requests = 1 + input.byte() as usize % 6;
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let (inbound_tx, mut inbound_rx) = tokio::sync::mpsc::channel(4);
    let sink = InboundSink::new(
        inbound_tx,
        &[
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
            RequestCode::GET_CONSUMER_RUNNING_INFO,
        ],
    );
    let opts = ConnectionOptions {
        sweep_interval: Duration::from_millis(50),
        queue_capacity: 16,
        ..ConnectionOptions::default()
    };
    let handle = ConnectionHandle::spawn(client_end, "fuzz:1", &opts, Some(sink));

    let calls: Vec<_> = (0..requests)
        .map(|i| {
            let h = handle.clone();
            tokio::spawn(async move {
                let mut ext = ExtFields::new();
                ext.insert("i", i.to_string());
                let started = Instant::now();
                let res = h
                    .request(
                        RemotingCommand::new_request(RequestCode::PULL_MESSAGE, ext),
                        TIMEOUT,
                    )
                    .await;
                (res, started.elapsed())
            })
        })
        .collect();
    // Server requests delivered to the sink get an answer, as the client's dispatcher would give.
    let responder = tokio::spawn(async move {
        while let Some(req) = inbound_rx.recv().await {
            let answer = RemotingCommand::new_response(ResponseCode::SUCCESS, req.command.opaque, None);
            let _ = req.connection.respond(answer).await;
        }
    });

    let (mut server_read, mut server_write) = tokio::io::split(server_end);
    // What the client writes must always be well-formed; remember the opaques of its requests.
    let opaques: Arc<Mutex<Vec<i32>>> = Arc::default();
    let seen = opaques.clone();
    let reader = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        loop {
            match server_read.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            while let Some(cmd) =
                frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME).expect("the client wrote a malformed frame")
            {
                if !cmd.is_response() {
                    seen.lock().unwrap().push(cmd.opaque);
                }
            }
        }
    });
    // Let the requests go out before the server speaks.
    for _ in 0..64 {
        if opaques.lock().unwrap().len() >= requests {
            break;
        }
        tokio::task::yield_now().await;
    }

    let opaque_at = |k: u8| {
        let o = opaques.lock().unwrap();
        o.get(k as usize % o.len().max(1)).copied().unwrap_or(k as i32)
    };
    let mut close_at_end = true;
    while !input.is_empty() {
        let out = match input.byte() % 6 {
            0 => {
                let n = input.byte() as usize;
                BytesMut::from(input.take(n))
            }
            1 => {
                let opaque = opaque_at(input.byte());
                let mut cmd = input.command(opaque);
                cmd.flag |= rmq_protocol::FLAG_RESPONSE;
                encode(&cmd)
            }
            2 => {
                // A response to nobody, or a server request with any code.
                let opaque = input.i32();
                encode(&input.command(opaque))
            }
            3 => {
                // A valid response with one byte changed (lengths, type byte, header or body).
                let opaque = opaque_at(input.byte());
                let mut cmd = input.command(opaque);
                cmd.flag |= rmq_protocol::FLAG_RESPONSE;
                let mut b = encode(&cmd);
                let at = input.i16() as u16 as usize;
                let v = input.byte();
                if !b.is_empty() {
                    let at = at % b.len();
                    b[at] = v;
                }
                b
            }
            4 => {
                tokio::time::sleep(Duration::from_millis(input.byte() as u64 * 2)).await;
                continue;
            }
            _ => {
                close_at_end = input.byte() & 1 == 0;
                continue;
            }
        };
        // The client may have closed the stream already: later writes just fail.
        if server_write.write_all(&out).await.is_err() {
            break;
        }
    }
    if close_at_end {
        drop(server_write);
    }

    for call in calls {
        let (res, took) = call.await.unwrap();
        assert!(
            took <= TIMEOUT + Duration::from_millis(1),
            "a request took {took:?}"
        );
        match res {
            Ok(resp) => assert!(resp.is_response()),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Timeout { .. } | ErrorKind::Disconnected { .. } | ErrorKind::Protocol(_)
                ),
                "unexpected error kind: {e:?}"
            ),
        }
    }
    handle.close();
    responder.abort();
    reader.await.unwrap();
}

fn encode(cmd: &RemotingCommand) -> BytesMut {
    let mut out = BytesMut::new();
    // A header over the 24-bit limit cannot be encoded: nothing is written then.
    let _ = frame::encode(cmd, &mut out);
    out
}
