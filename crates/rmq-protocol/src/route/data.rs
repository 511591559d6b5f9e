//! `TopicRouteData`, `QueueData`, `BrokerData` and the Java client's queue/address algorithms.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{null_default, parse_lenient, perm};
use crate::error::Result;
use crate::message::java_string_cmp;
use crate::message::MessageQueue;

/// Broker id of a master (`MixAll.MASTER_ID`).
pub const MASTER_ID: i64 = 0;

/// GET_ROUTEINFO_BY_TOPIC (105) body.
///
/// Fields are declared in alphabetical order of their JSON keys, like fastjson writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRouteData {
    /// `brokerDatas`: the broker groups serving the topic.
    #[serde(rename = "brokerDatas", default, deserialize_with = "null_default")]
    pub broker_datas: Vec<BrokerData>,
    /// `filterServerTable`: legacy filter servers (broker address → filter server addresses).
    #[serde(rename = "filterServerTable", default, deserialize_with = "null_default")]
    pub filter_server_table: HashMap<String, Vec<String>>,
    /// `orderTopicConf`: `"brokerA:4;brokerB:4"` for globally configured ordered topics.
    #[serde(rename = "orderTopicConf", default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// `queueDatas`: queue counts and permissions per broker.
    #[serde(rename = "queueDatas", default, deserialize_with = "null_default")]
    pub queue_datas: Vec<QueueData>,
    /// `topicQueueMappingByBroker` (5.x static topics), kept as raw JSON.
    #[serde(
        rename = "topicQueueMappingByBroker",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub topic_queue_mapping_by_broker: Option<serde_json::Value>,
}

/// Queue counts and permission of a topic on one broker group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueData {
    /// `brokerName`.
    #[serde(rename = "brokerName", deserialize_with = "null_default")]
    pub broker_name: String,
    /// `perm`: [`perm`](super::perm) bits.
    #[serde(rename = "perm")]
    pub perm: i32,
    /// `readQueueNums`: queues `0..n` are readable.
    #[serde(rename = "readQueueNums")]
    pub read_queue_nums: i32,
    /// `topicSysFlag`.
    #[serde(rename = "topicSysFlag")]
    pub topic_sys_flag: i32,
    /// `writeQueueNums`: queues `0..n` are writable.
    #[serde(rename = "writeQueueNums")]
    pub write_queue_nums: i32,
}

impl QueueData {
    /// Whether the read bit is set.
    pub fn is_readable(&self) -> bool {
        perm::is_readable(self.perm)
    }

    /// Whether the write bit is set.
    pub fn is_writeable(&self) -> bool {
        perm::is_writeable(self.perm)
    }
}

/// One broker group (a master and its slaves).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerData {
    /// `brokerAddrs`: broker id → `ip:port`; id 0 ([`MASTER_ID`]) is the master.
    #[serde(rename = "brokerAddrs", deserialize_with = "null_default")]
    pub broker_addrs: BTreeMap<i64, String>,
    /// `brokerName`.
    #[serde(rename = "brokerName", deserialize_with = "null_default")]
    pub broker_name: String,
    /// `cluster`.
    #[serde(rename = "cluster", deserialize_with = "null_default")]
    pub cluster: String,
    /// `enableActingMaster` (5.x controller mode).
    #[serde(rename = "enableActingMaster")]
    pub enable_acting_master: bool,
    /// `zoneName` (5.x).
    #[serde(rename = "zoneName", skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

/// An address found by [`BrokerData::find_subscribe_addr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundBrokerAddr<'a> {
    /// `ip:port`.
    pub addr: &'a str,
    /// Whether it is not the master (pulling from a slave must clear COMMIT_OFFSET).
    pub is_slave: bool,
}

impl BrokerData {
    /// The master's (id 0) address.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }

    /// Java's `selectBrokerAddr`: the master, else a replica. Java picks the replica at random; this
    /// returns the lowest id so the choice is deterministic.
    pub fn select_addr(&self) -> Option<&str> {
        self.master_addr()
            .or_else(|| self.broker_addrs.values().next().map(String::as_str))
    }

