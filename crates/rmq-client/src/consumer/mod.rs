//! Consumers. So far: queue allocation for rebalancing (the push and pull consumers build on it).

pub mod rebalance;
