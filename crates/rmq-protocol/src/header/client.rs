//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38), CHECK_CLIENT_CONFIG (46).
//! The heartbeat body lives in [`HeartbeatData`](super::HeartbeatData).

use serde::{Deserialize, Serialize};

use super::SubscriptionData;

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

/// CHECK_CLIENT_CONFIG (46) request body (`CheckClientRequestBody`); the request has no header fields.
///
/// A consumer sends one per non-TAG subscription before its first heartbeat. The broker answers
/// SUCCESS for a TAG subscription or an SQL92 expression it compiles; `SYSTEM_ERROR` (1) with
/// "The broker does not support consumer to filter message by SQL92" when `enablePropertyFilter` is
/// off; `SUBSCRIPTION_PARSE_FAILED` (23) with the parser's message when the expression is invalid.
///
/// ```
/// use rmq_protocol::header::{CheckClientRequestBody, ExpressionType, SubscriptionData};
///
/// let sub = SubscriptionData::from_expression("orders", "price > 100", ExpressionType::Sql92)?;
/// let body = CheckClientRequestBody {
///     client_id: "10.0.0.5@4242".into(),
///     group: "G".into(),
///     namespace: None,
///     subscription_data: Some(sub),
/// };
/// let json = String::from_utf8(body.to_json()).unwrap();
/// assert!(json.starts_with(r#"{"clientId":"10.0.0.5@4242","group":"G","subscriptionData":{"#));
/// assert_eq!(CheckClientRequestBody::from_json(json.as_bytes())?, body);
/// # Ok::<(), rmq_protocol::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckClientRequestBody {
    /// `clientId`: the consumer's client id.
    #[serde(rename = "clientId", default)]
    pub client_id: String,
    /// `group`: the consumer group (with its namespace, if any).
    #[serde(rename = "group", default)]
    pub group: String,
    /// `namespace` (5.x; the Java client does not set it).
    #[serde(rename = "namespace", default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `subscriptionData`: the subscription to check; the broker answers SUCCESS when absent.
    #[serde(rename = "subscriptionData", default, skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
}

json_body!(CheckClientRequestBody);

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
    fn check_client_body() {
        // The shape fastjson gives the Java bean: keys sorted, the null namespace left out.
        let java = br#"{"clientId":"127.0.0.1@9527#1","group":"G","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 1","subVersion":1700000000000,"tagsSet":[],"topic":"T"}}"#;
        let b = CheckClientRequestBody::from_json(java).unwrap();
        assert_eq!(b.client_id, "127.0.0.1@9527#1");
        assert_eq!(b.group, "G");
        assert_eq!(b.namespace, None);
        let sub = b.subscription_data.as_ref().unwrap();
        assert_eq!(sub.expression_type, crate::header::ExpressionType::Sql92);
        assert_eq!(sub.sub_string, "a > 1");
        assert_eq!(b.to_json(), java);
        let empty = CheckClientRequestBody::from_json(b"{}").unwrap();
        assert_eq!(empty, CheckClientRequestBody::default());
        assert_eq!(empty.to_json(), br#"{"clientId":"","group":""}"#);
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
