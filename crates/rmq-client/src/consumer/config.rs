//! Push-consumer settings ([`ConsumerConfig`]), with the Java `DefaultMQPushConsumer`'s meanings, and
//! the start-position rule of [`ConsumeFromWhere`] ([`start_position`]).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use rmq_protocol::header::{ConsumeFromWhere, MessageModel};

use crate::config::ClientConfig;
use crate::consumer::rebalance::allocate::AllocateStrategy;
use crate::error::{Error, Result};

/// One mebibyte.
const MIB: u64 = 1024 * 1024;
/// The group name Java reserves for its default consumer.
pub const DEFAULT_CONSUMER_GROUP: &str = "DEFAULT_CONSUMER";
/// Longest consumer group name.
pub const GROUP_MAX_LEN: usize = 255;
/// Prefix of a group's retry topic (`%RETRY%<group>`).
pub const RETRY_TOPIC_PREFIX: &str = "%RETRY%";
/// How far back [`ConsumeFromWhere::ConsumeFromTimestamp`] starts when no
/// [`consume_timestamp`](ConsumerConfig::consume_timestamp) is set: 30 minutes (as Java).
pub const DEFAULT_CONSUME_TIMESTAMP_LOOKBACK: Duration = Duration::from_secs(30 * 60);

/// Every push-consumer setting, with its default.
///
/// Names follow the Java client (`consumeThreadMin` → `consume_thread_min`, ...); times are
/// [`Duration`]s and sizes are bytes. [`validate`](Self::validate) runs at `start()` and names the first
/// field that breaks a rule.
///
/// ```
/// use std::time::Duration;
/// use rmq_client::consumer::config::{ConsumeFromWhere, ConsumerConfig};
///
/// let mut cfg = ConsumerConfig::new("order_consumers");
/// cfg.client.namesrv_addr = "127.0.0.1:9876".into();
/// cfg.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
/// cfg.consume_message_batch_max_size = 16;
/// cfg.consume_timeout = Duration::from_secs(5 * 60);
/// cfg.validate()?;
///
/// cfg.consume_thread_min = 100; // more than consume_thread_max (64)
/// assert!(cfg.validate().unwrap_err().to_string().contains("consume_thread_min"));
/// # Ok::<(), rmq_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Consumer group (required): 1..=255 characters of `[A-Za-z0-9_%|-]`, not `DEFAULT_CONSUMER`.
    /// Consumers of one group share the work (clustering) and the committed offsets.
    /// Java: `consumerGroup`.
    pub consumer_group: String,
    /// Name servers (`client.namesrv_addr`, required), instance name and client-wide timeouts.
    pub client: ClientConfig,
    /// CLUSTERING (default): each message goes to one consumer of the group, offsets live on the broker.
    /// BROADCASTING: every consumer gets every message, offsets live in
    /// [`offset_store_path`](Self::offset_store_path), failed messages are not redelivered.
    pub message_model: MessageModel,
    /// Where a group with no committed offset for a queue starts: LAST_OFFSET (default, skip the
    /// backlog), FIRST_OFFSET (everything still stored) or TIMESTAMP (first message stored at or after
    /// [`consume_timestamp`](Self::consume_timestamp)). The deprecated MIN_OFFSET, MAX_OFFSET and
    /// LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST behave like LAST_OFFSET, as in Java. A committed offset
    /// always wins; see [`start_position`].
    pub consume_from_where: ConsumeFromWhere,
    /// Start time for [`ConsumeFromWhere::ConsumeFromTimestamp`]: none (default) means 30 minutes before
    /// the consumer starts, like Java. Java takes a local-time `yyyyMMddHHmmss` string; convert one with
    /// [`parse_java_timestamp`].
    pub consume_timestamp: Option<SystemTime>,
    /// How a topic's queues are split among the group's consumers: [`AllocateStrategy::Average`]
    /// (default). Every consumer of the group must use the same strategy.
    pub allocate_queue_strategy: AllocateStrategy,
    /// Threads kept in the listener pool: 20, in 1..=1000. Java: `consumeThreadMin`.
    pub consume_thread_min: usize,
    /// Most listener calls running at once: 64, in 1..=1000 and at least `consume_thread_min`.
    /// Java: `consumeThreadMax`.
    pub consume_thread_max: usize,
    /// Most messages asked for per pull request: 32, in 1..=1024. Java: `pullBatchSize`. A pull asks
    /// for fewer when the queue's byte room (see `pull_threshold_size_of_queue`) holds fewer messages
    /// of the size its last pull brought.
    pub pull_batch_size: u32,
    /// Most messages handed to one listener call: 1, in 1..=1024. Java: `consumeMessageBatchMaxSize`.
    pub consume_message_batch_max_size: usize,
    /// Pause between two pulls of one queue: 0 (pull again at once), at most 65535 ms.
    /// Java: `pullInterval`.
    pub pull_interval: Duration,
    /// A message whose listener call started longer ago than this is sent back for redelivery (delay
    /// level 3) and its queue moves on; checked as often as this: 15 min. Java: `consumeTimeout`.
    pub consume_timeout: Duration,
    /// Redeliveries of a failed message before the broker moves it to the dead-letter topic
    /// `%DLQ%<group>`: 16; -1 also means 16. Java: `maxReconsumeTimes`.
    pub max_reconsume_times: i32,
    /// Most messages cached (pulled, not yet consumed) by this consumer over all its queues: 50000.
    /// Each queue may hold `max(1, this / assigned queues)`.
    pub pull_threshold_for_all: usize,
    /// Most messages cached per topic: 10000, in 1..=6553500. Each of the topic's `n` assigned queues
    /// may hold `max(1, this / n)`; the stricter of this and `pull_threshold_of_queue` applies.
    /// Java: `pullThresholdForTopic`.
    pub pull_threshold_for_topic: usize,
    /// Most message-body bytes cached per topic: 100 MiB, at most 100 GiB; split over the topic's queues
    /// like `pull_threshold_for_topic`. Bodies count decompressed. Java: `pullThresholdSizeForTopic`
    /// (in MiB).
    pub pull_threshold_size_for_topic: u64,
    /// Most messages cached per queue; a queue holding more is not pulled until consumption frees room:
    /// 1000, in 1..=65535. Java: `pullThresholdForQueue`.
    pub pull_threshold_of_queue: usize,
    /// Most message-body bytes cached per queue: 100 MiB, at most 1 GiB. Bodies count decompressed;
    /// a pull is sized to the room left (`Thresholds::pull_size`), so compressed bodies, small on the
    /// wire, cannot take a queue a whole pull batch over the limit. Java: `pullThresholdSizeForQueue`
    /// (in MiB; Java checks the limit before a pull only).
    pub pull_threshold_size_of_queue: u64,
    /// Concurrent consumer only: stop pulling a queue while its highest and lowest cached offsets are
    /// more than this apart (one slow message holds back the committed offset): 2000, in 1..=65535.
    /// Java: `consumeConcurrentlyMaxSpan`.
    pub consume_concurrently_max_span: i64,
    /// How often consumed offsets are persisted (to the broker, or to the local file when
    /// broadcasting): 5 s. Java: `persistConsumerOffsetInterval`.
    pub persist_interval: Duration,
    /// Queue offsets sent per burst in one persist round (the persist task yields between bursts, so a
    /// consumer with many queues does not hold up its runtime): 10.
    pub persist_batch_size: usize,
    /// Directory of the local offset files used when BROADCASTING: `~/.rocketmq/offsets`. Each
    /// client and group has its own file, `<dir>/<client id>/<group>/offsets.json` (with a `.bak` of
    /// the previous version); set `client.instance_name` so the client id — and the file — stays the
    /// same across restarts (the default instance name includes the process id, as in Java).
    pub offset_store_path: PathBuf,
    /// Most messages waiting for a free listener slot (submitted by queue tasks, not yet being
    /// consumed); a queue task waits for room before submitting more: 10000.
    pub max_cache_size: usize,
    /// Restart (at the next rebalance round, from the committed offset) a queue task that ended
    /// unexpectedly (a panic inside the client) instead of leaving its queue idle while it stays
    /// assigned: true.
    pub enable_auto_recovery: bool,
    /// Attempts to hand a failed message back to the broker (CONSUMER_SEND_MSG_BACK) before it is kept
    /// and consumed locally again 5 s later (its offset stays uncommitted meanwhile): 3.
    pub max_retry_times: u32,
    /// How long `shutdown()` waits for running listener calls to finish: 0 (do not wait; unfinished
    /// messages are redelivered after a restart, since their offsets were not committed).
    /// Java: `awaitTerminationMillisWhenShutdown`.
    pub await_termination: Duration,
    /// Orderly consumer only: how long a queue pauses after the listener returned
    /// `SuspendCurrentQueueAMoment`, unless the call's context sets its own: 1 s, in 10 ms..=30 s.
    /// Java: `suspendCurrentQueueTimeMillis`.
    pub suspend_current_queue_time: Duration,
    /// Orderly consumer only: local re-consumptions of a failing message before it is sent to
    /// `%RETRY%<group>` marked for the dead-letter queue: `i32::MAX` (never, as Java's -1); -1 also
    /// means `i32::MAX`.
    pub orderly_max_reconsume_times: i32,
    /// Orderly consumer only: a listener call running longer than this is logged: 30 s. Whatever its
    /// length, a batch's result is committed only if the queue lock is still valid when it ends
    /// (otherwise the batch is left for the queue's owner: redelivered, never an offset regression).
    pub orderly_consume_timeout: Duration,
    /// Tenant namespace (Java `namespace`): the group and subscribed topics are used as
    /// `<namespace>%<name>` on the wire (retry and DLQ topics too), and delivered messages carry the
    /// plain topic name, so tenants sharing a cluster never see each other's messages: none.
    pub namespace: Option<String>,
}

