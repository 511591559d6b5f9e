//! Read-only admin queries: topic list, consumer connections, consume progress, message lookup.

use std::net::SocketAddr;

use rmq_protocol::header::{
    parse_fastjson, QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use rmq_protocol::message::{decode_messages, decode_offset_msg_id, MessageExt, MessageQueue};
use rmq_protocol::{ExtFields, ProtocolError, RemotingCommand, RequestCode, ResponseCode};
use serde_json::Value;

use super::Admin;
use crate::error::{Error, Result};

/// GET_CONSUME_STATS (208): per-queue broker and consumer offsets of a group.
const GET_CONSUME_STATS: RequestCode = RequestCode(208);
/// How far back a unique-key query looks (Java `queryMessageByUniqKey` uses 0..Long.MAX_VALUE).
const QUERY_BEGIN_MS: i64 = 0;

/// One client connected as a consumer of a group (Java `Connection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerClient {
    /// The client id (`ip@instance`).
    pub client_id: String,
    /// The client's address as the broker sees it.
    pub client_addr: String,
    /// Client language, e.g. `JAVA` or `RUST`.
    pub language: String,
    /// Client version number.
    pub version: i64,
}

/// The consumers of a group, as the brokers know them (Java `ConsumerConnection`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerConnection {
    /// Connected clients, sorted by client id, each listed once.
    pub clients: Vec<ConsumerClient>,
    /// Subscriptions: topic and expression, sorted by topic.
    pub subscriptions: Vec<(String, String)>,
    /// `CLUSTERING` or `BROADCASTING`, if reported.
    pub message_model: Option<String>,
    /// `CONSUME_PASSIVELY` (push) or `CONSUME_ACTIVELY` (pull), if reported.
    pub consume_type: Option<String>,
    /// Where a new group starts, if reported.
    pub consume_from_where: Option<String>,
}

/// Consume progress of a group on one queue (Java `OffsetWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueProgress {
    /// The queue.
    pub queue: MessageQueue,
    /// The queue's max offset (next offset to be written).
    pub broker_offset: i64,
    /// The group's committed offset (0 when it has none).
    pub consumer_offset: i64,
    /// Store time of the last consumed message, ms (0 if unknown).
    pub last_timestamp: i64,
}

impl QueueProgress {
    /// Messages not yet consumed: broker offset − consumer offset.
    pub fn lag(&self) -> i64 {
        (self.broker_offset - self.consumer_offset).max(0)
    }
}

impl Admin {
    /// Every topic the name server knows (GET_ALL_TOPIC_LIST_FROM_NAMESERVER), sorted.
    pub async fn topic_list(&self) -> Result<Vec<String>> {
        let cmd =
            RemotingCommand::new_request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER, ExtFields::new());
        let resp = crate::remoting::expect_success(self.routes.namesrv().invoke(cmd).await?)?;
        let body = parse_fastjson(&resp.body)?;
        let mut topics: Vec<String> = body["topicList"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    /// Master addresses of every broker of every cluster, sorted by broker name.
    async fn all_masters(&self) -> Result<Vec<(String, String)>> {
        let info = self.cluster_info().await?;
        let mut masters: Vec<(String, String)> = info
            .broker_addr_table
            .iter()
            .filter_map(|(name, b)| Some((name.clone(), b.master_addr()?.to_owned())))
            .collect();
        masters.sort();
        Ok(masters)
    }

    /// The consumers of `group` online at any master (GET_CONSUMER_CONNECTION_LIST), merged.
    /// A group without online consumers is [`ErrorKind::Broker`](crate::ErrorKind::Broker) with
    /// code CONSUMER_NOT_ONLINE.
    pub async fn consumer_connection(&self, group: &str) -> Result<ConsumerConnection> {
        let ext: ExtFields = [("consumerGroup", group.to_owned())].into_iter().collect();
        let mut merged = ConsumerConnection::default();
        let mut online = false;
        let mut last_err = None;
        for (_, addr) in self.all_masters().await? {
            let cmd = RemotingCommand::new_request(RequestCode::GET_CONSUMER_CONNECTION_LIST, ext.clone());
            let resp = self.remoting.invoke(&addr, cmd, self.timeout).await?;
            if resp.response_code() != ResponseCode::SUCCESS {
                last_err = Some(Error::broker(resp.response_code(), resp.remark));
                continue;
            }
            online = true;
            merge_connection(&mut merged, &parse_fastjson(&resp.body)?);
        }
        if !online {
            return Err(last_err.unwrap_or_else(|| Error::invalid("no broker in the cluster")));
        }
        merged.clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        merged.clients.dedup_by(|a, b| a.client_id == b.client_id);
        merged.subscriptions.sort();
        merged.subscriptions.dedup();
        Ok(merged)
    }

    /// Per-queue progress of `group` (GET_CONSUME_STATS to every master): on `topic`, or on
    /// every topic the group has offsets for when `None`. Sorted by queue.
    pub async fn consume_progress(&self, group: &str, topic: Option<&str>) -> Result<Vec<QueueProgress>> {
        let mut ext: ExtFields = [("consumerGroup", group.to_owned())].into_iter().collect();
        if let Some(t) = topic {
            ext.insert("topic", t.to_owned());
        }
        let mut out = Vec::new();
        for (_, addr) in self.all_masters().await? {
            let cmd = RemotingCommand::new_request(GET_CONSUME_STATS, ext.clone());
            let resp = self.remoting.invoke(&addr, cmd, self.timeout).await?;
            match resp.response_code() {
                ResponseCode::SUCCESS => out.extend(progress_entries(&parse_fastjson(&resp.body)?)?),
                // A broker without the topic or group answers with an error: nothing there.
                ResponseCode::TOPIC_NOT_EXIST | ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST => {}
                code => return Err(Error::broker(code, resp.remark)),
            }
        }
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
    }

    /// The message with the broker id `offset_msg_id` (store host + commit-log offset), from the
    /// broker that stored it (VIEW_MESSAGE_BY_ID).
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<MessageExt> {
        let (host, offset): (SocketAddr, i64) = decode_offset_msg_id(offset_msg_id)?;
        let h = ViewMessageRequestHeader { topic: None, offset };
        let resp = self
            .call(&host.to_string(), RequestCode::VIEW_MESSAGE_BY_ID, &h)
            .await?;
        decode_messages(&resp.body)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid(format!("no message at {offset_msg_id}")))
    }

