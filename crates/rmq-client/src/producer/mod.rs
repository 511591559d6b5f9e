//! The producer: send, send to a queue or through a selector, oneway, callback-style, batches.

mod fault;
mod options;
#[allow(clippy::module_inception)]
mod producer;
mod request_reply;
mod result;
mod selector;
mod send;
mod transaction;
mod validate;

pub use options::{ProducerBuilder, ProducerOptions};
pub use producer::Producer;
pub use request_reply::reply_topic;
pub use result::{SendResult, SendStatus};
pub use selector::{java_hash_index, QueueSelector, SelectByHash, SelectRandom, SelectRoundRobin};
pub use transaction::{
    LocalTransactionState, TransactionListener, TransactionProducer, TransactionSendResult,
};
