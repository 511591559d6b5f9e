//! The shared core of a producer or consumer: connections, routes, heartbeats, and dispatch of
//! broker-initiated requests.

mod core;
mod dispatch;
mod heartbeat;

pub(crate) use self::core::ClientCore;
