//! Checks on user input made before any network call.

use crate::error::{Error, Result};

/// Longest topic name the broker accepts.
pub const TOPIC_MAX_LEN: usize = 127;

/// A topic name: 1..=127 characters of `[A-Za-z0-9_%|-]` (`TopicValidator`).
pub fn topic_name(topic: &str) -> Result<()> {
    if topic.is_empty() {
        return Err(Error::invalid("topic is empty"));
    }
    if topic.len() > TOPIC_MAX_LEN {
        return Err(Error::invalid(format!(
            "topic is {} characters long, max {TOPIC_MAX_LEN}",
            topic.len()
        )));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '%' | '|' | '-')))
    {
        return Err(Error::invalid(format!(
            "topic {topic:?} contains {c:?}; allowed: letters, digits, % - _ |"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(topic_name("Orders_v2-%|x").is_ok());
        assert!(topic_name("").is_err());
        assert!(topic_name("a b").is_err());
        assert!(topic_name("é").is_err());
        assert!(topic_name(&"a".repeat(128)).is_err());
        assert!(topic_name(&"a".repeat(127)).is_ok());
    }
}
