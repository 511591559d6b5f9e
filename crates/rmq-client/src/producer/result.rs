//! What a send returns.

use rmq_protocol::message::MessageQueue;

/// How the broker stored a message. Anything other than [`SendStatus::SendOk`] means the message *was*
/// stored but a durability guarantee could not be confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendStatus {
    /// Stored (and flushed/replicated as the broker is configured to require).
    SendOk,
    /// Stored; the synchronous disk flush did not finish in time.
    FlushDiskTimeout,
    /// Stored; the synchronous replication to the slave did not finish in time.
    FlushSlaveTimeout,
    /// Stored on the master; no slave was available for synchronous replication.
    SlaveNotAvailable,
}

/// The outcome of a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How the broker stored the message: `SendOk`, or stored without a successful flush or
    /// replication (see [`SendStatus`]).
    pub status: SendStatus,
    /// The message id users see (`UNIQ_KEY`); for a batch, the ids of its messages joined by `,`.
    pub msg_id: String,
    /// The broker's id of the stored message (store host + commit-log offset); for a batch, a `,`-joined
    /// list.
    pub offset_msg_id: String,
    /// The queue the message was written to.
    pub queue: MessageQueue,
    /// Its offset in that queue (for a batch: the first message's).
    pub queue_offset: i64,
    /// Transaction id, for transactional sends.
    pub transaction_id: Option<String>,
    /// The broker's region id.
    pub region_id: Option<String>,
}
