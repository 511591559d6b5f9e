//! [`MessageQueue`]: one queue of a topic on one broker, ordered and printed as Java does.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Compare two strings as Java's `String.compareTo`: lexicographically by UTF-16 code unit.
///
/// This differs from Rust's `str` order (by code point) only when a supplementary character
/// (U+10000 and up, a surrogate pair in UTF-16) meets a character in U+E000..=U+FFFF.
pub fn java_string_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A message queue: `(topic, broker name, queue id)`.
///
/// Ordered by topic, then broker name (both with Java `String.compareTo` semantics, see
/// [`java_string_cmp`]), then queue id, so sorted lists match the Java client's (which matters for queue
/// allocation: every client of a group must sort identically). Displays as Java's `toString`. JSON field
/// names are `topic`, `brokerName` and `queueId`.
///
/// ```
/// use rmq_protocol::message::MessageQueue;
///
/// let mq = MessageQueue::new("orders", "broker-a", 3);
/// assert_eq!(mq.to_string(), "MessageQueue [topic=orders, brokerName=broker-a, queueId=3]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    /// Topic name.
    pub topic: String,
    /// Name of the broker (master/slave set) holding the queue.
    pub broker_name: String,
    /// Queue id within the topic on that broker.
    pub queue_id: i32,
}

impl MessageQueue {
    /// A queue.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            topic: topic.into(),
            broker_name: broker_name.into(),
            queue_id,
        }
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        java_string_cmp(&self.topic, &other.topic)
            .then_with(|| java_string_cmp(&self.broker_name, &other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_cmp_uses_utf16_units() {
        // U+FF61 (one unit 0xFF61) vs U+1F600 (surrogates 0xD83D 0xDE00): Java puts the emoji first.
        assert_eq!(java_string_cmp("\u{1F600}", "\u{FF61}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF61}"), Ordering::Greater);
        assert_eq!(java_string_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_string_cmp("ab", "a"), Ordering::Greater);
        assert_eq!(java_string_cmp("", ""), Ordering::Equal);
        assert_eq!(java_string_cmp("é", "z"), Ordering::Greater);
        assert_eq!(java_string_cmp("Z", "a"), Ordering::Less);
    }

    #[test]
    fn order_topic_broker_queue() {
        let mut v = [
            MessageQueue::new("t", "b", 10),
            MessageQueue::new("t", "a", 2),
            MessageQueue::new("s", "z", 0),
            MessageQueue::new("t", "b", -1),
            MessageQueue::new("t", "b", 2),
        ];
        v.sort();
        let got: Vec<_> = v
            .iter()
            .map(|q| (q.topic.as_str(), q.broker_name.as_str(), q.queue_id))
            .collect();
        assert_eq!(
            got,
            [
                ("s", "z", 0),
                ("t", "a", 2),
                ("t", "b", -1),
                ("t", "b", 2),
                ("t", "b", 10)
            ]
        );
    }

    #[test]
    fn display_and_json() {
        let mq = MessageQueue::new("TopicTest", "broker-a", 0);
        assert_eq!(
            mq.to_string(),
            "MessageQueue [topic=TopicTest, brokerName=broker-a, queueId=0]"
        );
        let json = serde_json::to_string(&mq).unwrap();
        assert_eq!(
            json,
            r#"{"topic":"TopicTest","brokerName":"broker-a","queueId":0}"#
        );
        let back: MessageQueue =
            serde_json::from_str(r#"{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}"#).unwrap();
        assert_eq!(back, mq);
    }
}
