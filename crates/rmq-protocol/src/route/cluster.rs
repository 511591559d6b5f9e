//! `ClusterInfo` (GET_BROKER_CLUSTER_INFO), `TopicList` (GET_ALL_TOPIC_LIST_FROM_NAMESERVER) and
//! `TopicConfig` (GET_TOPIC_CONFIG).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{null_default, parse_lenient, BrokerData};
use crate::error::Result;

/// GET_BROKER_CLUSTER_INFO (106) body. The name server always writes it with bare integer keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// `brokerAddrTable`: broker name → broker group.
    #[serde(rename = "brokerAddrTable", default, deserialize_with = "null_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// `clusterAddrTable`: cluster name → broker names (a Java set; order as received).
    #[serde(rename = "clusterAddrTable", default, deserialize_with = "null_default")]
    pub cluster_addr_table: BTreeMap<String, Vec<String>>,
}

impl ClusterInfo {
    /// Parse the body: standard JSON or fastjson's bare integer keys.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse_lenient(bytes)
    }

    /// Serialize as standard JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The broker groups of `cluster` that are known in `brokerAddrTable`.
    pub fn brokers_of(&self, cluster: &str) -> Vec<&BrokerData> {
        self.cluster_addr_table
            .get(cluster)
            .into_iter()
            .flatten()
            .filter_map(|name| self.broker_addr_table.get(name))
            .collect()
    }

    /// The master address of every broker group of `cluster` (admin topic creation targets these).
    pub fn master_addrs(&self, cluster: &str) -> Vec<&str> {
        self.brokers_of(cluster)
            .into_iter()
            .filter_map(BrokerData::master_addr)
            .collect()
    }
}

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    /// `brokerAddr` (only set by some admin queries).
    #[serde(rename = "brokerAddr", default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    /// `topicList`: topic names (a Java set; order as received).
    #[serde(rename = "topicList", default, deserialize_with = "null_default")]
    pub topic_list: Vec<String>,
}

impl TopicList {
    /// Parse the body (either JSON form).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse_lenient(bytes)
    }

    /// Serialize as standard JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// How a topic's tags are filtered (`TopicFilterType`), by Java enum name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TopicFilterType {
    /// `SINGLE_TAG` (default).
    #[default]
    #[serde(rename = "SINGLE_TAG")]
    SingleTag,
    /// `MULTI_TAG`.
    #[serde(rename = "MULTI_TAG")]
    MultiTag,
}

/// A broker's topic configuration (GET_TOPIC_CONFIG (351) body, `TopicConfigAndQueueMapping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicConfig {
    /// `attributes` (5.x), e.g. `message.type` → `NORMAL`.
    #[serde(rename = "attributes", deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// `mappingDetail` (5.x static topics), kept as raw JSON.
    #[serde(rename = "mappingDetail", skip_serializing_if = "Option::is_none")]
    pub mapping_detail: Option<serde_json::Value>,
    /// `order`.
    #[serde(rename = "order")]
    pub order: bool,
    /// `perm` bits (default 6).
    #[serde(rename = "perm")]
    pub perm: i32,
    /// `readQueueNums` (default 16).
    #[serde(rename = "readQueueNums")]
    pub read_queue_nums: i32,
    /// `topicFilterType`.
    #[serde(rename = "topicFilterType")]
    pub topic_filter_type: TopicFilterType,
    /// `topicName`.
    #[serde(rename = "topicName", deserialize_with = "null_default")]
    pub topic_name: String,
    /// `topicSysFlag`.
    #[serde(rename = "topicSysFlag")]
    pub topic_sys_flag: i32,
    /// `writeQueueNums` (default 16).
    #[serde(rename = "writeQueueNums")]
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    /// Java's `new TopicConfig()` defaults: 16 read/write queues, perm RW.
    fn default() -> Self {
        TopicConfig {
            attributes: BTreeMap::new(),
            mapping_detail: None,
            order: false,
            perm: 6,
            read_queue_nums: 16,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl TopicConfig {
    /// Parse the body (either JSON form).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse_lenient(bytes)
    }

    /// Serialize as standard JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_info_bare_keys() {
        let c = ClusterInfo::from_json(
            br#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"C","enableActingMaster":false},"broker-b":{"brokerAddrs":{1:"10.0.0.4:10911"},"brokerName":"broker-b","cluster":"C"}},"clusterAddrTable":{"C":["broker-b","broker-a","gone"]}}"#,
        )
        .unwrap();
        assert_eq!(c.cluster_addr_table["C"], ["broker-b", "broker-a", "gone"]);
        assert_eq!(c.brokers_of("C").len(), 2);
        assert_eq!(c.master_addrs("C"), ["10.0.0.1:10911"]);
        assert!(c.master_addrs("nope").is_empty());
        assert_eq!(ClusterInfo::from_json(&c.to_json()).unwrap(), c);
        assert!(ClusterInfo::from_json(b"{\"brokerAddrTable\":[]}").is_err());
    }

    #[test]
    fn topic_list_and_config() {
        let t = TopicList::from_json(br#"{"topicList":["a","%RETRY%g"]}"#).unwrap();
        assert_eq!(t.topic_list, ["a", "%RETRY%g"]);
        assert_eq!(t.broker_addr, None);
        assert_eq!(TopicList::from_json(&t.to_json()).unwrap(), t);
        let c = TopicConfig::from_json(
            br#"{"attributes":{"+message.type":"NORMAL"},"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"MULTI_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8,"mappingDetail":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(c.read_queue_nums, 8);
        assert_eq!(c.topic_filter_type, TopicFilterType::MultiTag);
        assert!(c.mapping_detail.is_some());
        assert_eq!(TopicConfig::from_json(&c.to_json()).unwrap(), c);
        let d = TopicConfig::from_json(br#"{"topicName":"X"}"#).unwrap();
        assert_eq!((d.perm, d.read_queue_nums, d.write_queue_nums), (6, 16, 16));
    }
}
