//! A push consumer in its own OS process (the `chaos-consumer` binary), so a scenario can
//! `kill -9` it: the binary writes one line per delivery to its stdout, and
//! [`ConsumerProcess`] reads them into a [`Recorder`] as they come.
//!
//! Line format (tab-separated): `D body broker queue_id offset reconsume_times entered_us
//! exited_us`, times in microseconds since the Unix epoch. The binary writes each listener
//! call's lines before it returns `Success`, so a delivery on record had finished its listener.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmq_protocol::message::MessageQueue;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tracing::debug;

use crate::checker::{Delivery, Recorder};

/// The line the binary writes once its consumer has started.
pub const READY: &str = "READY";

/// Microseconds since the Unix epoch.
pub fn epoch_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One delivery as a line (with its newline).
pub fn delivery_line(
    body: &str,
    queue: &MessageQueue,
    offset: i64,
    reconsume_times: i32,
    entered: SystemTime,
    exited: SystemTime,
) -> String {
    format!(
        "D\t{body}\t{}\t{}\t{offset}\t{reconsume_times}\t{}\t{}\n",
        queue.broker_name,
        queue.queue_id,
        epoch_micros(entered),
        epoch_micros(exited)
    )
}

/// Parses a [`delivery_line`] of consumer `consumer` on `topic`; wall-clock times become
/// [`Instant`]s of this process. `None` for any other line.
pub fn parse_delivery(line: &str, topic: &str, consumer: &str) -> Option<Delivery> {
    let mut f = line.trim_end().split('\t');
    if f.next()? != "D" {
        return None;
    }
    let body = f.next()?.to_string();
    let broker = f.next()?;
    let queue_id = f.next()?.parse().ok()?;
    let offset = f.next()?.parse().ok()?;
    let reconsume_times = f.next()?.parse().ok()?;
    let entered = instant_of(f.next()?.parse().ok()?);
    let exited = instant_of(f.next()?.parse().ok()?);
    Some(Delivery {
        body,
        queue: MessageQueue::new(topic, broker, queue_id),
        offset,
        reconsume_times,
        consumer: consumer.to_string(),
        entered,
        exited,
    })
}

/// The [`Instant`] of a wall-clock time in microseconds since the epoch (same machine).
fn instant_of(micros: u64) -> Instant {
    let now_i = Instant::now();
    let now_us = epoch_micros(SystemTime::now());
    if micros <= now_us {
        now_i
            .checked_sub(Duration::from_micros(now_us - micros))
            .unwrap_or(now_i)
    } else {
        now_i + Duration::from_micros(micros - now_us)
    }
}

/// A running `chaos-consumer` process whose deliveries go to a [`Recorder`].
#[derive(Debug)]
pub struct ConsumerProcess {
    id: String,
    child: Child,
    /// Closing it asks the consumer to shut down gracefully.
    stdin: Option<ChildStdin>,
    ready: watch::Receiver<bool>,
    reader: tokio::task::JoinHandle<()>,
}

impl ConsumerProcess {
    /// Starts `binary` consuming `topic` as `group` (instance name and consumer id `id`) through
    /// the name server at `namesrv`, recording into `rec`. The process is killed if the handle
    /// is dropped.
    pub fn spawn(
        binary: &str,
        namesrv: &str,
        topic: &str,
        group: &str,
        id: &str,
        rec: &Recorder,
    ) -> std::io::Result<ConsumerProcess> {
        let mut child = Command::new(binary)
            .args([namesrv, topic, group, id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
        let stdin = child.stdin.take();
        let (ready_tx, ready) = watch::channel(false);
        let (rec, topic, consumer) = (rec.clone(), topic.to_string(), id.to_string());
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(d) = parse_delivery(&line, &topic, &consumer) {
                    rec.deliver(d);
                } else if line == READY {
                    ready_tx.send_replace(true);
                } else {
                    debug!(consumer, line, "chaos-consumer said");
                }
            }
        });
        Ok(ConsumerProcess {
            id: id.to_string(),
            child,
            stdin,
            ready,
            reader,
        })
    }

    /// The consumer id (also its instance name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until the consumer has started (subscribed and running), up to `timeout`.
    pub async fn ready(&mut self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.ready.wait_for(|r| *r)).await,
            Ok(Ok(_))
        )
    }

    /// `kill -9`: the consumer gets no chance to persist offsets or unregister. Returns once
    /// the process is gone and every line it wrote has been recorded.
    pub async fn kill(mut self) -> std::io::Result<()> {
        self.child.kill().await?;
        let _ = (&mut self.reader).await;
        Ok(())
    }

    /// Graceful shutdown (the consumer's `shutdown()`: offsets persisted, unregistered): closes
    /// its stdin and waits up to `timeout` for it to exit (killed after that). Returns whether
    /// it exited by itself with success.
    pub async fn shutdown(mut self, timeout: Duration) -> bool {
        drop(self.stdin.take());
        let clean = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.kill().await;
                false
            }
        };
        let _ = (&mut self.reader).await;
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_line_round_trip() {
        let q = MessageQueue::new("t", "broker-a", 3);
        let entered = SystemTime::now() - Duration::from_secs(2);
        let line = delivery_line("run:c:k:7", &q, 42, 1, entered, SystemTime::now());
        let d = parse_delivery(&line, "t", "c1").unwrap();
        assert_eq!(
            (d.body.as_str(), d.queue, d.offset, d.reconsume_times),
            ("run:c:k:7", q, 42, 1)
        );
        assert_eq!(d.consumer, "c1");
        let age = d.entered.elapsed();
        assert!(
            age > Duration::from_millis(1900) && age < Duration::from_millis(2500),
            "{age:?}"
        );
        assert!(d.exited >= d.entered);
        assert!(parse_delivery("READY", "t", "c1").is_none());
    }
}
