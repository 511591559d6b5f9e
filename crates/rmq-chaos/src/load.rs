//! A recording producer load: unique, per-key sequenced bodies at a steady rate, every outcome
//! recorded (sync sends also timed).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_client::producer::{Producer, SelectByHash};
use rmq_protocol::message::Message;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::checker::{Recorder, SendOutcome};
use crate::harness::{classify, Harness, SendLatency};

/// How the load sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sync sends, round robin over the queues.
    Sync,
    /// Sync sends, each key to the queue its hash picks (for orderly consumers).
    SyncOrdered,
    /// Async sends with a callback.
    Async,
}

/// Sync workers per load (so one send stuck in a timeout does not stop the others).
pub const WORKERS: usize = 4;

/// A running load; [`Load::stop`] ends it.
#[derive(Debug)]
pub struct Load {
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    /// Sync-send latency figures.
    pub latency: Arc<SendLatency>,
}

impl Load {
    /// Starts sending about `rate` messages a second over `keys` keys through `producer`, as
    /// client `client`.
    pub fn start(
        h: &Harness,
        producer: Arc<Producer>,
        client: &str,
        mode: Mode,
        rate: u32,
        keys: usize,
    ) -> Load {
        let cancel = CancellationToken::new();
        let latency = Arc::new(SendLatency::default());
        let mut tasks = JoinSet::new();
        let workers = if mode == Mode::Async {
            1
        } else {
            WORKERS.min(keys.max(1))
        };
        let budget = producer.options().send_timeout + Duration::from_secs(1);
        for w in 0..workers {
            let ctx = Worker {
                rec: h.rec.clone(),
                topic: h.topic.clone(),
                prefix: format!("{}:{client}", h.run),
                keys: (0..keys)
                    .filter(|k| k % workers == w)
                    .map(|k| format!("{client}-k{k}"))
                    .collect(),
                interval: Duration::from_secs_f64(workers as f64 / f64::from(rate.max(1))),
                producer: producer.clone(),
                cancel: cancel.clone(),
                latency: latency.clone(),
                budget,
            };
            tasks.spawn(ctx.run(mode));
        }
        Load {
            cancel,
            tasks,
            latency,
        }
    }

    /// Stops sending and waits for the workers (sync sends in flight finish).
    pub async fn stop(mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

struct Worker {
    rec: Recorder,
    topic: String,
    prefix: String,
    keys: Vec<String>,
    interval: Duration,
    producer: Arc<Producer>,
    cancel: CancellationToken,
    latency: Arc<SendLatency>,
    budget: Duration,
}

impl Worker {
    async fn run(self, mode: Mode) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seqs: HashMap<&str, u64> = HashMap::new();
        let mut next = 0usize;
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if self.keys.is_empty() {
                return;
            }
            let key = self.keys[next % self.keys.len()].as_str();
            next += 1;
            let seq = seqs.entry(key).or_default();
            let body = format!("{}:{key}:{seq}", self.prefix);
            self.rec.invoke(&body, key, *seq);
            *seq += 1;
            let msg = Message::new(&self.topic, body.clone()).with_keys([key]);
            match mode {
                Mode::Sync | Mode::SyncOrdered => {
                    let started = Instant::now();
                    let r = if mode == Mode::Sync {
                        self.producer.send(msg).await
                    } else {
                        self.producer.send_with_selector(msg, &SelectByHash::fnv()).await
                    };
                    self.latency.record(started.elapsed(), self.budget);
                    self.rec.complete(&body, classify(&r));
                }
                Mode::Async => {
                    let rec = self.rec.clone();
                    let b = body.clone();
                    let r = self
                        .producer
                        .send_with_callback(msg, move |r| rec.complete(&b, classify(&r)));
                    if r.is_err() {
                        self.rec.complete(&body, SendOutcome::Failed);
                    }
                }
            }
        }
    }
}
