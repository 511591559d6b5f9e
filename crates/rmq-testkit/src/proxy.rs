//! A TCP fault proxy between a client and one server, with faults switchable at run time.
//!
//! A [`FaultProxy`] listens on `127.0.0.1` and forwards every connection to its upstream. Faults
//! ([`Fault`]) apply to all current and future connections:
//!
//! | fault | what the client sees |
//! |---|---|
//! | [`Fault::Pass`] | the server |
//! | [`Fault::Drop`] | connections closed (FIN); new ones accepted and closed at once |
//! | [`Fault::Reset`] | connections reset (RST, `SO_LINGER` 0); new ones likewise |
//! | [`Fault::BlackHole`] | connections stay open, nothing moves in either direction, never an RST; after the heal the held bytes flow again (as TCP retransmission does after an `iptables DROP`) |
//! | [`Fault::Delay`] | every chunk forwarded that much later, in order |
//! | [`Fault::Jitter`] | every chunk forwarded `base ± spread` later (uniform), still in order |
//! | [`Fault::Corrupt`] | one byte of every forwarded chunk flipped |
//! | [`Fault::Throttle`] | at most that many bytes a second in each direction |
//!
//! The proxy also understands RocketMQ frames (`rmq-protocol`): [`FaultProxy::answer`] makes it
//! answer a request code itself with a chosen response code (the server never sees the request),
//! [`FaultProxy::swallow`] makes it drop such requests (the client times out), and
//! [`FaultProxy::rewrite`] replaces a string in response bodies: put a proxy in front of the name
//! server that rewrites each broker's address to that broker's proxy, and a client pointed at it
//! reaches the brokers only through their proxies ([`ProxiedCluster`](crate::ProxiedCluster)).
//!
//! Each proxy runs on its own thread and Tokio runtime, so it keeps forwarding while a test
//! blocks (e.g. in [`Cluster::kill_broker`](crate::Cluster::kill_broker)).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rmq_protocol::frame::{self, FrameStatus, DEFAULT_MAX_FRAME};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

use crate::error::{IoContext, Result};

/// Largest chunk read at once.
const CHUNK: usize = 64 * 1024;
/// Chunks queued per direction before the reader waits (back-pressure, as a socket buffer).
const QUEUED_CHUNKS: usize = 64;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Forward everything unchanged.
    #[default]
    Pass,
    /// Close every connection (FIN) and every new one at once.
    Drop,
    /// Reset every connection (RST) and every new one at once.
    Reset,
    /// Keep connections open but move no byte, never closing or resetting.
    BlackHole,
    /// Forward every chunk this much later.
    Delay(Duration),
    /// Forward every chunk `base ± spread` later, drawn uniformly per chunk; a chunk never
    /// overtakes the one before it (TCP keeps order), so it may wait a little longer.
    Jitter {
        /// The mean delay.
        base: Duration,
        /// The largest deviation from `base` either way.
        spread: Duration,
    },
    /// Flip one byte in every forwarded chunk.
    Corrupt,
    /// Forward at most this many bytes a second per direction.
    Throttle(u64),
}

impl Fault {
    fn closes(self) -> bool {
        matches!(self, Fault::Drop | Fault::Reset)
    }
}

/// What the proxy does with a request of a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Answer(ResponseCode),
    Swallow,
}

/// Counters of a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub open: u64,
    /// Requests answered by the proxy ([`FaultProxy::answer`]).
    pub answered: u64,
    /// Requests dropped by the proxy ([`FaultProxy::swallow`]).
    pub swallowed: u64,
    /// Response bodies changed by [`FaultProxy::rewrite`].
    pub rewritten: u64,
    /// Requests (RocketMQ frames) forwarded to the server.
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Mutex<HashMap<i32, Rule>>,
    rewrites: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
    accepted: AtomicU64,
    open: AtomicU64,
    answered: AtomicU64,
    swallowed: AtomicU64,
    rewritten: AtomicU64,
    requests: AtomicU64,
}

