//! Client metrics through the [`metrics`] facade: install any recorder (Prometheus, StatsD,
//! OpenTelemetry, ...) before starting producers and consumers, and they report what they do.
//!
//! Every metric is named `rocketmq_client_*`, carries its unit in its name (`_seconds`, `_bytes`,
//! `_total`) and is labelled with the `client_id` of the producer or consumer and, where they apply,
//! `group`, `topic`, `broker`, `queue_id` and `result`. The full table is in `docs/metrics.md`; the
//! names are the constants of this module.
//!
//! Handles are created once per client, topic and queue (never per message) and kept by the structs
//! that own that topic or queue, so recording is an atomic add. With no recorder installed every
//! handle is a no-op. Handles are bound to the recorder installed when they are created: install it
//! before starting clients.
//!
//! ```no_run
//! # fn install_your_recorder() {}
//! install_your_recorder(); // e.g. metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()
//! rmq_client::telemetry::describe_metrics(); // optional: units and help texts for the exporter
//! // ... start producers and consumers
//! ```

pub(crate) mod client;
pub(crate) mod consumer;
pub(crate) mod producer;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Counter: sends that ended (after retries), by `result` (`ok`, `not_stored`, `timeout`, `error`).
pub const SEND_TOTAL: &str = "rocketmq_client_send_total";
/// Histogram: how long a send took, retries included, by `result`.
pub const SEND_LATENCY_SECONDS: &str = "rocketmq_client_send_latency_seconds";
/// Counter: send attempts after the first (retries on another broker).
pub const SEND_RETRIES_TOTAL: &str = "rocketmq_client_send_retries_total";
/// Counter: pull requests answered by a broker.
pub const PULL_TOTAL: &str = "rocketmq_client_pull_total";
/// Counter: pull requests that failed (no answer, or refused).
pub const PULL_ERRORS_TOTAL: &str = "rocketmq_client_pull_errors_total";
/// Counter: messages pulled (after the client's tag re-filter).
pub const PULL_MESSAGES_TOTAL: &str = "rocketmq_client_pull_messages_total";
/// Histogram: how long a pull took, including the broker's long-poll hold.
pub const PULL_LATENCY_SECONDS: &str = "rocketmq_client_pull_latency_seconds";
/// Gauge: messages pulled per second over the last minute.
pub const PULL_TPS: &str = "rocketmq_client_pull_tps";
/// Counter: messages the listener consumed, by `result` (`ok`, `failed`).
pub const CONSUME_TOTAL: &str = "rocketmq_client_consume_total";
/// Histogram: how long one listener call took (one call takes a batch of messages).
pub const CONSUME_LATENCY_SECONDS: &str = "rocketmq_client_consume_latency_seconds";
/// Gauge: messages consumed per second over the last minute, by `result` (`ok`, `failed`).
pub const CONSUME_TPS: &str = "rocketmq_client_consume_tps";
/// Counter: failed messages sent back to the broker, by `result` (`retry`: to the retry topic,
/// `dlq`: to the dead-letter queue, `failed`: the broker did not take it).
pub const SEND_BACK_TOTAL: &str = "rocketmq_client_send_back_total";
/// Counter: messages consumed again in this client (send-back failed, or an orderly batch suspended).
pub const LOCAL_RETRIES_TOTAL: &str = "rocketmq_client_consume_local_retries_total";
/// Gauge: messages pulled and not yet consumed, per queue.
pub const CACHED_MESSAGES: &str = "rocketmq_client_consumer_cached_messages";
/// Gauge: body bytes of the cached messages, per queue.
pub const CACHED_BYTES: &str = "rocketmq_client_consumer_cached_bytes";
/// Gauge: messages on the broker not yet consumed by the group (broker end − committed offset), per queue.
pub const LAG_MESSAGES: &str = "rocketmq_client_consumer_lag_messages";
/// Gauge: queues assigned to the consumer.
pub const ASSIGNED_QUEUES: &str = "rocketmq_client_consumer_assigned_queues";
/// Counter: rebalance rounds that changed the consumer's assignment.
pub const REBALANCE_TOTAL: &str = "rocketmq_client_rebalance_total";
/// Counter: committed offsets written, by `result` (`ok`, `failed`).
pub const OFFSET_PERSIST_TOTAL: &str = "rocketmq_client_offset_persist_total";
/// Histogram: how long writing one committed offset took.
pub const OFFSET_PERSIST_LATENCY_SECONDS: &str = "rocketmq_client_offset_persist_latency_seconds";
/// Counter: committed offsets read from brokers, by `result` (`ok`, `failed`).
pub const OFFSET_FETCH_TOTAL: &str = "rocketmq_client_offset_fetch_total";
/// Gauge: open connections to name servers and brokers.
pub const CONNECTIONS: &str = "rocketmq_client_connections";
/// Counter: connect attempts, by `result` (`ok`, `failed`).
pub const CONNECTS_TOTAL: &str = "rocketmq_client_connects_total";
/// Counter: connections made again to an address this client was connected to before.
pub const RECONNECTS_TOTAL: &str = "rocketmq_client_reconnects_total";
/// Counter: connections that closed (broker gone, error, or shutdown).
pub const DISCONNECTS_TOTAL: &str = "rocketmq_client_disconnects_total";
/// Counter: heartbeats sent to brokers, by `result` (`ok`, `failed`).
pub const HEARTBEAT_TOTAL: &str = "rocketmq_client_heartbeat_total";

