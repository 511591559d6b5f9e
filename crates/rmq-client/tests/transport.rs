//! Connection actor behaviour against a scripted peer over an in-memory stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::BytesMut;
use rmq_client::transport::{ConnectionHandle, ConnectionOptions, InboundSink};
use rmq_client::ErrorKind;
use rmq_protocol::{frame, ExtFields, RemotingCommand, RequestCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// The far end of the connection: reads and writes frames.
struct Peer {
    io: DuplexStream,
    buf: BytesMut,
}

impl Peer {
    async fn read(&mut self) -> Option<RemotingCommand> {
        loop {
            if let Some(cmd) = frame::decode(&mut self.buf, frame::DEFAULT_MAX_FRAME).unwrap() {
                return Some(cmd);
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    async fn write(&mut self, cmd: &RemotingCommand) {
        let mut out = BytesMut::new();
        frame::encode(cmd, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
    }
}

fn pair(inbound: Option<InboundSink>) -> (ConnectionHandle, Peer) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let handle = ConnectionHandle::spawn(a, "peer:1", &ConnectionOptions::default(), inbound);
    (
        handle,
        Peer {
            io: b,
            buf: BytesMut::new(),
        },
    )
}

fn req(code: RequestCode, tag: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("tag", tag);
    RemotingCommand::new_request(code, ext)
}

fn answer(to: &RemotingCommand) -> RemotingCommand {
    let mut r = RemotingCommand::new_response(ResponseCode::SUCCESS, to.opaque, None);
    r.ext_fields = to.ext_fields.clone();
    r
}

#[tokio::test]
async fn responses_match_requests_out_of_order() {
    let (h, mut peer) = pair(None);
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                let r = h
                    .request(
                        req(RequestCode::HEART_BEAT, &i.to_string()),
                        Duration::from_secs(5),
                    )
                    .await;
                (i, r.unwrap())
            })
        })
        .collect();
    let mut got = Vec::new();
    for _ in 0..20 {
        got.push(peer.read().await.unwrap());
    }
    // Answer in reverse order.
    for r in got.iter().rev() {
        peer.write(&answer(r)).await;
    }
    for c in calls {
        let (i, resp) = c.await.unwrap();
        assert_eq!(resp.ext_fields.get("tag"), Some(i.to_string().as_str()));
        assert!(resp.is_response());
    }
}

#[tokio::test]
async fn unanswered_request_times_out_and_connection_survives() {
    let (h, mut peer) = pair(None);
    let started = tokio::time::Instant::now();
    let err = h
        .request(req(RequestCode::HEART_BEAT, "lost"), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let lost = peer.read().await.unwrap();
    // A late answer to the timed-out request is ignored; the next request still works.
    peer.write(&answer(&lost)).await;
    let h2 = h.clone();
    let next = tokio::spawn(async move {
        h2.request(req(RequestCode::HEART_BEAT, "ok"), Duration::from_secs(5))
            .await
    });
    let r = peer.read().await.unwrap();
    peer.write(&answer(&r)).await;
    assert_eq!(next.await.unwrap().unwrap().ext_fields.get("tag"), Some("ok"));
}

#[tokio::test]
async fn close_fails_every_pending_request_at_once() {
    let (h, mut peer) = pair(None);
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                h.request(
                    req(RequestCode::PULL_MESSAGE, &i.to_string()),
                    Duration::from_secs(30),
                )
                .await
            })
        })
        .collect();
    for _ in 0..10 {
        peer.read().await.unwrap();
    }
    let closed_at = std::time::Instant::now();
    drop(peer);
    for c in calls {
        let err = c.await.unwrap().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Disconnected { .. }), "{err:?}");
    }
    assert!(
        closed_at.elapsed() < Duration::from_secs(1),
        "took {:?}",
        closed_at.elapsed()
    );
    assert!(h.is_closed());
    let err = h
        .request(req(RequestCode::HEART_BEAT, "late"), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Disconnected { .. }));
}

#[tokio::test]
async fn corrupt_stream_closes_connection_with_protocol_error() {
    for garbage in [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        &[0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0],
        &[0, 0, 0, 8, 7, 0, 0, 1, 0, 0, 0, 0],
    ] {
        let (h, mut peer) = pair(None);
        let h2 = h.clone();
        let call = tokio::spawn(async move {
            h2.request(req(RequestCode::HEART_BEAT, "x"), Duration::from_secs(30))
                .await
        });
        peer.read().await.unwrap();
        peer.io.write_all(garbage).await.unwrap();
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err:?}");
        // The actor closed its side.
        assert!(peer.read().await.is_none());
    }
}

