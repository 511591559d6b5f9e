//! System flag bits: the message `sysFlag` (stored with every message) and the pull request `sysFlag`.
//!
//! Values are those of Java's `MessageSysFlag` and `PullSysFlag`. Flags are `i32` because that is how
//! they travel (a signed 32-bit field in the stored layout, a decimal string in request headers).

/// The body is compressed; the algorithm is in the [`COMPRESSION_TYPE_MASK`] bits.
pub const COMPRESSED: i32 = 0x1;
/// Set by the broker when the topic's filter type is `MULTI_TAG`.
pub const MULTI_TAGS: i32 = 0x2;
/// Transaction bits (`0xC` mask): not a transactional message.
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// Transaction bits: a half (prepared) message.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;
/// Transaction bits: commit (used by `END_TRANSACTION`).
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
/// Transaction bits: rollback (used by `END_TRANSACTION`); also the mask of the transaction bits.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;
/// The born host is IPv6 (16 address bytes in the stored layout).
pub const BORNHOST_V6: i32 = 0x1 << 4;
/// The store host is IPv6 (16 address bytes in the stored layout).
pub const STOREHOST_V6: i32 = 0x1 << 5;
/// 5.x inner batch: the stored entry must be unwrapped into its inner messages.
pub const NEED_UNWRAP: i32 = 0x1 << 6;
/// 5.x inner batch: the stored entry is a whole batch.
pub const INNER_BATCH: i32 = 0x1 << 7;
/// Compression type bits: LZ4 (frame format).
pub const COMPRESSION_LZ4: i32 = 0x1 << 8;
/// Compression type bits: ZSTD.
pub const COMPRESSION_ZSTD: i32 = 0x2 << 8;
/// Compression type bits: ZLIB. A value of 0 also means ZLIB (messages from clients before 4.9.4).
pub const COMPRESSION_ZLIB: i32 = 0x3 << 8;
/// Mask of the compression type bits (8..=10).
pub const COMPRESSION_TYPE_MASK: i32 = 0x7 << 8;

/// The transaction bits of `flag` (one of the `TRANSACTION_*_TYPE` values).
pub fn transaction_value(flag: i32) -> i32 {
    flag & TRANSACTION_ROLLBACK_TYPE
}

/// `flag` with its transaction bits replaced by `ty`.
pub fn reset_transaction_value(flag: i32, ty: i32) -> i32 {
    (flag & !TRANSACTION_ROLLBACK_TYPE) | ty
}

/// `flag` without [`COMPRESSED`].
pub fn clear_compressed(flag: i32) -> i32 {
    flag & !COMPRESSED
}

/// Whether any bit of `expected` is set in `flag` (Java `MessageSysFlag.check`).
pub fn check(flag: i32, expected: i32) -> bool {
    flag & expected != 0
}

/// Pull request `sysFlag` bits (Java `PullSysFlag`).
pub mod pull {
    /// Commit the consumer offset carried in the request (cleared when pulling from a slave).
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling: the broker may hold the request until messages arrive.
    pub const SUSPEND: i32 = 0x1 << 1;
    /// The request carries a subscription expression.
    pub const SUBSCRIPTION: i32 = 0x1 << 2;
    /// Class filter mode (legacy).
    pub const CLASS_FILTER: i32 = 0x1 << 3;
    /// The request comes from a lite pull consumer.
    pub const LITE_PULL: i32 = 0x1 << 4;

    /// Build a pull `sysFlag` from its parts (Java `PullSysFlag.buildSysFlag`).
    pub fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        let mut flag = 0;
        if commit_offset {
            flag |= COMMIT_OFFSET;
        }
        if suspend {
            flag |= SUSPEND;
        }
        if subscription {
            flag |= SUBSCRIPTION;
        }
        if class_filter {
            flag |= CLASS_FILTER;
        }
        if lite_pull {
            flag |= LITE_PULL;
        }
        flag
    }

    /// `flag` without [`COMMIT_OFFSET`] (used when pulling from a slave).
    pub fn clear_commit_offset(flag: i32) -> i32 {
        flag & !COMMIT_OFFSET
    }

    /// Whether [`COMMIT_OFFSET`] is set.
    pub fn has_commit_offset(flag: i32) -> bool {
        flag & COMMIT_OFFSET != 0
    }

    /// Whether [`SUSPEND`] is set.
    pub fn has_suspend(flag: i32) -> bool {
        flag & SUSPEND != 0
    }

    /// Whether [`SUBSCRIPTION`] is set.
    pub fn has_subscription(flag: i32) -> bool {
        flag & SUBSCRIPTION != 0
    }

    /// Whether [`CLASS_FILTER`] is set.
    pub fn has_class_filter(flag: i32) -> bool {
        flag & CLASS_FILTER != 0
    }

    /// Whether [`LITE_PULL`] is set.
    pub fn has_lite_pull(flag: i32) -> bool {
        flag & LITE_PULL != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_flag_values_match_java() {
        assert_eq!(
            [
                COMPRESSED,
                MULTI_TAGS,
                TRANSACTION_PREPARED_TYPE,
                TRANSACTION_COMMIT_TYPE,
                TRANSACTION_ROLLBACK_TYPE
            ],
            [0x1, 0x2, 0x4, 0x8, 0xC]
        );
        assert_eq!(
            [BORNHOST_V6, STOREHOST_V6, NEED_UNWRAP, INNER_BATCH],
            [0x10, 0x20, 0x40, 0x80]
        );
        assert_eq!(
            [
                COMPRESSION_LZ4,
                COMPRESSION_ZSTD,
                COMPRESSION_ZLIB,
                COMPRESSION_TYPE_MASK
            ],
            [0x100, 0x200, 0x300, 0x700]
        );
    }

    #[test]
    fn transaction_bits() {
        let flag = COMPRESSED | TRANSACTION_PREPARED_TYPE | BORNHOST_V6;
        assert_eq!(transaction_value(flag), TRANSACTION_PREPARED_TYPE);
        let committed = reset_transaction_value(flag, TRANSACTION_COMMIT_TYPE);
        assert_eq!(committed, COMPRESSED | TRANSACTION_COMMIT_TYPE | BORNHOST_V6);
        assert_eq!(
            reset_transaction_value(committed, TRANSACTION_NOT_TYPE),
            COMPRESSED | BORNHOST_V6
        );
        assert_eq!(clear_compressed(flag), TRANSACTION_PREPARED_TYPE | BORNHOST_V6);
        assert!(check(flag, BORNHOST_V6 | STOREHOST_V6));
        assert!(!check(flag, STOREHOST_V6));
    }

    #[test]
    fn pull_flags_match_java() {
        assert_eq!(pull::build(true, true, true, false, false), 0x7);
        assert_eq!(pull::build(false, false, false, true, true), 0x18);
        assert_eq!(pull::build(true, true, true, true, true), 0x1F);
        assert_eq!(pull::clear_commit_offset(0x7), 0x6);
        let f = pull::build(true, false, true, false, true);
        assert!(pull::has_commit_offset(f) && pull::has_subscription(f) && pull::has_lite_pull(f));
        assert!(!pull::has_suspend(f) && !pull::has_class_filter(f));
    }
}
