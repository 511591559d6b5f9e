//! Queue allocation strategies: which of a topic's queues this consumer takes, computed exactly as the
//! Java client does, so Rust, Java and Go consumers can share one consumer group.
//!
//! Every strategy is a pure function of `(consumer group, own client id, all queues, all client ids)`.
//! The caller prepares the inputs like Java's `RebalanceImpl.rebalanceByTopic`: both lists **sorted** with
//! Java ordering (see [`sorted_inputs`]). Each consumer of the group computes its own share; the shares
//! only partition the queues when every consumer sorts and allocates identically, which is why the
//! arithmetic here follows `org.apache.rocketmq.client.consumer.rebalance` to the letter, quirks
//! included (see each [`AllocateStrategy`] variant).
//!
//! ```
//! # use rmq_client::consumer::rebalance::allocate::{sorted_inputs, AllocateStrategy};
//! use rmq_protocol::message::MessageQueue;
//!
//! let queues = (0..5).map(|q| MessageQueue::new("orders", "broker-a", q)).collect();
//! let cids = vec!["10.0.0.2@7#b".to_string(), "10.0.0.1@3#a".to_string()];
//! let (mq_all, cid_all) = sorted_inputs(queues, cids);
//!
//! let mine = AllocateStrategy::Average.allocate("group", "10.0.0.1@3#a", &mq_all, &cid_all)?;
//! assert_eq!(mine.iter().map(|mq| mq.queue_id).collect::<Vec<_>>(), [0, 1, 2]);
//! # Ok::<(), rmq_client::consumer::rebalance::allocate::AllocateError>(())
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use md5::{Digest, Md5};
use rmq_protocol::message::{java_string_cmp, MessageQueue};

/// Virtual nodes per consumer on the consistent-hash ring when none are configured (Java's default).
pub const DEFAULT_VIRTUAL_NODES: usize = 10;

/// Why a strategy refused to allocate. Mirrors the `IllegalArgumentException`s of the Java strategies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocateError {
    /// The own client id is empty.
    #[error("currentCID is empty")]
    EmptyCurrentCid,
    /// There are no queues to allocate.
    #[error("mqAll is null or mqAll empty")]
    EmptyQueues,
    /// There are no client ids in the group.
    #[error("cidAll is null or cidAll empty")]
    EmptyConsumers,
    /// A [`MachineRoomResolver`] gave no (or an empty) machine room for a queue.
    #[error("Machine room is null for mq {0}")]
    NoBrokerRoom(MessageQueue),
    /// A [`MachineRoomResolver`] gave no (or an empty) machine room for a client id.
    #[error("Machine room is null for consumer id {0}")]
    NoConsumerRoom(String),
    /// A [`CustomAllocate`] strategy failed.
    #[error("{0}")]
    Custom(String),
}

/// Tells [`AllocateStrategy::MachineRoomNearby`] which machine room a broker's queue and a consumer live in
/// (Java's `AllocateMachineRoomNearby.MachineRoomResolver`).
///
/// Must be deterministic and agree with the resolver the group's Java or Go consumers use. `None` or an
/// empty room fails the allocation, as `null` or `""` does in Java.
pub trait MachineRoomResolver: fmt::Debug + Send + Sync {
    /// The machine room the broker holding `mq` is deployed in.
    fn broker_deploy_in(&self, mq: &MessageQueue) -> Option<String>;

    /// The machine room the consumer with this client id is deployed in.
    fn consumer_deploy_in(&self, client_id: &str) -> Option<String>;
}

