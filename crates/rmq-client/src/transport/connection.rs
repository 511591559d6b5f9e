//! One connection: a task that owns the socket and every piece of connection state.
//!
//! Callers hold a cheap [`ConnectionHandle`] (a channel sender). The actor task owns the stream (plain
//! TCP, or TLS over TCP when [`ConnectionOptions::tls`] is set; the actor is generic over it), the
//! table of pending requests (`opaque` → reply channel + deadline), the read and write buffers, and a
//! sweep timer. Frames queued while a write is in flight are coalesced into the next write, so many frames
//! go out per syscall under load. When the socket closes, or its byte stream turns out to be corrupt,
//! every pending request fails at once with `Disconnected`; nothing waits for its timeout.
//!
//! Requests initiated by the server are forwarded to an [`InboundSink`] over a channel; the actor never
//! runs user code. Codes the sink does not accept are answered with `REQUEST_CODE_NOT_SUPPORTED`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rmq_protocol::{frame, RemotingCommand, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace, warn};

use super::inbound::{InboundRequest, InboundSink};
use super::read_buffer::ReadBuffer;
use crate::error::{Error, ErrorKind, Result};
use crate::hook::RpcHook;
use crate::tls::TlsConnector;

/// Process-wide opaque counter, as in the Java client.
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

fn next_opaque() -> i32 {
    NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed)
}

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// How long to wait for the TCP connect.
    pub connect_timeout: Duration,
    /// Largest frame accepted from the peer.
    pub max_frame: usize,
    /// Capacity of the outbound command queue.
    pub queue_capacity: usize,
    /// How often expired or abandoned pending entries are swept.
    pub sweep_interval: Duration,
    /// TLS for every connection made by [`ConnectionHandle::connect`]: the handshake completes
    /// within `connect_timeout` before the actor starts. Default none (plain TCP).
    pub tls: Option<TlsConnector>,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            connect_timeout: Duration::from_secs(3),
            max_frame: frame::DEFAULT_MAX_FRAME,
            queue_capacity: 4096,
            sweep_interval: Duration::from_millis(500),
            tls: None,
        }
    }
}

enum Outbound {
    /// A request expecting a response.
    Request {
        opaque: i32,
        frame: Bytes,
        reply: oneshot::Sender<Result<RemotingCommand>>,
        deadline: Instant,
    },
    /// A oneway request or a response to a server request: just write it.
    Write {
        frame: Bytes,
        done: Option<oneshot::Sender<Result<()>>>,
    },
}

struct Pending {
    reply: oneshot::Sender<Result<RemotingCommand>>,
    deadline: Instant,
}

/// Counters of one connection, updated by its actor.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    frames_written: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
    frames_read: std::sync::atomic::AtomicU64,
    /// Size of the pending-request table, stored by the actor after every change.
    pending: std::sync::atomic::AtomicUsize,
}

