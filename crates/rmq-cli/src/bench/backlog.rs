//! Setup of `compare-consume`: fill a topic with a backlog of messages, fast (batches from several
//! tasks), not measured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use rmq_client::producer::Producer;
use rmq_client::ClientConfig;
use rmq_protocol::message::Message;

use super::child::OffsetCounter;

/// Messages per `send_batch` request (64 KiB of 1 KiB bodies).
const BATCH: u64 = 64;
/// Concurrent batch senders.
const SENDERS: usize = 8;
/// Failed batch sends tolerated before giving up.
const MAX_ERRORS: u64 = 100;

/// The bodies: `size` bytes of a repeating alphabet, like `rmq bench produce`.
pub(crate) fn body(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
            .collect::<Vec<u8>>(),
    )
}

/// Sizes of the batches that send `n` messages: full batches, then the remainder.
pub(crate) fn batch_sizes(n: u64, batch: u64) -> impl Iterator<Item = u64> {
    let batch = batch.max(1);
    (0..n.div_ceil(batch)).map(move |i| batch.min(n - i * batch))
}

/// Sends `n` messages of `size` bytes to `topic` (round-robin over its queues, one batch per
/// request). A failed batch is sent again, so a timed-out one may be stored twice: read the stored
/// count back from the brokers rather than trusting `n`.
pub(crate) async fn fill(namesrv: &str, topic: &str, n: u64, size: usize) -> anyhow::Result<Duration> {
    let producer = Producer::builder("rmq_bench_backlog")
        .client_config(ClientConfig::new(namesrv))
        .send_timeout(Duration::from_secs(10))
        .start()
        .await
        .context("starting the backlog producer")?;
    let body = body(size);
    let batches: Arc<Vec<u64>> = Arc::new(batch_sizes(n, BATCH).collect());
    let next = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (producer, body, topic) = (producer.clone(), body.clone(), topic.to_string());
            let (batches, next, sent, errors) = (batches.clone(), next.clone(), sent.clone(), errors.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&k) = batches.get(i) else { return Ok(()) };
                    loop {
                        let msgs = (0..k)
                            .map(|_| Message::new(topic.as_str(), body.clone()))
                            .collect();
                        match producer.send_batch(msgs).await {
                            Ok(_) => break,
                            Err(e) => {
                                if errors.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_ERRORS {
                                    bail!("{MAX_ERRORS} batch sends failed; the last: {e}");
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                    sent.fetch_add(k, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let progress = {
        let sent = sent.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let s = sent.load(Ordering::Relaxed);
                eprintln!(
                    "  {s} of {n} sent ({:.0} msg/s)",
                    s as f64 / started.elapsed().as_secs_f64()
                );
            }
        })
    };
    let mut result = Ok(());
    for t in tasks {
        if let Err(e) = t.await.map_err(anyhow::Error::from).and_then(|r| r) {
            result = result.and(Err(e));
        }
    }
    progress.abort();
    let elapsed = started.elapsed();
    producer.shutdown().await;
    result.map(|()| elapsed)
}

/// The topic's stored total once the brokers have indexed the backlog: the consume queues (whose
/// max offsets [`OffsetCounter`] sums) are built from the commit log asynchronously, after the
/// sends were acknowledged. Waits until the total reaches `expected` or stops growing for 5 s.
pub(crate) async fn settled_total(counter: &OffsetCounter, expected: u64) -> anyhow::Result<i64> {
    let mut last = (i64::MIN, Instant::now());
    loop {
        let (total, _) = counter.total().await?;
        if u64::try_from(total).is_ok_and(|t| t >= expected) {
            return Ok(total);
        }
        if total != last.0 {
            last = (total, Instant::now());
        } else if last.1.elapsed() >= Duration::from_secs(5) {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_exactly_n() {
        assert_eq!(batch_sizes(130, 64).collect::<Vec<_>>(), [64, 64, 2]);
        assert_eq!(batch_sizes(128, 64).collect::<Vec<_>>(), [64, 64]);
        assert_eq!(batch_sizes(0, 64).count(), 0);
        assert_eq!(batch_sizes(1_000_000, 64).sum::<u64>(), 1_000_000);
        assert_eq!(body(40).len(), 40);
    }
}
