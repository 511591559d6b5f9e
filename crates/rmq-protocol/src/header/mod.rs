//! Typed custom headers for every request the client sends or answers, and the JSON bodies that travel
//! with them.
//!
//! Each header is a plain struct whose fields map one-to-one onto the Java bean's members; the ext key of
//! every field is the Java member name, verbatim. Field types follow the Java declaration:
//!
//! | Rust type | Java type | encode | decode when the key is absent |
//! |---|---|---|---|
//! | `String`, `i32`, `i64` | `@CFNotNull` boxed | always written | [`ProtocolError::MissingField`](crate::ProtocolError::MissingField) |
//! | `bool` | primitive `boolean` | always written | `false` (Java's default) |
//! | `Option<T>` | nullable boxed | written when `Some` | `None` |
//!
//! An unparseable number is [`ProtocolError::InvalidField`](crate::ProtocolError::InvalidField); booleans
//! are parsed like Java's `Boolean.parseBoolean` and never fail.
//!
//! ```
//! use rmq_protocol::header::PullMessageRequestHeader;
//! use rmq_protocol::CommandHeader;
//!
//! let h = PullMessageRequestHeader {
//!     consumer_group: "G".into(),
//!     topic: "T".into(),
//!     queue_id: 3,
//!     max_msg_nums: 32,
//!     sys_flag: 2,
//!     suspend_timeout_millis: 15_000,
//!     ..Default::default()
//! };
//! let ext = h.to_ext();
//! assert_eq!(ext.get("queueId"), Some("3"));
//! assert_eq!(PullMessageRequestHeader::read_from(&ext).unwrap(), h);
//! ```

mod field;
#[cfg(test)]
mod testutil;

/// Declares a header struct and its [`CommandHeader`](crate::CommandHeader) impl from a field list
/// `name: Type = "extKey"`. Fields are written in declaration order (which is the Java fast-codes order
/// where one exists).
macro_rules! ext_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty = $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::ext::CommandHeader for $name {
            #[allow(unused_variables)]
            fn write_to(&self, ext: &mut $crate::ext::ExtFields) {
                $( $crate::header::field::ExtField::put(&self.$field, $key, ext); )*
            }

            #[allow(unused_variables)]
            fn read_from(ext: &$crate::ext::ExtFields) -> $crate::error::Result<Self> {
                Ok(Self {
                    $( $field: $crate::header::field::ExtField::take(ext, stringify!($name), $key)?, )*
                })
            }
        }
    };
}

/// Adds `to_json` / `from_json` (plain serde JSON) to body types.
macro_rules! json_body {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// Serialize to the JSON body.
            pub fn to_json(&self) -> Vec<u8> {
                serde_json::to_vec(self).unwrap_or_default()
            }

            /// Parse the JSON body.
            pub fn from_json(bytes: &[u8]) -> $crate::error::Result<Self> {
                serde_json::from_slice(bytes)
                    .map_err(|e| $crate::error::ProtocolError::Json(e.to_string()))
            }
        }
    )*};
}

mod admin;
mod broker_push;
mod client;
mod consume;
mod heartbeat;
mod lenient;
mod namesrv;
mod offset;
mod pull;
mod reset_offset;
mod running_info;
mod send;
mod transaction;

pub use admin::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetTopicConfigRequestHeader,
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
pub use broker_push::{
    ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader,
    GetConsumerStatusRequestHeader, NotifyConsumerIdsChangedRequestHeader, ResetOffsetRequestHeader,
};
pub use client::{
    CheckClientRequestBody, ConsumerListBody, GetConsumerListByGroupRequestHeader, HeartbeatRequestHeader,
    UnregisterClientRequestHeader,
};
pub use consume::{
    ConsumerSendMsgBackRequestHeader, LockBatchMqRequestHeader, LockBatchRequestBody, LockBatchResponseBody,
    UnlockBatchMqRequestHeader, UnlockBatchRequestBody,
};
pub use heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, ExpressionType, HeartbeatData, MessageModel, ProducerData,
    SubscriptionData,
};
pub use lenient::parse_fastjson;
pub use namesrv::{
    GetAllTopicListRequestHeader, GetBrokerClusterInfoRequestHeader, GetRouteInfoRequestHeader,
};
pub use offset::{
    BoundaryType, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
    SearchOffsetRequestHeader, SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
pub use pull::{PullMessageRequestHeader, PullMessageResponseHeader};
pub use reset_offset::{GetConsumerStatusBody, ResetOffsetBody};
pub use running_info::{
    CMResult, ConsumeMessageDirectlyResult, ConsumeStatus, ConsumerRunningInfo, PopProcessQueueInfo,
    ProcessQueueInfo,
};
pub use send::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
pub use transaction::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, TRANSACTION_COMMIT_TYPE,
    TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