    /// Java's `findBrokerAddressInSubscribe`: the address of `broker_id`; for a slave id that is absent,
    /// id + 1; then (unless `only_this_broker`) any address (the lowest id).
    pub fn find_subscribe_addr(&self, broker_id: i64, only_this_broker: bool) -> Option<FoundBrokerAddr<'_>> {
        let found = |id: i64| {
            self.broker_addrs.get(&id).map(|addr| FoundBrokerAddr {
                addr,
                is_slave: id != MASTER_ID,
            })
        };
        found(broker_id)
            .or_else(|| {
                (broker_id != MASTER_ID)
                    .then(|| found(broker_id.wrapping_add(1)))
                    .flatten()
            })
            .or_else(|| {
                if only_this_broker {
                    return None;
                }
                self.broker_addrs.iter().next().map(|(id, addr)| FoundBrokerAddr {
                    addr,
                    is_slave: *id != MASTER_ID,
                })
            })
    }
}

impl TopicRouteData {
    /// Parse a GET_ROUTEINFO_BY_TOPIC body: standard JSON or fastjson's bare integer keys.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse_lenient(bytes)
    }

    /// Serialize as standard JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The broker group named `broker_name`.
    pub fn broker(&self, broker_name: &str) -> Option<&BrokerData> {
        self.broker_datas.iter().find(|b| b.broker_name == broker_name)
    }

    /// The master address of `broker_name` (sends, END_TRANSACTION, send-back, offsets, locks).
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.broker(broker_name).and_then(BrokerData::master_addr)
    }

    /// Whether `orderTopicConf` is set (Java `TopicPublishInfo.orderTopic`).
    pub fn is_order_topic(&self) -> bool {
        self.order_topic_conf.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// Java's `topicRouteData2TopicPublishInfo` queue list.
    ///
    /// With `orderTopicConf`: for each `name:n` pair in order, queues `0..n` of that broker (malformed
    /// pairs are skipped, where Java would throw). Otherwise: `queueDatas` sorted by broker name (Java
    /// `String.compareTo`, stable), and for every writable entry whose broker group has a master, queues
    /// `0..writeQueueNums`. (5.x static topics, built from `topicQueueMappingByBroker`, are not modelled.)
    pub fn publish_queues(&self, topic: &str) -> Vec<MessageQueue> {
        let mut out = Vec::new();
        if let Some(conf) = self.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
            for pair in conf.split(';') {
                let mut parts = pair.split(':');
                let (Some(name), Some(n)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let Ok(n) = n.trim().parse::<i32>() else {
                    continue;
                };
                out.extend((0..n).map(|q| MessageQueue::new(topic, name, q)));
            }
            return out;
        }
        let mut qds: Vec<&QueueData> = self.queue_datas.iter().collect();
        qds.sort_by(|a, b| java_string_cmp(&a.broker_name, &b.broker_name));
        for qd in qds {
            if !qd.is_writeable() {
                continue;
            }
            if self.master_addr(&qd.broker_name).is_none() {
                continue;
            }
            out.extend(
                (0..qd.write_queue_nums).map(|q| MessageQueue::new(topic, qd.broker_name.as_str(), q)),
            );
        }
        out
    }

    /// Java's `topicRouteData2TopicSubscribeInfo`: queues `0..readQueueNums` of every readable entry (no
    /// master required), as a set — sorted in Java `MessageQueue` order and deduplicated.
    pub fn subscribe_queues(&self, topic: &str) -> Vec<MessageQueue> {
        let mut out: Vec<MessageQueue> = self
            .queue_datas
            .iter()
            .filter(|qd| qd.is_readable())
            .flat_map(|qd| {
                (0..qd.read_queue_nums).map(move |q| MessageQueue::new(topic, qd.broker_name.as_str(), q))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> TopicRouteData {
        TopicRouteData::from_json(
            br#"{"brokerDatas":[
                {"brokerAddrs":{0:"a0:1",1:"a1:1"},"brokerName":"broker-b","cluster":"C"},
                {"brokerAddrs":{1:"c1:1",2:"c2:1"},"brokerName":"broker-c","cluster":"C"},
                {"brokerAddrs":{0:"a0:2"},"brokerName":"broker-a","cluster":"C","zoneName":"z"}],
              "queueDatas":[
                {"brokerName":"broker-b","perm":6,"readQueueNums":2,"writeQueueNums":3,"topicSysFlag":0},
                {"brokerName":"broker-c","perm":6,"readQueueNums":1,"writeQueueNums":1,"topicSysFlag":0},
                {"brokerName":"broker-a","perm":4,"readQueueNums":1,"writeQueueNums":2,"topicSysFlag":0}],
              "filterServerTable":{}}"#,
        )
        .unwrap()
    }

    fn ids(v: &[MessageQueue]) -> Vec<(String, i32)> {
        v.iter().map(|q| (q.broker_name.clone(), q.queue_id)).collect()
    }

    #[test]
    fn publish_requires_writable_and_master() {
        let r = route();
        // broker-a is read-only, broker-c has no master
        assert_eq!(
            ids(&r.publish_queues("T")),
            [
                ("broker-b".into(), 0),
                ("broker-b".into(), 1),
                ("broker-b".into(), 2)
            ]
        );
        assert!(!r.is_order_topic());
    }

    #[test]
    fn publish_with_order_topic_conf() {
        let r = TopicRouteData {
            order_topic_conf: Some("broker-z:2;bad;broker-a:1;x:y".into()),
            ..route()
        };
        assert!(r.is_order_topic());
        assert_eq!(
            ids(&r.publish_queues("T")),
            [
                ("broker-z".into(), 0),
                ("broker-z".into(), 1),
                ("broker-a".into(), 0)
            ]
        );
    }

    #[test]
    fn subscribe_requires_readable_only() {
        let q = route().subscribe_queues("T");
        assert_eq!(
            ids(&q),
            [
                ("broker-a".into(), 0),
                ("broker-b".into(), 0),
                ("broker-b".into(), 1),
                ("broker-c".into(), 0)
            ]
        );
        assert!(q.iter().all(|m| m.topic == "T"));
    }

    #[test]
    fn addresses() {
        let r = route();
        assert_eq!(r.master_addr("broker-b"), Some("a0:1"));
        assert_eq!(r.master_addr("broker-c"), None);
        assert_eq!(r.master_addr("nope"), None);
        let c = r.broker("broker-c").unwrap();
        assert_eq!(c.select_addr(), Some("c1:1"));
        assert_eq!(r.broker("broker-a").unwrap().zone_name.as_deref(), Some("z"));
        let b = r.broker("broker-b").unwrap();
        assert_eq!(
            b.find_subscribe_addr(0, true),
            Some(FoundBrokerAddr {
                addr: "a0:1",
                is_slave: false
            })
        );
        assert_eq!(
            b.find_subscribe_addr(1, true),
            Some(FoundBrokerAddr {
                addr: "a1:1",
                is_slave: true
            })
        );
        // id 5 absent, id 6 absent, only_this_broker → none; else first entry (master)
        assert_eq!(b.find_subscribe_addr(5, true), None);
        assert_eq!(
            b.find_subscribe_addr(5, false),
            Some(FoundBrokerAddr {
                addr: "a0:1",
                is_slave: false
            })
        );
        // broker-c has no master: a master lookup falls back to any address unless only_this_broker
        assert_eq!(c.find_subscribe_addr(0, true), None);
        assert_eq!(
            c.find_subscribe_addr(0, false),
            Some(FoundBrokerAddr {
                addr: "c1:1",
                is_slave: true
            })
        );
        // an absent slave id tries id + 1
        let gap = BrokerData {
            broker_addrs: [(0, "m".to_string()), (2, "s2".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            gap.find_subscribe_addr(1, true),
            Some(FoundBrokerAddr {
                addr: "s2",
                is_slave: true
            })
        );
        assert_eq!(gap.find_subscribe_addr(3, true), None);
        assert_eq!(BrokerData::default().find_subscribe_addr(0, false), None);
    }

    #[test]
    fn nulls_and_unknown_keys_tolerated() {
        let r = TopicRouteData::from_json(
            br#"{"queueDatas":null,"brokerDatas":[{"brokerAddrs":null,"brokerName":"b","extra":1}],"x":{1:2}}"#,
        )
        .unwrap();
        assert!(r.queue_datas.is_empty());
        assert!(r.broker_datas[0].broker_addrs.is_empty());
        let back = TopicRouteData::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }
}
