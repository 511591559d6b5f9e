//! What a consumer subscribes to: [`MessageSelector`] (TAG or SQL92 expression, as in the Go and Java
//! clients) and the consumer's [`Subscriptions`] table (topic → `SubscriptionData`) that rebalancing and
//! heartbeats read.

use std::collections::btree_map::{self, BTreeMap};

pub use rmq_protocol::header::ExpressionType;
use rmq_protocol::header::SubscriptionData;

use crate::consumer::config::{consumer_group_name, RETRY_TOPIC_PREFIX};
use crate::error::{Error, Result};

/// The expression that selects every message.
pub const SUB_ALL: &str = "*";

/// Which messages of a topic to receive: a TAG expression (`"*"`, `"TagA"`, `"TagA || TagB"`), filtered
/// by tag hash on the broker and by tag string on the client, or an SQL92 expression over message
/// properties, evaluated by the broker (which needs `enablePropertyFilter=true`; a consumer's `start()`
/// asks the brokers and fails with their refusal when it is off or the expression does not parse).
///
/// A plain string converts to a TAG selector, so `subscribe(topic, "TagA || TagB")` works.
///
/// ```
/// use rmq_client::consumer::selector::{ExpressionType, MessageSelector};
///
/// let tags: MessageSelector = "TagA || TagB".into();
/// assert!(tags.is_tag_type());
/// let sql = MessageSelector::sql("color = 'red' AND price > 100");
/// assert_eq!(sql.kind, ExpressionType::Sql92);
///
/// let data = tags.subscription_data("orders")?;
/// assert_eq!(data.tags_set, ["TagA", "TagB"]);
/// assert!(MessageSelector::all().subscription_data("orders")?.is_sub_all());
/// # Ok::<(), rmq_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageSelector {
    /// TAG or SQL92 (Go: `Type`).
    pub kind: ExpressionType,
    /// The expression (Go: `Expression`). For TAG, empty means `*`.
    pub expression: String,
}

impl MessageSelector {
    /// A selector of `kind` with `expression`.
    pub fn new(kind: ExpressionType, expression: impl Into<String>) -> Self {
        MessageSelector {
            kind,
            expression: expression.into(),
        }
    }

    /// A TAG expression: `*`, one tag, or tags joined by `||`.
    pub fn tag(expression: impl Into<String>) -> Self {
        Self::new(ExpressionType::Tag, expression)
    }

    /// An SQL92 expression, e.g. `"color = 'red' AND price > 100"`.
    pub fn sql(expression: impl Into<String>) -> Self {
        Self::new(ExpressionType::Sql92, expression)
    }

    /// Every message of the topic (TAG `*`).
    pub fn all() -> Self {
        Self::tag(SUB_ALL)
    }

    /// Whether this is a TAG expression.
    pub fn is_tag_type(&self) -> bool {
        self.kind == ExpressionType::Tag
    }

    /// The subscription registered with brokers for `topic` (Java `FilterAPI.build`), with `subVersion`
    /// = now in ms. Fails with `InvalidArgument` for an empty topic, an empty SQL92 expression or a TAG
    /// expression made only of `||`.
    pub fn subscription_data(&self, topic: &str) -> Result<SubscriptionData> {
        if topic.is_empty() {
            return Err(Error::invalid("subscription topic is empty"));
        }
        SubscriptionData::from_expression(topic, &self.expression, self.kind).map_err(|e| {
            Error::invalid(format!(
                "{} expression {:?} for topic {topic}: {e}",
                self.kind.as_str(),
                self.expression
            ))
        })
    }
}

impl Default for MessageSelector {
    /// [`MessageSelector::all`].
    fn default() -> Self {
        Self::all()
    }
}

impl From<&str> for MessageSelector {
    /// A TAG selector.
    fn from(expression: &str) -> Self {
        Self::tag(expression)
    }
}

impl From<String> for MessageSelector {
    /// A TAG selector.
    fn from(expression: String) -> Self {
        Self::tag(expression)
    }
}