impl ConnectionStats {
    /// Frames queued for writing so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_written.load(Ordering::Relaxed)
    }
    /// Write calls made on the socket so far (fewer than frames when writes are coalesced).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
    /// Frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read.load(Ordering::Relaxed)
    }
    /// Requests written (or being written) and awaiting their response: the pending-request table.
    /// An entry leaves it when its response arrives, when its deadline passes or its caller gives up
    /// (swept every `sweep_interval`), or when the connection closes (then the table is 0).
    pub fn pending_requests(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

/// A cheap, cloneable handle to a connection's actor task.
#[derive(Clone)]
pub struct ConnectionHandle {
    tx: mpsc::Sender<Outbound>,
    addr: Arc<str>,
    cancel: CancellationToken,
    stats: Arc<ConnectionStats>,
    /// Cancelled when the actor task ends.
    ended: CancellationToken,
    /// Run on every [`respond`](Self::respond) (set on the handles of inbound requests: the sink's hook).
    respond_hook: Option<Arc<dyn RpcHook>>,
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ConnectionHandle {
    /// Connect to `addr` (with a TLS handshake when `opts.tls` is set) and start the connection's
    /// actor task. The connect and the handshake share `opts.connect_timeout`.
    pub async fn connect(addr: &str, opts: &ConnectionOptions, inbound: Option<InboundSink>) -> Result<Self> {
        let connect_err = |e: String| {
            Error::new(ErrorKind::Connect {
                addr: addr.to_owned(),
            })
            .with_context(e)
        };
        let deadline = Instant::now() + opts.connect_timeout;
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(connect_err(e.to_string())),
            Err(_) => return Err(connect_err(format!("connect timeout {:?}", opts.connect_timeout))),
        };
        let _ = stream.set_nodelay(true);
        let Some(tls) = &opts.tls else {
            // Writes to a `TcpStream` are never buffered: no flush needed.
            return Ok(Self::start(stream, addr, opts, inbound, false));
        };
        match tokio::time::timeout_at(deadline, tls.handshake(addr, stream)).await {
            Ok(Ok(stream)) => Ok(Self::start(stream, addr, opts, inbound, true)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(connect_err(format!(
                "TLS handshake not done within the connect timeout {:?}",
                opts.connect_timeout
            ))),
        }
    }

    /// Start an actor over an already connected stream (used by tests with in-memory streams too).
    /// The stream is flushed after each batch of writes, so buffering streams work as well.
    pub fn spawn<S>(stream: S, addr: &str, opts: &ConnectionOptions, inbound: Option<InboundSink>) -> Self
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        Self::start(stream, addr, opts, inbound, true)
    }

    fn start<S>(
        stream: S,
        addr: &str,
        opts: &ConnectionOptions,
        inbound: Option<InboundSink>,
        flush: bool,
    ) -> Self
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(opts.queue_capacity);
        let cancel = CancellationToken::new();
        let addr: Arc<str> = Arc::from(addr);
        let stats = Arc::new(ConnectionStats::default());
        let ended = CancellationToken::new();
        let handle = ConnectionHandle {
            tx: tx.clone(),
            addr: addr.clone(),
            cancel: cancel.clone(),
            stats: stats.clone(),
            ended: ended.clone(),
            respond_hook: None,
        };
        let actor = Actor {
            addr,
            rx,
            self_tx: tx.downgrade(),
            pending: HashMap::new(),
            inbound,
            max_frame: opts.max_frame,
            sweep_interval: opts.sweep_interval,
            flush,
            cancel,
            stats,
            ended,
        };
        tokio::spawn(actor.run(stream));
        handle
    }

    /// Completes when the connection's actor task has ended (the socket is closed).
    pub(crate) fn ended(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.ended.clone().cancelled_owned()
    }

    /// This connection's counters.
    pub fn stats(&self) -> &ConnectionStats {
        &self.stats
    }

    /// The peer address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the actor has stopped (socket closed); a closed handle never recovers.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Close the connection: pending requests fail with `Disconnected`.
    pub fn close(&self) {
        self.cancel.cancel();
    }

    fn disconnected(&self) -> Error {
        Error::new(ErrorKind::Disconnected {
            addr: self.addr.to_string(),
        })
    }

    /// Send `cmd` and wait for its response, up to `timeout`. A fresh opaque is assigned.
    pub async fn request(&self, mut cmd: RemotingCommand, timeout: Duration) -> Result<RemotingCommand> {
        let deadline = Instant::now() + timeout;
        let opaque = next_opaque();
        cmd.opaque = opaque;
        let frame = frame::encode_to_bytes(&cmd)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        let timed_out = || {
            Error::new(ErrorKind::Timeout {
                addr: Some(self.addr.to_string()),
                after: timeout,
            })
        };
        let out = Outbound::Request {
            opaque,
            frame,
            reply: reply_tx,
            deadline,
        };
        match tokio::time::timeout_at(deadline, self.tx.send(out)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(self.disconnected()),
            Err(_) => return Err(timed_out()),
        }
        match tokio::time::timeout_at(deadline, reply_rx).await {
            Ok(Ok(result)) => result,
            // The actor forgets a request at its deadline (sweep), possibly a moment before our own
            // timer fires: that is a timeout, not a lost connection.
            Ok(Err(_)) if Instant::now() >= deadline => Err(timed_out()),
            Ok(Err(_)) => Err(self.disconnected()),
            Err(_) => Err(timed_out()),
        }
    }

    /// Send a oneway request (no response expected). Returns once the frame is queued for writing.
    pub async fn oneway(&self, mut cmd: RemotingCommand) -> Result<()> {
        cmd.opaque = next_opaque();
        cmd.mark_oneway();
        let frame = frame::encode_to_bytes(&cmd)?;
        self.tx
            .send(Outbound::Write { frame, done: None })
            .await
            .map_err(|_| self.disconnected())
    }

    /// Write a response to a server-initiated request. The response must carry the request's opaque.
    /// On the handle of an [`InboundRequest`], the client's RPC hook amends it first (e.g. signs it).
    pub async fn respond(&self, mut cmd: RemotingCommand) -> Result<()> {
        if let Some(h) = &self.respond_hook {
            h.before_response(&self.addr, &mut cmd);
        }
        let frame = frame::encode_to_bytes(&cmd)?;
        let (done_tx, done_rx) = oneshot::channel();
        self.tx
            .send(Outbound::Write {
                frame,
                done: Some(done_tx),
            })
            .await
            .map_err(|_| self.disconnected())?;
        done_rx.await.map_err(|_| self.disconnected())?
    }
}

