//! Consumer-group churn (`reliability-scenarios.md` R5, and O3 for orderly consumers): consumers
//! join and leave a group on a fixed period while a producer sends; the group's assignment is
//! sampled every second ([`crate::assignment`]), and after the churn the group must catch up.
//!
//! [`run`] drives one scenario and returns its figures; the tests in `tests/scenarios/churn.rs` and
//! `tests/scenarios/orderly_churn.rs` judge them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rmq_client::Result;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::assignment::{AssignmentLog, AssignmentReport, Sample};
use crate::checker::{Recorder, Report};
use crate::workload::{LoadSpec, Member, Producing, Topic};

/// How often the assignment is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// One churn scenario.
#[derive(Debug, Clone)]
pub struct ChurnPlan {
    /// Orderly consumers (else concurrent).
    pub orderly: bool,
    /// Queues per broker of the topic.
    pub queues_per_broker: i32,
    /// Consumers at the start.
    pub initial: usize,
    /// Fewest consumers churn leaves.
    pub min: usize,
    /// Most consumers churn adds.
    pub max: usize,
    /// Time between two membership changes.
    pub period: Duration,
    /// How long the churn lasts.
    pub duration: Duration,
    /// Producer rate, messages a second.
    pub rate: u32,
    /// Listener time per message.
    pub work: Duration,
    /// How long to wait for the group's lag to reach 0 after the churn.
    pub lag_deadline: Duration,
    /// An epoch must have converged this long after its change (see [`crate::assignment`]).
    pub convergence_bound: Duration,
}

impl ChurnPlan {
    /// The catalogue's churn (R5): 8 queues per broker, 2 consumers at the start (kept within
    /// 1..=4), 100 messages a second, a membership change every `period` for `duration`, 90 s for
    /// the lag to reach 0; `work` is the listener's time per message.
    pub fn standard(orderly: bool, period: Duration, duration: Duration, work: Duration) -> Self {
        ChurnPlan {
            orderly,
            queues_per_broker: 8,
            initial: 2,
            min: 1,
            max: 4,
            period,
            duration,
            rate: 100,
            work,
            lag_deadline: Duration::from_secs(90),
            convergence_bound: Duration::from_secs(20),
        }
    }
}

/// What a churn scenario measured.
#[derive(Debug, Clone)]
pub struct ChurnOutcome {
    /// The history's counts.
    pub report: Report,
    /// The assignment's figures.
    pub assignment: AssignmentReport,
    /// Membership changes made.
    pub changes: usize,
    /// From the end of the churn (producer stopped) to the group's committed lag 0, as the brokers
    /// report it; `None` when `lag_deadline` passed first.
    pub lag_zero: Option<Duration>,
    /// CPU this process used while the group sat idle after the churn (every message consumed,
    /// the assignment settled, nothing produced), in percent of one core over
    /// [`IDLE_WINDOW`]; `None` without `/proc`.
    pub idle_cpu_percent: Option<f64>,
}

/// How long the idle group's CPU use is measured.
pub const IDLE_WINDOW: Duration = Duration::from_secs(5);
/// Most CPU an idle group may use (the catalogue's "no CPU spin"), percent of one core.
pub const IDLE_CPU_PERCENT: f64 = 5.0;

impl ChurnOutcome {
    /// Reports the figures as `name` (see [`crate::report_figures`]) and panics unless the run
    /// passes the checks every churn scenario shares: something sent, nothing lost or unexpected,
    /// every callback once, every epoch converged within `convergence_bound` and stable after,
    /// lag 0 within `lag_zero_bound` of the end of the churn.
    pub fn assert_churn_criteria(&self, name: &str, convergence_bound: Duration, lag_zero_bound: Duration) {
        crate::report_figures(name, &self.line());
        let r = &self.report;
        assert!(r.acked > 0, "nothing was sent: {r}");
        assert_eq!((r.lost, r.unexpected), (0, 0), "{r}");
        assert_eq!((r.pending, r.extra_completions), (0, 0), "{r}");
        let a = &self.assignment;
        assert!(a.epochs as usize > self.changes, "{a}");
        assert_eq!(
            (a.unconverged, a.unsampled),
            (0, 0),
            "an epoch never reached its allocation: {a}"
        );
        assert_eq!(
            a.unstable, 0,
            "a converged assignment changed without a membership change: {a}"
        );
        assert!(a.max_convergence <= convergence_bound, "{a}");
        let Some(lag_zero) = self.lag_zero else {
            panic!("lag never reached 0");
        };
        assert!(lag_zero <= lag_zero_bound, "lag 0 only after {lag_zero:?}");
        let Some(idle) = self.idle_cpu_percent else {
            panic!("no CPU reading (no /proc)");
        };
        assert!(
            idle < IDLE_CPU_PERCENT,
            "the idle group used {idle:.1} % CPU (a spin?)"
        );
    }