/// Give the installed recorder the unit and help text of every metric (exporters show them). Clients
/// call it when they start; call it yourself if you install a recorder later.
pub fn describe_metrics() {
    describe_counter!(
        SEND_TOTAL,
        Unit::Count,
        "Sends that ended (after retries), by result."
    );
    describe_histogram!(
        SEND_LATENCY_SECONDS,
        Unit::Seconds,
        "Send time including retries."
    );
    describe_counter!(SEND_RETRIES_TOTAL, Unit::Count, "Send attempts after the first.");
    describe_counter!(PULL_TOTAL, Unit::Count, "Pull requests answered by a broker.");
    describe_counter!(PULL_ERRORS_TOTAL, Unit::Count, "Pull requests that failed.");
    describe_counter!(PULL_MESSAGES_TOTAL, Unit::Count, "Messages pulled.");
    describe_histogram!(
        PULL_LATENCY_SECONDS,
        Unit::Seconds,
        "Pull time including the long-poll hold."
    );
    describe_gauge!(PULL_TPS, "Messages pulled per second over the last minute.");
    describe_counter!(
        CONSUME_TOTAL,
        Unit::Count,
        "Messages consumed by the listener, by result."
    );
    describe_histogram!(
        CONSUME_LATENCY_SECONDS,
        Unit::Seconds,
        "Time of one listener call."
    );
    describe_gauge!(
        CONSUME_TPS,
        "Messages consumed per second over the last minute, by result."
    );
    describe_counter!(
        SEND_BACK_TOTAL,
        Unit::Count,
        "Failed messages sent back to the broker, by result."
    );
    describe_counter!(
        LOCAL_RETRIES_TOTAL,
        Unit::Count,
        "Messages consumed again in this client."
    );
    describe_gauge!(
        CACHED_MESSAGES,
        Unit::Count,
        "Messages pulled and not yet consumed."
    );
    describe_gauge!(CACHED_BYTES, Unit::Bytes, "Body bytes of the cached messages.");
    describe_gauge!(
        LAG_MESSAGES,
        Unit::Count,
        "Messages not yet consumed by the group."
    );
    describe_gauge!(ASSIGNED_QUEUES, Unit::Count, "Queues assigned to the consumer.");
    describe_counter!(
        REBALANCE_TOTAL,
        Unit::Count,
        "Rebalance rounds that changed the assignment."
    );
    describe_counter!(
        OFFSET_PERSIST_TOTAL,
        Unit::Count,
        "Committed offsets written, by result."
    );
    describe_histogram!(
        OFFSET_PERSIST_LATENCY_SECONDS,
        Unit::Seconds,
        "Time to write one committed offset."
    );
    describe_counter!(
        OFFSET_FETCH_TOTAL,
        Unit::Count,
        "Committed offsets read, by result."
    );
    describe_gauge!(CONNECTIONS, Unit::Count, "Open connections.");
    describe_counter!(CONNECTS_TOTAL, Unit::Count, "Connect attempts, by result.");
    describe_counter!(
        RECONNECTS_TOTAL,
        Unit::Count,
        "Connections made again to a known address."
    );
    describe_counter!(DISCONNECTS_TOTAL, Unit::Count, "Connections that closed.");
    describe_counter!(
        HEARTBEAT_TOTAL,
        Unit::Count,
        "Heartbeats sent to brokers, by result."
    );
}