struct Actor {
    addr: Arc<str>,
    rx: mpsc::Receiver<Outbound>,
    self_tx: mpsc::WeakSender<Outbound>,
    pending: HashMap<i32, Pending>,
    inbound: Option<InboundSink>,
    max_frame: usize,
    sweep_interval: Duration,
    /// Flush after the write buffer empties (TLS holds the last record until flushed).
    flush: bool,
    cancel: CancellationToken,
    stats: Arc<ConnectionStats>,
    /// Cancelled (through a drop guard) when `run` ends.
    ended: CancellationToken,
}

/// Why the actor loop ended.
enum Exit {
    Closed,
    Cancelled,
    Io(std::io::Error),
    Corrupt(rmq_protocol::ProtocolError),
}

/// What one step of the write branch did.
enum Written {
    Bytes(usize),
    Flushed,
}

/// Write from `wbuf` if it holds anything, else flush.
async fn write_or_flush<W>(writer: &mut W, wbuf: &mut BytesMut) -> std::io::Result<Written>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    if wbuf.is_empty() {
        writer.flush().await.map(|()| Written::Flushed)
    } else {
        writer.write_buf(wbuf).await.map(Written::Bytes)
    }
}

/// Largest number of queued commands folded into one write.
const MAX_BATCH: usize = 256;
/// Stop taking commands while this many bytes wait to be written (back-pressure on callers).
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;

