//! Health snapshots of producers and consumers: when the client last reached the brokers, how old its
//! routes are, and for a consumer when each queue was last pulled and consumed, and which queues are
//! stuck. Cheap to take (atomic loads and a few short locks); meant for readiness probes and alerts.
//!
//! Ages are measured on a monotonic clock; the `SystemTime`s are those ages taken from the wall clock
//! now, for display.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use rmq_protocol::message::MessageQueue;

use crate::client::ClientCore;
use crate::consumer::stats::QueueGauge;
use crate::error::Error;

/// What one client (producer or consumer) knows about its link to the cluster.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientHealth {
    /// This client's id.
    pub client_id: String,
    /// The last heartbeat round.
    pub heartbeat: HeartbeatHealth,
    /// Every topic route the client holds, by topic.
    pub routes: BTreeMap<String, RouteHealth>,
    /// Addresses with an open connection.
    pub connections: Vec<String>,
    /// Requests awaiting a response on each open connection (its pending-request table), by address.
    /// Entries leave the table when answered, at their deadline (request timeout; swept every 500 ms)
    /// or when the connection closes, so a broker that stops answering cannot make it grow beyond
    /// what the client sends within one request timeout.
    pub pending_requests: BTreeMap<String, usize>,
}

/// The last heartbeat round (heartbeats go to every broker every `heartbeat_interval`, 30 s by default).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HeartbeatHealth {
    /// When the last round ran (`None` before the first).
    pub last_attempt: Option<SystemTime>,
    /// When a broker last accepted a heartbeat.
    pub last_success: Option<SystemTime>,
    /// How long ago a broker last accepted a heartbeat.
    pub since_last_success: Option<Duration>,
    /// Brokers that accepted the last round.
    pub brokers_ok: usize,
    /// Brokers that refused it or could not be reached.
    pub brokers_failed: usize,
    /// The last refusal of that round, if any.
    pub last_error: Option<Error>,
}

/// One cached topic route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteHealth {
    /// Time since the route was last fetched from a name server (refreshed every
    /// `poll_name_server_interval`, 30 s by default; an old route means the name servers are unreachable).
    pub age: Duration,
    /// Brokers in the route.
    pub brokers: usize,
    /// Queues a producer may write to.
    pub writable_queues: usize,
    /// Queues a consumer reads.
    pub readable_queues: usize,
}

/// A producer's health. See [`Producer::health`](crate::producer::Producer::health).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerHealth {
    /// Heartbeats, routes and connections.
    pub client: ClientHealth,
    /// When a send last succeeded.
    pub last_send_ok: Option<SystemTime>,
    /// How long ago a send last succeeded.
    pub since_last_send_ok: Option<Duration>,
    /// The last send that failed (after its retries): when, and why.
    pub last_send_error: Option<(SystemTime, Error)>,
}

/// A push consumer's health. See
/// [`ConcurrentConsumer::health`](crate::consumer::ConcurrentConsumer::health).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerHealth {
    /// The consumer group (namespace applied).
    pub group: String,
    /// Heartbeats, routes and connections.
    pub client: ClientHealth,
    /// Every assigned queue.
    pub queues: BTreeMap<MessageQueue, QueueHealth>,
    /// The assigned queues that are stuck (see [`Stuck`]).
    pub stuck: Vec<MessageQueue>,
}

impl ConsumerHealth {
    /// No queue is stuck and a broker accepted a heartbeat within `max_heartbeat_age`.
    pub fn is_healthy(&self, max_heartbeat_age: Duration) -> bool {
        self.stuck.is_empty()
            && self
                .client
                .heartbeat
                .since_last_success
                .is_some_and(|a| a <= max_heartbeat_age)
    }
}

/// One assigned queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueHealth {
    /// Time since the queue was assigned to this consumer.
    pub assigned_for: Duration,
    /// When a pull of this queue was last sent (a pull is held by the broker for up to 15 s when there
    /// is nothing new; Java's `lastPullTimestamp`).
    pub last_pull: Option<SystemTime>,
    /// How long ago that was.
    pub since_last_pull: Option<Duration>,
    /// When a listener call on this queue's messages last ended.
    pub last_consumed: Option<SystemTime>,
    /// How long ago that was.
    pub since_last_consumed: Option<Duration>,
    /// Messages pulled and not yet consumed.
    pub cached_messages: u64,
    /// Why the queue is stuck, if it is.
    pub stuck: Option<Stuck>,
}

/// Why a queue counts as stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stuck {
    /// Messages are cached but no listener call on this queue ended for `idle` (a listener that
    /// blocks, or an orderly batch suspended again and again).
    NotConsuming {
        /// Since the last listener call ended (or since messages were first cached, if later).
        idle: Duration,
        /// Messages waiting.
        cached_messages: u64,
    },
    /// No pull of this queue was sent for `idle` (an orderly queue's lock is lost, or the cache is
    /// full and nothing is consumed; Java's `isPullExpired`).
    NotPulling {
        /// Since the last pull was sent (or since the queue was assigned, if later).
        idle: Duration,
    },
}

