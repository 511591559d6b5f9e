//! The fault proxy against a small RocketMQ-framed echo server (no JVM needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rmq_protocol::frame::{self, DEFAULT_MAX_FRAME};
use rmq_protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use rmq_testkit::{Fault, FaultProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers every request with SUCCESS, echoing its body; counts the requests it saw.
async fn echo_server() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(cmd)) = frame::decode(&mut buf, DEFAULT_MAX_FRAME) {
                        counter.fetch_add(1, Ordering::Relaxed);
                        let resp = RemotingCommand::new_response(ResponseCode::SUCCESS, cmd.opaque, None)
                            .with_body(cmd.body.clone());
                        if s.write_all(&frame::encode_to_bytes(&resp).unwrap())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (addr, seen)
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    opaque: i32,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        Conn {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
            opaque: 0,
        }
    }

    async fn send(&mut self, code: RequestCode, body: &[u8]) -> i32 {
        self.opaque += 1;
        let mut cmd = RemotingCommand::new_request(code, ExtFields::new()).with_body(body.to_vec());
        cmd.opaque = self.opaque;
        self.stream
            .write_all(&frame::encode_to_bytes(&cmd).unwrap())
            .await
            .unwrap();
        self.opaque
    }

    /// The next response, or `None` when nothing arrives within `wait`; panics on EOF or error.
    async fn response(&mut self, wait: Duration) -> Option<RemotingCommand> {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(cmd) = frame::decode(&mut self.buf, DEFAULT_MAX_FRAME).unwrap() {
                    return cmd;
                }
                let n = self.stream.read_buf(&mut self.buf).await.unwrap();
                assert!(n > 0, "connection closed");
            }
        })
        .await
        .ok()
    }

    /// What the next read returns: `Ok(0)` for EOF, or the error.
    async fn read_end(&mut self) -> std::io::Result<usize> {
        let mut b = [0u8; 64];
        tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut b))
            .await
            .expect("connection neither closed nor reset")
    }
}

const CODE: RequestCode = RequestCode::QUERY_CONSUMER_OFFSET;
const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn pass_forwards_both_ways() {
    let (upstream, seen) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    assert_eq!(proxy.fault(), Fault::Pass);
    let mut c = Conn::open(proxy.addr()).await;
    let opaque = c.send(CODE, b"hello").await;
    let r = c.response(SECOND).await.unwrap();
    assert_eq!((r.opaque, &r.body[..]), (opaque, &b"hello"[..]));
    assert_eq!(seen.load(Ordering::Relaxed), 1);
    assert_eq!((proxy.stats().open, proxy.stats().requests), (1, 1));
}

#[tokio::test]
async fn answer_and_swallow_rules_keep_requests_from_the_server() {
    let (upstream, seen) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    let mut c = Conn::open(proxy.addr()).await;

    proxy.answer(CODE, ResponseCode::SYSTEM_ERROR);
    let opaque = c.send(CODE, b"x").await;
    let r = c.response(SECOND).await.unwrap();
    assert_eq!(
        (r.opaque, r.response_code()),
        (opaque, ResponseCode::SYSTEM_ERROR)
    );
    // Other codes still pass.
    c.send(RequestCode::HEART_BEAT, b"y").await;
    assert_eq!(
        c.response(SECOND).await.unwrap().response_code(),
        ResponseCode::SUCCESS
    );
    assert_eq!(seen.load(Ordering::Relaxed), 1);

    proxy.swallow(CODE);
    c.send(CODE, b"z").await;
    assert!(c.response(Duration::from_millis(300)).await.is_none());

    proxy.forward(CODE);
    c.send(CODE, b"w").await;
    assert_eq!(&c.response(SECOND).await.unwrap().body[..], b"w");
    let stats = proxy.stats();
    assert_eq!((stats.answered, stats.swallowed), (1, 1));
    assert_eq!(seen.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn drop_closes_open_and_new_connections() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    let mut c = Conn::open(proxy.addr()).await;
    c.send(CODE, b"a").await;
    c.response(SECOND).await.unwrap();
    proxy.set_fault(Fault::Drop);
    assert_eq!(c.read_end().await.unwrap(), 0, "expected EOF");
    let mut fresh = Conn::open(proxy.addr()).await;
    assert_eq!(fresh.read_end().await.unwrap(), 0);
}

#[tokio::test]
async fn reset_sends_rst() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    let mut c = Conn::open(proxy.addr()).await;
    c.send(CODE, b"a").await;
    c.response(SECOND).await.unwrap();
    proxy.set_fault(Fault::Reset);
    let e = c.read_end().await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    // A new connection is reset too (the RST may already fail the connect).
    let e = match TcpStream::connect(proxy.addr()).await {
        Ok(stream) => {
            let mut fresh = Conn {
                stream,
                buf: BytesMut::new(),
                opaque: 0,
            };
            fresh.read_end().await.unwrap_err()
        }
        Err(e) => e,
    };
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
}

