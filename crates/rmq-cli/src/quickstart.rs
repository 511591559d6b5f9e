//! `rmq quickstart`: a local cluster, messages produced and consumed back, with visible progress.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::producer::Producer;
use rmq_client::ClientConfig;
use rmq_protocol::message::Message;
use rmq_testkit::{Cluster, ClusterOptions};

/// Options of `rmq quickstart`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many messages to produce and consume.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    messages: u64,
    /// Body size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    size: usize,
    /// Concurrent senders.
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: u64,
    /// Queues per broker for the quickstart topic.
    #[arg(long, default_value_t = 8)]
    queues: i32,
}

fn progress(label: &str, done: u64, total: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let width = 30;
    let filled = (done * width / total.max(1)) as usize;
    print!(
        "\r  {label:<9} [{}{}] {done:>7}/{total} {:>9.0} msg/s",
        "#".repeat(filled),
        " ".repeat(width as usize - filled),
        done as f64 / secs
    );
    let _ = std::io::stdout().flush();
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    println!(
        "rmq quickstart: a local Apache RocketMQ, {} messages of {} bytes through it and back",
        args.messages, args.size
    );
    println!("• starting NameServer + broker-a + broker-b (Apache RocketMQ from Maven Central; first run downloads it)…");
    let t = Instant::now();
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(ClusterOptions::default()))
        .await?
        .context("starting the local cluster")?;
    let ns = cluster.namesrv_addr();
    println!(
        "  up in {:.1}s: name server {ns}, brokers {}",
        t.elapsed().as_secs_f64(),
        cluster
            .brokers()
            .iter()
            .map(|b| format!("{}@{}", b.name, b.addr))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let admin = Admin::connect(ClientConfig::new(&ns))?;
    let topic = format!("quickstart_{}", std::process::id());
    admin
        .create_topic_in_cluster(cluster.cluster_name(), &TopicSpec::new(&topic, args.queues))
        .await?;
    let route = admin.topic_route(&topic).await?;
    println!(
        "• topic {topic}: {} queues on {} brokers",
        route.publish_queues.len(),
        route.data.broker_datas.len()
    );

    let producer = Producer::builder("quickstart_producer")
        .name_server(&ns)
        .start()
        .await?;
    println!("• producing with {} concurrent senders…", args.concurrency);
    let sent = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (p, sent, next, topic, n, size) = (
            producer.clone(),
            sent.clone(),
            next.clone(),
            topic.clone(),
            args.messages,
            args.size,
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let mut body = format!("quickstart message {i:>10} ").into_bytes();
                body.resize(size.max(body.len()), b'.');
                let msg = Message::new(&topic, body).with_tags("quickstart");
                let t = Instant::now();
                p.send(msg).await?;
                latencies.push(t.elapsed());
                sent.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(latencies)
        }));
    }
    let ticker = {
        let sent = sent.clone();
        let total = args.messages;
        tokio::spawn(async move {
            loop {
                progress("produced", sent.load(Ordering::Relaxed), total, started);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    ticker.abort();
    let produce_time = started.elapsed();
    progress("produced", sent.load(Ordering::Relaxed), args.messages, started);
    println!();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };

    println!("• consuming every queue back from offset 0…");
    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut last_tick = Instant::now();
    for mq in &route.subscribe_queues {
        let mut offset = 0;
        loop {
            let (msgs, next) = admin.read_queue("quickstart_reader", mq, offset, 32).await?;
            if msgs.is_empty() && next == offset {
                break;
            }
            for m in msgs {
                if !m.body.starts_with(b"quickstart message") || m.tags() != Some("quickstart") {
                    bail!("unexpected message {} in {mq}", m.msg_id());
                }
                seen.insert(m.body.slice(0..30));
            }
            offset = next;
            if last_tick.elapsed() > Duration::from_millis(200) {
                progress("consumed", seen.len() as u64, args.messages, started);
                last_tick = Instant::now();
            }
        }
    }
    progress("consumed", seen.len() as u64, args.messages, started);
    println!();
    producer.shutdown().await;

    println!("• summary");
    println!(
        "  produced {} in {:.2}s = {:.0} msg/s (send latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms)",
        args.messages,
        produce_time.as_secs_f64(),
        args.messages as f64 / produce_time.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  consumed {} distinct messages in {:.2}s",
        seen.len(),
        started.elapsed().as_secs_f64()
    );
    if seen.len() as u64 != args.messages {
        bail!("consumed {} of {} messages", seen.len(), args.messages);
    }
    println!("  every message came back intact. Stopping the cluster.");
    drop(cluster);
    Ok(())
}