    /// The message of `topic` whose unique id (`UNIQ_KEY`, what a send returns as `msg_id`) is
    /// `id`, looked up in the brokers' indexes (QUERY_MESSAGE). `None` when no broker has it
    /// indexed (yet: indexing follows the store by a few milliseconds).
    pub async fn query_message_by_unique_key(&self, topic: &str, id: &str) -> Result<Option<MessageExt>> {
        let route = self.topic_route(topic).await?;
        let h = QueryMessageRequestHeader {
            topic: topic.to_owned(),
            key: id.to_owned(),
            max_num: 32,
            begin_timestamp: QUERY_BEGIN_MS,
            end_timestamp: i64::MAX,
            index_type: None,
            last_key: None,
            unique_key_query: Some(true),
        };
        let mut found = Vec::new();
        for broker in &route.data.broker_datas {
            let Some(addr) = broker.master_addr() else {
                continue;
            };
            let cmd = RemotingCommand::request(RequestCode::QUERY_MESSAGE, &h);
            let resp = self.remoting.invoke(addr, cmd, self.timeout).await?;
            match resp.response_code() {
                ResponseCode::SUCCESS => {
                    let _: QueryMessageResponseHeader = resp.decode_header()?;
                    found.extend(decode_messages(&resp.body)?);
                }
                ResponseCode::QUERY_NOT_FOUND => {}
                code => return Err(Error::broker(code, resp.remark)),
            }
        }
        // Java keeps the one stored last when a retry stored the same id twice.
        found.retain(|m| m.message.unique_key() == Some(id) && m.message.topic == topic);
        Ok(found.into_iter().max_by_key(|m| m.store_timestamp))
    }
}

/// Adds one broker's `ConsumerConnection` JSON to `merged`.
fn merge_connection(merged: &mut ConsumerConnection, body: &Value) {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    for c in body["connectionSet"].as_array().into_iter().flatten() {
        merged.clients.push(ConsumerClient {
            client_id: text(&c["clientId"]).unwrap_or_default(),
            client_addr: text(&c["clientAddr"]).unwrap_or_default(),
            language: text(&c["language"]).unwrap_or_default(),
            version: c["version"].as_i64().unwrap_or(0),
        });
    }
    if let Some(table) = body["subscriptionTable"].as_object() {
        for (topic, sub) in table {
            let expression = text(&sub["subString"]).unwrap_or_else(|| "*".into());
            merged.subscriptions.push((topic.clone(), expression));
        }
    }
    merged.message_model = merged
        .message_model
        .take()
        .or_else(|| text(&body["messageModel"]));
    merged.consume_type = merged.consume_type.take().or_else(|| text(&body["consumeType"]));
    merged.consume_from_where = merged
        .consume_from_where
        .take()
        .or_else(|| text(&body["consumeFromWhere"]));
}

/// The entries of a `ConsumeStats` JSON (`offsetTable` keyed by message queue).
fn progress_entries(body: &Value) -> Result<Vec<QueueProgress>> {
    let Some(table) = body["offsetTable"].as_object() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(table.len());
    for (key, v) in table {
        let queue: MessageQueue = serde_json::from_str(key)
            .map_err(|e| Error::from(ProtocolError::Json(format!("queue key {key:?}: {e}"))))?;
        out.push(QueueProgress {
            queue,
            broker_offset: v["brokerOffset"].as_i64().unwrap_or(0),
            consumer_offset: v["consumerOffset"].as_i64().unwrap_or(0),
            last_timestamp: v["lastTimestamp"].as_i64().unwrap_or(0),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_stats_with_fastjson_queue_keys() {
        let body = br#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"brokerOffset":7,"consumerOffset":3,"lastTimestamp":5,"pullOffset":3},{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":2,"consumerOffset":2,"lastTimestamp":0,"pullOffset":2}}}"#;
        let mut got = progress_entries(&parse_fastjson(body).unwrap()).unwrap();
        got.sort_by(|a, b| a.queue.cmp(&b.queue));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].queue, MessageQueue::new("T", "broker-a", 0));
        assert_eq!(got[0].lag(), 0);
        assert_eq!(
            (got[1].broker_offset, got[1].consumer_offset, got[1].lag()),
            (7, 3, 4)
        );
    }

    #[test]
    fn connections_merge_across_brokers() {
        let a = serde_json::json!({
            "connectionSet": [{"clientId": "c1", "clientAddr": "127.0.0.1:1", "language": "RUST", "version": 1}],
            "subscriptionTable": {"T": {"subString": "a || b"}},
            "messageModel": "CLUSTERING",
            "consumeType": "CONSUME_PASSIVELY",
        });
        let mut merged = ConsumerConnection::default();
        merge_connection(&mut merged, &a);
        merge_connection(&mut merged, &a);
        assert_eq!(merged.clients.len(), 2, "deduplicated by the caller");
        assert_eq!(merged.subscriptions[0], ("T".to_owned(), "a || b".to_owned()));
        assert_eq!(merged.message_model.as_deref(), Some("CLUSTERING"));
    }
}
