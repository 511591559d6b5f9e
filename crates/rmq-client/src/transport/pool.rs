//! Connections by address: connected lazily, shared, and re-established on next use after a failure.
//!
//! Concurrent callers for one address share a single connect attempt. After a failed attempt the address
//! is in back-off (exponential with jitter, capped) and calls fail fast with the last error until the
//! back-off passes, so a dead broker never causes a connection storm.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;
use tokio::time::Instant;

use super::connection::{ConnectionHandle, ConnectionOptions};
use super::inbound::InboundSink;
use crate::error::{Error, ErrorKind, Result};
use crate::telemetry::client::PoolMetrics;

/// First back-off after a failed connect.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest back-off.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

type ConnectOutcome = Option<std::result::Result<ConnectionHandle, Error>>;

enum Slot {
    Ready(ConnectionHandle),
    Connecting(watch::Receiver<ConnectOutcome>),
    Failed {
        error: Error,
        retry_at: Instant,
        failures: u32,
    },
}

/// A pool of connections keyed by `host:port`.
#[derive(Clone)]
pub struct ConnectionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    slots: Mutex<HashMap<String, Slot>>,
    options: ConnectionOptions,
    inbound: Option<InboundSink>,
    /// Set by the client that owns the pool.
    metrics: OnceLock<PoolMetrics>,
    /// Addresses connected at least once (a later connect is a reconnect).
    connected_before: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inner.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("ConnectionPool").field("addresses", &n).finish()
    }
}

enum Step {
    Wait(watch::Receiver<ConnectOutcome>),
    Connect(watch::Sender<ConnectOutcome>, u32),
}

impl ConnectionPool {
    /// A pool whose connections use `options` and deliver server requests to `inbound`.
    pub fn new(options: ConnectionOptions, inbound: Option<InboundSink>) -> Self {
        ConnectionPool {
            inner: Arc::new(PoolInner {
                slots: Mutex::new(HashMap::new()),
                options,
                inbound,
                metrics: OnceLock::new(),
                connected_before: Mutex::default(),
            }),
        }
    }

    /// Report connects, reconnects, disconnects and open connections to `metrics` (set once).
    pub(crate) fn observe(&self, metrics: PoolMetrics) {
        let _ = self.inner.metrics.set(metrics);
    }

    /// Count a connect attempt; an open connection is counted until its actor ends.
    fn count_connect(&self, addr: &str, res: &Result<ConnectionHandle>) {
        let Some(m) = self.inner.metrics.get() else {
            return;
        };
        let Ok(h) = res else {
            m.connect_failed.increment(1);
            return;
        };
        m.connected.increment(1);
        let again = self
            .inner
            .connected_before
            .lock()
            .map(|mut seen| !seen.insert(addr.to_owned()))
            .unwrap_or(false);
        if again {
            m.reconnected.increment(1);
        }
        m.open.increment(1.0);
        let (m, ended) = (m.clone(), h.ended());
        tokio::spawn(async move {
            ended.await;
            m.open.decrement(1.0);
            m.disconnected.increment(1);
        });
    }

