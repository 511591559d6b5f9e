//! Request, response and language codes as newtypes.
//!
//! Codes are plain integers on the wire. They are modelled as newtypes with named constants rather than
//! enums so that a code this crate does not know survives a decode/encode round trip unchanged.

use std::fmt;

macro_rules! code_newtype {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $cname:ident = $value:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: $name = $name($value); )*

            /// The constant's name, if this code is one this crate knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($cname)), )*
                    _ => None,
                }
            }

            /// The code for a constant name, e.g. `"SUCCESS"`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( stringify!($cname) => Some($name($value)), )*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({})", n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{} ({})", n, self.0),
                    None => write!(f, "{}", self.0),
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self { $name(v) }
        }
    };
}

code_newtype! {
    /// A request code (`RequestCode.java`).
    RequestCode(i32) {
        /// Send with long-name header.
        SEND_MESSAGE = 10,
        /// Pull messages.
        PULL_MESSAGE = 11,
        /// Query messages by key.
        QUERY_MESSAGE = 12,
        /// Query a consumer group's offset.
        QUERY_CONSUMER_OFFSET = 14,
        /// Update a consumer group's offset.
        UPDATE_CONSUMER_OFFSET = 15,
        /// Create or update a topic on a broker.
        UPDATE_AND_CREATE_TOPIC = 17,
        /// Create or update a list of topics.
        UPDATE_AND_CREATE_TOPIC_LIST = 18,
        /// Read all topic configs of a broker.
        GET_ALL_TOPIC_CONFIG = 21,
        /// Broker runtime info.
        GET_BROKER_RUNTIME_INFO = 28,
        /// Queue offset for a timestamp.
        SEARCH_OFFSET_BY_TIMESTAMP = 29,
        /// Max offset of a queue.
        GET_MAX_OFFSET = 30,
        /// Min offset of a queue.
        GET_MIN_OFFSET = 31,
        /// Earliest store time of a queue.
        GET_EARLIEST_MSG_STORETIME = 32,
        /// Read one message by commit-log offset.
        VIEW_MESSAGE_BY_ID = 33,
        /// Register producer/consumer groups.
        HEART_BEAT = 34,
        /// Unregister a client.
        UNREGISTER_CLIENT = 35,
        /// Send a failed message back for retry.
        CONSUMER_SEND_MSG_BACK = 36,
        /// Commit or roll back a half message.
        END_TRANSACTION = 37,
        /// Client ids of a consumer group.
        GET_CONSUMER_LIST_BY_GROUP = 38,
        /// Broker asks a producer for a transaction's state.
        CHECK_TRANSACTION_STATE = 39,
        /// Broker tells consumers that group membership changed.
        NOTIFY_CONSUMER_IDS_CHANGED = 40,
        /// Lock queues for orderly consumption.
        LOCK_BATCH_MQ = 41,
        /// Unlock queues.
        UNLOCK_BATCH_MQ = 42,
        /// Ask a broker whether it accepts a subscription (SQL92 filters need `enablePropertyFilter`).
        CHECK_CLIENT_CONFIG = 46,
        /// Topic route from the name server.
        GET_ROUTEINFO_BY_TOPIC = 105,
        /// Cluster/broker table from the name server.
        GET_BROKER_CLUSTER_INFO = 106,
        /// Create or update a subscription group.
        UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200,
        /// Consumer connection list (admin).
        GET_CONSUMER_CONNECTION_LIST = 203,
        /// Delete a topic on a broker.
        DELETE_TOPIC_IN_BROKER = 215,
        /// Delete a topic on the name server.
        DELETE_TOPIC_IN_NAMESRV = 216,
        /// All topics known to the name server.
        GET_ALL_TOPIC_LIST_FROM_NAMESERVER = 206,
        /// Reset offsets (admin → broker).
        INVOKE_BROKER_TO_RESET_OFFSET = 222,
        /// Broker tells a consumer to reset its offsets.
        RESET_CONSUMER_CLIENT_OFFSET = 220,
        /// Deprecated consumer status query.
        GET_CONSUMER_STATUS_FROM_CLIENT = 221,
        /// Consumer runtime diagnostics.
        GET_CONSUMER_RUNNING_INFO = 307,
        /// Consume one message for diagnosis.
        CONSUME_MESSAGE_DIRECTLY = 309,
        /// Send with short-name header.
        SEND_MESSAGE_V2 = 310,
        /// Send a batch.
        SEND_BATCH_MESSAGE = 320,
        /// Request-reply: send the reply.
        SEND_REPLY_MESSAGE = 324,
        /// Request-reply: send the reply (short header).
        SEND_REPLY_MESSAGE_V2 = 325,
        /// Request-reply: broker pushes the reply to the requester.
        PUSH_REPLY_MESSAGE_TO_CLIENT = 326,
        /// Read a topic's config (5.x).
        GET_TOPIC_CONFIG = 351,
        /// Lite pull.
        LITE_PULL_MESSAGE = 361,
    }
}