impl ConsumerConfig {
    /// Defaults for `group`; the name-server list (`client.namesrv_addr`) must still be set.
    pub fn new(consumer_group: impl Into<String>) -> Self {
        ConsumerConfig {
            consumer_group: consumer_group.into(),
            client: ClientConfig::new(""),
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
            consume_timestamp: None,
            allocate_queue_strategy: AllocateStrategy::Average,
            consume_thread_min: 20,
            consume_thread_max: 64,
            pull_batch_size: 32,
            consume_message_batch_max_size: 1,
            pull_interval: Duration::ZERO,
            consume_timeout: Duration::from_secs(15 * 60),
            max_reconsume_times: 16,
            pull_threshold_for_all: 50_000,
            pull_threshold_for_topic: 10_000,
            pull_threshold_size_for_topic: 100 * MIB,
            pull_threshold_of_queue: 1000,
            pull_threshold_size_of_queue: 100 * MIB,
            consume_concurrently_max_span: 2000,
            persist_interval: Duration::from_secs(5),
            persist_batch_size: 10,
            offset_store_path: default_offset_store_path(),
            max_cache_size: 10_000,
            enable_auto_recovery: true,
            max_retry_times: 3,
            await_termination: Duration::ZERO,
            suspend_current_queue_time: Duration::from_secs(1),
            orderly_max_reconsume_times: i32::MAX,
            orderly_consume_timeout: Duration::from_secs(30),
            namespace: None,
        }
    }

