//! Checks a producer makes before any network call.

use rmq_protocol::message::Message;

use crate::error::{Error, Result};

/// Topics clients may not send to (`TopicValidator`): the broker's own system topics.
const SYSTEM_TOPICS: &[&str] = &[
    "TBW102",
    "SCHEDULE_TOPIC_XXXX",
    "BenchmarkTest",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRACE_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
    "rmq_sys_SYNC_BROKER_MEMBER",
];

/// Longest group name.
pub(crate) const GROUP_MAX_LEN: usize = 255;

/// A producer or consumer group: non-empty, ≤ 255 chars of `[A-Za-z0-9_%|-]`.
pub(crate) fn group_name(group: &str) -> Result<()> {
    if group.trim().is_empty() {
        return Err(Error::invalid("group is empty"));
    }
    if group.len() > GROUP_MAX_LEN {
        return Err(Error::invalid(format!(
            "group is {} characters long, max {GROUP_MAX_LEN}",
            group.len()
        )));
    }
    if let Some(c) = group
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '%' | '|' | '-')))
    {
        return Err(Error::invalid(format!(
            "group {group:?} contains {c:?}; allowed: letters, digits, % - _ |"
        )));
    }
    Ok(())
}

/// A topic a producer may send to.
pub(crate) fn send_topic(topic: &str) -> Result<()> {
    crate::validate::topic_name(topic)?;
    if SYSTEM_TOPICS.contains(&topic) || topic.starts_with("rmq_sys_") {
        return Err(Error::invalid(format!(
            "topic {topic} is a reserved system topic"
        )));
    }
    if topic.starts_with("%DLQ%") {
        return Err(Error::invalid(format!(
            "cannot send to dead-letter topic {topic}"
        )));
    }
    Ok(())
}

/// A message a producer may send: valid topic, non-empty body within `max_size`.
pub(crate) fn message(msg: &Message, max_size: usize) -> Result<()> {
    send_topic(&msg.topic)?;
    if msg.body.is_empty() {
        return Err(Error::invalid("message body is empty"));
    }
    if msg.body.len() > max_size {
        return Err(Error::invalid(format!(
            "message body is {} bytes, over the maximum of {max_size}",
            msg.body.len()
        )));
    }
    if let Some(level) = msg.delay_time_level() {
        if level < 0 {
            return Err(Error::invalid(format!("delay level {level} is negative")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_input() {
        assert!(group_name("g-1_%|x").is_ok());
        assert!(group_name(" ").is_err());
        assert!(group_name("a.b").is_err());
        assert!(send_topic("TBW102").is_err());
        assert!(send_topic("rmq_sys_x").is_err());
        assert!(send_topic("%DLQ%g").is_err());
        assert!(send_topic("%RETRY%g").is_ok());
        assert!(message(&Message::new("t", ""), 10).is_err());
        assert!(message(&Message::new("t", "12345678901"), 10).is_err());
        assert!(message(&Message::new("t", "1234567890"), 10).is_ok());
    }
}
