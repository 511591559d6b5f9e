//! Resolves the runtime, starts a cluster and prints how long that took and how much memory
//! each JVM uses: `cargo run -p rmq-testkit --example cluster_stats [brokers]`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use rmq_testkit::{Cluster, ClusterOptions, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let brokers = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2);

    let started = Instant::now();
    let runtime = Runtime::resolve()?;
    println!(
        "runtime: {:?} in {:?} ({})",
        runtime.source(),
        started.elapsed(),
        runtime.lib_dir().display()
    );

    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions {
        brokers,
        ..Default::default()
    })?;
    println!(
        "cluster ({brokers} brokers) ready in {:?}, name server {}",
        started.elapsed(),
        cluster.namesrv_addr()
    );
    for stats in cluster.process_stats() {
        let rss = stats
            .rss_kib
            .map_or("?".to_string(), |kib| format!("{} MiB", kib / 1024));
        println!("  {:<10} pid {:<8} rss {rss}", stats.name, stats.pid);
    }

    let started = Instant::now();
    if let Some(broker) = cluster.brokers().first() {
        let name = broker.name.clone();
        cluster.kill_broker(&name)?;
        cluster.restart_broker(&name)?;
        println!("{name} killed and restarted in {:?}", started.elapsed());
    }
    Ok(())
}
