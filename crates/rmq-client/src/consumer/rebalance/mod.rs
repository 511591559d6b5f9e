//! Rebalancing: which consumer of a group reads which queues.

pub mod allocate;
