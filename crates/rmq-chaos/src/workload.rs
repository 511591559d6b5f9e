//! What the rebalance and flow-control scenarios share: a topic on the test binary's shared cluster,
//! a steady recording producer, consumers whose listeners record every delivery, and the group's
//! lag read back through `Admin` (what the brokers have committed, not what a client believes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult,
    ConsumeResult, ConsumerConfig, ConsumerStats, MessageSelector, OrderlyConsumer,
};
use rmq_client::producer::{Producer, SelectByHash};
use rmq_client::{ClientConfig, Error, ErrorKind, Result};
use rmq_protocol::message::{Message, MessageExt, MessageQueue};
use rmq_testkit::Cluster;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::checker::{Delivery, Recorder, SendOutcome};

/// A topic of the shared test cluster, with an admin client to observe it.
#[derive(Debug)]
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Its queues, sorted.
    pub queues: Vec<MessageQueue>,
    /// Name server address.
    pub namesrv: String,
    /// An observer (not under test).
    pub admin: Admin,
}

impl Topic {
    /// Creates a topic with `queues_per_broker` queues on every broker of [`Cluster::shared`]
    /// (started on first use, off the runtime).
    pub async fn create(prefix: &str, queues_per_broker: i32) -> Result<Topic> {
        let (namesrv, cluster_name) = tokio::task::spawn_blocking(|| {
            let c = Cluster::shared();
            (c.namesrv_addr(), c.cluster_name().to_string())
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Io).with_context(format!("starting the shared cluster: {e}")))?;
        let admin = Admin::connect(ClientConfig::new(namesrv.clone()))?;
        let name = rmq_testkit::unique_name(prefix);
        let spec = TopicSpec::new(&name, queues_per_broker);
        let mut attempt = 0;
        // Creating a topic right after the cluster started can outlast the admin timeout on a
        // loaded machine; creation is idempotent.
        loop {
            attempt += 1;
            match admin.create_topic_in_cluster(&cluster_name, &spec).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => debug!(error = %e, "creating the topic again"),
                Err(e) => return Err(e),
            }
        }
        let mut queues = admin.topic_route(&name).await?.subscribe_queues.clone();
        queues.sort();
        Ok(Topic {
            name,
            queues,
            namesrv,
            admin,
        })
    }

    /// A consumer config for `group` with instance name `instance`, from the first offset.
    pub fn consumer_config(&self, group: &str, instance: &str) -> ConsumerConfig {
        let mut c = ConsumerConfig::new(group);
        c.client = ClientConfig::new(self.namesrv.clone());
        c.client.instance_name = instance.to_string();
        c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
        c
    }

    /// A producer of group `group`.
    pub async fn producer(&self, group: &str) -> Result<Producer> {
        Producer::builder(group)
            .client_config(ClientConfig::new(self.namesrv.clone()))
            .send_timeout(Duration::from_secs(3))
            .start()
            .await
    }

    /// Messages stored and not yet committed by `group` (as the brokers know it), over every
    /// queue; `None` when a broker did not answer.
    pub async fn lag(&self, group: &str) -> Option<i64> {
        let mut lag = 0;
        for mq in &self.queues {
            let max = self.admin.max_offset(mq).await.ok()?;
            let committed = self.admin.query_consumer_offset(group, mq).await.ok()?;
            lag += (max - committed.unwrap_or(0)).max(0);
        }
        Some(lag)
    }

    /// Waits until `group`'s lag is 0 (checked every 500 ms), at most `deadline`; returns how long
    /// it took, or `None` on timeout.
    pub async fn await_lag_zero(&self, group: &str, deadline: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if self.lag(group).await == Some(0) {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        None
    }
}

/// A consumer of either kind, as a member of a group under test.
#[derive(Debug, Clone)]
pub enum Member {
    /// A concurrent consumer.
    Concurrent(ConcurrentConsumer),
    /// An orderly consumer.
    Orderly(OrderlyConsumer),
}

impl Member {
    /// Starts a consumer of `topic` whose listener records every delivery in `rec` (as its client
    /// id) after spending `work` per message. Orderly when `orderly`.
    pub async fn start(
        config: ConsumerConfig,
        topic: &str,
        rec: &Recorder,
        work: Duration,
        orderly: bool,
    ) -> Result<Member> {
        let id = config.client.client_id();
        let rec = rec.clone();
        if orderly {
            OrderlyConsumer::builder(config)
                .subscribe(topic, MessageSelector::all())
                .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
                    record(&rec, &id, ctx.message_queue(), msgs, work);
                    ConsumeOrderlyResult::Success
                })
                .start()
                .await
                .map(Member::Orderly)
        } else {
            ConcurrentConsumer::builder(config)
                .subscribe(topic, MessageSelector::all())
                .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
                    record(&rec, &id, ctx.message_queue(), msgs, work);
                    ConsumeResult::Success
                })
                .start()
                .await
                .map(Member::Concurrent)
        }
    }

    /// Its client id.
    pub fn client_id(&self) -> &str {
        match self {
            Member::Concurrent(c) => c.client_id(),
            Member::Orderly(c) => c.client_id(),
        }
    }

    /// Its statistics now.
    pub fn stats(&self) -> ConsumerStats {
        match self {
            Member::Concurrent(c) => c.stats(),
            Member::Orderly(c) => c.stats(),
        }
    }

    /// Shuts it down.
    pub async fn shutdown(&self) {
        match self {
            Member::Concurrent(c) => c.shutdown().await,
            Member::Orderly(c) => c.shutdown().await,
        }
    }
}