    /// One line of figures.
    pub fn line(&self) -> String {
        let lag = self
            .lag_zero
            .map_or_else(|| "never".to_string(), |d| format!("{:.1}s", d.as_secs_f64()));
        let idle = self
            .idle_cpu_percent
            .map_or_else(|| "?".to_string(), |p| format!("{p:.1}%"));
        format!(
            "changes={} lag_zero_after={lag} idle_cpu={idle} {} | {}",
            self.changes, self.report, self.assignment
        )
    }
}

/// The live members and the assignment log, sampled by a background task.
struct Group {
    members: Arc<Mutex<Vec<Member>>>,
    log: Arc<Mutex<AssignmentLog>>,
    topic: String,
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<()>,
}

impl Group {
    fn new(topic: &str) -> Group {
        let members: Arc<Mutex<Vec<Member>>> = Arc::default();
        let log: Arc<Mutex<AssignmentLog>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (members, log, stop, topic) = (members.clone(), log.clone(), stop.clone(), topic.to_string());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(SAMPLE_EVERY);
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let members = members.lock().unwrap_or_else(PoisonError::into_inner);
                    let held = members
                        .iter()
                        .map(|m| {
                            let qs = m
                                .stats()
                                .queues
                                .into_keys()
                                .filter(|q| q.topic == topic)
                                .collect();
                            (m.client_id().to_string(), qs)
                        })
                        .collect();
                    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(epoch) = log.epochs.len().checked_sub(1) {
                        debug!(epoch, held = ?describe_held(&held), "assignment sample");
                        log.samples.push(Sample {
                            at: Instant::now(),
                            epoch,
                            held,
                        });
                    }
                }
            })
        };
        Group {
            members,
            log,
            topic: topic.to_string(),
            stop,
            sampler,
        }
    }

    /// Applies a membership change (under both locks, so no sample straddles it); `joining` are the
    /// client ids of consumers about to start, members of the new epoch already.
    fn change(
        &self,
        joining: &[String],
        f: impl FnOnce(&mut Vec<Member>) -> Option<Member>,
    ) -> Option<Member> {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let out = f(&mut members);
        let ids = members
            .iter()
            .map(|m| m.client_id().to_string())
            .chain(joining.iter().cloned())
            .collect();
        let epoch = self
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .change(Instant::now(), ids);
        debug!(epoch, members = members.len(), "membership change");
        out
    }

    /// The membership change of consumers `ids` joining, made *before* they start: a consumer's
    /// `start()` registers it with the brokers (its heartbeat) and only returns after more work
    /// (0.3-1.9 s in full-length runs on a loaded machine), and the brokers tell the other members
    /// at once, so they give up its share while it is still starting. From here the expected
    /// allocation counts the joiners; a joiner is sampled (holding its queues) only once
    /// [`Group::started`] added it, so the epoch cannot converge before that.
    fn joining(&self, ids: &[String]) {
        for id in ids {
            info!(consumer = %id, topic = %self.topic, "joins");
        }
        self.change(ids, |_| None);
    }

    /// Adds consumers that [`Group::joining`] announced and whose `start()` returned (not a
    /// membership change: they are members already).
    fn started(&self, new: Vec<Member>) {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(new);
    }

    /// Removes the longest-serving member (it must hold nothing from now on).
    fn leave(&self) -> Option<Member> {
        self.change(&[], |ms| (!ms.is_empty()).then(|| ms.remove(0)))
    }

    fn last_change(&self) -> Instant {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.epochs.last().map_or_else(Instant::now, |e| e.began)
    }

    fn last_converged(&self, group: &str, queues: &[rmq_protocol::message::MessageQueue]) -> bool {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.last_converged(group, queues)
    }

    fn len(&self) -> usize {
        self.members.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Stops sampling, shuts every member down and returns the log.
    async fn finish(self) -> AssignmentLog {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.sampler.await;
        let members: Vec<Member> =
            std::mem::take(&mut *self.members.lock().unwrap_or_else(PoisonError::into_inner));
        for m in members {
            m.shutdown().await;
        }
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner).clone();
        log
    }
}

