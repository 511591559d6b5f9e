//! Name-server requests: GET_ROUTEINFO_BY_TOPIC (105), GET_BROKER_CLUSTER_INFO (106),
//! GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206). Their bodies live in [`crate::route`].

ext_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request.
    pub struct GetRouteInfoRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// 4.9.4+: ask for strict JSON (quoted integer keys) regardless of the request version.
        pub accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

ext_header! {
    /// GET_BROKER_CLUSTER_INFO (106) request: no fields.
    pub struct GetBrokerClusterInfoRequestHeader {}
}

ext_header! {
    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) request: no fields.
    pub struct GetAllTopicListRequestHeader {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::testutil::{assert_missing, round_trip};

    #[test]
    fn route_request() {
        let ext = round_trip(GetRouteInfoRequestHeader {
            topic: "T".into(),
            accept_standard_json_only: Some(true),
        });
        assert_eq!(ext.get("acceptStandardJsonOnly"), Some("true"));
        assert_missing::<GetRouteInfoRequestHeader>(&ext, "topic");
        assert!(round_trip(GetBrokerClusterInfoRequestHeader {}).is_empty());
        assert!(round_trip(GetAllTopicListRequestHeader {}).is_empty());
    }
}
