//! Parse arbitrary bytes as the name server's route and cluster-info JSON (including fastjson's
//! non-standard integer keys); never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_protocol::route::{ClusterInfo, TopicRouteData};

fuzz_target!(|data: &[u8]| {
    let _ = TopicRouteData::from_json(data);
    let _ = ClusterInfo::from_json(data);
});