/// Runs one churn scenario on a fresh topic of the shared cluster: a producer at `plan.rate`, the
/// group starting with `plan.initial` consumers, one join or leave every `plan.period` for
/// `plan.duration` (two joins, two leaves, ... within `min..=max`), then the producer stops and the
/// group must reach lag 0; the run ends once every acked message was delivered (or 30 s later).
pub async fn run(plan: &ChurnPlan) -> Result<ChurnOutcome> {
    let _exclusive = crate::harness::exclusive().await;
    let prefix = if plan.orderly { "orderly_churn" } else { "churn" };
    let topic = Topic::create(prefix, plan.queues_per_broker).await?;
    let group_name = rmq_testkit::unique_name(&format!("{prefix}_g"));
    let rec = Recorder::new();
    let run_id = rmq_testkit::unique_name("run");
    let producer = Arc::new(topic.producer(&rmq_testkit::unique_name("churn_p")).await?);
    let load = LoadSpec {
        run: run_id.clone(),
        client: "p".into(),
        rate: plan.rate,
        keys: 64,
        workers: 8,
        ordered: plan.orderly,
        padding: 0,
    };
    let group = Group::new(&topic.name);
    let mut started = 0usize;
    let config = |n: usize| topic.consumer_config(&group_name, &format!("{run_id}-c{n}"));
    let start = |cfg| Member::start(cfg, &topic.name, &rec, plan.work, plan.orderly);
    let configs: Vec<_> = (0..plan.initial).map(config).collect();
    started += plan.initial;
    group.joining(&configs.iter().map(|c| c.client.client_id()).collect::<Vec<_>>());
    let mut initial = Vec::new();
    for cfg in configs {
        initial.push(start(cfg).await?);
    }
    group.started(initial);
    let producing = Producing::start(producer.clone(), &topic.name, &rec, &load);

    let churn_started = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + plan.period, plan.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changes = 0;
    let mut step = 0usize;
    let mut offsets_at = Instant::now();
    while churn_started.elapsed() < plan.duration {
        tick.tick().await;
        let n = group.len();
        // add, add, remove, remove, ... kept within min..=max
        let add = (step % 4 < 2 && n < plan.max) || n <= plan.min;
        step += 1;
        if add {
            let cfg = config(started);
            started += 1;
            group.joining(&[cfg.client.client_id()]);
            let m = start(cfg).await?;
            group.started(vec![m]);
        } else if let Some(m) = group.leave() {
            info!(consumer = m.client_id(), "leaves");
            m.shutdown().await;
        }
        changes += 1;
        if offsets_at.elapsed() >= Duration::from_secs(2) {
            sample_offsets(&topic, &group_name, &rec).await;
            offsets_at = Instant::now();
        }
    }
    producing.stop().await;
    let churn_ended = Instant::now();
    info!(changes, sent = rec.sends(), "churn over; waiting for lag 0");

    let lag_zero = topic
        .await_lag_zero(&group_name, plan.lag_deadline)
        .await
        .map(|_| churn_ended.elapsed());
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while !rec.all_acked_delivered() && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sample_offsets(&topic, &group_name, &rec).await;
    // The last epoch is judged too: sample until it converged or `convergence_bound` passed.
    let last_change = group.last_change();
    while !group.last_converged(&group_name, &topic.queues)
        && last_change.elapsed() < plan.convergence_bound + SAMPLE_EVERY
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // No spin once all is quiet: the members only long-poll, heartbeat and rebalance now.
    let before = crate::rss::cpu_time();
    tokio::time::sleep(IDLE_WINDOW).await;
    let idle_cpu_percent = before
        .zip(crate::rss::cpu_time())
        .map(|(b, a)| a.saturating_sub(b).as_secs_f64() * 100.0 / IDLE_WINDOW.as_secs_f64());
    let log = group.finish().await;
    producer.shutdown().await;
    Ok(ChurnOutcome {
        report: rec.history().check(),
        assignment: log.check(&group_name, &topic.queues, plan.convergence_bound),
        changes,
        lag_zero,
        idle_cpu_percent,
    })
}

/// Each consumer's held queues, briefly (`id: [broker:queue, ...]`), for debug logs.
fn describe_held(
    held: &std::collections::BTreeMap<
        String,
        std::collections::BTreeSet<rmq_protocol::message::MessageQueue>,
    >,
) -> Vec<String> {
    held.iter()
        .map(|(id, qs)| {
            let qs: Vec<String> = qs
                .iter()
                .map(|q| format!("{}:{}", q.broker_name, q.queue_id))
                .collect();
            format!("{id}: {}", qs.join(","))
        })
        .collect()
}

/// Reads the group's committed offsets into the history (for offset regressions).
async fn sample_offsets(topic: &Topic, group: &str, rec: &Recorder) {
    for mq in &topic.queues {
        if let Ok(Some(offset)) = topic.admin.query_consumer_offset(group, mq).await {
            rec.sample_offset(mq.clone(), offset);
        }
    }
}