#[tokio::test]
async fn server_requests_go_to_the_sink_or_are_refused() {
    let (tx, mut rx) = mpsc::channel(8);
    let sink = InboundSink::new(
        tx,
        &[
            RequestCode::GET_CONSUMER_RUNNING_INFO,
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
        ],
    );
    let (_h, mut peer) = pair(Some(sink));

    // Unknown code, not oneway: answered REQUEST_CODE_NOT_SUPPORTED with the same opaque.
    let mut unknown = req(RequestCode(9999), "u");
    unknown.opaque = 77;
    peer.write(&unknown).await;
    let resp = peer.read().await.unwrap();
    assert!(resp.is_response());
    assert_eq!(resp.opaque, 77);
    assert_eq!(resp.response_code(), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);

    // Oneway unknown: no answer. Oneway known: delivered.
    let mut oneway_unknown = req(RequestCode(9998), "u");
    oneway_unknown.mark_oneway();
    peer.write(&oneway_unknown).await;
    let mut notify = req(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED, "n");
    notify.mark_oneway();
    peer.write(&notify).await;
    let got = rx.recv().await.unwrap();
    assert_eq!(
        got.command.request_code(),
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED
    );

    // Sync known request: handler answers through the connection.
    let mut running = req(RequestCode::GET_CONSUMER_RUNNING_INFO, "r");
    running.opaque = 5;
    peer.write(&running).await;
    let got = rx.recv().await.unwrap();
    let reply =
        RemotingCommand::new_response(ResponseCode::SUCCESS, got.command.opaque, None).with_body(&b"{}"[..]);
    got.connection.respond(reply).await.unwrap();
    let resp = peer.read().await.unwrap();
    assert_eq!(
        (resp.opaque, resp.response_code(), &resp.body[..]),
        (5, ResponseCode::SUCCESS, &b"{}"[..])
    );
}

#[tokio::test]
async fn oneway_requests_carry_the_flag() {
    let (h, mut peer) = pair(None);
    h.oneway(req(RequestCode::UPDATE_CONSUMER_OFFSET, "o"))
        .await
        .unwrap();
    let got = peer.read().await.unwrap();
    assert!(got.is_oneway());
    assert_eq!(got.request_code(), RequestCode::UPDATE_CONSUMER_OFFSET);
}

#[tokio::test]
async fn abandoned_requests_are_swept() {
    let (h, mut peer) = pair(None);
    // Callers that give up (dropped futures) leave nothing behind; later traffic is unaffected.
    for i in 0..100 {
        let fut = h.request(
            req(RequestCode::HEART_BEAT, &i.to_string()),
            Duration::from_secs(60),
        );
        let _ = tokio::time::timeout(Duration::from_millis(1), fut).await;
    }
    let h2 = h.clone();
    let next = tokio::spawn(async move {
        h2.request(req(RequestCode::HEART_BEAT, "last"), Duration::from_secs(5))
            .await
    });
    loop {
        let r = peer.read().await.unwrap();
        if r.ext_fields.get("tag") == Some("last") {
            peer.write(&answer(&r)).await;
            break;
        }
    }
    assert_eq!(next.await.unwrap().unwrap().ext_fields.get("tag"), Some("last"));
}

#[tokio::test]
async fn dead_address_fails_fast() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let opts = ConnectionOptions {
        connect_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let err = ConnectionHandle::connect(&format!("127.0.0.1:{port}"), &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn frames_queued_under_load_are_coalesced_into_fewer_writes() {
    let (h, mut peer) = pair(None);
    let n = 500;
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                h.request(
                    req(RequestCode::HEART_BEAT, &i.to_string()),
                    Duration::from_secs(10),
                )
                .await
            })
        })
        .collect();
    for _ in 0..n {
        let r = peer.read().await.unwrap();
        peer.write(&answer(&r)).await;
    }
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let stats = h.stats();
    assert_eq!(stats.frames_written(), n as u64);
    assert_eq!(stats.frames_read(), n as u64);
    assert!(
        stats.writes() < stats.frames_written() / 2,
        "{} writes for {} frames",
        stats.writes(),
        stats.frames_written()
    );
}

/// Polls `cond` every 10 ms for up to 5 s.
async fn until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

#[tokio::test]
async fn pending_table_size_follows_answers_deadlines_and_close() {
    let (h, mut peer) = pair(None);
    assert_eq!(h.stats().pending_requests(), 0);
    let call = |i: usize, timeout: Duration| {
        let h = h.clone();
        tokio::spawn(async move {
            h.request(req(RequestCode::HEART_BEAT, &i.to_string()), timeout)
                .await
        })
    };
    // 10 requests written, none answered: all in the table.
    let calls: Vec<_> = (0..10).map(|i| call(i, Duration::from_millis(800))).collect();
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.push(peer.read().await.unwrap());
    }
    assert!(until(|| h.stats().pending_requests() == 10).await);
    // 3 answered: they leave it.
    for r in &seen[..3] {
        peer.write(&answer(r)).await;
    }
    assert!(until(|| h.stats().pending_requests() == 7).await);
    // The other 7 time out; the sweep removes them (a black-holed peer cannot grow the table).
    let mut timeouts = 0;
    for c in calls {
        if c.await.unwrap().is_err() {
            timeouts += 1;
        }
    }
    assert_eq!(timeouts, 7);
    assert!(
        until(|| h.stats().pending_requests() == 0).await,
        "{} left after the deadlines",
        h.stats().pending_requests()
    );
    // A closed connection has an empty table.
    let long: Vec<_> = (0..5).map(|i| call(i, Duration::from_secs(30))).collect();
    for _ in 0..5 {
        peer.read().await.unwrap();
    }
    assert!(until(|| h.stats().pending_requests() == 5).await);
    drop(peer);
    for c in long {
        assert!(c.await.unwrap().is_err());
    }
    assert_eq!(h.stats().pending_requests(), 0);
}