impl Shared {
    fn rule(&self, code: i32) -> Option<Rule> {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&code)
            .copied()
    }

    fn rewrites(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.rewrites
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A running fault proxy; stopped (all connections closed) when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: String,
    upstream: String,
    fault: watch::Sender<Fault>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free port of `127.0.0.1` and forwards to `upstream` (`host:port`), passing
    /// everything until told otherwise.
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").ctx(|| "binding the fault proxy")?;
        std_listener
            .set_nonblocking(true)
            .ctx(|| "configuring the fault proxy socket")?;
        let addr = std_listener
            .local_addr()
            .ctx(|| "reading the fault proxy address")?
            .to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ctx(|| "starting the fault proxy runtime")?;
        let (fault, fault_rx) = watch::channel(Fault::Pass);
        let shared = Arc::new(Shared::default());
        let upstream_addr = upstream.to_string();
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => accept_loop(listener, upstream_addr, fault_rx, task_shared).await,
                        Err(e) => debug!(error = %e, "fault proxy listener"),
                    }
                });
            })
            .ctx(|| "spawning the fault proxy thread")?;
        debug!(%addr, upstream, "fault proxy started");
        Ok(FaultProxy {
            addr,
            upstream: upstream.to_string(),
            fault,
            shared,
            thread: Some(thread),
        })
    }

    /// The address clients connect to, `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The server behind the proxy.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Switches the fault for every current and future connection.
    pub fn set_fault(&self, fault: Fault) {
        debug!(addr = %self.addr, ?fault, "fault proxy");
        self.fault.send_replace(fault);
    }

    /// The current fault.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    /// From now on, requests with `code` are answered by the proxy with a response of `response`
    /// (remark "injected by the fault proxy") and never reach the server.
    pub fn answer(&self, code: RequestCode, response: ResponseCode) {
        self.set_rule(code, Some(Rule::Answer(response)));
    }

    /// From now on, requests with `code` are dropped by the proxy (never answered).
    pub fn swallow(&self, code: RequestCode) {
        self.set_rule(code, Some(Rule::Swallow));
    }

    /// Requests with `code` reach the server again.
    pub fn forward(&self, code: RequestCode) {
        self.set_rule(code, None);
    }

    fn set_rule(&self, code: RequestCode, rule: Option<Rule>) {
        let mut rules = self.shared.rules.lock().unwrap_or_else(PoisonError::into_inner);
        match rule {
            Some(r) => rules.insert(code.0, r),
            None => rules.remove(&code.0),
        };
    }

    /// Replaces every occurrence of `from` by `to` in the bodies of responses from the server
    /// (e.g. a broker address in route replies; include the JSON quotes to match whole values).
    pub fn rewrite(&self, from: &str, to: &str) {
        self.shared
            .rewrites
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((from.as_bytes().to_vec(), to.as_bytes().to_vec()));
    }

    /// The proxy's counters.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            open: s.open.load(Ordering::Relaxed),
            answered: s.answered.load(Ordering::Relaxed),
            swallowed: s.swallowed.load(Ordering::Relaxed),
            rewritten: s.rewritten.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Closing the watch channel ends the accept loop and every connection.
        let (closed, _) = watch::channel(Fault::Drop);
        drop(std::mem::replace(&mut self.fault, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    mut fault: watch::Receiver<Fault>,
    shared: Arc<Shared>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            changed = fault.changed() => if changed.is_err() { break },
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                let current = *fault.borrow();
                if current.closes() {
                    close(client, current);
                    continue;
                }
                conns.spawn(connection(client, upstream.clone(), fault.clone(), shared.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}

/// Closes a fresh connection as `fault` says (FIN, or RST for [`Fault::Reset`]).
fn close(stream: TcpStream, fault: Fault) {
    if fault == Fault::Reset {
        let _ = stream.set_zero_linger();
    }
    drop(stream);
}

async fn connection(client: TcpStream, upstream: String, fault: watch::Receiver<Fault>, shared: Arc<Shared>) {
    let server = match TcpStream::connect(&upstream).await {
        Ok(s) => s,
        Err(e) => {
            debug!(%upstream, error = %e, "fault proxy: upstream unreachable");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    shared.open.fetch_add(1, Ordering::Relaxed);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let (to_server, to_server_rx) = mpsc::channel(QUEUED_CHUNKS);
    let (to_client, to_client_rx) = mpsc::channel(QUEUED_CHUNKS);
    let requests = read_loop(
        client_read,
        Direction::Requests,
        to_server,
        to_client.clone(),
        fault.clone(),
        shared.clone(),
    );
    let responses = read_loop(
        server_read,
        Direction::Responses,
        to_client,
        mpsc::channel(1).0,
        fault.clone(),
        shared.clone(),
    );
    let client_writer = write_loop(client_write, to_client_rx, fault.clone(), true);
    let server_writer = write_loop(server_write, to_server_rx, fault, false);
    tokio::join!(requests, responses, client_writer, server_writer);
    shared.open.fetch_sub(1, Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to server: requests, subject to the request rules.
    Requests,
    /// Server to client: responses, subject to the body rewrites.
    Responses,
}

struct Chunk {
    at: Instant,
    bytes: Bytes,
}

/// Reads one side, splits frames, applies rules and rewrites, and queues the result for the
/// other side (`forward`) or, for answered requests, for this side (`reply`). Ends on EOF, a
/// read error, or a closing fault; waits (reads nothing) while black-holed.
async fn read_loop(
    mut read: OwnedReadHalf,
    direction: Direction,
    forward: mpsc::Sender<Chunk>,
    reply: mpsc::Sender<Chunk>,
    mut fault: watch::Receiver<Fault>,
    shared: Arc<Shared>,
) {
    let mut buf = BytesMut::with_capacity(CHUNK);
    let mut framed = true;
    loop {
        // While black-holed, read nothing: the bytes wait in the socket buffers.
        let current = match fault.wait_for(|f| *f != Fault::BlackHole).await {
            Ok(f) => *f,
            Err(_) => return,
        };
        if current.closes() {
            return;
        }
        buf.reserve(CHUNK);
        let n = tokio::select! {
            biased;
            changed = fault.changed() => {
                if changed.is_err() { return }
                continue;
            }
            n = read.read_buf(&mut buf) => match n { Ok(n) => n, Err(_) => return },
        };
        if n == 0 {
            return;
        }
        // The fault may have changed while the bytes came in: a black hole holds them now.
        let current = match fault.wait_for(|f| *f != Fault::BlackHole).await {
            Ok(f) => *f,
            Err(_) => return,
        };
        if current.closes() {
            return;
        }
        let at = Instant::now();
        let mut out = Vec::new();
        let mut replies = Vec::new();
        if framed {
            loop {
                match frame::check(&buf, DEFAULT_MAX_FRAME) {
                    Ok(FrameStatus::Complete(len)) => {
                        let frame = buf.split_to(len).freeze();
                        match direction {
                            Direction::Requests => match request_rule(&frame, &shared) {
                                Some(Some(answer)) => replies.push(answer),
                                Some(None) => {}
                                None => {
                                    shared.requests.fetch_add(1, Ordering::Relaxed);
                                    out.push(frame)
                                }
                            },
                            Direction::Responses => out.push(rewrite_response(frame, &shared)),
                        }
                    }
                    Ok(FrameStatus::Incomplete(_)) => break,
                    Err(_) => {
                        // Not RocketMQ framing (or a desync): pass the rest through untouched.
                        framed = false;
                        break;
                    }
                }
            }
        }
        if !framed && !buf.is_empty() {
            out.push(buf.split().freeze());
        }
        for bytes in out {
            if forward.send(Chunk { at, bytes }).await.is_err() {
                return;
            }
        }
        for bytes in replies {
            let _ = reply.send(Chunk { at, bytes }).await;
        }
    }
}

/// `None`: forward the request. `Some(None)`: swallow it. `Some(Some(frame))`: answer with frame.
fn request_rule(frame: &Bytes, shared: &Shared) -> Option<Option<Bytes>> {
    let cmd = frame::parse(frame.slice(4..)).ok()?;
    if cmd.is_response() {
        return None;
    }
    match shared.rule(cmd.code)? {
        Rule::Swallow => {
            shared.swallowed.fetch_add(1, Ordering::Relaxed);
            Some(None)
        }
        Rule::Answer(code) => {
            shared.answered.fetch_add(1, Ordering::Relaxed);
            if cmd.is_oneway() {
                return Some(None);
            }
            let response = RemotingCommand::new_response(
                code,
                cmd.opaque,
                Some("injected by the fault proxy".to_string()),
            );
            Some(frame::encode_to_bytes(&response).ok())
        }
    }
}

/// Applies the body rewrites to a whole frame (length prefix included).
fn rewrite_response(frame: Bytes, shared: &Shared) -> Bytes {
    let rewrites = shared.rewrites();
    if rewrites.is_empty() || frame.len() < 8 {
        return frame;
    }
    let header_len = (u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]) & 0x00FF_FFFF) as usize;
    let body_start = 8 + header_len;
    if body_start > frame.len() {
        return frame;
    }
    let mut body = frame[body_start..].to_vec();
    let mut changed = false;
    for (from, to) in &rewrites {
        if let Some(replaced) = replace_all(&body, from, to) {
            body = replaced;
            changed = true;
        }
    }
    if !changed {
        return frame;
    }
    shared.rewritten.fetch_add(1, Ordering::Relaxed);
    let mut out = BytesMut::with_capacity(body_start + body.len());
    let Ok(total) = u32::try_from(body_start - 4 + body.len()) else {
        return frame;
    };
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&frame[4..body_start]);
    out.extend_from_slice(&body);
    out.freeze()
}

/// `haystack` with every `from` replaced by `to`; `None` when `from` does not occur.
fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    if from.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    let mut found = false;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
            found = true;
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    found.then_some(out)
}

/// Writes queued chunks to one side, applying delay, throttle and corruption. On a closing fault
/// closes the side (with an RST for [`Fault::Reset`] on the client side); when the queue ends
/// (the other side closed) shuts the side down (FIN).
async fn write_loop(
    mut write: OwnedWriteHalf,
    mut chunks: mpsc::Receiver<Chunk>,
    mut fault: watch::Receiver<Fault>,
    client_side: bool,
) {
    let mut jitter = JitterClock::new();
    loop {
        let chunk = tokio::select! {
            changed = fault.changed() => {
                let current = if changed.is_err() { Fault::Drop } else { *fault.borrow() };
                if current.closes() {
                    close_side(write, current, client_side);
                    return;
                }
                continue;
            }
            chunk = chunks.recv() => match chunk { Some(c) => c, None => break },
        };
        let mut bytes = chunk.bytes;
        let current = *fault.borrow();
        match current {
            Fault::Delay(d) => tokio::time::sleep_until(chunk.at + d).await,
            Fault::Jitter { base, spread } => {
                tokio::time::sleep_until(jitter.release(chunk.at, base, spread)).await
            }
            Fault::Corrupt if !bytes.is_empty() => {
                let mut b = BytesMut::from(&bytes[..]);
                let i = b.len() / 2;
                b[i] ^= 0x5A;
                bytes = b.freeze();
            }
            _ => {}
        }
        if let Fault::Throttle(rate) = current {
            // Pay for the bytes before they pass.
            let secs = bytes.len() as f64 / rate.max(1) as f64;
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
    // The queue ended: the other side closed, or the readers stopped for a closing fault (seen
    // by them first).
    let current = *fault.borrow();
    if current.closes() {
        close_side(write, current, client_side);
        return;
    }
    let _ = write.shutdown().await;
}

/// Release times of jittered chunks on one side: random within `base ± spread`, never before the
/// previous chunk's.
struct JitterClock {
    state: u64,
    last: Option<Instant>,
}

impl JitterClock {
    fn new() -> JitterClock {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        JitterClock {
            // xorshift needs a non-zero state.
            state: seed | 1,
            last: None,
        }
    }

    /// A uniform draw in `[0, 1)` (xorshift64; tests need no better).
    fn next_unit(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn release(&mut self, at: Instant, base: Duration, spread: Duration) -> Instant {
        let low = base.saturating_sub(spread);
        let width = (base + spread).saturating_sub(low);
        let drawn = at + low + width.mul_f64(self.next_unit());
        let release = self.last.map_or(drawn, |last| drawn.max(last));
        self.last = Some(release);
        release
    }
}

/// Closes one side for a closing fault: an RST for [`Fault::Reset`] on the client side (no FIN
/// first; the socket resets once the read half is gone too), a FIN otherwise.
fn close_side(write: OwnedWriteHalf, fault: Fault, client_side: bool) {
    if fault == Fault::Reset && client_side {
        let _ = write.as_ref().set_zero_linger();
        write.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range_and_in_order() {
        let (base, spread) = (Duration::from_millis(100), Duration::from_millis(50));
        // Chunks 200 ms apart never wait for each other: every delay is a fresh draw.
        let mut clock = JitterClock::new();
        let start = Instant::now();
        let mut seen = (Duration::MAX, Duration::ZERO);
        for i in 0..500u32 {
            let at = start + Duration::from_millis(u64::from(i) * 200);
            let d = clock.release(at, base, spread) - at;
            assert!(d >= base - spread && d <= base + spread, "chunk {i}: {d:?}");
            seen = (seen.0.min(d), seen.1.max(d));
        }
        assert!(seen.0 < Duration::from_millis(60), "{seen:?}");
        assert!(seen.1 > Duration::from_millis(140), "{seen:?}");
        // Chunks 0.5 ms apart: a chunk never overtakes the one before, nor leaves early.
        let mut clock = JitterClock::new();
        let mut last = start;
        for i in 0..1000u32 {
            let at = start + Duration::from_micros(u64::from(i) * 500);
            let r = clock.release(at, base, spread);
            assert!(r >= last, "chunk {i} overtook the one before");
            assert!(r >= at + base - spread, "chunk {i} early");
            last = r;
        }
    }

    #[test]
    fn replace_all_replaces_every_whole_occurrence() {
        let r = replace_all(
            br#"{0:"127.0.0.1:1",1:"127.0.0.1:10"}"#,
            br#""127.0.0.1:1""#,
            br#""x""#,
        );
        assert_eq!(r.unwrap(), br#"{0:"x",1:"127.0.0.1:10"}"#.to_vec());
        assert!(replace_all(b"abc", b"z", b"y").is_none());
        assert!(replace_all(b"abc", b"", b"y").is_none());
    }

    #[test]
    fn rewritten_frame_keeps_header_and_fixes_length() {
        let shared = Shared::default();
        shared
            .rewrites
            .lock()
            .unwrap()
            .push((b"AA".to_vec(), b"BBBB".to_vec()));
        let cmd = RemotingCommand::new_response(ResponseCode::SUCCESS, 7, None).with_body(&b"xAAyAA"[..]);
        let frame = frame::encode_to_bytes(&cmd).unwrap();
        let out = rewrite_response(frame, &shared);
        let parsed = frame::parse(out.slice(4..)).unwrap();
        assert_eq!(parsed.opaque, 7);
        assert_eq!(&parsed.body[..], b"xBBBByBBBB");
        assert_eq!(shared.rewritten.load(Ordering::Relaxed), 1);
    }
}