/// When a queue counts as stuck.
///
/// ```
/// use std::time::Duration;
/// let mut t = rmq_client::health::StuckThresholds::default();
/// t.not_consuming = Duration::from_secs(30);
/// assert_eq!(t.not_pulling, Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StuckThresholds {
    /// Messages cached and no listener call ended for this long. Default 60 s.
    pub not_consuming: Duration,
    /// No pull sent for this long while the queue is assigned. Default 120 s (Java's
    /// `pullMaxIdleTime`).
    pub not_pulling: Duration,
}

impl Default for StuckThresholds {
    fn default() -> Self {
        StuckThresholds {
            not_consuming: Duration::from_secs(60),
            not_pulling: Duration::from_secs(120),
        }
    }
}

/// A moment kept in an atomic, on a monotonic clock; zero means never.
#[derive(Debug, Default)]
pub(crate) struct Stamp(AtomicU64);

/// Milliseconds since the process's first use of a [`Stamp`], plus one (so that zero is "never").
fn mono_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_millis())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

impl Stamp {
    /// A stamp set to now.
    pub(crate) fn now() -> Self {
        Stamp(AtomicU64::new(mono_ms()))
    }

    /// Set to now.
    pub(crate) fn mark(&self) {
        self.0.store(mono_ms(), Relaxed);
    }

    /// Back to never.
    pub(crate) fn clear(&self) {
        self.0.store(0, Relaxed);
    }

    /// Time since it was set.
    pub(crate) fn age(&self) -> Option<Duration> {
        match self.0.load(Relaxed) {
            0 => None,
            at => Some(Duration::from_millis(mono_ms().saturating_sub(at))),
        }
    }

    /// When it was set, on the wall clock.
    pub(crate) fn at(&self) -> Option<SystemTime> {
        self.age().and_then(|a| SystemTime::now().checked_sub(a))
    }
}

/// The shorter of two optional ages.
fn youngest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The health of one queue from its gauge.
pub(crate) fn queue_health(g: &QueueGauge, t: &StuckThresholds) -> QueueHealth {
    let assigned_for = g.assigned.age().unwrap_or_default();
    let cached_messages = g.cached_count.load(Relaxed);
    let since_last_pull = g.last_pull.age();
    let since_last_consumed = g.last_consume.age();
    let not_consuming = youngest(
        youngest(since_last_consumed, g.cached_since.age()),
        Some(assigned_for),
    );
    let not_pulling = youngest(since_last_pull, Some(assigned_for));
    let stuck = match (not_consuming, not_pulling) {
        (Some(idle), _) if cached_messages > 0 && idle > t.not_consuming => Some(Stuck::NotConsuming {
            idle,
            cached_messages,
        }),
        (_, Some(idle)) if idle > t.not_pulling => Some(Stuck::NotPulling { idle }),
        _ => None,
    };
    QueueHealth {
        assigned_for,
        last_pull: g.last_pull.at(),
        since_last_pull,
        last_consumed: g.last_consume.at(),
        since_last_consumed,
        cached_messages,
        stuck,
    }
}

impl ClientCore {
    /// Heartbeats, routes and connections of this client now.
    pub(crate) fn health(&self) -> ClientHealth {
        let routes = self
            .routes
            .snapshot()
            .topics
            .iter()
            .map(|(topic, r)| {
                let h = RouteHealth {
                    age: r.fetched_at.elapsed(),
                    brokers: r.data.broker_datas.len(),
                    writable_queues: r.publish_queues.len(),
                    readable_queues: r.subscribe_queues.len(),
                };
                (topic.clone(), h)
            })
            .collect();
        let pending_requests: BTreeMap<String, usize> =
            self.remoting.pool().pending_requests().into_iter().collect();
        let connections = pending_requests.keys().cloned().collect();
        ClientHealth {
            client_id: self.client_id.clone(),
            heartbeat: self.heartbeats.health(),
            routes,
            connections,
            pending_requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_stuck_queues() {
        let never = Stamp::default();
        assert_eq!((never.age(), never.at()), (None, None));
        never.mark();
        assert!(never.age().is_some_and(|a| a < Duration::from_secs(5)));

        let t = StuckThresholds {
            not_consuming: Duration::ZERO,
            not_pulling: Duration::from_secs(3600),
        };
        let g = QueueGauge::default();
        // Nothing cached: not stuck however long nothing was consumed.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(queue_health(&g, &t).stuck, None);
        g.cached_count.store(3, Relaxed);
        g.cached_since.mark();
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(
            queue_health(&g, &t).stuck,
            Some(Stuck::NotConsuming {
                cached_messages: 3,
                ..
            })
        ));
        let patient = StuckThresholds {
            not_consuming: Duration::from_secs(3600),
            not_pulling: Duration::ZERO,
        };
        assert!(matches!(
            queue_health(&g, &patient).stuck,
            Some(Stuck::NotPulling { .. })
        ));
        assert_eq!(queue_health(&g, &StuckThresholds::default()).stuck, None);
    }
}
