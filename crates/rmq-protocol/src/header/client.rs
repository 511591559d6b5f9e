//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38). The heartbeat body lives in
//! [`HeartbeatData`](super::HeartbeatData).

use serde::{Deserialize, Serialize};

ext_header! {
    /// HEART_BEAT (34) request header: no own fields (the body is [`HeartbeatData`](super::HeartbeatData)).
    pub struct HeartbeatRequestHeader {}
}

ext_header! {
    /// UNREGISTER_CLIENT (35) request. Java sends one group per call.
    pub struct UnregisterClientRequestHeader {
        /// Client id.
        pub client_id: String = "clientID",
        /// Producer group being unregistered.
        pub producer_group: Option<String> = "producerGroup",
        /// Consumer group being unregistered.
        pub consumer_group: Option<String> = "consumerGroup",
    }
}

ext_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request.
    pub struct GetConsumerListByGroupRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
    }
}

/// GET_CONSUMER_LIST_BY_GROUP (38) response body: `{"consumerIdList":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerListBody {
    /// `consumerIdList`: client ids of the group's live consumers.
    #[serde(rename = "consumerIdList", default)]
    pub consumer_id_list: Vec<String>,
}

json_body!(ConsumerListBody);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::CommandHeader;
    use crate::header::testutil::{assert_missing, round_trip};

    #[test]
    fn headers() {
        assert!(round_trip(HeartbeatRequestHeader {}).is_empty());
        let ext = round_trip(UnregisterClientRequestHeader {
            client_id: "10.0.0.5@1".into(),
            producer_group: None,
            consumer_group: Some("G".into()),
        });
        assert_eq!(ext.get("clientID"), Some("10.0.0.5@1"));
        assert_eq!(ext.len(), 2);
        assert_missing::<UnregisterClientRequestHeader>(&ext, "clientID");
        let ext = round_trip(GetConsumerListByGroupRequestHeader {
            consumer_group: "G".into(),
        });
        assert_missing::<GetConsumerListByGroupRequestHeader>(&ext, "consumerGroup");
        assert_eq!(
            GetConsumerListByGroupRequestHeader::read_from(&ext)
                .unwrap()
                .consumer_group,
            "G"
        );
    }

    #[test]
    fn consumer_list_body() {
        let b = ConsumerListBody::from_json(br#"{"consumerIdList":["a@1","b@2"]}"#).unwrap();
        assert_eq!(b.consumer_id_list, ["a@1", "b@2"]);
        assert_eq!(b.to_json(), br#"{"consumerIdList":["a@1","b@2"]}"#);
        assert!(ConsumerListBody::from_json(b"{}")
            .unwrap()
            .consumer_id_list
            .is_empty());
        assert!(ConsumerListBody::from_json(b"[").is_err());
    }
}
