//! The HEART_BEAT (34) body: `HeartbeatData`, `ConsumerData`, `ProducerData`, `SubscriptionData`.
//!
//! Struct fields are declared in alphabetical order of their JSON keys, so `serde_json` output has the
//! same key order as Java's fastjson.

use serde::{Deserialize, Serialize};

use crate::error::{ProtocolError, Result};
use crate::message::java_string_hash;

/// How a consumer group consumes (`ConsumeType`), by Java enum name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsumeType {
    /// `CONSUME_ACTIVELY`: pull consumers.
    #[serde(rename = "CONSUME_ACTIVELY")]
    ConsumeActively,
    /// `CONSUME_PASSIVELY`: push consumers.
    #[serde(rename = "CONSUME_PASSIVELY")]
    ConsumePassively,
    /// `CONSUME_POP` (5.x): pop consumers.
    #[serde(rename = "CONSUME_POP")]
    ConsumePop,
}

/// Message model (`MessageModel`), by Java enum name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum MessageModel {
    /// `BROADCASTING`: every consumer gets every message.
    #[serde(rename = "BROADCASTING")]
    Broadcasting,
    /// `CLUSTERING`: each message goes to one consumer of the group (default).
    #[default]
    #[serde(rename = "CLUSTERING")]
    Clustering,
}

/// Where a new consumer group starts (`ConsumeFromWhere`), by Java enum name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ConsumeFromWhere {
    /// `CONSUME_FROM_LAST_OFFSET` (default).
    #[default]
    #[serde(rename = "CONSUME_FROM_LAST_OFFSET")]
    ConsumeFromLastOffset,
    /// `CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST` (deprecated).
    #[serde(rename = "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST")]
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    /// `CONSUME_FROM_MIN_OFFSET` (deprecated).
    #[serde(rename = "CONSUME_FROM_MIN_OFFSET")]
    ConsumeFromMinOffset,
    /// `CONSUME_FROM_MAX_OFFSET` (deprecated).
    #[serde(rename = "CONSUME_FROM_MAX_OFFSET")]
    ConsumeFromMaxOffset,
    /// `CONSUME_FROM_FIRST_OFFSET`.
    #[serde(rename = "CONSUME_FROM_FIRST_OFFSET")]
    ConsumeFromFirstOffset,
    /// `CONSUME_FROM_TIMESTAMP`.
    #[serde(rename = "CONSUME_FROM_TIMESTAMP")]
    ConsumeFromTimestamp,
}

/// Subscription expression language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ExpressionType {
    /// `TAG`: `*` or tags joined by `||` (default).
    #[default]
    #[serde(rename = "TAG")]
    Tag,
    /// `SQL92`: a property filter evaluated by the broker.
    #[serde(rename = "SQL92")]
    Sql92,
}

impl ExpressionType {
    /// The wire name, `"TAG"` or `"SQL92"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpressionType::Tag => "TAG",
            ExpressionType::Sql92 => "SQL92",
        }
    }
}

/// The JSON body of HEART_BEAT (34).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatData {
    /// `clientID`: `clientIP@instanceName[@unitName]`.
    #[serde(rename = "clientID", default)]
    pub client_id: String,
    /// `consumerDataSet`.
    #[serde(rename = "consumerDataSet", default)]
    pub consumer_data_set: Vec<ConsumerData>,
    /// `heartbeatFingerprint` (5.x): 0 for the classic heartbeat.
    #[serde(rename = "heartbeatFingerprint", default)]
    pub heartbeat_fingerprint: i32,
    /// `producerDataSet`: every producer group (Java always adds `CLIENT_INNER_PRODUCER`).
    #[serde(rename = "producerDataSet", default)]
    pub producer_data_set: Vec<ProducerData>,
    /// `withoutSub` (5.x, heartbeat v2 only).
    #[serde(rename = "withoutSub", default)]
    pub without_sub: bool,
}

json_body!(HeartbeatData, SubscriptionData);

/// A producer group entry of [`HeartbeatData`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProducerData {
    /// `groupName`.
    #[serde(rename = "groupName", default)]
    pub group_name: String,
}

/// A consumer group entry of [`HeartbeatData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerData {
    /// `consumeFromWhere`.
    #[serde(rename = "consumeFromWhere")]
    pub consume_from_where: ConsumeFromWhere,
    /// `consumeType`.
    #[serde(rename = "consumeType")]
    pub consume_type: ConsumeType,
    /// `groupName`.
    #[serde(rename = "groupName")]
    pub group_name: String,
    /// `messageModel`.
    #[serde(rename = "messageModel")]
    pub message_model: MessageModel,
    /// `subscriptionDataSet`.
    #[serde(rename = "subscriptionDataSet", default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// `unitMode` (Java: false).
    #[serde(rename = "unitMode", default)]
    pub unit_mode: bool,
}

