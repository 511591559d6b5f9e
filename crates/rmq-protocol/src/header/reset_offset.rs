//! Bodies keyed by `MessageQueue`: RESET_CONSUMER_CLIENT_OFFSET's `ResetOffsetBody` and
//! GET_CONSUMER_STATUS_FROM_CLIENT's `GetConsumerStatusBody`.
//!
//! Java writes these maps with JSON objects as keys (`{{"brokerName":…,"queueId":0,"topic":…}:42}`),
//! which is not JSON; [`ResetOffsetBody::from_json`] reads that form, the C++ array form and the Gson
//! array-of-pairs form.

use std::collections::HashMap;

use super::lenient::{self, Node};
use crate::error::{ProtocolError, Result};
use crate::message::MessageQueue;

/// RESET_CONSUMER_CLIENT_OFFSET (220) body: the new offset of each queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetOffsetBody {
    /// `offsetTable`: queue → offset to resume from.
    pub offset_table: HashMap<MessageQueue, i64>,
}

fn offsets(node: Option<&Node>, value_key: &str) -> Result<HashMap<MessageQueue, i64>> {
    match node {
        None => Ok(HashMap::new()),
        Some(n) => lenient::mq_entries(n, value_key)?
            .into_iter()
            .map(|(mq, v)| Ok((mq, v.deserialize::<i64>()?)))
            .collect(),
    }
}

fn root(bytes: &[u8]) -> Result<Node> {
    let root = lenient::parse(bytes)?;
    match root {
        Node::Obj(_) => Ok(root),
        _ => Err(ProtocolError::Json("body is not a JSON object".into())),
    }
}

/// Sorted entries, for deterministic output.
fn sorted(map: &HashMap<MessageQueue, i64>) -> Vec<(&MessageQueue, &i64)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort();
    v
}

impl ResetOffsetBody {
    /// Parse any of the three wire forms: fastjson object keys, the C++ form
    /// `{"offsetTable":[{"brokerName","queueId","topic","offset"},…]}`, or Gson's `[[{mq},offset],…]`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let root = root(bytes)?;
        Ok(ResetOffsetBody {
            offset_table: offsets(root.get("offsetTable"), "offset")?,
        })
    }

    /// Serialize in Java's (fastjson) form, entries sorted by queue.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::from("{\"offsetTable\":");
        lenient::push_mq_map(&mut out, sorted(&self.offset_table));
        out.push('}');
        out.into_bytes()
    }
}

/// GET_CONSUMER_STATUS_FROM_CLIENT (221) reply body (deprecated request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetConsumerStatusBody {
    /// `messageQueueTable`: queue → consumer offset.
    pub message_queue_table: HashMap<MessageQueue, i64>,
    /// `consumerTable`: client id → (queue → offset); Java clients reply with it empty.
    pub consumer_table: HashMap<String, HashMap<MessageQueue, i64>>,
}

impl GetConsumerStatusBody {
    /// Parse (object-key, string-key or array forms).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let root = root(bytes)?;
        let mut consumer_table = HashMap::new();
        if let Some(Node::Obj(entries)) = root.get("consumerTable") {
            for (k, v) in entries {
                let Node::Str(client) = k else {
                    return Err(ProtocolError::Json("consumerTable key is not a string".into()));
                };
                consumer_table.insert(client.clone(), offsets(Some(v), "offset")?);
            }
        }
        Ok(GetConsumerStatusBody {
            message_queue_table: offsets(root.get("messageQueueTable"), "offset")?,
            consumer_table,
        })
    }

    /// Serialize in Java's (fastjson) form.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::from("{\"consumerTable\":{");
        let mut clients: Vec<_> = self.consumer_table.iter().collect();
        clients.sort_by(|a, b| a.0.cmp(b.0));
        for (i, (client, table)) in clients.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            lenient::push_json(&mut out, client);
            out.push(':');
            lenient::push_mq_map(&mut out, sorted(table));
        }
        out.push_str("},\"messageQueueTable\":");
        lenient::push_mq_map(&mut out, sorted(&self.message_queue_table));
        out.push('}');
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(b: &str, q: i32) -> MessageQueue {
        MessageQueue::new("t", b, q)
    }

    #[test]
    fn reset_offset_three_forms() {
        let forms: [&[u8]; 3] = [
            br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:42,{"brokerName":"a","queueId":1,"topic":"t"}:7}}"#,
            br#"{"offsetTable":[{"brokerName":"b","queueId":0,"topic":"t","offset":42},{"brokerName":"a","queueId":1,"topic":"t","offset":7}]}"#,
            br#"{"offsetTable":[[{"topic":"t","brokerName":"b","queueId":0},42],[{"topic":"t","brokerName":"a","queueId":1},7]]}"#,
        ];
        let want: HashMap<_, _> = [(mq("b", 0), 42), (mq("a", 1), 7)].into_iter().collect();
        for f in forms {
            let body = ResetOffsetBody::from_json(f).unwrap();
            assert_eq!(body.offset_table, want, "{}", String::from_utf8_lossy(f));
        }
        let body = ResetOffsetBody { offset_table: want };
        let out = body.to_json();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"offsetTable":{{"brokerName":"a","queueId":1,"topic":"t"}:7,{"brokerName":"b","queueId":0,"topic":"t"}:42}}"#
        );
        assert_eq!(ResetOffsetBody::from_json(&out).unwrap(), body);
        assert!(ResetOffsetBody::from_json(b"{}").unwrap().offset_table.is_empty());
        assert!(ResetOffsetBody::from_json(b"[]").is_err());
        assert!(ResetOffsetBody::from_json(br#"{"offsetTable":{{"topic":"t"}:1}}"#).is_err());
        assert!(ResetOffsetBody::from_json(
            br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:"x"}}"#
        )
        .is_err());
    }

    #[test]
    fn consumer_status_round_trip() {
        let mut body = GetConsumerStatusBody::default();
        body.message_queue_table.insert(mq("a", 0), 10);
        body.consumer_table
            .insert("c1".into(), [(mq("b", 2), 3)].into_iter().collect());
        let out = body.to_json();
        assert_eq!(GetConsumerStatusBody::from_json(&out).unwrap(), body);
        let java =
            br#"{"messageQueueTable":{{"brokerName":"a","queueId":0,"topic":"t"}:10},"consumerTable":{}}"#;
        let parsed = GetConsumerStatusBody::from_json(java).unwrap();
        assert_eq!(parsed.message_queue_table[&mq("a", 0)], 10);
        assert!(parsed.consumer_table.is_empty());
    }
}