    /// Check every rule (Java `DefaultMQPushConsumerImpl.checkConfig` plus this client's fields).
    /// The error is [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) naming the field
    /// and the rule.
    pub fn validate(&self) -> Result<()> {
        /// `field in min..=max`, naming the field.
        macro_rules! range {
            ($field:ident, $min:expr, $max:expr) => {
                in_range(stringify!($field), self.$field, $min, $max)?
            };
        }
        /// `field >= min`, naming the field.
        macro_rules! min {
            ($field:ident, $min:expr) => {
                at_least(stringify!($field), self.$field, $min)?
            };
        }
        /// `field > 0` for a duration, naming the field.
        macro_rules! positive {
            ($field:ident) => {
                positive(stringify!($field), self.$field)?
            };
        }
        consumer_group_name(&self.consumer_group)?;
        self.client.name_servers()?;
        range!(consume_thread_min, 1, 1000);
        range!(consume_thread_max, 1, 1000);
        if self.consume_thread_min > self.consume_thread_max {
            return Err(Error::invalid(format!(
                "consume_thread_min ({}) must not exceed consume_thread_max ({})",
                self.consume_thread_min, self.consume_thread_max
            )));
        }
        range!(pull_batch_size, 1, 1024);
        range!(consume_message_batch_max_size, 1, 1024);
        in_range("pull_interval (ms)", self.pull_interval.as_millis(), 0, 65_535)?;
        positive!(consume_timeout);
        min!(max_reconsume_times, -1);
        min!(pull_threshold_for_all, 1);
        range!(pull_threshold_for_topic, 1, 6_553_500);
        range!(pull_threshold_size_for_topic, 1, 102_400 * MIB);
        range!(pull_threshold_of_queue, 1, 65_535);
        range!(pull_threshold_size_of_queue, 1, 1024 * MIB);
        range!(consume_concurrently_max_span, 1, 65_535);
        positive!(persist_interval);
        min!(persist_batch_size, 1);
        min!(max_cache_size, 1);
        if self.offset_store_path.as_os_str().is_empty() {
            return Err(Error::invalid("offset_store_path is empty"));
        }
        let suspend = self.suspend_current_queue_time.as_millis();
        in_range("suspend_current_queue_time (ms)", suspend, 10, 30_000)?;
        min!(orderly_max_reconsume_times, -1);
        positive!(orderly_consume_timeout);
        if let Some(ts) = self.consume_timestamp {
            if ts.duration_since(UNIX_EPOCH).is_err() {
                return Err(Error::invalid("consume_timestamp is before 1970-01-01"));
            }
        }
        Ok(())
    }