impl From<&String> for MessageSelector {
    /// A TAG selector.
    fn from(expression: &String) -> Self {
        Self::tag(expression.as_str())
    }
}

/// A consumer's subscriptions: topic → [`SubscriptionData`], in topic order.
///
/// `subVersion` works as in Java: a subscription gets the current time in ms when created, and
/// [`bump_version`](Self::bump_version) moves it to "now" when the topic's rebalance result changes
/// (the heartbeat that follows registers it; a pull must not carry a newer version than the broker
/// has). Versions here never go backwards, even if the clock does.
///
/// ```
/// use rmq_client::consumer::selector::{MessageSelector, Subscriptions};
///
/// let mut subs = Subscriptions::new();
/// assert!(subs.subscribe("orders", "TagA || TagB")?);
/// assert!(!subs.subscribe("orders", "TagA || TagB")?); // unchanged
/// subs.subscribe("audit", MessageSelector::sql("level > 3"))?;
/// subs.subscribe_retry("G")?;
/// let topics: Vec<&str> = subs.iter().map(|(t, _)| t).collect();
/// assert_eq!(topics, ["%RETRY%G", "audit", "orders"]);
/// # Ok::<(), rmq_client::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    by_topic: BTreeMap<String, SubscriptionData>,
}

impl Subscriptions {
    /// No subscriptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribe to `topic` with `selector`, replacing an earlier subscription to it. Returns whether
    /// anything changed (an identical subscription keeps its version). A replaced subscription's version
    /// moves forward.
    ///
    /// The topic must be a valid name (`[A-Za-z0-9_%|-]`, 1..=127 characters; a `%RETRY%<group>` topic
    /// follows the group rules instead).
    pub fn subscribe(&mut self, topic: &str, selector: impl Into<MessageSelector>) -> Result<bool> {
        match topic.strip_prefix(RETRY_TOPIC_PREFIX) {
            Some(group) => consumer_group_name(group)?,
            None => crate::validate::topic_name(topic)?,
        }
        let selector = selector.into();
        let mut data = selector.subscription_data(topic)?;
        if let Some(old) = self.by_topic.get(topic) {
            if old.expression_type == data.expression_type && old.sub_string == data.sub_string {
                return Ok(false);
            }
            data.sub_version = data.sub_version.max(old.sub_version.saturating_add(1));
        }
        self.by_topic.insert(topic.to_owned(), data);
        Ok(true)
    }

    /// Subscribe to the group's retry topic `%RETRY%<group>` with `*`, which CLUSTERING push consumers
    /// need to receive redelivered messages.
    pub fn subscribe_retry(&mut self, group: &str) -> Result<bool> {
        self.subscribe(&format!("{RETRY_TOPIC_PREFIX}{group}"), MessageSelector::all())
    }

    /// Stop subscribing to `topic`; returns the removed subscription.
    pub fn unsubscribe(&mut self, topic: &str) -> Option<SubscriptionData> {
        self.by_topic.remove(topic)
    }

    /// The subscription to `topic`.
    pub fn get(&self, topic: &str) -> Option<&SubscriptionData> {
        self.by_topic.get(topic)
    }

    /// Whether `topic` is subscribed.
    pub fn contains(&self, topic: &str) -> bool {
        self.by_topic.contains_key(topic)
    }

    /// Set `topic`'s `subVersion` to now in ms (at least one more than before), as Java does when the
    /// topic's queue assignment changes. Returns the new version, or `None` if not subscribed.
    pub fn bump_version(&mut self, topic: &str) -> Option<i64> {
        let data = self.by_topic.get_mut(topic)?;
        data.sub_version = now_millis().max(data.sub_version.saturating_add(1));
        Some(data.sub_version)
    }

    /// Number of subscribed topics.
    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    /// Whether nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    /// The subscribed topics, in order.
    pub fn topics(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_topic.keys().map(String::as_str)
    }