/// One topic subscription (`SubscriptionData`). `filterClassSource` is never serialized by Java and is
/// not modelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionData {
    /// `classFilterMode` (legacy, false).
    #[serde(rename = "classFilterMode", default)]
    pub class_filter_mode: bool,
    /// `codeSet`: Java `String.hashCode()` of each tag; the broker filters on these.
    #[serde(rename = "codeSet", default)]
    pub code_set: Vec<i32>,
    /// `expressionType`.
    #[serde(rename = "expressionType", default)]
    pub expression_type: ExpressionType,
    /// `subString`: the expression, `*` for all.
    #[serde(rename = "subString", default)]
    pub sub_string: String,
    /// `subVersion`: ms timestamp; a pull must not carry a newer one than the last heartbeat.
    #[serde(rename = "subVersion", default)]
    pub sub_version: i64,
    /// `tagsSet`: the tags of a TAG expression (empty for `*` and SQL92).
    #[serde(rename = "tagsSet", default)]
    pub tags_set: Vec<String>,
    /// `topic`.
    #[serde(rename = "topic", default)]
    pub topic: String,
}

/// The expression that matches every message.
pub(crate) const SUB_ALL: &str = "*";

/// Java `String.trim()`: strips code points `<= ' '` at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

impl SubscriptionData {
    /// Build a subscription the way Java's `FilterAPI.build` does, with `subVersion` = now (ms).
    ///
    /// TAG (`ExpressionType::Tag`): an empty expression or exactly `*` becomes `*` with empty sets;
    /// otherwise the expression is split on `||`, each part trimmed (Java `String.trim`), empties dropped,
    /// and each tag's Java `String.hashCode()` goes to `codeSet`. SQL92: the expression is kept as is.
    ///
    /// Errors (as Java throws): an empty SQL92 expression, or a TAG expression that consists only of
    /// `||` separators.
    pub fn from_expression(
        topic: impl Into<String>,
        expression: &str,
        expression_type: ExpressionType,
    ) -> Result<Self> {
        let mut sd = SubscriptionData {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type,
            sub_string: expression.to_owned(),
            sub_version: now_millis(),
            tags_set: Vec::new(),
            topic: topic.into(),
        };
        match expression_type {
            ExpressionType::Sql92 if expression.is_empty() => Err(ProtocolError::invalid_field(
                "subString",
                "empty SQL92 expression",
            )),
            ExpressionType::Sql92 => Ok(sd),
            ExpressionType::Tag if expression.is_empty() || expression == SUB_ALL => {
                sd.sub_string = SUB_ALL.to_owned();
                Ok(sd)
            }
            ExpressionType::Tag => {
                // Java's String.split drops trailing empty strings; an all-empty split is an error.
                if expression.split("||").all(str::is_empty) {
                    return Err(ProtocolError::invalid_field("subString", expression));
                }
                let mut tags: Vec<(i32, String)> = Vec::new();
                let mut codes: Vec<(i32, i32)> = Vec::new();
                for tag in expression.split("||").map(java_trim) {
                    if tag.is_empty() || tags.iter().any(|(_, t)| t == tag) {
                        continue;
                    }
                    let code = java_string_hash(tag);
                    tags.push((code, tag.to_owned()));
                    if !codes.iter().any(|&(c, _)| c == code) {
                        codes.push((code, code));
                    }
                }
                // Same iteration order as Java's HashSets, so the JSON matches Java's byte for byte.
                sd.tags_set = java_hash_set_order(tags);
                sd.code_set = java_hash_set_order(codes);
                Ok(sd)
            }
        }
    }

    /// Whether this subscription accepts every tag (`*` TAG expression).
    pub fn is_sub_all(&self) -> bool {
        self.expression_type == ExpressionType::Tag && self.sub_string == SUB_ALL
    }

    /// Client-side tag re-filter (the broker filters by hash only): whether a message with `tag` matches.
    pub fn matches_tag(&self, tag: Option<&str>) -> bool {
        if self.expression_type != ExpressionType::Tag || self.is_sub_all() {
            return true;
        }
        tag.is_some_and(|t| self.tags_set.iter().any(|s| s == t))
    }
}

