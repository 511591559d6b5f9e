//! A scripted fake broker (or name server) for what a real one cannot do on demand: malformed frames,
//! unknown codes, unmatched opaques, corrupt pull bodies, silence.
//!
//! It accepts any number of TCP connections on `127.0.0.1`. Every request it reads is recorded and
//! handed to the script, which returns the [`Reply`]s to write: a command, raw bytes, nothing, or a
//! close. Tests await conditions on what it saw ([`FakeBroker::wait_for`]) instead of sleeping.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rmq_protocol::route::{BrokerData, QueueData, TopicRouteData};
use rmq_protocol::{frame, ExtFields, RemotingCommand, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// What to write in answer to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This command, encoded as it is (its opaque and flags are the script's business).
    Command(RemotingCommand),
    /// These bytes, as they are.
    Raw(Bytes),
    /// Close the connection (after what was queued before).
    Close,
    /// The reply, after a pause (later requests are still read and answered meanwhile).
    After(Duration, Box<Reply>),
}

/// What the script is told about a request besides the command itself.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The connection, numbered from 0 in accept order.
    pub conn: usize,
    /// How many requests with this code came before it, over all connections.
    pub nth_of_code: usize,
}

/// The script: the replies to one request (empty = silence).
pub type Script = Arc<dyn Fn(&RemotingCommand, Ctx) -> Vec<Reply> + Send + Sync>;

/// What happened on one connection.
#[derive(Debug, Clone, Default)]
pub struct ConnLog {
    /// Requests read, in order.
    pub requests: Vec<RemotingCommand>,
    /// Responses the client wrote (answers to requests the fake initiated).
    pub responses: Vec<RemotingCommand>,
    /// The client closed the connection (read end of file or reset).
    pub closed_by_client: bool,
    /// The fake closed it (a [`Reply::Close`]).
    pub closed_by_fake: bool,
}

/// Everything the fake saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// One entry per accepted connection.
    pub conns: Vec<ConnLog>,
}

impl Seen {
    /// Every request of `code` on any connection.
    pub fn requests_of(&self, code: i32) -> Vec<RemotingCommand> {
        self.conns
            .iter()
            .flat_map(|c| c.requests.iter())
            .filter(|r| r.code == code)
            .cloned()
            .collect()
    }
}

struct Shared {
    seen: watch::Sender<Seen>,
    counts: Mutex<std::collections::HashMap<i32, usize>>,
    writers: Mutex<Vec<mpsc::UnboundedSender<Reply>>>,
    script: Script,
}

/// A running fake; stops accepting and drops its connections when dropped.
pub struct FakeBroker {
    addr: String,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut w) = self.shared.writers.lock() {
            for tx in w.drain(..) {
                let _ = tx.send(Reply::Close);
            }
        }
    }
}

impl FakeBroker {
    /// Listen on a free port and answer every request with `script`.
    pub async fn start(script: impl Fn(&RemotingCommand, Ctx) -> Vec<Reply> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            seen: watch::channel(Seen::default()).0,
            counts: Mutex::new(Default::default()),
            writers: Mutex::new(Vec::new()),
            script: Arc::new(script),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let conn = {
                    let mut idx = 0;
                    s.seen.send_modify(|seen| {
                        idx = seen.conns.len();
                        seen.conns.push(ConnLog::default());
                    });
                    idx
                };
                let (tx, rx) = mpsc::unbounded_channel();
                s.writers.lock().unwrap().push(tx.clone());
                let (read, write) = stream.into_split();
                tokio::spawn(write_loop(write, rx, s.clone(), conn));
                tokio::spawn(read_loop(read, tx, s.clone(), conn));
            }
        });
        FakeBroker { addr, shared, accept }
    }

    /// `host:port` to point a client at.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// A copy of what the fake saw so far.
    pub fn seen(&self) -> Seen {
        self.shared.seen.borrow().clone()
    }

    /// Wait until `cond` holds for what the fake saw, up to `timeout`; returns whether it held.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Seen) -> bool) -> bool {
        let mut rx = self.shared.seen.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| cond(s)))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Write `reply` on connection `conn` unprompted (e.g. a server-initiated request).
    pub fn push(&self, conn: usize, reply: Reply) {
        if let Some(tx) = self.shared.writers.lock().unwrap().get(conn) {
            let _ = tx.send(reply);
        }
    }
}

