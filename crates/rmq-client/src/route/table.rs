//! The route table: immutable snapshots of topic routes, refreshed by one task, with change notification.
//!
//! Readers take the current snapshot (an `Arc`) without locking across `.await`; the refresh task builds a
//! new snapshot and publishes it through a `watch` channel, which also wakes anyone waiting for changes
//! (rebalance, producers).
//!
//! Routes are fetched again every `poll_name_server_interval` (30 s by default, as in Java). A topic
//! whose route has just lost a master it had (a broker stopped, killed or cut off from the name server)
//! is fetched again every 3 s (`RECOVERY_POLL_INTERVAL`) for up to 3 minutes (`RECOVERY_POLL_WINDOW`),
//! or until the master is back: the broker's return is seen within seconds, not at the next 30 s poll (the Java
//! client waits for that poll).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_protocol::message::MessageQueue;
use rmq_protocol::route::TopicRouteData;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::namesrv::NameServerClient;
use crate::error::{Error, ErrorKind, Result};

/// One topic's route with the queue lists derived from it.
#[derive(Debug, Clone)]
pub struct TopicRoute {
    /// The topic.
    pub topic: String,
    /// The route as the name server sent it.
    pub data: TopicRouteData,
    /// Queues a producer may write to (Java `topicRouteData2TopicPublishInfo`).
    pub publish_queues: Vec<MessageQueue>,
    /// Queues a consumer reads (Java `topicRouteData2TopicSubscribeInfo`), sorted.
    pub subscribe_queues: Vec<MessageQueue>,
    /// When this route was fetched.
    pub fetched_at: Instant,
}

impl TopicRoute {
    /// Build from route data.
    pub fn new(topic: &str, data: TopicRouteData) -> Self {
        let publish_queues = data.publish_queues(topic);
        let mut subscribe_queues = data.subscribe_queues(topic);
        subscribe_queues.sort();
        TopicRoute {
            topic: topic.to_owned(),
            data,
            publish_queues,
            subscribe_queues,
            fetched_at: Instant::now(),
        }
    }

    /// The master address of `broker_name` in this route.
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.data
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
            .and_then(|b| b.master_addr())
    }
}

/// A snapshot of every route known to the client.
#[derive(Debug, Clone, Default)]
pub struct RouteSnapshot {
    /// Routes by topic.
    pub topics: HashMap<String, Arc<TopicRoute>>,
    /// Broker addresses by broker name, then broker id (0 = master), merged from every route.
    pub brokers: BTreeMap<String, BTreeMap<i64, String>>,
    /// Bumped on every change.
    pub version: u64,
}

impl RouteSnapshot {
    /// Master address of `broker_name`.
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.brokers
            .get(broker_name)
            .and_then(|m| m.get(&0))
            .map(String::as_str)
    }

    /// Where to pull `broker_name`'s queues when the broker suggested `broker_id` (Java
    /// `findBrokerAddressInSubscribe`, not only that broker): that id, else for a slave id the next
    /// one, else any address, the master first. Returns the address and whether it is a slave.
    pub fn subscribe_addr(&self, broker_name: &str, broker_id: i64) -> Option<(&str, bool)> {
        let ids = self.brokers.get(broker_name)?;
        let found = |id: i64| ids.get(&id).map(|a| (a.as_str(), id != 0));
        found(broker_id)
            .or_else(|| {
                (broker_id != 0)
                    .then(|| found(broker_id.saturating_add(1)))
                    .flatten()
            })
            .or_else(|| found(0))
            .or_else(|| ids.iter().next().map(|(id, a)| (a.as_str(), *id != 0)))
    }

    /// Every known broker address (masters and slaves).
    pub fn all_broker_addrs(&self) -> impl Iterator<Item = (&str, i64, &str)> {
        self.brokers
            .iter()
            .flat_map(|(name, ids)| ids.iter().map(move |(id, a)| (name.as_str(), *id, a.as_str())))
    }
}

/// How often a topic whose route lost a master is fetched again while it is missing.
pub(crate) const RECOVERY_POLL_INTERVAL: Duration = Duration::from_secs(3);
/// How long after losing a master a topic is fetched at `RECOVERY_POLL_INTERVAL` (a broker removed
/// for good stops costing name-server requests after this).
pub(crate) const RECOVERY_POLL_WINDOW: Duration = Duration::from_secs(180);

/// Names of the brokers with a master address in `route`.
fn masters(route: &TopicRouteData) -> BTreeSet<&str> {
    route
        .broker_datas
        .iter()
        .filter(|b| b.master_addr().is_some())
        .map(|b| b.broker_name.as_str())
        .collect()
}

