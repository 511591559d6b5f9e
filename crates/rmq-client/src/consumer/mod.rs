//! Consumers: settings, subscriptions, listeners, the per-queue message cache, and queue allocation for
//! rebalancing (the push and pull consumers build on these).

pub mod config;
pub mod listener;
mod local_offsets;
mod offset_store;
pub mod process_queue;
pub mod push;
pub mod rebalance;
pub mod selector;
pub mod stats;

pub use config::{ConsumeFromWhere, ConsumerConfig, MessageModel};
pub use listener::{
    AsyncMessageListener, AsyncOrderlyMessageListener, ConsumeContext, ConsumeOrderlyContext,
    ConsumeOrderlyResult, ConsumeResult, MessageListener, OrderlyMessageListener,
};
pub use process_queue::ProcessQueue;
pub use push::{
    ConcurrentConsumer, ConsumerBuilder, LitePullConsumer, LitePullConsumerBuilder, MessageStream,
    OrderlyConsumer, OrderlyConsumerBuilder,
};
pub use selector::{ExpressionType, MessageSelector, Subscriptions};
pub use stats::{ConsumerStats, OffsetStoreMetrics, QueueStats, TopicStats};