async fn read_loop(
    mut read: tokio::net::tcp::OwnedReadHalf,
    tx: mpsc::UnboundedSender<Reply>,
    s: Arc<Shared>,
    conn: usize,
) {
    let mut buf = BytesMut::new();
    loop {
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // The client only writes well-formed frames; anything else is a bug in the client.
        while let Some(cmd) =
            frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME).expect("client wrote a bad frame")
        {
            if cmd.is_response() {
                s.seen.send_modify(|seen| seen.conns[conn].responses.push(cmd));
                continue;
            }
            let nth_of_code = {
                let mut counts = s.counts.lock().unwrap();
                let n = counts.entry(cmd.code).or_default();
                *n += 1;
                *n - 1
            };
            s.seen
                .send_modify(|seen| seen.conns[conn].requests.push(cmd.clone()));
            for reply in (s.script)(&cmd, Ctx { conn, nth_of_code }) {
                let _ = tx.send(reply);
            }
        }
    }
    s.seen.send_modify(|seen| {
        if !seen.conns[conn].closed_by_fake {
            seen.conns[conn].closed_by_client = true;
        }
    });
    let _ = tx.send(Reply::Close);
}

async fn write_loop(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Reply>,
    s: Arc<Shared>,
    conn: usize,
) {
    // Delayed replies come back through this channel when their pause is over.
    let (later_tx, mut later_rx) = mpsc::unbounded_channel::<Reply>();
    loop {
        let reply = tokio::select! {
            Some(r) = rx.recv() => r,
            Some(r) = later_rx.recv() => r,
            else => break,
        };
        let bytes = match reply {
            Reply::Command(cmd) => frame::encode_to_bytes(&cmd).unwrap(),
            Reply::Raw(b) => b,
            Reply::After(pause, r) => {
                let later = later_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    let _ = later.send(*r);
                });
                continue;
            }
            Reply::Close => {
                s.seen.send_modify(|seen| {
                    if !seen.conns[conn].closed_by_client {
                        seen.conns[conn].closed_by_fake = true;
                    }
                });
                let _ = write.shutdown().await;
                break;
            }
        };
        if write.write_all(&bytes).await.is_err() {
            break;
        }
    }
}

/// A SUCCESS response to `req` with no header or body.
pub fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::new_response(ResponseCode::SUCCESS, req.opaque, None)
}

/// A response to `req` with `code`, ext fields `ext` and `body`.
pub fn response(
    req: &RemotingCommand,
    code: ResponseCode,
    ext: &[(&str, &str)],
    body: &[u8],
) -> RemotingCommand {
    let mut r = RemotingCommand::new_response(code, req.opaque, None);
    let mut fields = ExtFields::new();
    for (k, v) in ext {
        fields.insert(k.to_string(), *v);
    }
    r.ext_fields = fields;
    r.body = Bytes::copy_from_slice(body);
    r
}

/// The encoded frame of `cmd`.
pub fn frame_of(cmd: &RemotingCommand) -> Bytes {
    frame::encode_to_bytes(cmd).unwrap()
}

/// `cmd`'s frame with its serialize-type byte replaced by `ty` (lengths left intact).
pub fn with_serialize_type(cmd: &RemotingCommand, ty: u8) -> Bytes {
    let mut b = BytesMut::from(&frame_of(cmd)[..]);
    b[4] = ty;
    b.freeze()
}

/// A frame whose length prefix is `total` (as written, e.g. negative), followed by `rest`.
pub fn with_length(total: i32, rest: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32(total);
    b.put_slice(rest);
    b.freeze()
}

/// A well-delimited JSON frame with `header` as its header text and `body` (lengths computed).
pub fn json_frame(header: &[u8], body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32((4 + header.len() + body.len()) as i32);
    b.put_u32(header.len() as u32);
    b.put_slice(header);
    b.put_slice(body);
    b.freeze()
}

/// The route JSON of a topic served by one broker `name` at `addr` with `queues` read and write queues.
pub fn route_json(name: &str, addr: &str, queues: i32) -> Vec<u8> {
    route_json_brokers(&[(name, addr)], queues)
}

/// A route body over several brokers (name, master address), `queues` read and write queues each.
pub fn route_json_brokers(brokers: &[(&str, &str)], queues: i32) -> Vec<u8> {
    let route = TopicRouteData {
        broker_datas: brokers
            .iter()
            .map(|(name, addr)| BrokerData {
                cluster: "FakeCluster".into(),
                broker_name: (*name).into(),
                broker_addrs: [(0, (*addr).to_owned())].into_iter().collect(),
                ..Default::default()
            })
            .collect(),
        queue_datas: brokers
            .iter()
            .map(|(name, _)| QueueData {
                broker_name: (*name).into(),
                perm: 6,
                read_queue_nums: queues,
                write_queue_nums: queues,
                topic_sys_flag: 0,
            })
            .collect(),
        ..Default::default()
    };
    route.to_json()
}

/// A counter scripts can share with the test.
pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Increment `c` and return its previous value.
pub fn bump(c: &AtomicUsize) -> usize {
    c.fetch_add(1, Ordering::SeqCst)
}
