//! Transport: connection actors, the connection pool, and server-initiated requests.

mod connection;
mod inbound;
mod pool;
mod read_buffer;

pub use connection::{ConnectionHandle, ConnectionOptions, ConnectionStats};
pub use inbound::{InboundRequest, InboundSink};
pub use pool::ConnectionPool;