/// A user-defined strategy, for [`AllocateStrategy::Custom`] (Java: implementing
/// `AllocateMessageQueueStrategy`).
///
/// Use [`precheck`] for the usual input checks. Every consumer of the group must run the same algorithm.
pub trait CustomAllocate: fmt::Debug + Send + Sync {
    /// The queues of `mq_all` that `current_cid` takes. Arguments as in [`AllocateStrategy::allocate`].
    fn allocate(
        &self,
        consumer_group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError>;

    /// The strategy's name, reported in consumer running info.
    fn name(&self) -> &str;
}

/// A queue allocation strategy of the Java client. The default is [`AllocateStrategy::Average`].
///
/// In the descriptions, `n` is the number of queues, `c` the number of client ids and `i` the position of
/// the own client id in the sorted list (its first occurrence).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum AllocateStrategy {
    /// `AVG` (`AllocateMessageQueueAveragely`): contiguous blocks, earlier consumers take one extra queue
    /// each while `n mod c` lasts; with `n < c` consumers `i >= n` get nothing.
    #[default]
    Average,
    /// `AVG_BY_CIRCLE` (`AllocateMessageQueueAveragelyByCircle`): dealt round robin, queue `p` goes to the
    /// consumer at `p mod c`.
    AverageByCircle,
    /// `CONSISTENT_HASH` (`AllocateMessageQueueConsistentHash`): each client id puts `virtual_nodes` nodes
    /// `"<cid>-<k>"` on a ring of 32-bit MD5 prefixes (a later node with an equal hash replaces the earlier
    /// one); a queue goes to the first node at or after the hash of its Java `toString`, wrapping around.
    /// With no virtual nodes nobody gets anything.
    ConsistentHash {
        /// Virtual nodes per client id ([`DEFAULT_VIRTUAL_NODES`] in Java).
        virtual_nodes: usize,
    },
    /// `CONFIG` (`AllocateMessageQueueByConfig`): always this list, unchanged, with no checks at all.
    Config(Vec<MessageQueue>),
    /// `MACHINE_ROOM` (`AllocateMessageQueueByMachineRoom`): only queues whose broker name splits (Java
    /// `split("@")`, trailing empty parts dropped) into exactly two parts whose first is one of
    /// `consumer_idcs`; of those `p` queues, consumer `i` takes positions `i*(p/c) .. (i+1)*(p/c)` plus
    /// `c*(p/c) + i` while `i < p mod c`.
    MachineRoom {
        /// The machine rooms (IDCs) whose queues this group consumes.
        consumer_idcs: BTreeSet<String>,
    },
    /// `MACHINE_ROOM_NEARBY-<inner>` (`AllocateMachineRoomNearby`): queues of a machine room that has
    /// consumers are split by `inner` among those consumers only; queues of rooms without consumers are split
    /// by `inner` among all consumers. Results are concatenated: own room first, then the consumer-less
    /// rooms in Java `String` order.
    MachineRoomNearby {
        /// The strategy that splits each room's queues.
        inner: Box<AllocateStrategy>,
        /// Maps queues and client ids to machine rooms.
        resolver: Arc<dyn MachineRoomResolver>,
    },
    /// A user-defined strategy.
    Custom(Arc<dyn CustomAllocate>),
}

impl AllocateStrategy {
    /// [`AllocateStrategy::ConsistentHash`] with Java's default of [`DEFAULT_VIRTUAL_NODES`] virtual nodes.
    pub fn consistent_hash() -> Self {
        AllocateStrategy::ConsistentHash {
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
        }
    }

    /// [`AllocateStrategy::MachineRoom`] for these machine rooms.
    pub fn machine_room<I, S>(consumer_idcs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AllocateStrategy::MachineRoom {
            consumer_idcs: consumer_idcs.into_iter().map(Into::into).collect(),
        }
    }

    /// [`AllocateStrategy::MachineRoomNearby`] around `inner`.
    pub fn machine_room_nearby(inner: AllocateStrategy, resolver: Arc<dyn MachineRoomResolver>) -> Self {
        AllocateStrategy::MachineRoomNearby {
            inner: Box::new(inner),
            resolver,
        }
    }

