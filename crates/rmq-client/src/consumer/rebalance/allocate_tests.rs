//! Edge cases of the allocation strategies. The bulk check against the Java client is
//! `tests/allocate_vectors.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn queues(broker: &str, n: i32) -> Vec<MessageQueue> {
    (0..n).map(|q| MessageQueue::new("T", broker, q)).collect()
}

fn cids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.0.0.{i}@1#idc")).collect()
}

fn ids(mqs: &[MessageQueue]) -> Vec<i32> {
    mqs.iter().map(|mq| mq.queue_id).collect()
}

/// Every consumer's share, in `cid_all` order.
fn shares(s: &AllocateStrategy, mq_all: &[MessageQueue], cid_all: &[String]) -> Vec<Vec<i32>> {
    cid_all
        .iter()
        .map(|cid| ids(&s.allocate("g", cid, mq_all, cid_all).unwrap()))
        .collect()
}

#[derive(Debug)]
struct PrefixResolver;

impl MachineRoomResolver for PrefixResolver {
    fn broker_deploy_in(&self, mq: &MessageQueue) -> Option<String> {
        mq.broker_name.split('@').next().map(str::to_owned)
    }

    fn consumer_deploy_in(&self, client_id: &str) -> Option<String> {
        client_id.rsplit_once('#').map(|(_, room)| room.to_owned())
    }
}

fn all_checked() -> Vec<AllocateStrategy> {
    vec![
        AllocateStrategy::Average,
        AllocateStrategy::AverageByCircle,
        AllocateStrategy::consistent_hash(),
        AllocateStrategy::machine_room(["idc"]),
        AllocateStrategy::machine_room_nearby(AllocateStrategy::Average, Arc::new(PrefixResolver)),
    ]
}

#[test]
fn average_blocks_with_extras_first() {
    let s = AllocateStrategy::Average;
    assert_eq!(
        shares(&s, &queues("b", 10), &cids(3)),
        [vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]
    );
    assert_eq!(
        shares(&s, &queues("b", 6), &cids(3)),
        [vec![0, 1], vec![2, 3], vec![4, 5]]
    );
}

#[test]
fn average_fewer_queues_than_consumers() {
    let s = AllocateStrategy::Average;
    assert_eq!(
        shares(&s, &queues("b", 3), &cids(5)),
        [vec![0], vec![1], vec![2], vec![], vec![]]
    );
    assert_eq!(shares(&s, &queues("b", 1), &cids(2)), [vec![0], vec![]]);
}

#[test]
fn circle_deals_round_robin() {
    let s = AllocateStrategy::AverageByCircle;
    assert_eq!(
        shares(&s, &queues("b", 7), &cids(3)),
        [vec![0, 3, 6], vec![1, 4], vec![2, 5]]
    );
    assert_eq!(shares(&s, &queues("b", 2), &cids(3)), [vec![0], vec![1], vec![]]);
}

#[test]
fn every_queue_assigned_exactly_once() {
    let mq_all = queues("idc@b", 37);
    for c in 1..12 {
        let cid_all = cids(c);
        for s in all_checked() {
            let mut all: Vec<i32> = shares(&s, &mq_all, &cid_all).concat();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..37).collect::<Vec<_>>(),
                "{} with {c} consumers",
                s.name()
            );
        }
    }
}

#[test]
fn consumer_not_in_list_gets_nothing() {
    let mq_all = queues("idc@b", 8);
    for s in all_checked() {
        let got = s.allocate("g", "10.9.9.9@1#idc", &mq_all, &cids(3)).unwrap();
        assert!(got.is_empty(), "{}", s.name());
    }
}

#[test]
fn empty_inputs_are_errors() {
    let mq_all = queues("b", 4);
    let cid_all = cids(2);
    for s in all_checked() {
        assert_eq!(
            s.allocate("g", "", &mq_all, &cid_all),
            Err(AllocateError::EmptyCurrentCid)
        );
        assert_eq!(
            s.allocate("g", &cid_all[0], &[], &cid_all),
            Err(AllocateError::EmptyQueues)
        );
        assert_eq!(
            s.allocate("g", &cid_all[0], &mq_all, &[]),
            Err(AllocateError::EmptyConsumers)
        );
    }
}

