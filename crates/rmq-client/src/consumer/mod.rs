//! Consumers: settings, subscriptions, listeners, the per-queue message cache, and queue allocation for
//! rebalancing (the push and pull consumers build on these).

pub mod config;
pub mod listener;
pub mod process_queue;
pub mod rebalance;
pub mod selector;

pub use config::{ConsumeFromWhere, ConsumerConfig, MessageModel};
pub use listener::{
    AsyncMessageListener, AsyncOrderlyMessageListener, ConsumeContext, ConsumeOrderlyContext,
    ConsumeOrderlyResult, ConsumeResult, MessageListener, OrderlyMessageListener,
};
pub use process_queue::ProcessQueue;
pub use selector::{ExpressionType, MessageSelector, Subscriptions};
