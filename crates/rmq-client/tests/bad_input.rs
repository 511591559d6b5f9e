//! Bad input from a scripted fake broker, through the real client APIs (`RemotingClient`, `Producer`,
//! `NameServerClient`, the push consumer): every case gets a typed error, the connection is closed
//! exactly when the byte stream is desynchronised and kept otherwise, other connections are unaffected,
//! and nothing panics. Scenarios B2–B5 of the reliability catalogue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use rmq_client::consumer::{ConcurrentConsumer, ConsumeContext, ConsumeResult, ConsumerConfig};
use rmq_client::producer::Producer;
use rmq_client::route::NameServerClient;
use rmq_client::transport::ConnectionOptions;
use rmq_client::{ErrorKind, RemotingClient};
use rmq_protocol::header::{
    ConsumerListBody, HeartbeatData, PullMessageRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::message::{encode_message_ext, Message, MessageExt};
use rmq_protocol::{ExtFields, ProtocolError, RemotingCommand, RequestCode, ResponseCode, SerializeType};
use support::fake_broker::{
    frame_of, json_frame, ok, response, route_json, route_json_brokers, with_length, with_serialize_type,
    FakeBroker, Reply,
};

/// Panics anywhere but in this file's own assertions (library code, tokio tasks, the fake).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info
                .location()
                .is_some_and(|l| l.file().ends_with("tests/bad_input.rs"))
            {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn assert_no_panics() {
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a task panicked (see the output above)"
    );
}

fn remoting() -> RemotingClient {
    RemotingClient::new(ConnectionOptions::default(), None, None, SerializeType::Json)
}

/// A request tagged `tag` (the fakes' scripts dispatch on it).
fn tagged(tag: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("tag", tag);
    RemotingCommand::new_request(RequestCode::HEART_BEAT, ext)
}

fn tag(req: &RemotingCommand) -> &str {
    req.ext_fields.get("tag").unwrap_or("")
}

const WAIT: Duration = Duration::from_secs(5);

/// A ROCKETMQ-serialized header announcing ext fields of `ext_len` bytes, with none following.
fn binary_header_with_ext_len(ext_len: i32) -> Bytes {
    let mut h = BytesMut::new();
    h.put_i16(0); // code
    h.put_u8(0); // language
    h.put_i16(0); // version
    h.put_i32(1); // opaque
    h.put_i32(1); // flag: response
    h.put_i32(0); // remark length
    h.put_i32(ext_len);
    let mut b = BytesMut::new();
    b.put_i32(4 + h.len() as i32);
    b.put_u32((1 << 24) | h.len() as u32);
    b.put_slice(&h);
    b.freeze()
}

/// A named input and the check its protocol error must pass.
type DesyncCase = (&'static str, Bytes, fn(&ProtocolError) -> bool);

/// What a desynchronised stream looks like, and the error it must give.
fn desync_cases(ok_frame: &RemotingCommand) -> Vec<DesyncCase> {
    vec![
        (
            // rocketmq-clients#742: a gRPC (HTTP/2) peer on a remoting port; "PRI " read as a length.
            "HTTP/2 preface",
            Bytes::from_static(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            |e| {
                matches!(
                    e,
                    ProtocolError::FrameTooLarge {
                        len: 1_347_569_956,
                        ..
                    }
                )
            },
        ),
        ("length 0xFFFFFFFF", with_length(-1, &[0; 8]), |e| {
            matches!(e, ProtocolError::InvalidFrameLength(-1))
        }),
        (
            "negative length",
            with_length(i32::MIN, &[0; 8]),
            |e| matches!(e, ProtocolError::InvalidFrameLength(l) if *l == i32::MIN as i64),
        ),
        ("length just over 16 MiB", with_length(16 << 20, &[0; 8]), |e| {
            matches!(e, ProtocolError::FrameTooLarge { .. })
        }),
        (
            "length too small for a header word",
            with_length(2, &[0, 0]),
            |e| matches!(e, ProtocolError::InvalidFrameLength(2)),
        ),
        (
            // rocketmq#10911: UTF-8 text where a length should be.
            "text as a length",
            Bytes::from_static("福福福福福福".as_bytes()),
            |e| matches!(e, ProtocolError::InvalidFrameLength(_)),
        ),
        (
            "header length beyond the frame",
            with_length(8, &[0, 0, 0, 16, 0, 0, 0, 0]),
            |e| matches!(e, ProtocolError::HeaderLengthOutOfRange { header_len: 16, .. }),
        ),
        ("serialize type 2", with_serialize_type(ok_frame, 2), |e| {
            matches!(e, ProtocolError::UnknownSerializeType(2))
        }),
        ("serialize type 0x7f", with_serialize_type(ok_frame, 0x7f), |e| {
            matches!(e, ProtocolError::UnknownSerializeType(0x7f))
        }),
        // Well delimited, but the header cannot be read, so neither can its opaque: closed, as Java's
        // NettyDecoder closes the channel on any decode exception.
        (
            "unterminated JSON ext field",
            json_frame(
                br#"{"code":0,"flag":1,"opaque":1,"extFields":{"queueOffset":"12"#,
                b"",
            ),
            |e| matches!(e, ProtocolError::MalformedHeader { format: "JSON", .. }),
        ),
        (
            "invalid UTF-8 in a JSON ext field",
            json_frame(
                b"{\"code\":0,\"flag\":1,\"opaque\":1,\"extFields\":{\"k\":\"\xff\xfe\"}}",
                b"",
            ),
            |e| matches!(e, ProtocolError::MalformedHeader { format: "JSON", .. }),
        ),
        (
            "huge ROCKETMQ ext-field length",
            binary_header_with_ext_len(i32::MAX),
            |e| {
                matches!(
                    e,
                    ProtocolError::MalformedHeader { .. } | ProtocolError::Truncated(_)
                )
            },
        ),
        (
            "negative ROCKETMQ ext-field length",
            binary_header_with_ext_len(-5),
            |e| {
                matches!(
                    e,
                    ProtocolError::MalformedHeader { .. } | ProtocolError::Truncated(_)
                )
            },
        ),
    ]
}

/// B2/B3: each desync fails the request it answers and the one waiting beside it with the protocol
/// error, within a second; the client closes that connection after that one read; a request pending on
/// another connection of the same client completes; the next request reconnects and succeeds.
#[tokio::test]
async fn desynced_stream_closes_only_its_connection() {
    count_panics();
    let bad_bytes: Arc<Mutex<Bytes>> = Arc::default();
    let b = bad_bytes.clone();
    let bad = FakeBroker::start(move |req, _| match tag(req) {
        "bad" => vec![Reply::Raw(b.lock().unwrap().clone())],
        "waiting" => vec![],
        _ => vec![Reply::Command(ok(req))],
    })
    .await;
    // The other broker answers only when the test says so.
    let other = FakeBroker::start(|_, _| vec![]).await;
    let client = remoting();

    for (round, (name, bytes, expected)) in desync_cases(&ok(&tagged("x"))).into_iter().enumerate() {
        *bad_bytes.lock().unwrap() = bytes;
        let (c, addr) = (client.clone(), other.addr());
        let on_other = tokio::spawn(async move { c.invoke(&addr, tagged("other"), WAIT).await });
        let (c, addr) = (client.clone(), bad.addr());
        let waiting = tokio::spawn(async move { c.invoke(&addr, tagged("waiting"), WAIT).await });
        assert!(
            bad.wait_for(WAIT, |s| s.conns.len() == round + 1
                && s.conns[round].requests.iter().any(|r| tag(r) == "waiting"))
                .await
        );
        let err = client.invoke(&bad.addr(), tagged("bad"), WAIT).await.unwrap_err();
        let failed_at = Instant::now();
        match err.kind() {
            ErrorKind::Protocol(p) => assert!(expected(p), "{name}: {p:?}"),
            other => panic!("{name}: expected a protocol error, got {other:?}"),
        }
        let err = waiting.await.unwrap().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{name}: {err:?}");
        assert!(failed_at.elapsed() < Duration::from_secs(1), "{name}");
        assert!(
            bad.wait_for(WAIT, |s| s.conns[round].closed_by_client).await,
            "{name}: the client kept a desynced connection open"
        );

        // The other connection is unaffected: its pending request completes.
        assert!(
            other
                .wait_for(WAIT, |s| s.requests_of(RequestCode::HEART_BEAT.0).len()
                    == round + 1)
                .await
        );
        let pending = other.seen().requests_of(RequestCode::HEART_BEAT.0)[round].clone();
        other.push(0, Reply::Command(ok(&pending)));
        let resp = on_other.await.unwrap().unwrap();
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{name}");
        assert!(!other.seen().conns[0].closed_by_client);

        // A new connection replaces the closed one (and is the next round's victim).
        let resp = client.invoke(&bad.addr(), tagged("fine"), WAIT).await.unwrap();
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{name}");
        assert_eq!(bad.seen().conns.len(), round + 2, "{name}");
    }
    assert_eq!(
        other.seen().conns.len(),
        1,
        "the other connection was never replaced"
    );
    assert_no_panics();
}

/// B5: a response nobody waits for is dropped; an unknown response code is a `Broker` error carrying
/// the code; an unknown server-initiated request is refused with REQUEST_CODE_NOT_SUPPORTED. None of
/// them costs the connection.
#[tokio::test]
async fn unmatched_opaques_and_unknown_codes_keep_the_connection() {
    count_panics();
    let fake = FakeBroker::start(|req, _| {
        let stray = |opaque_shift: i32| {
            let mut r = ok(req);
            r.opaque = req.opaque.wrapping_add(opaque_shift);
            Reply::Command(r)
        };
        match tag(req) {
            "stray-then-answer" => vec![stray(1_000_000), stray(-7), Reply::Command(ok(req))],
            "stray-only" => vec![stray(1_000_000)],
            "unknown-code" => vec![Reply::Command(response(req, ResponseCode(31_337), &[], b""))],
            _ => vec![Reply::Command(ok(req))],
        }
    })
    .await;
    let client = remoting();
    let addr = fake.addr();

    let resp = client
        .invoke(&addr, tagged("stray-then-answer"), WAIT)
        .await
        .unwrap();
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);

    let started = Instant::now();
    let err = client
        .invoke(&addr, tagged("stray-only"), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let resp = client.invoke(&addr, tagged("unknown-code"), WAIT).await.unwrap();
    assert_eq!(resp.response_code(), ResponseCode(31_337));
    let err = client
        .invoke_ok(&addr, tagged("unknown-code"), WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Broker { code, .. } if *code == ResponseCode(31_337)),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    // A request from the server with a code the client does not know.
    let mut unknown = RemotingCommand::new_request(RequestCode(4_321), ExtFields::new());
    unknown.opaque = 99;
    fake.push(0, Reply::Command(unknown));
    assert!(fake.wait_for(WAIT, |s| !s.conns[0].responses.is_empty()).await);
    let answer = fake.seen().conns[0].responses[0].clone();
    assert_eq!(
        (answer.opaque, answer.response_code()),
        (99, ResponseCode::REQUEST_CODE_NOT_SUPPORTED)
    );

    let resp = client.invoke(&addr, tagged("still-fine"), WAIT).await.unwrap();
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let seen = fake.seen();
    assert_eq!(seen.conns.len(), 1, "the connection was replaced");
    assert!(!seen.conns[0].closed_by_client);
    assert_no_panics();
}

/// A fake name server that routes every topic to `broker` (one queue).
async fn name_server_for(broker: &str) -> FakeBroker {
    let broker = broker.to_owned();
    FakeBroker::start(move |req, _| {
        if req.code == RequestCode::GET_ROUTEINFO_BY_TOPIC.0 {
            vec![Reply::Command(response(
                req,
                ResponseCode::SUCCESS,
                &[],
                &route_json("fakeBroker", &broker, 1),
            ))]
        } else {
            vec![Reply::Command(ok(req))]
        }
    })
    .await
}

/// B3 at the typed-header level: a SEND answered SUCCESS whose header fields do not parse is a
/// protocol error naming the field. It is not retried (the broker said the message is stored, so a
/// retry would duplicate it), and the well-framed answer costs no connection.
#[tokio::test]
async fn send_response_with_bad_header_fields_is_a_typed_error() {
    count_panics();
    let broker = FakeBroker::start(|req, ctx| {
        if req.code != RequestCode::SEND_MESSAGE_V2.0 {
            return vec![Reply::Command(ok(req))];
        }
        let ext: &[(&str, &str)] = match ctx.nth_of_code {
            0 => &[
                ("msgId", "AC11000100002A9F0000000000000000"),
                ("queueId", "0"),
                ("queueOffset", "NaN"),
            ],
            1 => &[("queueId", "0"), ("queueOffset", "7")],
            2 => &[("msgId", "x"), ("queueId", "99999999999"), ("queueOffset", "7")],
            _ => &[
                ("msgId", "AC11000100002A9F0000000000000000"),
                ("queueId", "0"),
                ("queueOffset", "7"),
            ],
        };
        vec![Reply::Command(response(req, ResponseCode::SUCCESS, ext, b""))]
    })
    .await;
    let namesrv = name_server_for(&broker.addr()).await;
    let producer = Producer::builder("bad_input_pg")
        .name_server(namesrv.addr())
        .send_timeout(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    let msg = || Message::new("BadInputTopic", &b"payload"[..]);

    let err = producer.send(msg()).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Protocol(ProtocolError::InvalidField {
                field: "queueOffset",
                ..
            })
        ),
        "{err:?}"
    );
    let err = producer.send(msg()).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Protocol(ProtocolError::MissingField { field: "msgId", .. })
        ),
        "{err:?}"
    );
    let err = producer.send(msg()).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Protocol(ProtocolError::InvalidField { field: "queueId", .. })
        ),
        "{err:?}"
    );
    let sent = producer.send(msg()).await.unwrap();
    assert_eq!(sent.queue_offset, 7);

    let seen = broker.seen();
    assert_eq!(
        seen.requests_of(RequestCode::SEND_MESSAGE_V2.0).len(),
        4,
        "a send was retried"
    );
    assert_eq!(seen.conns.len(), 1, "the broker connection was replaced");
    producer.shutdown().await;
    assert_no_panics();
}