    /// `max_reconsume_times` with -1 resolved to 16 (what the concurrent consumer sends to the broker).
    pub fn effective_max_reconsume_times(&self) -> i32 {
        if self.max_reconsume_times == -1 {
            16
        } else {
            self.max_reconsume_times
        }
    }

    /// `orderly_max_reconsume_times` with -1 resolved to `i32::MAX`.
    pub fn effective_orderly_max_reconsume_times(&self) -> i32 {
        if self.orderly_max_reconsume_times == -1 {
            i32::MAX
        } else {
            self.orderly_max_reconsume_times
        }
    }

    /// The TIMESTAMP start time in ms since the epoch: `consume_timestamp`, or `now` − 30 min.
    pub fn consume_timestamp_millis(&self, now: SystemTime) -> i64 {
        let at = self.consume_timestamp.unwrap_or_else(|| {
            now.checked_sub(DEFAULT_CONSUME_TIMESTAMP_LOOKBACK)
                .unwrap_or(UNIX_EPOCH)
        });
        at.duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    /// This group's retry topic, `%RETRY%<group>`.
    pub fn retry_topic(&self) -> String {
        format!("{RETRY_TOPIC_PREFIX}{}", self.consumer_group)
    }
}

/// A consumer group name (Java `Validators.checkGroup` plus the `DEFAULT_CONSUMER` check): non-empty,
/// at most 255 characters of `[A-Za-z0-9_%|-]`, not `DEFAULT_CONSUMER`.
pub fn consumer_group_name(group: &str) -> Result<()> {
    if group.is_empty() {
        return Err(Error::invalid("consumer_group is empty"));
    }
    if group.len() > GROUP_MAX_LEN {
        return Err(Error::invalid(format!(
            "consumer_group is {} characters long, max {GROUP_MAX_LEN}",
            group.len()
        )));
    }
    if let Some(c) = group
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '%' | '|' | '-')))
    {
        return Err(Error::invalid(format!(
            "consumer_group {group:?} contains {c:?}; allowed: letters, digits, % - _ |"
        )));
    }
    if group == DEFAULT_CONSUMER_GROUP {
        return Err(Error::invalid(format!(
            "consumer_group {DEFAULT_CONSUMER_GROUP} is reserved; choose another name"
        )));
    }
    Ok(())
}

