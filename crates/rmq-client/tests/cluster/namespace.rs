//! Namespaces against the real cluster: two tenants use the same topic and group names on one cluster
//! and never see each other's messages; retries stay inside the tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use rmq_client::admin::TopicSpec;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_client::producer::Producer;
use rmq_protocol::message::{Message, MessageExt};

/// (body, topic as delivered, reconsume times) of every delivery.
type Deliveries = Arc<Mutex<Vec<(String, String, i32)>>>;

async fn tenant(ns: &str, topic: &str, group: &str, tag: &str) -> (ConcurrentConsumer, Deliveries) {
    let p = Producer::builder(unique("nsp"))
        .name_server(cluster().namesrv_addr())
        .namespace(ns)
        .start()
        .await
        .unwrap();
    for i in 0..50 {
        p.send(Message::new(topic, format!("{tag}-{i}"))).await.unwrap();
    }
    p.shutdown().await;
    let mut cfg = ConsumerConfig::new(group);
    cfg.client.namesrv_addr = cluster().namesrv_addr();
    cfg.client.instance_name = tag.to_owned();
    cfg.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    cfg.namespace = Some(ns.to_owned());
    let seen: Deliveries = Default::default();
    let s2 = seen.clone();
    let c = ConcurrentConsumer::builder(cfg)
        .subscribe(topic, "*")
        .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeContext| {
            let mut s = s2.lock().unwrap();
            for m in msgs {
                let body = String::from_utf8_lossy(&m.body).into_owned();
                s.push((body.clone(), m.topic.clone(), m.reconsume_times));
                // The 7th message fails once: its retry must come back through the tenant's retry topic.
                if body.ends_with("-7") && m.reconsume_times == 0 {
                    ctx.set_delay_level_when_next_consume(1);
                    return ConsumeResult::ReconsumeLater;
                }
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    (c, seen)
}

#[tokio::test]
async fn two_tenants_with_the_same_names_are_isolated() {
    let (ns_a, ns_b) = (unique("tenantA"), unique("tenantB"));
    let topic = unique("orders");
    let group = unique("billing");
    let admin = admin();
    for ns in [&ns_a, &ns_b] {
        admin
            .create_topic_in_cluster(
                cluster().cluster_name(),
                &TopicSpec::new(format!("{ns}%{topic}"), 2),
            )
            .await
            .unwrap();
    }
    let (ca, seen_a) = tenant(&ns_a, &topic, &group, "A").await;
    let (cb, seen_b) = tenant(&ns_b, &topic, &group, "B").await;
    for (seen, tag) in [(&seen_a, "A"), (&seen_b, "B")] {
        let ok = eventually(Duration::from_secs(60), || async {
            let s = seen.lock().unwrap();
            let firsts = s.iter().filter(|d| d.2 == 0).count();
            firsts >= 50 && s.iter().any(|d| d.0 == format!("{tag}-7") && d.2 == 1)
        })
        .await;
        let s = seen.lock().unwrap().clone();
        assert!(ok, "tenant {tag}: {s:?}");
        // Only this tenant's messages, under the plain topic name, each once plus the one retry.
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (body, t, _) in &s {
            assert!(body.starts_with(&format!("{tag}-")), "tenant {tag} got {body}");
            assert_eq!(t, &topic);
            *counts.entry(body.clone()).or_default() += 1;
        }
        assert_eq!(counts.len(), 50);
        assert!(
            counts
                .iter()
                .all(|(b, n)| *n == if b == &format!("{tag}-7") { 2 } else { 1 }),
            "{counts:?}"
        );
    }
    // On the wire both groups and retry topics are namespaced.
    for ns in [&ns_a, &ns_b] {
        assert!(admin.topic_route(&format!("%RETRY%{ns}%{group}")).await.is_ok());
    }
    ca.shutdown().await;
    cb.shutdown().await;
}
