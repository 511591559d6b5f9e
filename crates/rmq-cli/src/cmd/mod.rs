//! The commands other than `quickstart` and `bench`.

pub(crate) mod cluster;
pub(crate) mod consume;
pub(crate) mod dev;
pub(crate) mod group;
pub(crate) mod message;
pub(crate) mod send;
pub(crate) mod topic;