/// Topics whose route lost masters: the brokers missing and until when to watch for their return.
#[derive(Debug, Default)]
struct Recovering {
    topics: HashMap<String, (BTreeSet<String>, Instant)>,
}

impl Recovering {
    /// Record the change of `topic`'s route from `old` to `new` at `now`.
    fn on_route(&mut self, topic: &str, old: Option<&TopicRouteData>, new: &TopicRouteData, now: Instant) {
        let present = masters(new);
        if let Some(old) = old {
            let lost: Vec<&str> = masters(old).difference(&present).copied().collect();
            if !lost.is_empty() {
                debug!(
                    topic,
                    ?lost,
                    "route lost masters; fetching it often until they are back"
                );
                let entry = self
                    .topics
                    .entry(topic.to_owned())
                    .or_insert_with(|| (BTreeSet::new(), now));
                entry.0.extend(lost.into_iter().map(str::to_owned));
                entry.1 = now + RECOVERY_POLL_WINDOW;
            }
        }
        if let Some((missing, _)) = self.topics.get_mut(topic) {
            missing.retain(|b| !present.contains(b.as_str()));
            if missing.is_empty() {
                self.topics.remove(topic);
            }
        }
    }

    /// Topics to fetch at the recovery interval at `now` (expired ones are dropped).
    fn due(&mut self, now: Instant) -> Vec<String> {
        self.topics.retain(|_, (_, until)| *until > now);
        self.topics.keys().cloned().collect()
    }
}

/// Topic routes cached as immutable snapshots.
#[derive(Debug, Clone)]
pub struct RouteTable {
    namesrv: NameServerClient,
    tx: Arc<watch::Sender<Arc<RouteSnapshot>>>,
    recovering: Arc<Mutex<Recovering>>,
}

impl RouteTable {
    /// An empty table fetching from `namesrv`.
    pub fn new(namesrv: NameServerClient) -> Self {
        let (tx, _) = watch::channel(Arc::new(RouteSnapshot::default()));
        RouteTable {
            namesrv,
            tx: Arc::new(tx),
            recovering: Arc::default(),
        }
    }

    /// The name-server client.
    pub fn namesrv(&self) -> &NameServerClient {
        &self.namesrv
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<RouteSnapshot> {
        self.tx.borrow().clone()
    }

    /// A receiver notified whenever the snapshot changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<RouteSnapshot>> {
        self.tx.subscribe()
    }