impl Actor {
    async fn run<S>(mut self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let _ended = self.ended.clone().drop_guard();
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut rbuf = ReadBuffer::new(self.max_frame);
        let mut wbuf = BytesMut::with_capacity(64 * 1024);
        let mut write_waiters: Vec<oneshot::Sender<Result<()>>> = Vec::new();
        // Set when a write emptied `wbuf`, until the stream is flushed.
        let mut unflushed = false;
        let mut sweep = tokio::time::interval(self.sweep_interval);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let exit = loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break Exit::Cancelled,
                // Write queued bytes; once they are all out, flush once if the stream buffers (TLS).
                res = write_or_flush(&mut writer, &mut wbuf), if !wbuf.is_empty() || unflushed => match res {
                    Ok(Written::Flushed) => unflushed = false,
                    Ok(Written::Bytes(0)) => break Exit::Closed,
                    Ok(Written::Bytes(_)) => {
                        self.stats.writes.fetch_add(1, Ordering::Relaxed);
                        if wbuf.is_empty() {
                            unflushed = self.flush;
                            for w in write_waiters.drain(..) {
                                let _ = w.send(Ok(()));
                            }
                        }
                    }
                    Err(e) => break Exit::Io(e),
                },
                res = reader.read_buf(rbuf.target()) => match res {
                    Ok(0) => break Exit::Closed,
                    Ok(_) => {
                        if let Err(e) = self.drain_frames(&mut rbuf) {
                            break Exit::Corrupt(e);
                        }
                    }
                    Err(e) => break Exit::Io(e),
                },
                cmd = self.rx.recv(), if wbuf.len() < MAX_WRITE_BUFFER => match cmd {
                    Some(cmd) => {
                        self.queue(cmd, &mut wbuf, &mut write_waiters);
                        for _ in 1..MAX_BATCH {
                            if wbuf.len() >= MAX_WRITE_BUFFER {
                                break;
                            }
                            match self.rx.try_recv() {
                                Ok(cmd) => self.queue(cmd, &mut wbuf, &mut write_waiters),
                                Err(_) => break,
                            }
                        }
                    }
                    // Every handle is gone: nobody can send or wait any more.
                    None => break Exit::Cancelled,
                },
                _ = sweep.tick() => self.sweep(),
            }
        };
        let reason = match &exit {
            Exit::Closed => "closed by peer".to_owned(),
            Exit::Cancelled => "closed locally".to_owned(),
            Exit::Io(e) => format!("I/O error: {e}"),
            Exit::Corrupt(e) => format!("corrupt stream: {e}"),
        };
        match &exit {
            Exit::Corrupt(_) | Exit::Io(_) => warn!(addr = %self.addr, %reason, "connection closed"),
            _ => debug!(addr = %self.addr, %reason, "connection closed"),
        }
        // Refuse new commands, then fail everything that is pending or queued, at once.
        self.rx.close();
        // One error for everything still waiting: a corrupt stream keeps its protocol cause.
        // A TLS session ended by an alert (e.g. our client certificate was refused) says why.
        let tls_error = match &exit {
            Exit::Io(e) => crate::tls::session_error(&self.addr, e),
            _ => None,
        };
        let err = match (&exit, tls_error) {
            (_, Some(tls)) => tls,
            (Exit::Corrupt(p), None) => Error::new(ErrorKind::Protocol(p.clone()))
                .with_context(format!("connection to {} closed: corrupt stream", self.addr)),
            _ => Error::new(ErrorKind::Disconnected {
                addr: self.addr.to_string(),
            })
            .with_context(reason),
        };
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(err.clone()));
        }
        self.publish_pending();
        for w in write_waiters.drain(..) {
            let _ = w.send(Err(err.clone()));
        }
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                Outbound::Request { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Outbound::Write { done: Some(done), .. } => {
                    let _ = done.send(Err(err.clone()));
                }
                Outbound::Write { done: None, .. } => {}
            }
        }
        let _ = writer.shutdown().await;
    }

    fn queue(&mut self, cmd: Outbound, wbuf: &mut BytesMut, waiters: &mut Vec<oneshot::Sender<Result<()>>>) {
        match cmd {
            Outbound::Request {
                opaque,
                frame,
                reply,
                deadline,
            } => {
                if reply.is_closed() {
                    return; // the caller gave up before we wrote anything
                }
                self.pending.insert(opaque, Pending { reply, deadline });
                self.publish_pending();
                wbuf.extend_from_slice(&frame);
                self.stats.frames_written.fetch_add(1, Ordering::Relaxed);
            }
            Outbound::Write { frame, done } => {
                wbuf.extend_from_slice(&frame);
                self.stats.frames_written.fetch_add(1, Ordering::Relaxed);
                if let Some(done) = done {
                    waiters.push(done);
                }
            }
        }
    }

    fn drain_frames(
        &mut self,
        rbuf: &mut ReadBuffer,
    ) -> std::result::Result<(), rmq_protocol::ProtocolError> {
        while let Some(cmd) = rbuf.next_frame()? {
            self.stats.frames_read.fetch_add(1, Ordering::Relaxed);
            if cmd.is_response() {
                match self.pending.remove(&cmd.opaque) {
                    Some(p) => {
                        self.publish_pending();
                        let _ = p.reply.send(Ok(cmd));
                    }
                    None => debug!(addr = %self.addr, opaque = cmd.opaque, "response for no pending request"),
                }
            } else {
                self.dispatch_inbound(cmd);
            }
        }
        Ok(())
    }

    fn dispatch_inbound(&mut self, cmd: RemotingCommand) {
        let code = cmd.request_code();
        trace!(addr = %self.addr, ?code, "server request");
        let refuse = |code: ResponseCode, remark: String| {
            RemotingCommand::new_response(code, cmd.opaque, Some(remark))
                .with_serialize_type(cmd.serialize_type)
        };
        let answer = match &self.inbound {
            Some(sink) if sink.accepts(code) => {
                let oneway = cmd.is_oneway();
                let opaque = cmd.opaque;
                let st = cmd.serialize_type;
                let handle = self.self_tx.upgrade().map(|tx| ConnectionHandle {
                    tx,
                    addr: self.addr.clone(),
                    cancel: self.cancel.clone(),
                    stats: self.stats.clone(),
                    ended: self.ended.clone(),
                    respond_hook: sink.hook().cloned(),
                });
                let Some(handle) = handle else { return };
                match sink.try_send(InboundRequest {
                    connection: handle,
                    command: cmd,
                }) {
                    Ok(()) => None,
                    Err(()) if oneway => None,
                    Err(()) => Some(
                        RemotingCommand::new_response(
                            ResponseCode::SYSTEM_BUSY,
                            opaque,
                            Some("[OVERLOAD] client request queue full".into()),
                        )
                        .with_serialize_type(st),
                    ),
                }
            }
            _ if cmd.is_oneway() => None,
            _ => Some(refuse(
                ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {} not supported", code.0),
            )),
        };
        if let Some(resp) = answer {
            if let Some(tx) = self.self_tx.upgrade() {
                if let Ok(frame) = frame::encode_to_bytes(&resp) {
                    // The queue has room or the answer is dropped: never block the actor on itself.
                    let _ = tx.try_send(Outbound::Write { frame, done: None });
                }
            }
        }
    }

    fn sweep(&mut self) {
        let now = Instant::now();
        let addr = &self.addr;
        self.pending.retain(|_, p| {
            if p.reply.is_closed() {
                return false; // the caller gave up
            }
            if p.deadline <= now {
                return false; // the caller's own timeout has fired or is about to
            }
            true
        });
        trace!(%addr, pending = self.pending.len(), "swept");
        self.publish_pending();
    }

    /// Make the table's size visible to [`ConnectionStats::pending_requests`] (one relaxed store).
    fn publish_pending(&self) {
        self.stats.pending.store(self.pending.len(), Ordering::Relaxed);
    }

    #[cfg(test)]
    #[allow(dead_code)]
    fn pending_len(&self) -> usize {
        self.pending.len()
    }
}
