//! The set-up most fault scenarios share: one concurrent consumer group, and a sync and an async
//! producer each under a steady recording [`Load`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_client::consumer::ConcurrentConsumer;
use rmq_client::producer::Producer;

use crate::harness::{Behavior, Harness, SendLatency};
use crate::load::{Load, Mode};

/// Keys per load.
const KEYS: usize = 8;

/// A consumer group and two producers under load, recording into the harness's recorder.
#[derive(Debug)]
pub struct Traffic {
    /// The consumer group.
    pub group: String,
    /// Its one consumer (instance `conc-1`, [`Behavior::default`]).
    pub consumer: ConcurrentConsumer,
    /// The producer of the sync load (client `sync`).
    pub sync_producer: Arc<Producer>,
    /// The producer of the async load (client `async`).
    pub async_producer: Arc<Producer>,
    /// Latency figures of the sync load.
    pub sync_latency: Arc<SendLatency>,
    loads: Vec<Load>,
}

impl Traffic {
    /// Starts a group named after `group_prefix`, then sync and async loads of `rate` messages
    /// a second each, and waits (up to 90 s) until more than 100 messages were delivered.
    ///
    /// # Panics
    /// When nothing is consumed within 90 s: the scenario cannot inject its fault.
    pub async fn start(h: &Harness, group_prefix: &str, rate: u32) -> Traffic {
        let group = rmq_testkit::unique_name(group_prefix);
        let consumer = h
            .concurrent(h.consumer_config(&group, "conc-1"), Behavior::default(), &h.rec)
            .await;
        let sync_producer = Arc::new(h.producer("sync").await);
        let async_producer = Arc::new(h.producer("async").await);
        let sync_load = Load::start(h, sync_producer.clone(), "sync", Mode::Sync, rate, KEYS);
        let async_load = Load::start(h, async_producer.clone(), "async", Mode::Async, rate, KEYS);
        let sync_latency = sync_load.latency.clone();
        let started = Instant::now();
        while h.rec.deliveries() <= 100 {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "no consumption before the fault"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Traffic {
            group,
            consumer,
            sync_producer,
            async_producer,
            sync_latency,
            loads: vec![sync_load, async_load],
        }
    }

    /// Stops both loads (sync sends in flight finish) and waits up to 15 s for every async
    /// callback; returns whether they all fired.
    pub async fn stop_loads(&mut self, h: &Harness) -> bool {
        for load in self.loads.drain(..) {
            load.stop().await;
        }
        let started = Instant::now();
        loop {
            if h.rec.history().check().pending == 0 {
                return true;
            }
            if started.elapsed() >= Duration::from_secs(15) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Drains the group ([`Harness::drain`], 3 s quiet, up to `deadline`); returns how long it took.
    pub async fn drain(&self, h: &Harness, deadline: Duration) -> Duration {
        h.drain(&self.group, &h.rec, Duration::from_secs(3), deadline)
            .await
    }

    /// Stops what is still running, then shuts the consumer and both producers down.
    pub async fn shutdown(mut self) {
        for load in self.loads.drain(..) {
            load.stop().await;
        }
        self.consumer.shutdown().await;
        self.sync_producer.shutdown().await;
        self.async_producer.shutdown().await;
    }
}
