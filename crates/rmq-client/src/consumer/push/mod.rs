//! The push consumers in clustering mode: rebalance, one pull task per assigned queue, a bounded pool of
//! listener calls, offsets committed to the brokers. [`ConcurrentConsumer`] calls its listener on many
//! messages of a queue at once and sends failures back for retry; [`OrderlyConsumer`] holds the
//! broker's lock of each queue it consumes and calls its listener one batch at a time, in order.

mod broker_requests;
mod check_client;
#[allow(clippy::module_inception)]
mod consumer;
mod listener_pool;
mod listeners;
mod lite_pull;
mod lock;
mod orderly;
mod orderly_task;
mod prefetch;
mod puller;
mod queue_task;
mod rebalance;

pub use consumer::{ConcurrentConsumer, ConsumerBuilder};
pub use lite_pull::{LitePullConsumer, LitePullConsumerBuilder, MessageStream};
pub use orderly::{OrderlyConsumer, OrderlyConsumerBuilder};
