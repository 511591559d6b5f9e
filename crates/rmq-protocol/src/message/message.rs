//! [`Message`]: what a producer sends (topic, body, flag, properties), with typed property accessors.

use bytes::Bytes;

use crate::error::{ProtocolError, Result};
use crate::message::properties::{self as keys, Properties};

/// A message to send: topic, body, user flag and properties.
///
/// Typed accessors read and write the well-known properties (`TAGS`, `KEYS`, `DELAY`, `UNIQ_KEY`, ...).
/// Numeric getters return `None` when the property is absent or not a number.
///
/// ```
/// use rmq_protocol::message::Message;
///
/// let msg = Message::new("orders", "hello")
///     .with_tags("created")
///     .with_keys(["order-1", "customer-9"]);
/// assert_eq!(msg.tags(), Some("created"));
/// assert_eq!(msg.keys(), ["order-1", "customer-9"]);
/// assert!(msg.wait_store_msg_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Body bytes (sent uncompressed unless the producer compresses it).
    pub body: Bytes,
    /// User-defined flag, opaque to the broker.
    pub flag: i32,
    /// Properties, system and user.
    pub properties: Properties,
}

fn parse<T: std::str::FromStr>(v: Option<&str>) -> Option<T> {
    v.and_then(|s| s.trim().parse().ok())
}

