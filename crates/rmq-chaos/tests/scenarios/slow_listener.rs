//! A slow listener over 64 queues of 1 MiB messages (`reliability-scenarios.md` S1): the consumer's
//! cache stays within the pull thresholds and the process's resident memory stays bounded and flat.
//!
//! A backlog of 1 MiB messages is stored first (the producer is shut down before measuring), then a
//! concurrent consumer with a listener that sleeps per message runs in this process while `VmRSS` is
//! read from `/proc/self/status` every second. Two variants: bodies sent uncompressed (1 MiB stored,
//! a broker answers a pull with one of them: `maxTransferBytesOnMessageInMemory` is 256 KiB, but at
//! least one message), and compressible bodies sent compressed (~1 KiB stored each, so a broker
//! answers a pull with up to `pull_batch_size` = 32 of them, 32 MiB once decompressed). Bounds, from
//! the consumer's config:
//! - cached bytes (stats, bodies counted decompressed) <= min(`pull_threshold_size_of_queue` x 64,
//!   `pull_threshold_size_for_topic`) + one pull batch (`pull_batch_size` x 1 MiB): the catalogue's
//!   criterion. The client sizes each pull to the byte room its queue has left
//!   (`Thresholds::pull_size`), so with 1 MiB messages and a 1.56 MiB share a queue caches one
//!   message (64 MiB in all, reported as `expected`);
//! - RSS <= RSS before the consumer started + that cache bound + a fixed allowance;
//! - RSS <= RSS before the consumer started + the largest cache seen + 32 MiB: cached bodies
//!   do not keep more memory than they count;
//! - flat: the median reading of the second half of the steady state is at most 5 % above the
//!   median of the first half (the maxima are reported too).
//!
//! Afterwards the listener stops sleeping and the backlog is drained: every acked message the
//! broker still stores is delivered (lost 0), unexpected 0. Messages the broker deleted (a machine
//! short of disk space; the pull answers OFFSET_MOVED) are counted apart.
//!
//! The long run (10 minutes) is ignored by default:
//! `cargo test -p rmq-chaos --test scenarios slow_listener:: -- --ignored --test-threads=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_chaos::checker::Recorder;
use rmq_chaos::rss::{self, RssSeries};
use rmq_chaos::workload::{body_of, classify, Topic};
use rmq_client::consumer::process_queue::Thresholds;
use rmq_client::consumer::{ConcurrentConsumer, ConsumeContext, ConsumeResult, MessageSelector};
use rmq_client::producer::Producer;
use rmq_client::ClientConfig;
use rmq_protocol::message::{Message, MessageExt, MessageQueue};

const QUEUES_PER_BROKER: i32 = 32;
const MESSAGE_BYTES: usize = 1 << 20;
const MIB: f64 = (1 << 20) as f64;
/// Runtime, connection buffers, the recorder and allocator slack.
const ALLOWANCE: u64 = 128 << 20;
/// Most growth of the steady state's second half over its first (medians, see `Flatness`).
const FLAT_PERCENT: f64 = 5.0;
/// Most RSS above the baseline plus the largest cache seen: the cache costs about what it counts.
/// Before each large frame got its own buffer, a cached 1 MiB body could keep up to 2 MiB of read
/// buffer allocated, and RSS ran 41–60 MiB above this (105–124 MiB over the baseline for a 64 MiB
/// cache); since, 3–10 MiB.
const CACHE_OVERHEAD: u64 = 32 << 20;

struct Plan {
    /// Send the bodies compressed (the producer's default for bodies over 4 KiB); they are
    /// compressible (one repeated byte after the id).
    compressed: bool,
    /// Listener threads (`consume_thread_min` = `consume_thread_max`).
    threads: usize,
    /// Sleep per message.
    work: Duration,
    /// How long the slow listener runs.
    duration: Duration,
    /// Readings before this count for the maximum only (the caches fill).
    warm_up: Duration,
}

impl Plan {
    /// Enough messages that every queue's cache stays full until the end: what the listener
    /// consumes in `duration` plus four messages a queue.
    fn backlog(&self, queues: usize) -> usize {
        let per_sec = self.threads as f64 / self.work.as_secs_f64();
        (per_sec * self.duration.as_secs_f64()).ceil() as usize + 4 * queues
    }
}

