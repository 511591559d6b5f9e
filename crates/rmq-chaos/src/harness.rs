//! What every scenario needs: a sync-flush cluster (one per test binary) behind fault proxies, a topic,
//! recording producers and consumers, committed-offset sampling, lag, and the final drain.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use rmq_client::admin::{Admin, TopicSpec};
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult,
    ConsumeResult, ConsumerConfig, MessageSelector, OrderlyConsumer,
};
use rmq_client::producer::Producer;
use rmq_client::{ClientConfig, Error, ErrorKind, Result};
use rmq_protocol::message::{MessageExt, MessageQueue};
use rmq_testkit::{Cluster, ClusterOptions, FlushDiskType, ProxiedCluster};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::checker::{Delivery, Recorder, SendOutcome};

/// A scenario's world: the binary's cluster (brokers flush synchronously, so any loss is the
/// client's), fresh proxies in front of it, a fresh topic, and the recorder. Holds the scenario
/// lock until dropped.
#[derive(Debug)]
pub struct Harness {
    /// The cluster (blocking fault calls: use the async wrappers below).
    pub cluster: Arc<Cluster>,
    /// The proxies every client under test goes through.
    pub proxied: ProxiedCluster,
    /// An admin client on the real name server (the observer, not under test).
    pub admin: Admin,
    /// The scenario's topic.
    pub topic: String,
    /// The history.
    pub rec: Recorder,
    /// The run id, first part of every body.
    pub run: String,
    queues: Vec<MessageQueue>,
    _guard: OwnedMutexGuard<()>,
}

/// One scenario at a time per process: they share the cluster and the machine's cores.
static SCENARIO_LOCK: LazyLock<Arc<Mutex<()>>> = LazyLock::new(Arc::default);

/// Waits until no other scenario of this process runs and holds that until the guard drops: every
/// scenario takes it ([`Harness::start`] does), so scenarios sharing a test binary run one at a time
/// (they share clusters, the machine's cores, and RSS readings are per process).
pub async fn exclusive() -> OwnedMutexGuard<()> {
    SCENARIO_LOCK.clone().lock_owned().await
}
static CLUSTER: OnceLock<Arc<Cluster>> = OnceLock::new();

/// The test binary's cluster: 2 masters flushing synchronously (so any loss is the client's),
/// consumer offsets flushed every second (default 5 s: what a kill -9 loses of them is the
/// broker's doing, and kept small), re-registration with the name server every 10 s (the
/// minimum; default 30 s).
async fn shared_cluster() -> Arc<Cluster> {
    if let Some(c) = CLUSTER.get() {
        return c.clone();
    }
    let options = ClusterOptions {
        flush_disk_type: FlushDiskType::Sync,
        ..ClusterOptions::default()
    }
    .broker_property("flushConsumerOffsetInterval", "1000")
    .broker_property("registerNameServerPeriod", "10000");
    let started = tokio::task::spawn_blocking(move || Cluster::start(options))
        .await
        .map_err(|e| e.to_string())
        .and_then(|c| c.map_err(|e| e.to_string()));
    match started {
        Ok(c) => CLUSTER.get_or_init(|| Arc::new(c)).clone(),
        Err(e) => panic!("starting the cluster: {e}"),
    }
}

/// Which messages a listener fails.
pub type FailWhen = Arc<dyn Fn(&MessageExt) -> bool + Send + Sync>;

/// What a recording listener does besides recording.
#[derive(Clone, Default)]
pub struct Behavior {
    /// Time spent in the listener per call.
    pub work: Duration,
    /// Messages for which the listener reports failure (ReconsumeLater / Suspend).
    pub fails: Option<FailWhen>,
}

impl std::fmt::Debug for Behavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behavior")
            .field("work", &self.work)
            .field("fails", &self.fails.is_some())
            .finish()
    }
}