    /// The Java strategy name (`getName()`), e.g. `AVG` or `MACHINE_ROOM_NEARBY-AVG`.
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            AllocateStrategy::Average => Cow::Borrowed("AVG"),
            AllocateStrategy::AverageByCircle => Cow::Borrowed("AVG_BY_CIRCLE"),
            AllocateStrategy::ConsistentHash { .. } => Cow::Borrowed("CONSISTENT_HASH"),
            AllocateStrategy::Config(_) => Cow::Borrowed("CONFIG"),
            AllocateStrategy::MachineRoom { .. } => Cow::Borrowed("MACHINE_ROOM"),
            AllocateStrategy::MachineRoomNearby { inner, .. } => {
                Cow::Owned(format!("MACHINE_ROOM_NEARBY-{}", inner.name()))
            }
            AllocateStrategy::Custom(custom) => Cow::Borrowed(custom.name()),
        }
    }

    /// The queues of `mq_all` that the consumer `current_cid` takes, in Java's order.
    ///
    /// `mq_all` and `cid_all` must be sorted as [`sorted_inputs`] does. Errors when `current_cid`,
    /// `mq_all` or `cid_all` is empty (except [`AllocateStrategy::Config`], which checks nothing); returns
    /// nothing when `current_cid` is not in `cid_all`. `consumer_group` is only passed on to custom
    /// strategies.
    pub fn allocate(
        &self,
        consumer_group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        let index = match self {
            AllocateStrategy::Config(queues) => return Ok(queues.clone()),
            AllocateStrategy::Custom(custom) => {
                return custom.allocate(consumer_group, current_cid, mq_all, cid_all)
            }
            _ => match precheck(current_cid, mq_all, cid_all)? {
                Some(index) => index,
                None => return Ok(Vec::new()),
            },
        };
        Ok(match self {
            AllocateStrategy::Average => average(index, mq_all, cid_all.len()),
            AllocateStrategy::AverageByCircle => mq_all
                .iter()
                .skip(index)
                .step_by(cid_all.len())
                .cloned()
                .collect(),
            AllocateStrategy::ConsistentHash { virtual_nodes } => {
                consistent_hash(*virtual_nodes, current_cid, mq_all, cid_all)
            }
            AllocateStrategy::MachineRoom { consumer_idcs } => {
                machine_room(consumer_idcs, index, mq_all, cid_all.len())
            }
            AllocateStrategy::MachineRoomNearby { inner, resolver } => {
                return nearby(
                    inner,
                    resolver.as_ref(),
                    consumer_group,
                    current_cid,
                    mq_all,
                    cid_all,
                );
            }
            AllocateStrategy::Config(_) | AllocateStrategy::Custom(_) => Vec::new(), // returned above
        })
    }
}

/// Java's `AbstractAllocateMessageQueueStrategy.check`, for custom strategies: an error when `current_cid`,
/// `mq_all` or `cid_all` is empty, `None` when `current_cid` is not in `cid_all` (allocate nothing), else
/// the position of its first occurrence (Java's `indexOf`).
pub fn precheck(
    current_cid: &str,
    mq_all: &[MessageQueue],
    cid_all: &[String],
) -> Result<Option<usize>, AllocateError> {
    if current_cid.is_empty() {
        return Err(AllocateError::EmptyCurrentCid);
    }
    if mq_all.is_empty() {
        return Err(AllocateError::EmptyQueues);
    }
    if cid_all.is_empty() {
        return Err(AllocateError::EmptyConsumers);
    }
    Ok(cid_all.iter().position(|cid| cid == current_cid))
}

/// Sorts the queues and client ids as Java's `rebalanceByTopic` does before allocating: queues by topic,
/// broker name (Java `String.compareTo`, UTF-16 order) and queue id; client ids with `String.compareTo`.
pub fn sorted_inputs(
    mut mq_all: Vec<MessageQueue>,
    mut cid_all: Vec<String>,
) -> (Vec<MessageQueue>, Vec<String>) {
    mq_all.sort();
    cid_all.sort_by(|a, b| java_string_cmp(a, b));
    (mq_all, cid_all)
}