async fn run(name: &str, plan: Plan) {
    // One scenario at a time: RSS is the whole process's.
    let _one = rmq_chaos::harness::exclusive().await;
    // Client warnings (failed pulls, stuck queues) on the test's output; RUST_LOG for more.
    crate::support::init_warn_logs();
    let topic = Topic::create("slow", QUEUES_PER_BROKER).await.unwrap();
    let queues = topic.queues.len();
    assert_eq!(queues, 2 * QUEUES_PER_BROKER as usize);
    let rec = Recorder::new();
    let run_id = rmq_testkit::unique_name("run");

    // The backlog, round robin over the queues, 4 sends at a time.
    let backlog = plan.backlog(queues);
    // Uncompressed: a stored message is 1 MiB and a pull carries one. Compressed: ~1 KiB stored.
    let producer = Producer::builder(rmq_testkit::unique_name("slow_p"))
        .client_config(ClientConfig::new(topic.namesrv.clone()))
        .compress_over(if plan.compressed { 4096 } else { usize::MAX })
        .send_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let producer = Arc::new(producer);
    let sent_at = Instant::now();
    let stored: Stored = Arc::default();
    let mut senders = Vec::new();
    for w in 0..4 {
        let stored = stored.clone();
        let (producer, rec, qs, run_id, topic) = (
            producer.clone(),
            rec.clone(),
            topic.queues.clone(),
            run_id.clone(),
            topic.name.clone(),
        );
        senders.push(tokio::spawn(async move {
            for i in (w..backlog).step_by(4) {
                let q = &qs[i % qs.len()];
                let id = format!("{run_id}:p:q{}:{i}", i % qs.len());
                let mut body = Vec::with_capacity(MESSAGE_BYTES);
                body.extend_from_slice(id.as_bytes());
                body.push(b'|');
                body.resize(MESSAGE_BYTES, b'x');
                rec.invoke(&id, &format!("q{}", i % qs.len()), i as u64);
                let r = producer.send_to_queue(Message::new(&topic, body), q).await;
                if let Ok(sent) = &r {
                    stored
                        .lock()
                        .unwrap()
                        .insert(id.clone(), (sent.queue.clone(), sent.queue_offset));
                }
                rec.complete(&id, classify(&r));
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    producer.shutdown().await;
    drop(producer);
    let produced = sent_at.elapsed();

    // The slow consumer.
    let group = rmq_testkit::unique_name("slow_g");
    let mut cfg = topic.consumer_config(&group, &format!("{run_id}-c"));
    cfg.consume_thread_min = plan.threads;
    cfg.consume_thread_max = plan.threads;
    let per_queue = Thresholds::for_queue(&cfg, queues, queues, false).max_bytes;
    let one_pull = u64::from(cfg.pull_batch_size) * MESSAGE_BYTES as u64;
    let cache_bound =
        (cfg.pull_threshold_size_of_queue * queues as u64).min(cfg.pull_threshold_size_for_topic) + one_pull;
    // What the pull sizing gives with messages of one size: per queue as many whole messages as
    // its share holds, at least one.
    let expected = queues as u64 * (per_queue / MESSAGE_BYTES as u64).max(1) * MESSAGE_BYTES as u64;
    let work_ms = Arc::new(AtomicU64::new(plan.work.as_millis() as u64));
    let baseline = rss::current().expect("no /proc/self/status");
    let consumer = {
        let (rec, work_ms) = (rec.clone(), work_ms.clone());
        ConcurrentConsumer::builder(cfg)
            .subscribe(&topic.name, MessageSelector::all())
            .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
                let work = Duration::from_millis(work_ms.load(Ordering::Relaxed));
                let bodies: Vec<MessageExt> = msgs.iter().map(trimmed).collect();
                rmq_chaos::workload::record(&rec, "c", ctx.message_queue(), &bodies, work);
                ConsumeResult::Success
            })
            .start()
            .await
            .unwrap()
    };
    let started = Instant::now();
    let mut series = RssSeries::default();
    let mut max_cached = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while started.elapsed() < plan.duration {
        tick.tick().await;
        series.push(started.elapsed(), rss::current().unwrap_or(0));
        max_cached = max_cached.max(consumer.stats().cached_bytes);
    }
    let slow_delivered = rec.deliveries();
    let flat = series.flatness(plan.warm_up).expect("too few readings");
    let bound = baseline + cache_bound + ALLOWANCE;

    // Drain at full speed: nothing lost that the broker still stores.
    work_ms.store(0, Ordering::Relaxed);
    let drain_started = Instant::now();
    let mut missing = undelivered_in_store(&topic, &rec, &stored).await;
    while missing.0 > 0 && drain_started.elapsed() < Duration::from_secs(180) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        missing = undelivered_in_store(&topic, &rec, &stored).await;
    }
    let drained = drain_started.elapsed();
    consumer.shutdown().await;
    let report = rec.history().check();
    let (lost_in_store, deleted_by_broker) = missing;

    let line = format!(
        "queues={queues} message=1MiB compressed={} backlog={backlog} (stored in {:.0}s) threads={} work={:?} \
         slow_run={:.0}s delivered_slow={slow_delivered} max_cached={:.1}MiB expected={:.1}MiB cache_bound={:.1}MiB \
         rss_baseline={:.1}MiB max_rss={:.1}MiB rss_bound={:.1}MiB steady_first_half_max={:.1}MiB \
         steady_second_half_max={:.1}MiB peak_growth={:.1}% steady_medians={:.1}/{:.1}MiB growth={:.1}% rss_mib={:?} drain={:.0}s lost_in_store={lost_in_store} \
         deleted_by_broker={deleted_by_broker} | {report}",
        plan.compressed,
        produced.as_secs_f64(),
        plan.threads,
        plan.work,
        plan.duration.as_secs_f64(),
        max_cached as f64 / MIB,
        expected as f64 / MIB,
        cache_bound as f64 / MIB,
        baseline as f64 / MIB,
        flat.max as f64 / MIB,
        bound as f64 / MIB,
        flat.first_half_max as f64 / MIB,
        flat.second_half_max as f64 / MIB,
        flat.peak_growth_percent(),
        flat.first_half_median as f64 / MIB,
        flat.second_half_median as f64 / MIB,
        flat.growth_percent(),
        series.sketch(30),
        drained.as_secs_f64(),
    );
    rmq_chaos::report_figures(name, &line);
    assert!(slow_delivered > 0, "the slow listener consumed nothing");
    assert!(max_cached <= cache_bound, "cached {max_cached} > {cache_bound}");
    assert!(flat.max <= bound, "RSS {} > bound {bound}", flat.max);
    assert!(
        flat.max <= baseline + max_cached + CACHE_OVERHEAD,
        "RSS {:.1} MiB is more than 32 MiB above baseline {:.1} MiB + cache {:.1} MiB",
        flat.max as f64 / MIB,
        baseline as f64 / MIB,
        max_cached as f64 / MIB
    );
    assert!(
        flat.growth_percent() <= FLAT_PERCENT,
        "RSS grew {:.1}%",
        flat.growth_percent()
    );
    assert_eq!((report.unexpected, report.pending), (0, 0), "{report}");
    assert_eq!(lost_in_store, 0, "acked, still stored, never delivered: {report}");
}

/// body -> where the broker stored it.
type Stored = Arc<Mutex<HashMap<String, (MessageQueue, i64)>>>;

/// Acked messages not delivered: (those the broker still stores, those below their queue's
/// minimum offset now). A broker short of disk space (over `diskSpaceCleanForciblyRatio`, 85 %)
/// deletes its oldest commit-log files at once; a pull at a deleted offset is answered with
/// OFFSET_MOVED and the consumer goes on from the new minimum, so those messages are the
/// broker's loss, not the consumer's.
async fn undelivered_in_store(topic: &Topic, rec: &Recorder, stored: &Stored) -> (u64, u64) {
    let history = rec.history();
    let delivered: HashSet<&str> = history.deliveries.iter().map(|d| d.body.as_str()).collect();
    let mut min = HashMap::new();
    for mq in &topic.queues {
        min.insert(mq.clone(), topic.admin.min_offset(mq).await.unwrap_or(0));
    }
    let stored = stored.lock().unwrap();
    let (mut in_store, mut deleted) = (0, 0);
    for (body, (mq, offset)) in stored.iter() {
        if delivered.contains(body.as_str()) {
            continue;
        }
        if *offset >= min.get(mq).copied().unwrap_or(0) {
            in_store += 1;
        } else {
            deleted += 1;
        }
    }
    (in_store, deleted)
}

/// A copy of `m` whose body is only its id (the recorder keeps bodies; 1 MiB each would be the
/// test's own memory, not the consumer's).
fn trimmed(m: &MessageExt) -> MessageExt {
    let mut t = m.clone();
    t.message.body = body_of(m).into_bytes().into();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_listener_over_64_queues_of_1mib_for_30s() {
    let plan = Plan {
        compressed: false,
        threads: 2,
        work: Duration::from_millis(500),
        duration: Duration::from_secs(30),
        warm_up: Duration::from_secs(10),
    };
    run("slow listener (64 queues x 1 MiB, 30 s)", plan).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long run (about 12 minutes, 1.5 GB stored): cargo test -p rmq-chaos --test scenarios slow_listener:: -- --ignored"]
async fn slow_listener_over_64_queues_of_1mib_for_10min() {
    let plan = Plan {
        compressed: false,
        threads: 2,
        work: Duration::from_secs(1),
        duration: Duration::from_secs(600),
        warm_up: Duration::from_secs(60),
    };
    run("slow listener (64 queues x 1 MiB, 10 min)", plan).await;
}

/// Compressible bodies, compressed on the wire: a pull may bring 32 of them (32 MiB decompressed),
/// so the cache stays bounded only because each pull is sized to its queue's byte room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_listener_over_64_queues_of_compressed_1mib_for_30s() {
    let plan = Plan {
        compressed: true,
        threads: 2,
        work: Duration::from_millis(500),
        duration: Duration::from_secs(30),
        warm_up: Duration::from_secs(10),
    };
    run("slow listener (64 queues x 1 MiB compressed, 30 s)", plan).await;
}
