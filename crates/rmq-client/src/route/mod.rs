//! Routing: the name-server client and the route table.

mod namesrv;
mod table;

pub use namesrv::NameServerClient;
pub use table::{RouteSnapshot, RouteTable, TopicRoute};