code_newtype! {
    /// A response code (`ResponseCode.java`, `RemotingSysResponseCode.java`).
    ResponseCode(i32) {
        /// Success.
        SUCCESS = 0,
        /// Generic failure.
        SYSTEM_ERROR = 1,
        /// Flow control / overloaded.
        SYSTEM_BUSY = 2,
        /// Unknown request code.
        REQUEST_CODE_NOT_SUPPORTED = 3,
        /// Transaction failed.
        TRANSACTION_FAILED = 4,
        /// Stored, disk flush not confirmed.
        FLUSH_DISK_TIMEOUT = 10,
        /// Stored on master, no slave.
        SLAVE_NOT_AVAILABLE = 11,
        /// Stored, slave sync timed out.
        FLUSH_SLAVE_TIMEOUT = 12,
        /// Message rejected as illegal.
        MESSAGE_ILLEGAL = 13,
        /// Service not available.
        SERVICE_NOT_AVAILABLE = 14,
        /// Version not supported.
        VERSION_NOT_SUPPORTED = 15,
        /// No permission.
        NO_PERMISSION = 16,
        /// Topic does not exist.
        TOPIC_NOT_EXIST = 17,
        /// Topic exists already.
        TOPIC_EXIST_ALREADY = 18,
        /// Pull: no new message.
        PULL_NOT_FOUND = 19,
        /// Pull: retry immediately.
        PULL_RETRY_IMMEDIATELY = 20,
        /// Pull: offset moved.
        PULL_OFFSET_MOVED = 21,
        /// Query: not found.
        QUERY_NOT_FOUND = 22,
        /// Subscription expression could not be parsed.
        SUBSCRIPTION_PARSE_FAILED = 23,
        /// Subscription not registered.
        SUBSCRIPTION_NOT_EXIST = 24,
        /// Subscription version newer than registered.
        SUBSCRIPTION_NOT_LATEST = 25,
        /// Subscription group does not exist.
        SUBSCRIPTION_GROUP_NOT_EXIST = 26,
        /// SQL92 filter data missing.
        FILTER_DATA_NOT_EXIST = 27,
        /// SQL92 filter data outdated.
        FILTER_DATA_NOT_LATEST = 28,
        /// Invalid parameter.
        INVALID_PARAMETER = 29,
        /// Legacy transaction commit.
        TRANSACTION_SHOULD_COMMIT = 200,
        /// Legacy transaction rollback.
        TRANSACTION_SHOULD_ROLLBACK = 201,
        /// Legacy transaction unknown.
        TRANSACTION_STATE_UNKNOW = 202,
        /// Wrong transaction group.
        TRANSACTION_STATE_GROUP_WRONG = 203,
        /// Legacy buyer id.
        NO_BUYER_ID = 204,
        /// Not in current unit.
        NOT_IN_CURRENT_UNIT = 205,
        /// Consumer not online.
        CONSUMER_NOT_ONLINE = 206,
        /// Consume message timed out.
        CONSUME_MSG_TIMEOUT = 207,
        /// No message.
        NO_MESSAGE = 208,
        /// Pop polling full.
        POLLING_FULL = 209,
        /// Pop polling timeout.
        POLLING_TIMEOUT = 210,
        /// Broker does not exist.
        BROKER_NOT_EXIST = 211,
        /// Dispatch not complete.
        BROKER_DISPATCH_NOT_COMPLETE = 212,
        /// Broadcast consumption.
        BROADCAST_CONSUMPTION = 213,
        /// Flow control.
        FLOW_CONTROL = 215,
        /// Not leader for queue.
        NOT_LEADER_FOR_QUEUE = 501,
        /// Illegal operation.
        ILLEGAL_OPERATION = 604,
        /// Server is shutting down gracefully.
        GO_AWAY = 1500,
    }
}

code_newtype! {
    /// The `language` of a command's sender (`LanguageCode.java`).
    LanguageCode(u8) {
        /// Java.
        JAVA = 0,
        /// C++.
        CPP = 1,
        /// .NET.
        DOTNET = 2,
        /// Python.
        PYTHON = 3,
        /// Delphi.
        DELPHI = 4,
        /// Erlang.
        ERLANG = 5,
        /// Ruby.
        RUBY = 6,
        /// Other.
        OTHER = 7,
        /// HTTP.
        HTTP = 8,
        /// Go.
        GO = 9,
        /// PHP.
        PHP = 10,
        /// OMS.
        OMS = 11,
        /// Rust (brokers ≥ 4.9.4).
        RUST = 12,
        /// Node.js (brokers ≥ 5.3.2).
        NODE_JS = 13,
    }
}

impl ResponseCode {
    /// Whether a producer should retry a send that got this code on another broker
    /// (the Java client's `retryResponseCodes`).
    pub fn is_send_retryable(self) -> bool {
        matches!(self.0, 17 | 14 | 1 | 2 | 16 | 204 | 205 | 1500)
    }
}

/// The `version` this client announces: the ordinal of `MQVersion.Version.V5_3_3` in the Java client.
///
/// It must be ≥ 401 for strict-JSON routes, ≥ 121 so `maxReconsumeTimes` is honoured, and ≥ 62 so admin
/// tools can query the consumer.
pub const CLIENT_VERSION: i16 = 479;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_keep_their_value() {
        let c = RequestCode(12345);
        assert_eq!(c.name(), None);
        assert_eq!(format!("{c:?}"), "RequestCode(12345)");
        assert_eq!(RequestCode::from_name("PULL_MESSAGE"), Some(RequestCode(11)));
        assert_eq!(ResponseCode::TOPIC_NOT_EXIST.name(), Some("TOPIC_NOT_EXIST"));
        assert_eq!(LanguageCode::from_name("RUST"), Some(LanguageCode(12)));
    }
}