#[tokio::test]
async fn black_hole_holds_bytes_without_closing_then_heals() {
    let (upstream, seen) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    let mut c = Conn::open(proxy.addr()).await;
    c.send(CODE, b"before").await;
    c.response(SECOND).await.unwrap();

    proxy.set_fault(Fault::BlackHole);
    c.send(CODE, b"held").await;
    assert!(c.response(Duration::from_millis(500)).await.is_none());
    assert_eq!(
        seen.load(Ordering::Relaxed),
        1,
        "the server saw a black-holed request"
    );
    // A new connection is accepted but gets nothing either, and nothing is closed.
    let mut fresh = Conn::open(proxy.addr()).await;
    fresh.send(CODE, b"fresh").await;
    assert!(fresh.response(Duration::from_millis(300)).await.is_none());

    proxy.set_fault(Fault::Pass);
    assert_eq!(&c.response(SECOND).await.unwrap().body[..], b"held");
    assert_eq!(&fresh.response(SECOND).await.unwrap().body[..], b"fresh");
}

#[tokio::test]
async fn delay_postpones_every_chunk() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    proxy.set_fault(Fault::Delay(Duration::from_millis(200)));
    let mut c = Conn::open(proxy.addr()).await;
    let started = Instant::now();
    c.send(CODE, b"slow").await;
    c.response(SECOND * 2).await.unwrap();
    // Both directions are delayed.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn corrupt_changes_the_bytes() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    let mut c = Conn::open(proxy.addr()).await;
    c.send(CODE, b"clean").await;
    c.response(SECOND).await.unwrap();
    proxy.set_fault(Fault::Corrupt);
    // Raw bytes through a second connection: a large body, so the flipped byte lands in it.
    let mut raw = TcpStream::connect(proxy.addr()).await.unwrap();
    let body = vec![b'a'; 1000];
    let mut cmd = RemotingCommand::new_request(CODE, ExtFields::new()).with_body(body.clone());
    cmd.opaque = 1;
    let sent = frame::encode_to_bytes(&cmd).unwrap();
    raw.write_all(&sent).await.unwrap();
    let mut got = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(SECOND, raw.read(&mut got))
        .await
        .map(|r| r.unwrap())
        .unwrap_or(0);
    // The server saw a corrupted body (echoed back, corrupted again) or a broken frame (nothing).
    let echoed = &got[..n];
    assert!(
        n == 0 || !echoed.windows(body.len()).any(|w| w == &body[..]),
        "the body came back unchanged"
    );
}

#[tokio::test]
async fn throttle_limits_the_rate() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    proxy.set_fault(Fault::Throttle(100 * 1024));
    let mut c = Conn::open(proxy.addr()).await;
    let started = Instant::now();
    for _ in 0..2 {
        c.send(CODE, &vec![7u8; 60 * 1024]).await;
    }
    for _ in 0..2 {
        c.response(SECOND * 10).await.unwrap();
    }
    // 120 KiB each way at 100 KiB/s: the throttled writes alone take over a second.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rewrite_changes_response_bodies_only() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    proxy.rewrite("\"127.0.0.1:10911\"", "\"127.0.0.1:5\"");
    let mut c = Conn::open(proxy.addr()).await;
    // The request passes unchanged (the echo shows it), the response body is rewritten.
    c.send(
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        br#"{0:"127.0.0.1:10911",1:"127.0.0.1:109110"}"#,
    )
    .await;
    let r = c.response(SECOND).await.unwrap();
    assert_eq!(&r.body[..], br#"{0:"127.0.0.1:5",1:"127.0.0.1:109110"}"#);
    assert_eq!(proxy.stats().rewritten, 1);
}

#[tokio::test]
async fn dropping_the_proxy_closes_everything() {
    let (upstream, _) = echo_server().await;
    let proxy = FaultProxy::start(&upstream).unwrap();
    let addr = proxy.addr().to_string();
    let mut c = Conn::open(&addr).await;
    c.send(CODE, b"a").await;
    c.response(SECOND).await.unwrap();
    drop(proxy);
    assert!(matches!(c.read_end().await, Ok(0) | Err(_)));
    assert!(TcpStream::connect(&addr).await.is_err(), "still listening");
}