/// A route answer whose JSON body does not parse is a protocol error; the name-server connection stays.
#[tokio::test]
async fn corrupt_route_json_is_a_typed_error() {
    count_panics();
    let namesrv = FakeBroker::start(|req, ctx| {
        let body: &[u8] = match ctx.nth_of_code {
            0 => b"{\"brokerDatas\":[{\"brokerAddrs\":{0:",
            1 => b"\xff\xfe not json",
            2 => br#"{"brokerDatas":"not a list","queueDatas":[]}"#,
            _ => br#"{"brokerDatas":[],"queueDatas":[]}"#,
        };
        vec![Reply::Command(response(req, ResponseCode::SUCCESS, &[], body))]
    })
    .await;
    let client = NameServerClient::new(vec![namesrv.addr()], remoting(), WAIT).unwrap();
    for _ in 0..3 {
        let err = client.topic_route("T").await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Protocol(ProtocolError::Json(_))),
            "{err:?}"
        );
    }
    let route = client.topic_route("T").await.unwrap();
    assert!(route.broker_datas.is_empty());
    assert_eq!(namesrv.seen().conns.len(), 1);
    assert_no_panics();
}

/// A stored message for a pull body.
fn stored(topic: &str, queue_offset: i64) -> Bytes {
    let mut m = MessageExt::from(Message::new(topic, format!("m{queue_offset}").into_bytes()));
    m.queue_offset = queue_offset;
    m.commit_log_offset = 1000 + queue_offset;
    encode_message_ext(&m).unwrap()
}