fn in_range<T: PartialOrd + std::fmt::Display>(field: &str, v: T, min: T, max: T) -> Result<()> {
    if v < min || v > max {
        return Err(Error::invalid(format!(
            "{field} is {v}, must be in {min}..={max}"
        )));
    }
    Ok(())
}

fn at_least<T: PartialOrd + std::fmt::Display>(field: &str, v: T, min: T) -> Result<()> {
    if v < min {
        return Err(Error::invalid(format!("{field} is {v}, must be at least {min}")));
    }
    Ok(())
}

fn positive(field: &str, d: Duration) -> Result<()> {
    if d.is_zero() {
        return Err(Error::invalid(format!("{field} must be greater than zero")));
    }
    Ok(())
}

/// `$HOME/.rocketmq/offsets` (`%USERPROFILE%` on Windows), or `.rocketmq/offsets` without a home.
fn default_offset_store_path() -> PathBuf {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    home.map(PathBuf::from)
        .unwrap_or_default()
        .join(".rocketmq")
        .join("offsets")
}

/// Parse Java's `consumeTimestamp` format `yyyyMMddHHmmss` (e.g. `"20240131235959"`), read as a time
/// `utc_offset_secs` seconds east of UTC (Java uses the JVM's local zone; pass its offset, or 0 for UTC).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use rmq_client::consumer::config::parse_java_timestamp;
/// let t = parse_java_timestamp("19700102000000", 0)?;
/// assert_eq!(t, UNIX_EPOCH + Duration::from_secs(86_400));
/// let cet = parse_java_timestamp("19700102010000", 3600)?; // the same instant at UTC+1
/// assert_eq!(cet, t);
/// # Ok::<(), rmq_client::Error>(())
/// ```
pub fn parse_java_timestamp(s: &str, utc_offset_secs: i32) -> Result<SystemTime> {
    let bad = || Error::invalid(format!("consume_timestamp {s:?} is not yyyyMMddHHmmss"));
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(8..10)?, num(10..12)?, num(12..14)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let max_day = usize::try_from(mo - 1)
        .ok()
        .and_then(|i| month_days.get(i).copied())
        .ok_or_else(bad)?;
    if d < 1 || d > max_day || h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - i64::from(utc_offset_secs);
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where pulling a newly assigned queue starts ([`start_position`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// At this offset (the committed one, or 0).
    Offset(i64),
    /// At the queue's current max offset (GET_MAX_OFFSET): skip the backlog.
    MaxOffset,
    /// At the first message stored at or after this time, ms since the epoch (SEARCH_OFFSET_BY_TIMESTAMP).
    Timestamp(i64),
}

/// Java `RebalancePushImpl.computePullFromWhereWithException`: where a queue starts, given the offset the
/// broker has committed for the group (`None` when QUERY_CONSUMER_OFFSET answered "not found"; any other
/// failure should abort the queue's assignment and be retried later).
///
/// | `from` | committed | none, normal topic | none, `%RETRY%` topic |
/// |---|---|---|---|
/// | LAST_OFFSET (and the deprecated ones) | it | max offset | 0 |
/// | FIRST_OFFSET | it | 0 | 0 |
/// | TIMESTAMP | it | by `timestamp_ms` | max offset |
///
/// ```
/// use rmq_client::consumer::config::{start_position, ConsumeFromWhere, StartPosition};
/// let last = ConsumeFromWhere::ConsumeFromLastOffset;
/// assert_eq!(start_position(last, Some(42), "T", 0), StartPosition::Offset(42));
/// assert_eq!(start_position(last, None, "T", 0), StartPosition::MaxOffset);
/// assert_eq!(start_position(last, None, "%RETRY%G", 0), StartPosition::Offset(0));
/// ```
pub fn start_position(
    from: ConsumeFromWhere,
    committed: Option<i64>,
    topic: &str,
    timestamp_ms: i64,
) -> StartPosition {
    if let Some(offset) = committed.filter(|o| *o >= 0) {
        return StartPosition::Offset(offset);
    }
    let retry = topic.starts_with(RETRY_TOPIC_PREFIX);
    match from {
        ConsumeFromWhere::ConsumeFromFirstOffset => StartPosition::Offset(0),
        ConsumeFromWhere::ConsumeFromTimestamp if retry => StartPosition::MaxOffset,
        ConsumeFromWhere::ConsumeFromTimestamp => StartPosition::Timestamp(timestamp_ms),
        _ if retry => StartPosition::Offset(0),
        _ => StartPosition::MaxOffset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn valid() -> ConsumerConfig {
        let mut c = ConsumerConfig::new("G_1");
        c.client.namesrv_addr = "127.0.0.1:9876".into();
        c
    }

    fn err_of(c: &ConsumerConfig) -> String {
        let e = c.validate().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e:?}");
        e.to_string()
    }

    #[test]
    fn defaults_are_valid_and_match_the_issue() {
        let c = valid();
        c.validate().unwrap();
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::ConsumeFromLastOffset);
        assert!(matches!(c.allocate_queue_strategy, AllocateStrategy::Average));
        assert_eq!((c.consume_thread_min, c.consume_thread_max), (20, 64));
        assert_eq!((c.pull_batch_size, c.consume_message_batch_max_size), (32, 1));
        assert_eq!(c.consume_timeout, Duration::from_secs(900));
        assert_eq!(c.max_reconsume_times, 16);
        assert_eq!(c.pull_interval, Duration::ZERO);
        assert_eq!(
            (c.pull_threshold_for_all, c.pull_threshold_for_topic),
            (50_000, 10_000)
        );
        assert_eq!(
            (c.pull_threshold_of_queue, c.pull_threshold_size_of_queue),
            (1000, 100 << 20)
        );
        assert_eq!(c.pull_threshold_size_for_topic, 100 << 20);
        assert_eq!(c.consume_concurrently_max_span, 2000);
        assert_eq!(
            (c.persist_interval, c.persist_batch_size),
            (Duration::from_secs(5), 10)
        );
        assert!(c.offset_store_path.ends_with(".rocketmq/offsets"));
        assert_eq!(
            (c.max_cache_size, c.enable_auto_recovery, c.max_retry_times),
            (10_000, true, 3)
        );
        assert_eq!(c.suspend_current_queue_time, Duration::from_secs(1));
        assert_eq!(c.orderly_consume_timeout, Duration::from_secs(30));
        assert_eq!(c.effective_orderly_max_reconsume_times(), i32::MAX);
        assert_eq!(c.retry_topic(), "%RETRY%G_1");
    }

    /// Breaks one field of a valid config and checks the error names it (or `$needle`).
    macro_rules! rejects {
        ($($field:ident).+ = $value:expr) => {
            rejects!($($field).+ = $value; stringify!($($field).+))
        };
        ($($field:ident).+ = $value:expr; $needle:expr) => {{
            let mut c = valid();
            c.$($field).+ = $value;
            let msg = err_of(&c);
            assert!(msg.contains($needle), "{msg:?} should mention {:?}", $needle);
        }};
    }

    #[test]
    fn each_rule_names_its_field() {
        rejects!(consumer_group = String::new(); "consumer_group is empty");
        rejects!(consumer_group = "a b".into());
        rejects!(consumer_group = "g".repeat(256); "max 255");
        rejects!(consumer_group = "DEFAULT_CONSUMER".into(); "reserved");
        rejects!(client.namesrv_addr = String::new(); "namesrv_addr");
        rejects!(consume_thread_min = 0);
        rejects!(consume_thread_max = 1001);
        rejects!(consume_thread_min = 65; "must not exceed consume_thread_max");
        rejects!(pull_batch_size = 1025);
        rejects!(consume_message_batch_max_size = 0);
        rejects!(pull_interval = Duration::from_secs(66));
        rejects!(consume_timeout = Duration::ZERO);
        rejects!(max_reconsume_times = -2);
        rejects!(pull_threshold_for_all = 0);
        rejects!(pull_threshold_for_topic = 0);
        rejects!(pull_threshold_size_for_topic = 0);
        rejects!(pull_threshold_of_queue = 65_536);
        rejects!(pull_threshold_size_of_queue = 0);
        rejects!(consume_concurrently_max_span = 0);
        rejects!(persist_interval = Duration::ZERO);
        rejects!(persist_batch_size = 0);
        rejects!(max_cache_size = 0);
        rejects!(offset_store_path = PathBuf::new());
        rejects!(suspend_current_queue_time = Duration::from_millis(5));
        rejects!(orderly_max_reconsume_times = -5);
        rejects!(orderly_consume_timeout = Duration::ZERO);
        let mut c = valid();
        c.consumer_group = "%RETRY%|x-1_2".into();
        c.max_reconsume_times = -1;
        c.validate().unwrap();
        assert_eq!(c.effective_max_reconsume_times(), 16);
    }

    #[test]
    fn java_timestamps() {
        let t = parse_java_timestamp("20240229123456", 0).unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_709_210_096);
        let t8 = parse_java_timestamp("20240229203456", 8 * 3600).unwrap();
        assert_eq!(t, t8);
        for bad in [
            "",
            "2024022912345",
            "2023022912345a",
            "20230229123456",
            "20241301000000",
            "20240101240000",
        ] {
            assert!(parse_java_timestamp(bad, 0).is_err(), "{bad}");
        }
        assert!(parse_java_timestamp("19700101000000", 3600).is_err());
    }

    #[test]
    fn consume_timestamp_default_is_half_an_hour_back() {
        let mut c = valid();
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(c.consume_timestamp_millis(now), (10_000 - 1800) * 1000);
        c.consume_timestamp = Some(UNIX_EPOCH + Duration::from_millis(1234));
        assert_eq!(c.consume_timestamp_millis(now), 1234);
    }

    #[test]
    fn start_positions_follow_java() {
        use ConsumeFromWhere as W;
        use StartPosition as P;
        for w in [
            W::ConsumeFromLastOffset,
            W::ConsumeFromFirstOffset,
            W::ConsumeFromTimestamp,
        ] {
            assert_eq!(start_position(w, Some(7), "T", 5), P::Offset(7));
        }
        for w in [
            W::ConsumeFromLastOffset,
            W::ConsumeFromMinOffset,
            W::ConsumeFromMaxOffset,
        ] {
            assert_eq!(start_position(w, None, "T", 5), P::MaxOffset);
            assert_eq!(start_position(w, Some(-1), "%RETRY%G", 5), P::Offset(0));
        }
        assert_eq!(
            start_position(W::ConsumeFromFirstOffset, None, "T", 5),
            P::Offset(0)
        );
        assert_eq!(
            start_position(W::ConsumeFromTimestamp, None, "T", 5),
            P::Timestamp(5)
        );
        assert_eq!(
            start_position(W::ConsumeFromTimestamp, None, "%RETRY%G", 5),
            P::MaxOffset
        );
    }
}
