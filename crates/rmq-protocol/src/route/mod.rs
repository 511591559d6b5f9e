//! Topic route data and cluster info, including the name server's non-standard JSON.
//!
//! Name servers older than 4.9.4 (or asked by a request with `version` < 401 and no
//! `acceptStandardJsonOnly`), and every GET_BROKER_CLUSTER_INFO answer, write integer map keys bare:
//! `"brokerAddrs":{0:"10.0.0.1:10911"}`. Every `from_json` here accepts both that form and standard JSON
//! (see [`quote_bare_integer_keys`]).
//!
//! ```
//! use rmq_protocol::route::TopicRouteData;
//!
//! let json = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},
//!     "brokerName":"broker-a","cluster":"C"}],
//!     "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"writeQueueNums":4}]}"#;
//! let route = TopicRouteData::from_json(json).unwrap();
//! assert_eq!(route.master_addr("broker-a"), Some("10.0.0.1:10911"));
//! assert_eq!(route.publish_queues("T").len(), 4);
//! ```

mod bare_keys;
mod cluster;
mod data;
pub mod perm;

pub use bare_keys::quote_bare_integer_keys;
pub use cluster::{ClusterInfo, TopicConfig, TopicFilterType, TopicList};
pub use data::{BrokerData, FoundBrokerAddr, QueueData, TopicRouteData, MASTER_ID};

use serde::de::DeserializeOwned;

use crate::error::{ProtocolError, Result};

/// Parse a name-server JSON object body in either standard or bare-integer-key form.
pub(crate) fn parse_lenient<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ProtocolError::Json("body is not a JSON object".into()));
    }
    let normalized = quote_bare_integer_keys(bytes);
    serde_json::from_slice(&normalized).map_err(|e| ProtocolError::Json(e.to_string()))
}

/// serde helper: a JSON `null` reads as the type's default.
pub(crate) fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