#[test]
fn config_returns_its_list_unchanged() {
    let list = vec![
        MessageQueue::new("X", "z", 9),
        MessageQueue::new("A", "a", 1),
        MessageQueue::new("X", "z", 9),
    ];
    let s = AllocateStrategy::Config(list.clone());
    assert_eq!(s.allocate("g", "", &[], &[]).unwrap(), list);
    assert_eq!(s.allocate("g", "me", &queues("b", 3), &cids(2)).unwrap(), list);
    assert_eq!(
        AllocateStrategy::Config(Vec::new()).allocate("g", "me", &[], &[]),
        Ok(vec![])
    );
}

#[test]
fn names_match_java() {
    let names: Vec<String> = all_checked().iter().map(|s| s.name().into_owned()).collect();
    assert_eq!(
        names,
        [
            "AVG",
            "AVG_BY_CIRCLE",
            "CONSISTENT_HASH",
            "MACHINE_ROOM",
            "MACHINE_ROOM_NEARBY-AVG"
        ]
    );
    assert_eq!(AllocateStrategy::Config(vec![]).name(), "CONFIG");
    assert_eq!(AllocateStrategy::default().name(), "AVG");
    let nested = AllocateStrategy::machine_room_nearby(
        AllocateStrategy::machine_room_nearby(AllocateStrategy::consistent_hash(), Arc::new(PrefixResolver)),
        Arc::new(PrefixResolver),
    );
    assert_eq!(
        nested.name(),
        "MACHINE_ROOM_NEARBY-MACHINE_ROOM_NEARBY-CONSISTENT_HASH"
    );
}

#[test]
fn md5_hash_matches_java() {
    // First 4 digest bytes, big-endian, unsigned (values above i32::MAX stay positive in Java's long).
    assert_eq!(consistent_hash_key("a-0"), 2_707_812_305);
    assert_eq!(
        consistent_hash_key("MessageQueue [topic=TopicTest, brokerName=broker-a, queueId=0]"),
        1_987_926_524
    );
    assert_eq!(consistent_hash_key("中-\u{1F600}"), 4_139_032_759); // UTF-8 bytes
}

#[test]
fn hash_collision_later_node_wins() {
    // Found by the Java vector generator: both first virtual nodes hash to 953943601.
    let (a, b) = ("10.0.0.1@107015", "10.0.0.1@22");
    assert_eq!(
        consistent_hash_key(&format!("{a}-0")),
        consistent_hash_key(&format!("{b}-0"))
    );
    let (mq_all, cid_all) = sorted_inputs(queues("b", 16), vec![b.to_owned(), a.to_owned()]);
    assert_eq!(cid_all, [a, b]);
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: 1 };
    assert!(s.allocate("g", a, &mq_all, &cid_all).unwrap().is_empty());
    assert_eq!(s.allocate("g", b, &mq_all, &cid_all).unwrap(), mq_all);
}

#[test]
fn queue_hashing_onto_a_node_belongs_to_that_node() {
    // Java's tailMap(hash) includes an equal key. Pair found by search, confirmed by the Java generator.
    let mq_all: Vec<MessageQueue> = (0..4).map(|q| MessageQueue::new("T1954", "b", q)).collect();
    let hit = "10.0.0.1@92665";
    assert_eq!(
        consistent_hash_key(&mq_all[0].to_string()),
        consistent_hash_key(&format!("{hit}-0"))
    );
    let cid_all = vec![hit.to_owned(), "10.0.0.9@1".to_owned()];
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: 1 };
    assert_eq!(shares(&s, &mq_all, &cid_all), [vec![0, 2], vec![1, 3]]);
}

#[test]
fn consistent_hash_without_virtual_nodes_assigns_nothing() {
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: 0 };
    assert_eq!(shares(&s, &queues("b", 5), &cids(2)), [Vec::<i32>::new(), vec![]]);
}

#[test]
fn java_split_rules() {
    let cases = [
        ("idc@b", Some("idc")),
        ("idc@b@", Some("idc")),
        ("idc@b@@", Some("idc")),
        ("@b", Some("")),
        ("idc@", None),
        ("idc@@b", None),
        ("a@b@c", None),
        ("@", None),
        ("@@", None),
        ("", None),
        ("plain", None),
    ];
    for (name, want) in cases {
        assert_eq!(java_split_idc(name), want, "{name:?}");
    }
}