    /// The connection to `addr`, connecting if needed.
    pub async fn get(&self, addr: &str) -> Result<ConnectionHandle> {
        loop {
            let step = {
                let mut slots = self
                    .inner
                    .slots
                    .lock()
                    .map_err(|_| Error::new(ErrorKind::Shutdown))?;
                let failures = match slots.get(addr) {
                    Some(Slot::Ready(h)) if !h.is_closed() => return Ok(h.clone()),
                    Some(Slot::Ready(_)) => 0,
                    Some(Slot::Connecting(rx)) => match &*rx.borrow() {
                        // A finished attempt whose slot was not updated yet: look again below.
                        Some(_) => 0,
                        None if rx.has_changed().is_err() => 0, // the connecting caller went away
                        None => u32::MAX,
                    },
                    Some(Slot::Failed {
                        error,
                        retry_at,
                        failures,
                    }) => {
                        if Instant::now() < *retry_at {
                            return Err(error.clone());
                        }
                        *failures
                    }
                    None => 0,
                };
                if failures == u32::MAX {
                    match slots.get(addr) {
                        Some(Slot::Connecting(rx)) => Step::Wait(rx.clone()),
                        _ => continue,
                    }
                } else {
                    let (tx, rx) = watch::channel(None);
                    slots.insert(addr.to_owned(), Slot::Connecting(rx));
                    Step::Connect(tx, failures)
                }
            };
            match step {
                Step::Wait(mut rx) => {
                    let outcome = rx
                        .wait_for(|o| o.is_some())
                        .await
                        .map(|o| o.clone())
                        .ok()
                        .flatten();
                    match outcome {
                        Some(Ok(h)) => return Ok(h),
                        Some(Err(e)) => return Err(e),
                        None => continue, // the connecting caller was cancelled; try ourselves
                    }
                }
                Step::Connect(tx, failures) => {
                    let res =
                        ConnectionHandle::connect(addr, &self.inner.options, self.inner.inbound.clone())
                            .await;
                    self.count_connect(addr, &res);
                    let slot = match &res {
                        Ok(h) => Slot::Ready(h.clone()),
                        Err(e) => {
                            let failures = failures.saturating_add(1);
                            Slot::Failed {
                                error: e.clone(),
                                retry_at: Instant::now() + backoff(failures),
                                failures,
                            }
                        }
                    };
                    if let Ok(mut slots) = self.inner.slots.lock() {
                        slots.insert(addr.to_owned(), slot);
                    }
                    let _ = tx.send(Some(res.clone()));
                    return res;
                }
            }
        }
    }

    /// The connection to `addr` if one is open; never connects.
    pub fn get_if_connected(&self, addr: &str) -> Option<ConnectionHandle> {
        let slots = self.inner.slots.lock().ok()?;
        match slots.get(addr) {
            Some(Slot::Ready(h)) if !h.is_closed() => Some(h.clone()),
            _ => None,
        }
    }

    /// Addresses with an open connection.
    pub fn connected_addrs(&self) -> Vec<String> {
        let Ok(slots) = self.inner.slots.lock() else {
            return Vec::new();
        };
        slots
            .iter()
            .filter_map(|(a, s)| match s {
                Slot::Ready(h) if !h.is_closed() => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every open connection's address and the size of its pending-request table
    /// ([`ConnectionStats::pending_requests`](super::connection::ConnectionStats::pending_requests)).
    pub fn pending_requests(&self) -> Vec<(String, usize)> {
        let Ok(slots) = self.inner.slots.lock() else {
            return Vec::new();
        };
        slots
            .iter()
            .filter_map(|(a, s)| match s {
                Slot::Ready(h) if !h.is_closed() => Some((a.clone(), h.stats().pending_requests())),
                _ => None,
            })
            .collect()
    }

    /// Close and forget the connection to `addr` (its pending requests fail at once).
    pub fn close(&self, addr: &str) {
        let slot = self.inner.slots.lock().ok().and_then(|mut s| s.remove(addr));
        if let Some(Slot::Ready(h)) = slot {
            h.close();
        }
    }

    /// Close every connection.
    pub fn close_all(&self) {
        let slots: Vec<Slot> = self
            .inner
            .slots
            .lock()
            .map(|mut s| s.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        for slot in slots {
            if let Slot::Ready(h) = slot {
                h.close();
            }
        }
    }
}

/// Back-off after `failures` consecutive failed connects: doubling from 100 ms, capped at 5 s, ±20 %.
fn backoff(failures: u32) -> Duration {
    let exp = BACKOFF_MIN.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let base = exp.min(BACKOFF_MAX);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) <= Duration::from_millis(120));
        assert!(backoff(3) >= Duration::from_millis(320));
        assert!(backoff(30) <= Duration::from_secs(6));
        assert!(backoff(30) >= Duration::from_secs(4));
    }
}
