//! Offset requests: QUERY/UPDATE_CONSUMER_OFFSET (14/15), GET_MAX/MIN_OFFSET (30/31),
//! SEARCH_OFFSET_BY_TIMESTAMP (29), GET_EARLIEST_MSG_STORETIME (32).

use super::field::{ExtField, ExtScalar};
use crate::error::Result;
use crate::ext::{CommandHeader, ExtFields};

ext_header! {
    /// QUERY_CONSUMER_OFFSET (14) request.
    pub struct QueryConsumerOffsetRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
        /// Topic.
        pub topic: String = "topic",
        /// Queue id.
        pub queue_id: i32 = "queueId",
        /// 5.x: `false` disables the broker's "answer 0 for a new group" shortcut.
        pub set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// QUERY_CONSUMER_OFFSET (14) response.
    pub struct QueryConsumerOffsetResponseHeader {
        /// Committed offset (next offset to consume).
        pub offset: i64 = "offset",
    }
}

ext_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request.
    pub struct UpdateConsumerOffsetRequestHeader {
        /// Consumer group.
        pub consumer_group: String = "consumerGroup",
        /// Topic.
        pub topic: String = "topic",
        /// Queue id.
        pub queue_id: i32 = "queueId",
        /// Offset to commit (last consumed + 1).
        pub commit_offset: i64 = "commitOffset",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

/// GET_MAX_OFFSET (30) request. `committed` is a Java primitive defaulting to `true`, so it is always
/// written and reads as `true` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMaxOffsetRequestHeader {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// 5.x: only count committed messages (Java default `true`).
    pub committed: bool,
    /// 5.x `bname`.
    pub bname: Option<String>,
}

impl Default for GetMaxOffsetRequestHeader {
    fn default() -> Self {
        GetMaxOffsetRequestHeader {
            topic: String::new(),
            queue_id: 0,
            committed: true,
            bname: None,
        }
    }
}

impl CommandHeader for GetMaxOffsetRequestHeader {
    fn write_to(&self, ext: &mut ExtFields) {
        self.topic.put("topic", ext);
        self.queue_id.put("queueId", ext);
        self.committed.put("committed", ext);
        self.bname.put("bname", ext);
    }

    fn read_from(ext: &ExtFields) -> Result<Self> {
        const H: &str = "GetMaxOffsetRequestHeader";
        Ok(GetMaxOffsetRequestHeader {
            topic: ExtField::take(ext, H, "topic")?,
            queue_id: ExtField::take(ext, H, "queueId")?,
            committed: ext.optional_bool("committed").unwrap_or(true),
            bname: ExtField::take(ext, H, "bname")?,
        })
    }
}

ext_header! {
    /// GET_MAX_OFFSET (30) response.
    pub struct GetMaxOffsetResponseHeader {
        /// Next offset to be written.
        pub offset: i64 = "offset",
    }
}

ext_header! {
    /// GET_MIN_OFFSET (31) request.
    pub struct GetMinOffsetRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Queue id.
        pub queue_id: i32 = "queueId",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// GET_MIN_OFFSET (31) response.
    pub struct GetMinOffsetResponseHeader {
        /// Queue min offset.
        pub offset: i64 = "offset",
    }
}

/// Which end of a run of equal timestamps SEARCH_OFFSET_BY_TIMESTAMP returns (5.x `BoundaryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BoundaryType {
    /// `LOWER` (broker default).
    #[default]
    Lower,
    /// `UPPER`.
    Upper,
}

impl BoundaryType {
    /// The Java enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            BoundaryType::Lower => "LOWER",
            BoundaryType::Upper => "UPPER",
        }
    }
}

impl ExtScalar for BoundaryType {
    fn to_ext(&self) -> String {
        self.as_str().to_owned()
    }
    /// Case-insensitive like Java's `BoundaryType.getType`; unknown names mean `LOWER` there too.
    fn from_ext(_field: &'static str, v: &str) -> Result<Self> {
        Ok(if v.eq_ignore_ascii_case("UPPER") {
            BoundaryType::Upper
        } else {
            BoundaryType::Lower
        })
    }
}

ext_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request.
    pub struct SearchOffsetRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Queue id.
        pub queue_id: i32 = "queueId",
        /// Store timestamp to search for, ms.
        pub timestamp: i64 = "timestamp",
        /// 5.x boundary type.
        pub boundary_type: Option<BoundaryType> = "boundaryType",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) response.
    pub struct SearchOffsetResponseHeader {
        /// The queue offset found.
        pub offset: i64 = "offset",
    }
}

ext_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        /// Topic.
        pub topic: String = "topic",
        /// Queue id.
        pub queue_id: i32 = "queueId",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) response.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        /// Store time of the earliest message, ms.
        pub timestamp: i64 = "timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::testutil::{assert_missing as missing, round_trip};

    #[test]
    fn query_and_update() {
        let ext = round_trip(QueryConsumerOffsetRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 3,
            set_zero_if_not_found: Some(false),
            bname: Some("b".into()),
        });
        assert_eq!(ext.get("setZeroIfNotFound"), Some("false"));
        missing::<QueryConsumerOffsetRequestHeader>(&ext, "queueId");
        let ext = round_trip(UpdateConsumerOffsetRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 3,
            commit_offset: 42,
            bname: None,
        });
        assert_eq!(ext.get("commitOffset"), Some("42"));
        missing::<UpdateConsumerOffsetRequestHeader>(&ext, "commitOffset");
        let ext = round_trip(QueryConsumerOffsetResponseHeader { offset: -1 });
        missing::<QueryConsumerOffsetResponseHeader>(&ext, "offset");
    }

    #[test]
    fn max_offset_committed_is_primitive_true() {
        let h = GetMaxOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 1,
            ..Default::default()
        };
        let ext = round_trip(h.clone());
        assert_eq!(ext.get("committed"), Some("true"));
        let mut e = ext.clone();
        e.remove("committed");
        assert!(GetMaxOffsetRequestHeader::read_from(&e).unwrap().committed);
        missing::<GetMaxOffsetRequestHeader>(&ext, "topic");
        round_trip(GetMaxOffsetRequestHeader {
            committed: false,
            bname: Some("b".into()),
            ..h
        });
        round_trip(GetMaxOffsetResponseHeader { offset: 9 });
    }

    #[test]
    fn min_search_earliest() {
        let ext = round_trip(GetMinOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 0,
            bname: None,
        });
        missing::<GetMinOffsetRequestHeader>(&ext, "queueId");
        round_trip(GetMinOffsetResponseHeader { offset: 0 });
        let ext = round_trip(SearchOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 0,
            timestamp: 1_700_000_000_000,
            boundary_type: Some(BoundaryType::Upper),
            bname: Some("b".into()),
        });
        assert_eq!(ext.get("boundaryType"), Some("UPPER"));
        missing::<SearchOffsetRequestHeader>(&ext, "timestamp");
        let mut e = ext.clone();
        e.insert("boundaryType", "upper");
        assert_eq!(
            SearchOffsetRequestHeader::read_from(&e).unwrap().boundary_type,
            Some(BoundaryType::Upper)
        );
        round_trip(SearchOffsetResponseHeader { offset: 5 });
        let ext = round_trip(GetEarliestMsgStoretimeRequestHeader {
            topic: "T".into(),
            queue_id: 2,
            bname: None,
        });
        missing::<GetEarliestMsgStoretimeRequestHeader>(&ext, "topic");
        let ext = round_trip(GetEarliestMsgStoretimeResponseHeader { timestamp: 7 });
        missing::<GetEarliestMsgStoretimeResponseHeader>(&ext, "timestamp");
    }
}