    /// The route of `topic`: cached, or fetched (and cached) if unknown.
    pub async fn route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        if let Some(r) = self.snapshot().topics.get(topic) {
            return Ok(r.clone());
        }
        self.refresh(topic).await
    }

    /// Fetch `topic`'s route now and publish it if it changed.
    pub async fn refresh(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        let data = self.namesrv.topic_route(topic).await?;
        let route = Arc::new(TopicRoute::new(topic, data));
        self.publish(topic, route.clone());
        Ok(route)
    }

    fn publish(&self, topic: &str, route: Arc<TopicRoute>) {
        self.tx.send_if_modified(|snap| {
            let old = snap.topics.get(topic);
            let changed = old.is_none_or(|old| old.data != route.data);
            if changed {
                if let Ok(mut r) = self.recovering.lock() {
                    r.on_route(topic, old.map(|o| &o.data), &route.data, Instant::now());
                }
            }
            let mut next = RouteSnapshot::clone(snap);
            next.topics.insert(topic.to_owned(), route.clone());
            for b in &route.data.broker_datas {
                next.brokers.insert(b.broker_name.clone(), b.broker_addrs.clone());
            }
            if changed {
                next.version += 1;
                debug!(topic, version = next.version, "route changed");
            }
            *snap = Arc::new(next);
            changed
        });
    }

    /// Forget `topic` (e.g. when no producer or consumer uses it any more).
    pub fn remove(&self, topic: &str) {
        self.tx.send_if_modified(|snap| {
            if !snap.topics.contains_key(topic) {
                return false;
            }
            let mut next = RouteSnapshot::clone(snap);
            next.topics.remove(topic);
            next.version += 1;
            *snap = Arc::new(next);
            true
        });
    }

    /// Refresh every cached topic once. Failures keep the old route (so clients go on working on cached
    /// routes while all name servers are down); a topic the name server no longer knows is kept too, as
    /// the Java client does, until its users remove it.
    pub async fn refresh_all(&self) {
        let topics: Vec<String> = self.snapshot().topics.keys().cloned().collect();
        for t in topics {
            match self.refresh(&t).await {
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::TopicNotExist { .. }) => {
                    debug!(topic = %t, "topic no longer has a route")
                }
                Err(e) => warn!(topic = %t, error = %e, "route refresh failed; keeping the cached route"),
            }
        }
    }

    /// Refresh the topics whose route lost a master recently (see the module docs).
    async fn refresh_recovering(&self) {
        let due = match self.recovering.lock() {
            Ok(mut r) => r.due(Instant::now()),
            Err(_) => return,
        };
        for t in due {
            if let Err(e) = self.refresh(&t).await {
                debug!(topic = %t, error = %e, "route refresh of a recovering topic failed");
            }
        }
    }

    /// Run the periodic refresh until `cancel` fires.
    pub async fn run_refresh(self, interval: Duration, cancel: CancellationToken) {
        let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let fast = RECOVERY_POLL_INTERVAL.min(interval);
        let mut recovery_tick = tokio::time::interval_at(Instant::now() + fast, fast);
        recovery_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => self.refresh_all().await,
                _ = recovery_tick.tick() => self.refresh_recovering().await,
            }
        }
        info!("route refresh stopped");
    }

    /// Master address of `broker_name`, refreshing `topic`'s route once if it is not known.
    pub async fn master_addr(&self, broker_name: &str, topic: Option<&str>) -> Result<String> {
        if let Some(a) = self.snapshot().master_addr(broker_name) {
            return Ok(a.to_owned());
        }
        if let Some(t) = topic {
            self.refresh(t).await?;
            if let Some(a) = self.snapshot().master_addr(broker_name) {
                return Ok(a.to_owned());
            }
        }
        Err(Error::new(ErrorKind::BrokerNotFound {
            broker: broker_name.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(masters: &[&str], slaves: &[&str]) -> TopicRouteData {
        let mut r = TopicRouteData::default();
        for (i, name) in masters.iter().chain(slaves).enumerate() {
            let id = if i < masters.len() { 0 } else { 1 };
            r.broker_datas.push(rmq_protocol::route::BrokerData {
                cluster: "c".into(),
                broker_name: (*name).to_owned(),
                broker_addrs: [(id, format!("10.0.0.{i}:10911"))].into_iter().collect(),
                ..Default::default()
            });
        }
        r
    }

    #[test]
    fn a_topic_that_lost_a_master_is_watched_until_it_returns_or_the_window_ends() {
        let t0 = Instant::now();
        let mut r = Recovering::default();
        let both = route(&["a", "b"], &[]);
        // First sight of a topic, and changes that lose nothing: not watched.
        r.on_route("t", None, &both, t0);
        r.on_route("t", Some(&route(&["a"], &[])), &both, t0);
        assert!(r.due(t0).is_empty());
        // b's master is gone (its slave stays in the route): watched.
        let only_a = route(&["a"], &["b"]);
        r.on_route("t", Some(&both), &only_a, t0);
        assert_eq!(r.due(t0), ["t"]);
        // a goes too, then comes back: still watched for b.
        let none = route(&[], &["b"]);
        r.on_route("t", Some(&only_a), &none, t0);
        r.on_route("t", Some(&none), &only_a, t0);
        assert_eq!(r.due(t0), ["t"]);
        // b back: no longer watched.
        r.on_route("t", Some(&only_a), &both, t0);
        assert!(r.due(t0).is_empty());
        // Lost for good: watched for the window only.
        r.on_route("u", Some(&both), &only_a, t0);
        assert_eq!(r.due(t0 + RECOVERY_POLL_WINDOW - Duration::from_secs(1)), ["u"]);
        assert!(r.due(t0 + RECOVERY_POLL_WINDOW).is_empty());
    }

    #[test]
    fn subscribe_addr_follows_the_suggestion_with_fallbacks() {
        let mut snap = RouteSnapshot::default();
        let ids: BTreeMap<i64, String> = [
            (0, "m:1".to_owned()),
            (1, "s1:1".to_owned()),
            (3, "s3:1".to_owned()),
        ]
        .into_iter()
        .collect();
        snap.brokers.insert("b".into(), ids);
        assert_eq!(snap.subscribe_addr("b", 0), Some(("m:1", false)));
        assert_eq!(snap.subscribe_addr("b", 1), Some(("s1:1", true)));
        // slave 2 is gone: Java tries id + 1
        assert_eq!(snap.subscribe_addr("b", 2), Some(("s3:1", true)));
        // nothing near the suggestion: the master
        assert_eq!(snap.subscribe_addr("b", 7), Some(("m:1", false)));
        assert_eq!(snap.subscribe_addr("other", 0), None);
        // master gone: any replica
        snap.brokers
            .insert("c".into(), [(2, "s2:1".to_owned())].into_iter().collect());
        assert_eq!(snap.subscribe_addr("c", 0), Some(("s2:1", true)));
    }
}