/// The hash of Java's `ConsistentHashRouter.MD5Hash`: the first four bytes of the MD5 digest of the
/// UTF-8 key, big-endian (Java keeps it in a non-negative `long`).
pub fn consistent_hash_key(key: &str) -> u32 {
    let digest = Md5::digest(key.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn average(index: usize, mq_all: &[MessageQueue], c: usize) -> Vec<MessageQueue> {
    let n = mq_all.len();
    let rem = n % c;
    let extra = rem > 0 && index < rem;
    let size = if n <= c {
        1
    } else if extra {
        n / c + 1
    } else {
        n / c
    };
    let start = if extra { index * size } else { index * size + rem };
    // Java: range = min(size, n - start), possibly negative; skip/take copes with start past the end.
    mq_all.iter().skip(start).take(size).cloned().collect()
}

fn consistent_hash(
    virtual_nodes: usize,
    current_cid: &str,
    mq_all: &[MessageQueue],
    cid_all: &[String],
) -> Vec<MessageQueue> {
    // ConsistentHashRouter: TreeMap<Long, VirtualNode>; put() lets a later node replace an equal hash.
    let mut ring: BTreeMap<u32, &str> = BTreeMap::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for cid in cid_all {
        // addNode numbers replicas after those of the same key already on the ring (getExistingReplicas),
        // which only matters when a client id is listed twice.
        let existing = if seen.insert(cid.as_str()) {
            0
        } else {
            ring.values().filter(|node| **node == cid.as_str()).count()
        };
        for k in 0..virtual_nodes {
            ring.insert(
                consistent_hash_key(&format!("{cid}-{}", k + existing)),
                cid.as_str(),
            );
        }
    }
    mq_all
        .iter()
        .filter(|mq| {
            let hash = consistent_hash_key(&mq.to_string());
            let owner = ring.range(hash..).next().or_else(|| ring.iter().next());
            owner.is_some_and(|(_, cid)| *cid == current_cid)
        })
        .cloned()
        .collect()
}

/// The first of the two parts of Java's `brokerName.split("@")`, when there are exactly two.
fn java_split_idc(broker_name: &str) -> Option<&str> {
    if !broker_name.contains('@') {
        return None; // Java: no match, the whole string as one part
    }
    let mut parts: Vec<&str> = broker_name.split('@').collect();
    while parts.last() == Some(&"") {
        parts.pop(); // String.split(regex) drops trailing empty strings
    }
    match parts.as_slice() {
        [idc, _] => Some(idc),
        _ => None,
    }
}

fn machine_room(
    consumer_idcs: &BTreeSet<String>,
    index: usize,
    mq_all: &[MessageQueue],
    c: usize,
) -> Vec<MessageQueue> {
    let premq: Vec<&MessageQueue> = mq_all
        .iter()
        .filter(|mq| java_split_idc(&mq.broker_name).is_some_and(|idc| consumer_idcs.contains(idc)))
        .collect();
    let per = premq.len() / c;
    let rem = premq.len() % c;
    let mut result: Vec<MessageQueue> = premq
        .iter()
        .skip(index * per)
        .take(per)
        .map(|mq| (*mq).clone())
        .collect();
    if rem > index {
        if let Some(mq) = premq.get(index + per * c) {
            result.push((*mq).clone());
        }
    }
    result
}

/// A machine room name ordered by Java `String.compareTo`, as keys of Java's `TreeMap<String, _>`.
#[derive(PartialEq, Eq)]
struct Room(String);

impl Ord for Room {
    fn cmp(&self, other: &Self) -> Ordering {
        java_string_cmp(&self.0, &other.0)
    }
}

impl PartialOrd for Room {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn nearby(
    inner: &AllocateStrategy,
    resolver: &dyn MachineRoomResolver,
    consumer_group: &str,
    current_cid: &str,
    mq_all: &[MessageQueue],
    cid_all: &[String],
) -> Result<Vec<MessageQueue>, AllocateError> {
    let mut room_queues: BTreeMap<Room, Vec<MessageQueue>> = BTreeMap::new();
    for mq in mq_all {
        match resolver.broker_deploy_in(mq) {
            Some(room) if !room.is_empty() => room_queues.entry(Room(room)).or_default().push(mq.clone()),
            _ => return Err(AllocateError::NoBrokerRoom(mq.clone())),
        }
    }
    let mut room_consumers: BTreeMap<Room, Vec<String>> = BTreeMap::new();
    for cid in cid_all {
        match resolver.consumer_deploy_in(cid) {
            Some(room) if !room.is_empty() => room_consumers.entry(Room(room)).or_default().push(cid.clone()),
            _ => return Err(AllocateError::NoConsumerRoom(cid.clone())),
        }
    }

    let mut result = Vec::new();
    // 1. Queues in my room, split among the consumers in my room.
    let my_room = match resolver.consumer_deploy_in(current_cid) {
        Some(room) if !room.is_empty() => Room(room),
        _ => return Err(AllocateError::NoConsumerRoom(current_cid.to_owned())),
    };
    if let Some(queues) = room_queues.remove(&my_room) {
        let consumers = room_consumers.get(&my_room).map_or(&[][..], Vec::as_slice);
        result.extend(inner.allocate(consumer_group, current_cid, &queues, consumers)?);
    }
    // 2. Queues of rooms without any consumer, split among all consumers.
    for (room, queues) in &room_queues {
        if !room_consumers.contains_key(room) {
            result.extend(inner.allocate(consumer_group, current_cid, queues, cid_all)?);
        }
    }
    Ok(result)
}

#[cfg(test)]
#[path = "allocate_tests.rs"]
mod tests;
