//! Choosing the queue for a message: built-in selectors and the trait for your own.

use std::sync::atomic::{AtomicUsize, Ordering};

use rmq_protocol::message::{java_string_hash, Message, MessageQueue};

/// Picks one of `queues` (the topic's writable queues, sorted by broker name then queue id) for `msg`.
///
/// Implement it for custom routing; the result must be an index into `queues`.
///
/// ```
/// use rmq_client::producer::{QueueSelector, SelectByHash};
/// use rmq_protocol::message::{Message, MessageQueue};
/// let queues: Vec<_> = (0..4).map(|i| MessageQueue::new("t", "b", i)).collect();
/// let mut msg = Message::new("t", "x");
/// msg.set_sharding_key("order-42");
/// let i = SelectByHash::java_compatible().select(&queues, &msg).unwrap();
/// assert!(i < 4);
/// ```
pub trait QueueSelector: Send + Sync {
    /// The index of the chosen queue, or `None` when no queue fits.
    fn select(&self, queues: &[MessageQueue], msg: &Message) -> Option<usize>;
}

impl<F> QueueSelector for F
where
    F: Fn(&[MessageQueue], &Message) -> Option<usize> + Send + Sync,
{
    fn select(&self, queues: &[MessageQueue], msg: &Message) -> Option<usize> {
        self(queues, msg)
    }
}

/// Same sharding key → same queue, so messages of one key stay in order.
///
/// The key is the message's sharding key (`__SHARDINGKEY`), else its first key, else its tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectByHash {
    java: bool,
}

impl SelectByHash {
    /// Picks the same queue as the Java client's `SelectMessageQueueByHash` given the same key string as
    /// its argument: `abs(key.hashCode() % n)`.
    pub fn java_compatible() -> Self {
        SelectByHash { java: true }
    }

    /// A well-mixed 64-bit FNV-1a hash of the key's bytes (spreads similar keys better than Java's).
    pub fn fnv() -> Self {
        SelectByHash { java: false }
    }

    fn key(msg: &Message) -> Option<&str> {
        msg.sharding_key()
            .or_else(|| msg.keys().into_iter().next())
            .or_else(|| msg.tags())
    }
}

impl QueueSelector for SelectByHash {
    fn select(&self, queues: &[MessageQueue], msg: &Message) -> Option<usize> {
        if queues.is_empty() {
            return None;
        }
        let key = Self::key(msg)?;
        if self.java {
            Some(java_hash_index(key, queues.len()))
        } else {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in key.as_bytes() {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            Some((h % queues.len() as u64) as usize)
        }
    }
}

/// Java `SelectMessageQueueByHash`: `value = key.hashCode() % n; if value < 0 { value = abs(value) }`.
pub fn java_hash_index(key: &str, n: usize) -> usize {
    let v = java_string_hash(key) % (n as i32);
    v.unsigned_abs() as usize
}

/// Each call takes the next queue.
#[derive(Debug, Default)]
pub struct SelectRoundRobin {
    next: AtomicUsize,
}

impl QueueSelector for SelectRoundRobin {
    fn select(&self, queues: &[MessageQueue], _msg: &Message) -> Option<usize> {
        if queues.is_empty() {
            return None;
        }
        Some(self.next.fetch_add(1, Ordering::Relaxed) % queues.len())
    }
}

/// A uniformly random queue.
#[derive(Debug, Default, Clone, Copy)]
pub struct SelectRandom;

impl QueueSelector for SelectRandom {
    fn select(&self, queues: &[MessageQueue], _msg: &Message) -> Option<usize> {
        if queues.is_empty() {
            return None;
        }
        Some(rand::random::<usize>() % queues.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java_arithmetic() {
        // "Aa" and "BB" collide in Java (2112); a negative hash: "polygenelubricants" = Integer.MIN_VALUE.
        assert_eq!(java_string_hash("Aa"), 2112);
        assert_eq!(java_hash_index("Aa", 16), 2112 % 16);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_hash_index("polygenelubricants", 16), 0);
        // hashCode of "order-1" is negative? compute by formula and compare with abs(% n).
        for key in ["order-1", "key-77", "你好", "😀x"] {
            let h = java_string_hash(key);
            assert_eq!(java_hash_index(key, 7), (h % 7).unsigned_abs() as usize);
        }
    }

    #[test]
    fn selectors_stay_in_range() {
        let qs: Vec<_> = (0..5).map(|i| MessageQueue::new("t", "b", i)).collect();
        let mut m = Message::new("t", "x");
        m.set_sharding_key("k");
        assert!(SelectByHash::fnv().select(&qs, &m).unwrap() < 5);
        let rr = SelectRoundRobin::default();
        let picks: Vec<_> = (0..6).map(|_| rr.select(&qs, &m).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 3, 4, 0]);
        assert!(SelectRandom.select(&qs, &m).unwrap() < 5);
        assert_eq!(SelectRandom.select(&[], &m), None);
        // No key at all: the hash selector declines.
        assert_eq!(
            SelectByHash::java_compatible().select(&qs, &Message::new("t", "x")),
            None
        );
    }
}