/// Records one listener call of `msgs` from `queue` by `id`, which spends `work` per message.
pub fn record(rec: &Recorder, id: &str, queue: &MessageQueue, msgs: &[MessageExt], work: Duration) {
    let entered = Instant::now();
    if !work.is_zero() {
        std::thread::sleep(work * u32::try_from(msgs.len()).unwrap_or(u32::MAX));
    }
    let exited = Instant::now();
    for m in msgs {
        rec.deliver(Delivery {
            body: body_of(m),
            queue: queue.clone(),
            offset: m.queue_offset,
            reconsume_times: m.reconsume_times,
            consumer: id.to_string(),
            entered,
            exited,
        });
    }
}

/// The identifying part of a body: up to the first `|` (bodies may carry padding after it).
pub fn body_of(m: &MessageExt) -> String {
    let end = m.body.iter().position(|b| *b == b'|').unwrap_or(m.body.len());
    String::from_utf8_lossy(&m.body[..end]).into_owned()
}

/// How a send ended, for the checker: a timeout, a broken connection, an I/O error or a shutdown
/// while in flight may have stored the message.
pub fn classify(result: &Result<rmq_client::producer::SendResult>) -> SendOutcome {
    use rmq_client::producer::SendStatus;
    match result {
        Ok(r) if r.status == SendStatus::SendOk => SendOutcome::Ok,
        Ok(_) => SendOutcome::Indeterminate,
        Err(e) => match e.kind() {
            ErrorKind::Timeout { .. }
            | ErrorKind::Disconnected { .. }
            | ErrorKind::Io
            | ErrorKind::Shutdown => SendOutcome::Indeterminate,
            _ => SendOutcome::Failed,
        },
    }
}

/// A steady producer load; [`Producing::stop`] ends it.
#[derive(Debug)]
pub struct Producing {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// How [`Producing::start`] sends.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The run id, first part of every body (`run:client:key:seq`).
    pub run: String,
    /// The client part of every body.
    pub client: String,
    /// Messages a second, about.
    pub rate: u32,
    /// Sharding keys, spread over `workers` sequential senders.
    pub keys: usize,
    /// Sequential senders (one key is always sent by the same one, in order).
    pub workers: usize,
    /// Each key to the queue its hash picks (for orderly consumers) instead of round robin.
    pub ordered: bool,
    /// Bytes appended to every body after a `|` (0: none).
    pub padding: usize,
}

impl Producing {
    /// Starts sending to `topic` through `producer`, recording every send in `rec`.
    pub fn start(producer: Arc<Producer>, topic: &str, rec: &Recorder, spec: &LoadSpec) -> Producing {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = spec.workers.clamp(1, spec.keys.max(1));
        let interval = Duration::from_secs_f64(workers as f64 / f64::from(spec.rate.max(1)));
        let padding: Arc<[u8]> = vec![b'x'; spec.padding].into();
        let tasks = (0..workers)
            .map(|w| {
                let keys: Vec<String> = (0..spec.keys)
                    .filter(|k| k % workers == w)
                    .map(|k| format!("{}-k{k}", spec.client))
                    .collect();
                let (producer, rec, stop, topic) =
                    (producer.clone(), rec.clone(), stop.clone(), topic.to_string());
                let prefix = format!("{}:{}", spec.run, spec.client);
                let (ordered, padding) = (spec.ordered, padding.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut seqs: HashMap<usize, u64> = HashMap::new();
                    let mut next = 0usize;
                    while !stop.load(Ordering::Relaxed) && !keys.is_empty() {
                        tick.tick().await;
                        let k = next % keys.len();
                        next += 1;
                        let seq = seqs.entry(k).or_default();
                        let key = &keys[k];
                        let id = format!("{prefix}:{key}:{seq}");
                        rec.invoke(&id, key, *seq);
                        *seq += 1;
                        let body = if padding.is_empty() {
                            id.clone().into_bytes()
                        } else {
                            let mut b = Vec::with_capacity(id.len() + 1 + padding.len());
                            b.extend_from_slice(id.as_bytes());
                            b.push(b'|');
                            b.extend_from_slice(&padding);
                            b
                        };
                        let msg = Message::new(&topic, body).with_keys([key.as_str()]);
                        let r = if ordered {
                            producer.send_with_selector(msg, &SelectByHash::fnv()).await
                        } else {
                            producer.send(msg).await
                        };
                        if let Err(e) = &r {
                            warn!(body = %id, error = %e, "send failed");
                        }
                        rec.complete(&id, classify(&r));
                    }
                })
            })
            .collect();
        Producing { stop, tasks }
    }

    /// Stops sending and waits for the sends in flight.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