    /// `(topic, subscription)` pairs, in topic order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.by_topic.iter(),
        }
    }

    /// Copies of every subscription, for a heartbeat's `subscriptionDataSet`.
    pub fn to_vec(&self) -> Vec<SubscriptionData> {
        self.by_topic.values().cloned().collect()
    }
}

/// Iterator over [`Subscriptions`]: `(topic, subscription)` in topic order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: btree_map::Iter<'a, String, SubscriptionData>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a SubscriptionData);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(t, d)| (t.as_str(), d))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<'a> IntoIterator for &'a Subscriptions {
    type Item = (&'a str, &'a SubscriptionData);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn selectors() {
        let s = MessageSelector::from("a || b");
        assert_eq!(s, MessageSelector::tag("a || b"));
        assert!(s.is_tag_type());
        assert_eq!(MessageSelector::default(), MessageSelector::all());
        assert_eq!(MessageSelector::all().expression, "*");
        assert!(!MessageSelector::sql("a > 1").is_tag_type());
        assert_eq!(MessageSelector::from(String::from("x")).kind, ExpressionType::Tag);

        let d = s.subscription_data("T").unwrap();
        assert_eq!(d.tags_set, ["a", "b"]);
        assert_eq!(d.topic, "T");
        let d = MessageSelector::tag("").subscription_data("T").unwrap();
        assert!(d.is_sub_all());
        let d = MessageSelector::sql("color = 'red' AND price > 100")
            .subscription_data("T")
            .unwrap();
        assert_eq!(d.expression_type, ExpressionType::Sql92);
        assert!(d.tags_set.is_empty());
    }

    #[test]
    fn selector_errors_are_invalid_argument() {
        for (sel, topic) in [
            (MessageSelector::sql(""), "T"),
            (MessageSelector::tag("||||"), "T"),
            (MessageSelector::all(), ""),
        ] {
            let e = sel.subscription_data(topic).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
        }
        let e = MessageSelector::sql("").subscription_data("T").unwrap_err();
        assert!(e.to_string().contains("SQL92"), "{e}");
    }

    #[test]
    fn subscribe_and_versions() {
        let mut subs = Subscriptions::new();
        assert!(subs.is_empty());
        assert!(subs.subscribe("T", "a").unwrap());
        let v1 = subs.get("T").unwrap().sub_version;
        assert!(v1 > 1_600_000_000_000);
        assert!(!subs.subscribe("T", "a").unwrap());
        assert_eq!(subs.get("T").unwrap().sub_version, v1);
        assert!(subs.subscribe("T", "a || b").unwrap());
        let v2 = subs.get("T").unwrap().sub_version;
        assert!(v2 > v1);
        assert!(subs.subscribe("T", MessageSelector::sql("a || b")).unwrap());
        let v3 = subs.get("T").unwrap().sub_version;
        assert!(v3 > v2);
        let v4 = subs.bump_version("T").unwrap();
        assert!(v4 > v3);
        assert_eq!(subs.to_vec()[0].sub_version, v4);
        assert_eq!(subs.bump_version("missing"), None);

        assert!(subs.subscribe("bad topic", "*").is_err());
        assert!(subs.subscribe("T", "||").is_err());
        assert_eq!(subs.get("T").unwrap().expression_type, ExpressionType::Sql92);
        assert!(subs.subscribe_retry(&"g".repeat(200)).unwrap());
        assert!(subs.subscribe_retry("DEFAULT_CONSUMER").is_err());

        assert_eq!(subs.len(), 2);
        assert_eq!(
            subs.topics().collect::<Vec<_>>(),
            [format!("%RETRY%{}", "g".repeat(200)), "T".into()]
        );
        assert_eq!((&subs).into_iter().count(), 2);
        assert!(subs.contains("T"));
        assert_eq!(subs.unsubscribe("T").unwrap().topic, "T");
        assert!(subs.unsubscribe("T").is_none());
        assert_eq!(subs.iter().size_hint(), (1, Some(1)));
    }
}