impl Message {
    /// A message for `topic` with `body`, carrying `WAIT=true` like Java's `new Message(topic, body)`.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut properties = Properties::with_capacity(4);
        properties.insert(keys::WAIT_STORE_MSG_OK, "true");
        Message {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties,
        }
    }

    /// Builder: set the tag.
    pub fn with_tags(mut self, tags: impl AsRef<str>) -> Self {
        self.set_tags(tags);
        self
    }

    /// Builder: set the keys.
    pub fn with_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.set_keys(keys);
        self
    }

    /// Builder: set the user flag.
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Builder: set a property without checks (see [`Message::put_user_property`] for user properties).
    pub fn with_property(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.properties.insert(name, value);
        self
    }

    /// Builder: set the delay level (1..=18).
    pub fn with_delay_time_level(mut self, level: i32) -> Self {
        self.set_delay_time_level(level);
        self
    }

    /// The value of property `name`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    /// Set property `name` without checks, returning the previous value.
    pub fn put_property(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Option<String> {
        self.properties.insert(name, value)
    }

    /// Remove property `name`, returning its value.
    pub fn clear_property(&mut self, name: &str) -> Option<String> {
        self.properties.remove(name)
    }

    /// Set a user property, as Java's `Message.putUserProperty`: system names (see
    /// [`keys::SYSTEM_PROPERTIES`]) and blank names or values are refused, and so are the wire
    /// separators `0x01`/`0x02`.
    pub fn put_user_property(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Result<()> {
        let (name, value) = (name.as_ref(), value.as_ref());
        if keys::is_system_property(name) || name.trim().is_empty() || name.contains(['\u{1}', '\u{2}']) {
            return Err(ProtocolError::invalid_field("user property name", name));
        }
        if value.trim().is_empty() || value.contains(['\u{1}', '\u{2}']) {
            return Err(ProtocolError::invalid_field("user property value", value));
        }
        self.properties.insert(name, value);
        Ok(())
    }

    /// A user property (any property, as in Java).
    pub fn user_property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    /// The tag (`TAGS`).
    pub fn tags(&self) -> Option<&str> {
        self.property(keys::TAGS)
    }

    /// Set the tag (`TAGS`).
    pub fn set_tags(&mut self, tags: impl AsRef<str>) {
        self.properties.insert(keys::TAGS, tags);
    }

    /// The keys (`KEYS`, split on spaces; empty pieces skipped).
    pub fn keys(&self) -> Vec<&str> {
        self.property(keys::KEYS)
            .map(|k| k.split(keys::KEY_SEPARATOR).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// Set the keys (`KEYS`, joined with a single space as Java does). A key must not contain a space.
    pub fn set_keys<I, S>(&mut self, keys: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut joined = String::new();
        for k in keys {
            if !joined.is_empty() {
                joined.push_str(keys::KEY_SEPARATOR);
            }
            joined.push_str(k.as_ref());
        }
        self.properties.insert(keys::KEYS, joined);
    }

    /// The delay level (`DELAY`).
    pub fn delay_time_level(&self) -> Option<i32> {
        parse(self.property(keys::DELAY_TIME_LEVEL))
    }

    /// Set the delay level (`DELAY`, 1..=18 with the default broker levels).
    pub fn set_delay_time_level(&mut self, level: i32) {
        self.properties.insert(keys::DELAY_TIME_LEVEL, level.to_string());
    }

    /// Whether the broker should wait for the store to complete (`WAIT`; `true` when absent; parsed like
    /// Java's `Boolean.parseBoolean`).
    pub fn wait_store_msg_ok(&self) -> bool {
        self.property(keys::WAIT_STORE_MSG_OK)
            .is_none_or(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Set `WAIT`.
    pub fn set_wait_store_msg_ok(&mut self, wait: bool) {
        self.properties
            .insert(keys::WAIT_STORE_MSG_OK, if wait { "true" } else { "false" });
    }

    /// The FIFO sharding key (`__SHARDINGKEY`).
    pub fn sharding_key(&self) -> Option<&str> {
        self.property(keys::SHARDING_KEY)
    }

    /// Set the FIFO sharding key (`__SHARDINGKEY`).
    pub fn set_sharding_key(&mut self, key: impl AsRef<str>) {
        self.properties.insert(keys::SHARDING_KEY, key);
    }

    /// The client message id (`UNIQ_KEY`).
    pub fn unique_key(&self) -> Option<&str> {
        self.property(keys::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    }

    /// Set the client message id (`UNIQ_KEY`).
    pub fn set_unique_key(&mut self, id: impl AsRef<str>) {
        self.properties.insert(keys::UNIQ_CLIENT_MESSAGE_ID_KEYIDX, id);
    }

    /// Set `UNIQ_KEY` from `make` only if absent (Java `MessageClientIDSetter.setUniqID`); returns the id.
    pub fn ensure_unique_key(&mut self, make: impl FnOnce() -> String) -> &str {
        if !self.properties.contains_key(keys::UNIQ_CLIENT_MESSAGE_ID_KEYIDX) {
            self.properties
                .insert(keys::UNIQ_CLIENT_MESSAGE_ID_KEYIDX, make());
        }
        self.property(keys::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            .unwrap_or_default()
    }

    /// The delivery timestamp in ms since the epoch (`TIMER_DELIVER_MS`, 5.x timer messages).
    pub fn deliver_time_ms(&self) -> Option<i64> {
        parse(self.property(keys::TIMER_DELIVER_MS))
    }

    /// Set the delivery timestamp in ms since the epoch (`TIMER_DELIVER_MS`).
    pub fn set_deliver_time_ms(&mut self, at_ms: i64) {
        self.properties.insert(keys::TIMER_DELIVER_MS, at_ms.to_string());
    }

    /// The delay in seconds (`TIMER_DELAY_SEC`).
    pub fn delay_time_sec(&self) -> Option<i64> {
        parse(self.property(keys::TIMER_DELAY_SEC))
    }

    /// Set the delay in seconds (`TIMER_DELAY_SEC`).
    pub fn set_delay_time_sec(&mut self, secs: i64) {
        self.properties.insert(keys::TIMER_DELAY_SEC, secs.to_string());
    }

    /// The delay in milliseconds (`TIMER_DELAY_MS`).
    pub fn delay_time_ms(&self) -> Option<i64> {
        parse(self.property(keys::TIMER_DELAY_MS))
    }

    /// Set the delay in milliseconds (`TIMER_DELAY_MS`).
    pub fn set_delay_time_ms(&mut self, ms: i64) {
        self.properties.insert(keys::TIMER_DELAY_MS, ms.to_string());
    }

    /// The transaction id (`__transactionId__`).
    pub fn transaction_id(&self) -> Option<&str> {
        self.property(keys::TRANSACTION_ID)
    }

    /// Set the transaction id (`__transactionId__`).
    pub fn set_transaction_id(&mut self, id: impl AsRef<str>) {
        self.properties.insert(keys::TRANSACTION_ID, id);
    }

    /// Whether this is a transactional half message (`TRAN_MSG` = `"true"`).
    pub fn is_transaction_prepared(&self) -> bool {
        self.property(keys::TRANSACTION_PREPARED)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Mark (or unmark) as a transactional half message (`TRAN_MSG`).
    pub fn set_transaction_prepared(&mut self, prepared: bool) {
        self.properties.insert(
            keys::TRANSACTION_PREPARED,
            if prepared { "true" } else { "false" },
        );
    }

    /// The producer group of a half message (`PGROUP`).
    pub fn producer_group(&self) -> Option<&str> {
        self.property(keys::PRODUCER_GROUP)
    }

    /// Set the producer group (`PGROUP`).
    pub fn set_producer_group(&mut self, group: impl AsRef<str>) {
        self.properties.insert(keys::PRODUCER_GROUP, group);
    }

    /// The reconsume count of a fallback retry send (`RECONSUME_TIME`).
    pub fn reconsume_time(&self) -> Option<i32> {
        parse(self.property(keys::RECONSUME_TIME))
    }

    /// Set `RECONSUME_TIME`.
    pub fn set_reconsume_time(&mut self, times: i32) {
        self.properties.insert(keys::RECONSUME_TIME, times.to_string());
    }

    /// The maximum reconsume times (`MAX_RECONSUME_TIMES`).
    pub fn max_reconsume_times(&self) -> Option<i32> {
        parse(self.property(keys::MAX_RECONSUME_TIMES))
    }

    /// Set `MAX_RECONSUME_TIMES`.
    pub fn set_max_reconsume_times(&mut self, times: i32) {
        self.properties
            .insert(keys::MAX_RECONSUME_TIMES, times.to_string());
    }

    /// The original topic of a retried message (`RETRY_TOPIC`).
    pub fn retry_topic(&self) -> Option<&str> {
        self.property(keys::RETRY_TOPIC)
    }

    /// The original topic of a delayed or half message (`REAL_TOPIC`).
    pub fn real_topic(&self) -> Option<&str> {
        self.property(keys::REAL_TOPIC)
    }

    /// The original queue id of a delayed or half message (`REAL_QID`).
    pub fn real_queue_id(&self) -> Option<i32> {
        parse(self.property(keys::REAL_QUEUE_ID))
    }

    /// The first message id of a retry chain (`ORIGIN_MESSAGE_ID`).
    pub fn origin_message_id(&self) -> Option<&str> {
        self.property(keys::ORIGIN_MESSAGE_ID)
    }

    /// The namespace instance id (`INSTANCE_ID`).
    pub fn instance_id(&self) -> Option<&str> {
        self.property(keys::INSTANCE_ID)
    }

    /// Set the namespace instance id (`INSTANCE_ID`).
    pub fn set_instance_id(&mut self, id: impl AsRef<str>) {
        self.properties.insert(keys::INSTANCE_ID, id);
    }

    /// The request-reply correlation id (`CORRELATION_ID`).
    pub fn correlation_id(&self) -> Option<&str> {
        self.property(keys::CORRELATION_ID)
    }

    /// When consumption started, ms (`CONSUME_START_TIME`).
    pub fn consume_start_timestamp(&self) -> Option<i64> {
        parse(self.property(keys::CONSUME_START_TIMESTAMP))
    }

    /// Set `CONSUME_START_TIME`.
    pub fn set_consume_start_timestamp(&mut self, ms: i64) {
        self.properties
            .insert(keys::CONSUME_START_TIMESTAMP, ms.to_string());
    }

    /// The name of the cluster of the storing broker (`CLUSTER`).
    pub fn cluster(&self) -> Option<&str> {
        self.property(keys::CLUSTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sets_wait_like_java() {
        let m = Message::new("T", "b");
        assert_eq!(m.property("WAIT"), Some("true"));
        assert_eq!(m.properties.len(), 1);
        assert!(m.wait_store_msg_ok());
        assert!(Message::default().wait_store_msg_ok());
        let mut m = m;
        m.set_wait_store_msg_ok(false);
        assert!(!m.wait_store_msg_ok());
        m.put_property("WAIT", "TRUE");
        assert!(m.wait_store_msg_ok());
        m.put_property("WAIT", "yes");
        assert!(!m.wait_store_msg_ok());
    }

    #[test]
    fn keys_and_tags() {
        let mut m = Message::new("T", "b")
            .with_tags("TagA")
            .with_keys(["k1", "k2", "k3"]);
        assert_eq!(m.property("KEYS"), Some("k1 k2 k3"));
        assert_eq!(m.keys(), ["k1", "k2", "k3"]);
        assert_eq!(m.tags(), Some("TagA"));
        m.put_property("KEYS", " a  b ");
        assert_eq!(m.keys(), ["a", "b"]);
        m.clear_property("KEYS");
        assert!(m.keys().is_empty());
    }

    #[test]
    fn typed_numbers() {
        let mut m = Message::new("T", "b").with_delay_time_level(3);
        assert_eq!(m.property("DELAY"), Some("3"));
        assert_eq!(m.delay_time_level(), Some(3));
        m.set_deliver_time_ms(1_700_000_000_123);
        assert_eq!(m.property("TIMER_DELIVER_MS"), Some("1700000000123"));
        assert_eq!(m.deliver_time_ms(), Some(1_700_000_000_123));
        m.set_delay_time_sec(10);
        m.set_delay_time_ms(2500);
        assert_eq!((m.delay_time_sec(), m.delay_time_ms()), (Some(10), Some(2500)));
        m.set_reconsume_time(2);
        m.set_max_reconsume_times(16);
        assert_eq!((m.reconsume_time(), m.max_reconsume_times()), (Some(2), Some(16)));
        m.put_property("DELAY", "x");
        assert_eq!(m.delay_time_level(), None);
        assert_eq!(m.real_queue_id(), None);
    }

    #[test]
    fn ids_and_transactions() {
        let mut m = Message::new("T", "b");
        assert_eq!(m.ensure_unique_key(|| "ABC".into()), "ABC");
        assert_eq!(m.ensure_unique_key(|| "DEF".into()), "ABC");
        assert_eq!(m.unique_key(), Some("ABC"));
        m.set_sharding_key("user-7");
        assert_eq!(m.property("__SHARDINGKEY"), Some("user-7"));
        m.set_transaction_id("TX");
        assert_eq!(m.property("__transactionId__"), Some("TX"));
        assert!(!m.is_transaction_prepared());
        m.set_transaction_prepared(true);
        m.set_producer_group("pg");
        assert!(m.is_transaction_prepared());
        assert_eq!(
            (m.property("TRAN_MSG"), m.producer_group()),
            (Some("true"), Some("pg"))
        );
    }

    #[test]
    fn user_properties_reject_system_and_blank() {
        let mut m = Message::new("T", "b");
        m.put_user_property("color", "red").unwrap();
        assert_eq!(m.user_property("color"), Some("red"));
        for (k, v) in [
            ("TAGS", "x"),
            ("UNIQ_KEY", "x"),
            ("  ", "x"),
            ("k", " "),
            ("k\u{1}", "v"),
            ("k", "v\u{2}"),
        ] {
            assert!(
                matches!(m.put_user_property(k, v), Err(ProtocolError::InvalidField { .. })),
                "{k:?}={v:?} accepted"
            );
        }
        // not in Java's system set
        m.put_user_property("__SHARDINGKEY", "s").unwrap();
    }
}