/// The same message with its magic code destroyed.
fn corrupt(msg: Bytes) -> Bytes {
    let mut b = BytesMut::from(&msg[..]);
    b[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    b.freeze()
}

fn pull_answer(req: &RemotingCommand, body: &[u8], next: i64) -> Reply {
    let next = next.to_string();
    Reply::Command(response(
        req,
        ResponseCode::SUCCESS,
        &[
            ("suggestWhichBrokerId", "0"),
            ("nextBeginOffset", &next),
            ("minOffset", "0"),
            ("maxOffset", "3"),
        ],
        body,
    ))
}

/// B4: a pull body with an undecodable message. The messages before it are delivered; the queue then
/// pulls again from the bad message (never past it), so no offset beyond it is committed until it
/// decodes; once the broker serves it intact, everything is delivered exactly once.
#[tokio::test]
async fn corrupt_pull_body_never_commits_past_the_bad_message() {
    count_panics();
    const TOPIC: &str = "BadPullTopic";
    let clients: Arc<Mutex<Vec<String>>> = Arc::default();
    let cl = clients.clone();
    let corrupt_answers = Arc::new(AtomicUsize::new(0));
    let ca = corrupt_answers.clone();
    let broker = FakeBroker::start(move |req, _| {
        let code = RequestCode(req.code);
        match code {
            RequestCode::HEART_BEAT => {
                if let Ok(hb) = HeartbeatData::from_json(&req.body) {
                    let mut c = cl.lock().unwrap();
                    if !c.contains(&hb.client_id) {
                        c.push(hb.client_id);
                    }
                }
                vec![Reply::Command(ok(req))]
            }
            RequestCode::GET_CONSUMER_LIST_BY_GROUP => {
                let body = ConsumerListBody {
                    consumer_id_list: cl.lock().unwrap().clone(),
                };
                vec![Reply::Command(response(
                    req,
                    ResponseCode::SUCCESS,
                    &[],
                    &body.to_json(),
                ))]
            }
            RequestCode::QUERY_CONSUMER_OFFSET => {
                vec![Reply::Command(response(
                    req,
                    ResponseCode::SUCCESS,
                    &[("offset", "0")],
                    b"",
                ))]
            }
            RequestCode::PULL_MESSAGE => {
                let h: PullMessageRequestHeader = req.decode_header().unwrap();
                if h.topic != TOPIC {
                    return vec![]; // the retry topic: held, like an empty long poll
                }
                match h.queue_offset {
                    // 0 is fine, 1 is corrupt, 2 is never reached by the decoder.
                    0 => {
                        let mut body = BytesMut::new();
                        body.extend_from_slice(&stored(TOPIC, 0));
                        body.extend_from_slice(&corrupt(stored(TOPIC, 1)));
                        body.extend_from_slice(&stored(TOPIC, 2));
                        vec![pull_answer(req, &body, 3)]
                    }
                    // Corrupt twice more, then intact.
                    1 if ca.fetch_add(1, Ordering::SeqCst) < 2 => {
                        vec![pull_answer(req, &corrupt(stored(TOPIC, 1)), 3)]
                    }
                    1 => {
                        let mut body = BytesMut::new();
                        body.extend_from_slice(&stored(TOPIC, 1));
                        body.extend_from_slice(&stored(TOPIC, 2));
                        vec![pull_answer(req, &body, 3)]
                    }
                    _ => vec![], // nothing new: hold the long poll
                }
            }
            _ => vec![Reply::Command(ok(req))],
        }
    })
    .await;
    let namesrv = name_server_for(&broker.addr()).await;

    let delivered: Arc<Mutex<Vec<i64>>> = Arc::default();
    let d = delivered.clone();
    let mut config = ConsumerConfig::new("bad_pull_group");
    config.client.namesrv_addr = namesrv.addr();
    config.persist_interval = Duration::from_millis(100);
    let consumer = ConcurrentConsumer::builder(config)
        .subscribe(TOPIC, "*")
        .listener(move |msgs: &[MessageExt], _ctx: &mut ConsumeContext| {
            d.lock().unwrap().extend(msgs.iter().map(|m| m.queue_offset));
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();

    let pulls_at = |s: &support::fake_broker::Seen| -> Vec<i64> {
        s.requests_of(RequestCode::PULL_MESSAGE.0)
            .iter()
            .filter_map(|r| r.decode_header::<PullMessageRequestHeader>().ok())
            .filter(|h| h.topic == TOPIC)
            .map(|h| h.queue_offset)
            .collect()
    };
    assert!(
        broker
            .wait_for(Duration::from_secs(20), |s| pulls_at(s).contains(&3))
            .await,
        "pulls: {:?}",
        pulls_at(&broker.seen())
    );
    assert!(
        support::eventually(WAIT, || async { delivered.lock().unwrap().len() >= 3 }).await,
        "delivered {:?}",
        delivered.lock().unwrap()
    );
    let seen = broker.seen();
    assert_eq!(seen.conns.len(), 1);
    // Pulled from 0, then from the bad message until it decoded, then on from 3.
    assert_eq!(pulls_at(&seen)[..5], [0, 1, 1, 1, 3]);
    let mut got = delivered.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2], "every message exactly once");

    // No commit (in a pull or an offset update) went past 1 before message 1 was served intact, i.e.
    // before the third pull from 1 was answered.
    let mut pulls_from_1 = 0;
    for r in &seen.conns[0].requests {
        if pulls_from_1 >= 3 {
            break;
        }
        let commit = match RequestCode(r.code) {
            RequestCode::PULL_MESSAGE => {
                let h: PullMessageRequestHeader = r.decode_header().unwrap();
                if h.topic != TOPIC {
                    continue;
                }
                pulls_from_1 += usize::from(h.queue_offset == 1);
                h.commit_offset
            }
            RequestCode::UPDATE_CONSUMER_OFFSET => {
                let h: UpdateConsumerOffsetRequestHeader = r.decode_header().unwrap();
                if h.topic != TOPIC {
                    continue;
                }
                h.commit_offset
            }
            _ => continue,
        };
        assert!(commit <= 1, "committed {commit} while message 1 was undecodable");
    }
    assert_eq!(pulls_from_1, 3);
    consumer.shutdown().await;
    assert_eq!(corrupt_answers.load(Ordering::SeqCst), 3);
    assert_no_panics();
}

/// A frame cut short by the peer closing: the pending request fails with `Disconnected` at once.
#[tokio::test]
async fn truncated_frame_then_close_is_a_disconnect() {
    count_panics();
    let fake = FakeBroker::start(|req, _| {
        let whole = frame_of(&ok(req));
        vec![Reply::Raw(whole.slice(..whole.len() - 3)), Reply::Close]
    })
    .await;
    let started = Instant::now();
    let err = remoting()
        .invoke(&fake.addr(), tagged("cut"), WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Disconnected { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_no_panics();
}

/// A send whose first attempt may have stored the message (the connection closed after the request
/// was written) and whose retry could not even connect must still report an indeterminate error,
/// not the retry's "cannot connect": a caller that took it as a definite failure and sent again
/// would duplicate the message (seen in the X5 lossy-link scenario of rmq-chaos).
#[tokio::test]
async fn send_reports_an_earlier_indeterminate_attempt() {
    count_panics();
    // Broker "closing" reads the SEND and closes the connection without an answer.
    let closing = FakeBroker::start(|req, _| {
        if req.code == RequestCode::SEND_MESSAGE_V2.0 {
            vec![Reply::Close]
        } else {
            vec![Reply::Command(ok(req))]
        }
    })
    .await;
    // Broker "gone": nothing listens at its address.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let route = route_json_brokers(&[("closing", &closing.addr()), ("gone", &gone)], 1);
    let namesrv = FakeBroker::start(move |req, _| {
        if req.code == RequestCode::GET_ROUTEINFO_BY_TOPIC.0 {
            vec![Reply::Command(response(req, ResponseCode::SUCCESS, &[], &route))]
        } else {
            vec![Reply::Command(ok(req))]
        }
    })
    .await;
    let producer = Producer::builder("indeterminate_pg")
        .name_server(namesrv.addr())
        .send_timeout(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    // Attempts alternate between the brokers: whichever comes first, one reached "closing".
    for _ in 0..4 {
        let err = producer
            .send(Message::new("IndeterminateTopic", &b"payload"[..]))
            .await
            .unwrap_err();
        assert!(err.is_indeterminate(), "{err:?}");
    }
    assert!(!closing
        .seen()
        .requests_of(RequestCode::SEND_MESSAGE_V2.0)
        .is_empty());
    producer.shutdown().await;
    assert_no_panics();
}
