//! The push consumer in clustering mode: rebalance, one pull task per assigned queue, a bounded pool of
//! listener calls, failed messages sent back for retry, offsets committed to the brokers.

mod broker_requests;
#[allow(clippy::module_inception)]
mod consumer;
mod queue_task;
mod rebalance;

pub use consumer::{ConcurrentConsumer, ConsumerBuilder};
