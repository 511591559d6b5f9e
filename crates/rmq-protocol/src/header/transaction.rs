//! END_TRANSACTION (37, client → broker, oneway) and CHECK_TRANSACTION_STATE (39, broker → client).

/// `commitOrRollback` value: not decided yet (UNKNOW); the broker will check back.
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// `commitOrRollback` value: commit.
pub const TRANSACTION_COMMIT_TYPE: i32 = 8;
/// `commitOrRollback` value: rollback.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 12;

ext_header! {
    /// END_TRANSACTION (37) request: commit or roll back a half message. The local exception text, if
    /// any, goes in the command's remark.
    pub struct EndTransactionRequestHeader {
        /// 5.x: topic.
        pub topic: Option<String> = "topic",
        /// Producer group; must equal the half message's PGROUP.
        pub producer_group: String = "producerGroup",
        /// Half message queue offset (the send response's `queueOffset`).
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Half message commit-log offset (decoded from its offsetMsgId).
        pub commit_log_offset: i64 = "commitLogOffset",
        /// [`TRANSACTION_COMMIT_TYPE`], [`TRANSACTION_ROLLBACK_TYPE`] or [`TRANSACTION_NOT_TYPE`].
        pub commit_or_rollback: i32 = "commitOrRollback",
        /// `true` when answering a CHECK_TRANSACTION_STATE.
        pub from_transaction_check: Option<bool> = "fromTransactionCheck",
        /// The message's UNIQ_KEY.
        pub msg_id: String = "msgId",
        /// Transaction id.
        pub transaction_id: Option<String> = "transactionId",
        /// 5.x `bname`.
        pub bname: Option<String> = "bname",
    }
}

ext_header! {
    /// CHECK_TRANSACTION_STATE (39) request from the broker; the body is the half message.
    pub struct CheckTransactionStateRequestHeader {
        /// 5.x: the original topic.
        pub topic: Option<String> = "topic",
        /// Half message queue offset.
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Half message commit-log offset.
        pub commit_log_offset: i64 = "commitLogOffset",
        /// UNIQ_KEY.
        pub msg_id: Option<String> = "msgId",
        /// Transaction id (= msgId).
        pub transaction_id: Option<String> = "transactionId",
        /// offsetMsgId of the half message.
        pub offset_msg_id: Option<String> = "offsetMsgId",
        /// 5.x `bname`: broker name, to echo in the END_TRANSACTION answer.
        pub bname: Option<String> = "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::testutil::{assert_missing, round_trip};

    #[test]
    fn end_transaction() {
        let ext = round_trip(EndTransactionRequestHeader {
            topic: Some("T".into()),
            producer_group: "PG".into(),
            tran_state_table_offset: 12,
            commit_log_offset: 3456,
            commit_or_rollback: TRANSACTION_COMMIT_TYPE,
            from_transaction_check: Some(true),
            msg_id: "UNIQ".into(),
            transaction_id: Some("UNIQ".into()),
            bname: Some("b".into()),
        });
        assert_eq!(ext.get("commitOrRollback"), Some("8"));
        assert_eq!(ext.get("fromTransactionCheck"), Some("true"));
        for k in [
            "producerGroup",
            "tranStateTableOffset",
            "commitLogOffset",
            "commitOrRollback",
            "msgId",
        ] {
            assert_missing::<EndTransactionRequestHeader>(&ext, k);
        }
    }

    #[test]
    fn check_transaction_state() {
        let ext = round_trip(CheckTransactionStateRequestHeader {
            topic: Some("T".into()),
            tran_state_table_offset: 12,
            commit_log_offset: 3456,
            msg_id: Some("U".into()),
            transaction_id: Some("U".into()),
            offset_msg_id: Some("0A00".into()),
            bname: Some("b".into()),
        });
        assert_missing::<CheckTransactionStateRequestHeader>(&ext, "commitLogOffset");
        assert_missing::<CheckTransactionStateRequestHeader>(&ext, "tranStateTableOffset");
        let minimal = round_trip(CheckTransactionStateRequestHeader {
            tran_state_table_offset: 1,
            commit_log_offset: 2,
            ..Default::default()
        });
        assert_eq!(minimal.len(), 2);
    }
}