/// The iteration order of a `java.util.HashSet` filled with `items` (`(hashCode, item)`, distinct, no
/// removals): by bucket `(h ^ h >>> 16) & (capacity - 1)`, then insertion order; capacity starts at 16
/// and doubles whenever the size exceeds 3/4 of it. (Treeified buckets — 8+ colliding entries in a
/// table of 64+ — are not modelled.)
fn java_hash_set_order<T>(items: Vec<(i32, T)>) -> Vec<T> {
    let mut capacity = 16usize;
    while items.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let mut keyed: Vec<(usize, T)> = items
        .into_iter()
        .map(|(h, item)| {
            let h = h as u32;
            ((h ^ (h >> 16)) as usize & (capacity - 1), item)
        })
        .collect();
    keyed.sort_by_key(|(bucket, _)| *bucket); // stable: insertion order within a bucket
    keyed.into_iter().map(|(_, item)| item).collect()
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

    const ILLUSTRATION: &str = r#"{"clientID":"10.0.0.5@4242#81723","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"G","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}],"withoutSub":false}"#;

    #[test]
    fn heartbeat_matches_reference_illustration_byte_for_byte() {
        let mut sub = SubscriptionData::from_expression("T", "TagA", ExpressionType::Tag).unwrap();
        sub.sub_version = 1_700_000_000_000;
        let hb = HeartbeatData {
            client_id: "10.0.0.5@4242#81723".into(),
            consumer_data_set: vec![ConsumerData {
                consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
                consume_type: ConsumeType::ConsumePassively,
                group_name: "G".into(),
                message_model: MessageModel::Clustering,
                subscription_data_set: vec![sub],
                unit_mode: false,
            }],
            heartbeat_fingerprint: 0,
            producer_data_set: vec![ProducerData {
                group_name: "CLIENT_INNER_PRODUCER".into(),
            }],
            without_sub: false,
        };
        assert_eq!(String::from_utf8(hb.to_json()).unwrap(), ILLUSTRATION);
        assert_eq!(HeartbeatData::from_json(ILLUSTRATION.as_bytes()).unwrap(), hb);
    }

    #[test]
    fn tag_expressions() {
        let s = SubscriptionData::from_expression("T", " TagA ||TagB|| ||TagA", ExpressionType::Tag).unwrap();
        assert_eq!(s.sub_string, " TagA ||TagB|| ||TagA");
        assert_eq!(s.tags_set, ["TagA", "TagB"]);
        assert_eq!(s.code_set, [2_598_919, 2_598_920]);
        assert!(s.matches_tag(Some("TagB")));
        assert!(!s.matches_tag(Some("TagC")));
        assert!(!s.matches_tag(None));
        for all in ["", "*"] {
            let s = SubscriptionData::from_expression("T", all, ExpressionType::Tag).unwrap();
            assert_eq!(s.sub_string, "*");
            assert!(s.tags_set.is_empty() && s.code_set.is_empty());
            assert!(s.is_sub_all() && s.matches_tag(None));
            assert!(s.sub_version > 1_600_000_000_000);
        }
        assert!(SubscriptionData::from_expression("T", "||||", ExpressionType::Tag).is_err());
        let s = SubscriptionData::from_expression("T", "|| ", ExpressionType::Tag).unwrap();
        assert!(s.tags_set.is_empty());
    }

    #[test]
    fn tag_and_code_sets_iterate_like_java_hash_sets() {
        let s = SubscriptionData::from_expression("T", "TagA || TagB ||  TagC", ExpressionType::Tag).unwrap();
        assert_eq!(s.tags_set, ["TagA", "TagC", "TagB"]);
        assert_eq!(s.code_set, [2_598_919, 2_598_921, 2_598_920]);
        // 28 tags (two resizes, one hash collision) — expected order printed by a JVM's HashSet
        let input = "alpha||beta||gamma||delta||epsilon||zeta||eta||theta||iota||kappa||lambda||mu||nu||xi||\
                     omicron||pi||rho||sigma||tau||upsilon||phi||chi||psi||omega||Aa||BB||中文||🚀";
        let s = SubscriptionData::from_expression("T", input, ExpressionType::Tag).unwrap();
        assert_eq!(
            s.tags_set.join(","),
            "Aa,BB,nu,psi,delta,theta,epsilon,lambda,eta,omicron,alpha,kappa,beta,zeta,sigma,iota,chi,\
             upsilon,mu,tau,omega,phi,xi,中文,rho,🚀,pi,gamma"
        );
        assert_eq!(
            s.code_set,
            [
                2112,
                3527,
                111_302,
                95_468_472,
                110_327_454,
                -1_535_503_510,
                -1_110_092_857,
                100_754,
                -1_345_696_935,
                92_909_918,
                101_817_675,
                3_020_272,
                3_735_256,
                109_435_429,
                3_238_419,
                98_468,
                -220_346_502,
                3496,
                114_600,
                105_858_401,
                110_961,
                3825,
                646_394,
                112_889,
                1_773_027,
                3577,
                98_120_615
            ]
        );
    }

    #[test]
    fn sql92_expressions() {
        let s = SubscriptionData::from_expression("T", "a > 5", ExpressionType::Sql92).unwrap();
        assert_eq!(s.sub_string, "a > 5");
        assert!(s.tags_set.is_empty());
        assert!(s.matches_tag(Some("anything")));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""expressionType":"SQL92""#));
        assert!(SubscriptionData::from_expression("T", "", ExpressionType::Sql92).is_err());
    }

    #[test]
    fn enums_by_java_name() {
        let v = serde_json::to_string(&[
            ConsumeFromWhere::ConsumeFromTimestamp,
            ConsumeFromWhere::ConsumeFromLastOffsetAndFromMinWhenBootFirst,
        ])
        .unwrap();
        assert_eq!(
            v,
            r#"["CONSUME_FROM_TIMESTAMP","CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST"]"#
        );
        assert_eq!(
            serde_json::to_string(&ConsumeType::ConsumeActively).unwrap(),
            r#""CONSUME_ACTIVELY""#
        );
        assert_eq!(
            serde_json::to_string(&MessageModel::Broadcasting).unwrap(),
            r#""BROADCASTING""#
        );
        assert!(HeartbeatData::from_json(b"{\"clientID\":1").is_err());
    }
}