impl Harness {
    /// Takes the process's scenario lock (scenarios of one test binary run one at a time), starts
    /// the binary's shared cluster on first use (2 brokers, `SYNC_FLUSH`), fresh proxies in front
    /// of it, and a topic with `queues` queues per broker.
    pub async fn start(queues: i32) -> Harness {
        let guard = exclusive().await;
        let started = Instant::now();
        let cluster = shared_cluster().await;
        let proxied = match ProxiedCluster::start(&cluster) {
            Ok(p) => p,
            Err(e) => panic!("starting the proxies: {e}"),
        };
        let admin = match Admin::connect(ClientConfig::new(cluster.namesrv_addr())) {
            Ok(a) => a,
            Err(e) => panic!("admin: {e}"),
        };
        let run = rmq_testkit::unique_name("run");
        let topic = rmq_testkit::unique_name("chaos");
        let spec = TopicSpec::new(&topic, queues);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match admin.create_topic_in_cluster(cluster.cluster_name(), &spec).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => debug!(error = %e, "creating the topic again"),
                Err(e) => panic!("creating topic {topic}: {e}"),
            }
        }
        let expected = queues as usize * cluster.brokers().len();
        let mut all = Vec::new();
        while all.len() < expected {
            all = match admin.topic_route(&topic).await {
                Ok(r) => r.subscribe_queues.clone(),
                Err(_) => Vec::new(),
            };
            if all.len() < expected {
                if started.elapsed() > Duration::from_secs(60) {
                    panic!("route of {topic}: {} queues, expected {expected}", all.len());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        info!(elapsed = ?started.elapsed(), %topic, "harness ready");
        Harness {
            _guard: guard,
            cluster,
            proxied,
            admin,
            topic,
            rec: Recorder::new(),
            run,
            queues: all,
        }
    }

    /// Runs a blocking cluster operation (kill, restart, pause...) off the runtime.
    pub async fn fault<F>(&self, what: &str, op: F)
    where
        F: FnOnce(&Cluster) -> rmq_testkit::Result<()> + Send + 'static,
    {
        let cluster = self.cluster.clone();
        let started = Instant::now();
        let r = tokio::task::spawn_blocking(move || op(&cluster)).await;
        match r {
            Ok(Ok(())) => info!(what, took = ?started.elapsed(), "fault"),
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(e) => panic!("{what}: {e}"),
        }
    }

    /// A client config through the proxies.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::new(self.proxied.namesrv_addr())
    }

    /// A producer through the proxies (send timeout 3 s, the Java default).
    pub async fn producer(&self, id: &str) -> Producer {
        match Producer::builder(rmq_testkit::unique_name("chaos_p"))
            .client_config(self.client_config())
            .instance_name(id)
            .send_timeout(Duration::from_secs(3))
            .start()
            .await
        {
            Ok(p) => p,
            Err(e) => panic!("starting producer {id}: {e}"),
        }
    }

    /// A consumer config through the proxies: from the first offset, offsets persisted every
    /// second, instance name `id` (also the consumer id in deliveries).
    pub fn consumer_config(&self, group: &str, id: &str) -> ConsumerConfig {
        consumer_config(self.client_config(), group, id)
    }

    /// A concurrent consumer of the topic that records every delivery into `rec` (the
    /// harness's recorder, or [`Recorder::another_group`] of it for a second group).
    pub async fn concurrent(
        &self,
        config: ConsumerConfig,
        behavior: Behavior,
        rec: &Recorder,
    ) -> ConcurrentConsumer {
        let id = config.client.instance_name.clone();
        let rec = rec.clone();
        let r = ConcurrentConsumer::builder(config)
            .subscribe(&self.topic, MessageSelector::all())
            .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
                let failed = record(&rec, &id, ctx.message_queue(), msgs, &behavior);
                if failed {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            })
            .start()
            .await;
        match r {
            Ok(c) => c,
            Err(e) => panic!("starting a concurrent consumer: {e}"),
        }
    }

    /// An orderly consumer of the topic that records every delivery into `rec`.
    pub async fn orderly(
        &self,
        config: ConsumerConfig,
        behavior: Behavior,
        rec: &Recorder,
    ) -> OrderlyConsumer {
        let id = config.client.instance_name.clone();
        let rec = rec.clone();
        let r = OrderlyConsumer::builder(config)
            .subscribe(&self.topic, MessageSelector::all())
            .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
                let failed = record(&rec, &id, ctx.message_queue(), msgs, &behavior);
                if failed {
                    ConsumeOrderlyResult::SuspendCurrentQueueAMoment
                } else {
                    ConsumeOrderlyResult::Success
                }
            })
            .start()
            .await;
        match r {
            Ok(c) => c,
            Err(e) => panic!("starting an orderly consumer: {e}"),
        }
    }

    /// The topic's queues (read from the real name server at start; they do not change).
    pub async fn queues(&self) -> Vec<MessageQueue> {
        self.queues.clone()
    }

    /// Messages stored but not yet committed by `group`, over every queue; `None` when a broker
    /// does not answer.
    pub async fn lag(&self, group: &str) -> Option<i64> {
        let mut lag = 0;
        for mq in self.queues().await {
            let max = self.admin.max_offset(&mq).await.ok()?;
            let committed = self.admin.query_consumer_offset(group, &mq).await.ok()?;
            lag += (max - committed.unwrap_or(0)).max(0);
        }
        Some(lag)
    }

    /// Reads `group`'s committed offsets into the history (for offset regressions).
    pub async fn sample_offsets(&self, group: &str, rec: &Recorder) {
        for mq in self.queues().await {
            if let Ok(Some(offset)) = self.admin.query_consumer_offset(group, &mq).await {
                rec.sample_offset(mq, offset);
            }
        }
    }

    /// Samples `group`'s committed offsets into `rec` every `every` until the token is cancelled
    /// (queries to a dead broker are skipped).
    pub async fn spawn_sampler(
        &self,
        group: &str,
        rec: &Recorder,
        every: Duration,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let cancel = CancellationToken::new();
        let (admin, queues, group, rec, stop) = (
            self.admin.clone(),
            self.queues().await,
            group.to_string(),
            rec.clone(),
            cancel.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                for mq in &queues {
                    let q = tokio::time::timeout(every, admin.query_consumer_offset(&group, mq));
                    if let Ok(Ok(Some(offset))) = q.await {
                        rec.sample_offset(mq.clone(), offset);
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
        (cancel, task)
    }

    /// The final drain: waits (up to `deadline`) until every acked send was delivered and
    /// `group`'s lag stayed 0 for `quiet`, sampling offsets on the way; then reads the whole topic
    /// from offset 0 with a fresh group (raw pulls) into the history. Returns how long it waited.
    pub async fn drain(&self, group: &str, rec: &Recorder, quiet: Duration, deadline: Duration) -> Duration {
        let started = Instant::now();
        let mut quiet_since: Option<Instant> = None;
        while started.elapsed() < deadline {
            self.sample_offsets(group, rec).await;
            let settled = rec.undelivered() == 0 && self.lag(group).await == Some(0);
            match (settled, quiet_since) {
                (true, Some(t)) if t.elapsed() >= quiet => break,
                (true, None) => quiet_since = Some(Instant::now()),
                (false, _) => quiet_since = None,
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let waited = started.elapsed();
        self.read_store(rec).await;
        waited
    }

    /// Reads every stored message of the topic from offset 0 into [`Recorder::drained`].
    pub async fn read_store(&self, rec: &Recorder) {
        let group = rmq_testkit::unique_name("drain");
        for mq in self.queues().await {
            let mut offset = 0;
            let mut failures = 0;
            loop {
                match self.admin.read_queue(&group, &mq, offset, 32).await {
                    Ok((msgs, next)) => {
                        for m in &msgs {
                            rec.drained(&body_id(&m.body));
                        }
                        if msgs.is_empty() && next == offset {
                            break;
                        }
                        offset = next;
                    }
                    Err(e) if failures < 5 => {
                        failures += 1;
                        debug!(error = %e, %mq, "drain read failed; again");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => panic!("draining {mq}: {e}"),
                }
            }
        }
    }

    /// A unique body for `client`, `key`, `seq`.
    pub fn body(&self, client: &str, key: &str, seq: u64) -> String {
        format!("{}:{client}:{key}:{seq}", self.run)
    }

    /// Sends `n` recorded messages as client `client` from `workers` concurrent tasks (worker `w`
    /// sends the sequence numbers `s` with `s % workers == w` under key `k{w}`), one sync send at
    /// a time each, through a producer started for it and shut down after.
    pub async fn produce(&self, client: &str, n: u64, workers: u64) {
        let p = Arc::new(self.producer(client).await);
        let workers = workers.max(1);
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let (p, rec, topic) = (p.clone(), self.rec.clone(), self.topic.clone());
            let key = format!("k{w}");
            let bodies: Vec<(String, u64)> = (0..n)
                .filter(|s| s % workers == w)
                .map(|seq| (self.body(client, &key, seq), seq))
                .collect();
            tasks.spawn(async move {
                for (body, seq) in bodies {
                    rec.invoke(&body, &key, seq);
                    let r = p
                        .send(rmq_protocol::message::Message::new(&topic, body.clone()))
                        .await;
                    rec.complete(&body, classify(&r));
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        p.shutdown().await;
    }

    /// Sends recorded probe messages (client `probe`) with `producer` straight to `queue` (no
    /// latency-based avoidance of a broker that just failed), every 100 ms, until one is acked
    /// or `give_up` passes; returns how long that took from `since` (the heal or restart), `None`
    /// if no probe was acked.
    pub async fn probe_send(
        &self,
        producer: &Producer,
        queue: &MessageQueue,
        since: Instant,
        give_up: Duration,
    ) -> Option<Duration> {
        let started = Instant::now();
        let mut seq = 0u64;
        loop {
            let body = self.body("probe", &queue.broker_name, seq);
            self.rec.invoke(&body, "probe", seq);
            seq += 1;
            let r = producer
                .send_to_queue(
                    rmq_protocol::message::Message::new(&self.topic, body.clone()),
                    queue,
                )
                .await;
            let outcome = classify(&r);
            self.rec.complete(&body, outcome);
            if outcome == SendOutcome::Ok {
                return Some(since.elapsed());
            }
            if started.elapsed() > give_up {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first of the topic's queues on `broker`.
    pub fn queue_of(&self, broker: &str) -> Option<MessageQueue> {
        self.queues.iter().find(|q| q.broker_name == broker).cloned()
    }

    /// Earliest listener entry recorded by `rec` at or after `since` for a queue of `broker`.
    pub fn first_delivery_from(rec: &Recorder, broker: &str, since: Instant) -> Option<Instant> {
        rec.history()
            .deliveries
            .iter()
            .filter(|d| d.queue.broker_name == broker && d.entered >= since)
            .map(|d| d.entered)
            .min()
    }
}

/// The scenarios' consumer config (also used by the `chaos-consumer` binary): from the first
/// offset, offsets persisted every second, instance name `id`.
pub fn consumer_config(client: ClientConfig, group: &str, id: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client = client;
    c.client.instance_name = id.to_string();
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c.persist_interval = Duration::from_secs(1);
    c
}

/// Longest body id: bodies are `id` or `id|padding` (large messages).
const MAX_ID: usize = 256;

/// The id of a body: up to the first `|`, at most [`MAX_ID`] bytes.
pub fn body_id(body: &[u8]) -> String {
    let head = &body[..body.len().min(MAX_ID)];
    let end = head.iter().position(|&b| b == b'|').unwrap_or(head.len());
    String::from_utf8_lossy(&head[..end]).into_owned()
}

/// Records a listener call; returns whether the call reports failure.
fn record(rec: &Recorder, id: &str, queue: &MessageQueue, msgs: &[MessageExt], behavior: &Behavior) -> bool {
    let entered = Instant::now();
    if !behavior.work.is_zero() {
        std::thread::sleep(behavior.work);
    }
    let failed = behavior.fails.as_ref().is_some_and(|f| msgs.iter().any(|m| f(m)));
    let exited = Instant::now();
    for m in msgs {
        rec.deliver(Delivery {
            body: body_id(&m.body),
            queue: queue.clone(),
            offset: m.queue_offset,
            reconsume_times: m.reconsume_times,
            consumer: id.to_string(),
            entered,
            exited,
        });
    }
    failed
}

/// How a send ended, for the checker: a timeout, a broken connection, an I/O error or a
/// shutdown while in flight may have stored the message.
pub fn classify(result: &Result<rmq_client::producer::SendResult>) -> SendOutcome {
    use rmq_client::producer::SendStatus;
    match result {
        Ok(r) if r.status == SendStatus::SendOk => SendOutcome::Ok,
        Ok(_) => SendOutcome::Indeterminate,
        Err(e) => classify_error(e),
    }
}

fn classify_error(e: &Error) -> SendOutcome {
    match e.kind() {
        ErrorKind::Timeout { .. } | ErrorKind::Disconnected { .. } | ErrorKind::Io | ErrorKind::Shutdown => {
            SendOutcome::Indeterminate
        }
        _ => {
            debug!(error = %e, kind = ?e.kind(), "send failed");
            SendOutcome::Failed
        }
    }
}

/// Latency figures of sync sends.
#[derive(Debug, Default)]
pub struct SendLatency {
    /// Longest sync send, in milliseconds.
    pub max_ms: AtomicU64,
    /// Sync sends longer than the send timeout plus one second.
    pub over_budget: AtomicU64,
    /// Every sync send's duration, in milliseconds (for percentiles).
    samples: std::sync::Mutex<Vec<u64>>,
}

impl SendLatency {
    /// Records one send's duration against `budget`.
    pub fn record(&self, took: Duration, budget: Duration) {
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.max_ms.fetch_max(ms, Ordering::Relaxed);
        if took > budget {
            self.over_budget.fetch_add(1, Ordering::Relaxed);
        }
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(ms);
    }

    /// The `p`-th percentile (0–100, nearest rank) of the sync sends recorded after the first
    /// `from` (see [`SendLatency::count`]), in milliseconds; `None` without such sends.
    pub fn percentile_ms(&self, p: f64, from: usize) -> Option<u64> {
        let mut all: Vec<u64> = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .skip(from)
            .copied()
            .collect();
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        Some(all[rank.clamp(1, all.len()) - 1])
    }

    /// Sync sends recorded.
    pub fn count(&self) -> usize {
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}