#[test]
fn machine_room_filters_then_splits() {
    let mut mq_all = queues("idc1@b", 5);
    mq_all.extend(queues("idc2@b", 3));
    mq_all.extend(queues("idc1@c@x", 2));
    let s = AllocateStrategy::machine_room(["idc1"]);
    // 5 matching queues over 2 consumers: blocks of 2, the fifth goes to consumer 0.
    assert_eq!(shares(&s, &mq_all, &cids(2)), [vec![0, 1, 4], vec![2, 3]]);
    assert_eq!(shares(&s, &mq_all, &cids(7))[4..], [vec![4], vec![], vec![]]);
}

#[test]
fn nearby_keeps_rooms_local_and_shares_orphans() {
    let mut mq_all = queues("a@b", 4);
    mq_all.extend(queues("b@b", 2));
    mq_all.extend(queues("c@b", 3));
    let cid_all = vec!["1#a".to_owned(), "2#a".to_owned(), "3#b".to_owned()];
    let s = AllocateStrategy::machine_room_nearby(AllocateStrategy::Average, Arc::new(PrefixResolver));
    let got: Vec<Vec<(String, i32)>> = cid_all
        .iter()
        .map(|cid| {
            let mqs = s.allocate("g", cid, &mq_all, &cid_all).unwrap();
            mqs.into_iter().map(|mq| (mq.broker_name, mq.queue_id)).collect()
        })
        .collect();
    let q = |b: &str, i| (b.to_owned(), i);
    assert_eq!(
        got,
        [
            vec![q("a@b", 0), q("a@b", 1), q("c@b", 0)],
            vec![q("a@b", 2), q("a@b", 3), q("c@b", 1)],
            vec![q("b@b", 0), q("b@b", 1), q("c@b", 2)],
        ]
    );
}

#[test]
fn nearby_errors_on_missing_room_but_not_for_outsiders() {
    let mq_all = vec![MessageQueue::new("T", "@b", 0)];
    let cid_all = vec!["1#a".to_owned()];
    let s = AllocateStrategy::machine_room_nearby(AllocateStrategy::Average, Arc::new(PrefixResolver));
    assert_eq!(
        s.allocate("g", "1#a", &mq_all, &cid_all),
        Err(AllocateError::NoBrokerRoom(mq_all[0].clone()))
    );
    assert_eq!(s.allocate("g", "2#a", &mq_all, &cid_all), Ok(vec![]));
    let cid_all = vec!["1".to_owned()];
    assert_eq!(
        s.allocate("g", "1", &queues("a@b", 1), &cid_all),
        Err(AllocateError::NoConsumerRoom("1".to_owned()))
    );
}

#[test]
fn sorted_inputs_use_java_order() {
    let (mq_all, cid_all) = sorted_inputs(
        vec![
            MessageQueue::new("T", "b\u{FF21}", 0),
            MessageQueue::new("T", "b\u{1F600}", 10),
            MessageQueue::new("T", "b\u{1F600}", 2),
        ],
        vec!["x\u{FF21}".to_owned(), "x\u{1F600}".to_owned()],
    );
    let got: Vec<(&str, i32)> = mq_all
        .iter()
        .map(|mq| (mq.broker_name.as_str(), mq.queue_id))
        .collect();
    assert_eq!(got, [("b\u{1F600}", 2), ("b\u{1F600}", 10), ("b\u{FF21}", 0)]);
    assert_eq!(cid_all, ["x\u{1F600}", "x\u{FF21}"]);
}

#[test]
fn custom_strategy_is_called() {
    #[derive(Debug)]
    struct FirstOnly;
    impl CustomAllocate for FirstOnly {
        fn allocate(
            &self,
            _group: &str,
            current_cid: &str,
            mq_all: &[MessageQueue],
            cid_all: &[String],
        ) -> Result<Vec<MessageQueue>, AllocateError> {
            Ok(match precheck(current_cid, mq_all, cid_all)? {
                Some(0) => mq_all.to_vec(),
                _ => Vec::new(),
            })
        }
        fn name(&self) -> &str {
            "FIRST_ONLY"
        }
    }
    let s = AllocateStrategy::Custom(Arc::new(FirstOnly));
    assert_eq!(s.name(), "FIRST_ONLY");
    assert_eq!(shares(&s, &queues("b", 2), &cids(2)), [vec![0, 1], vec![]]);
    assert_eq!(
        s.allocate("g", "", &queues("b", 2), &cids(2)),
        Err(AllocateError::EmptyCurrentCid)
    );
}
