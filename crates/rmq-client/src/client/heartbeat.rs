//! Heartbeats: registering this client's producer and consumer groups with every broker, and
//! unregistering them on shutdown.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmq_protocol::header::{
    ConsumerData, HeartbeatData, HeartbeatRequestHeader, ProducerData, UnregisterClientRequestHeader,
};
use rmq_protocol::{RemotingCommand, RequestCode};
use tracing::{debug, warn};

use super::core::ClientCore;
use crate::error::{ErrorKind, Result};

/// Produces the current `ConsumerData` of a consumer group (its subscriptions change over time).
pub(crate) type ConsumerDataFn = Arc<dyn Fn() -> ConsumerData + Send + Sync>;

/// The groups this client announces in heartbeats.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Default)]
struct RegistryInner {
    producers: Vec<String>,
    consumers: BTreeMap<String, ConsumerDataFn>,
}

impl Registry {
    pub(crate) fn add_producer(&self, group: &str) {
        if let Ok(mut r) = self.inner.lock() {
            if !r.producers.iter().any(|g| g == group) {
                r.producers.push(group.to_owned());
            }
        }
    }

    #[allow(dead_code)] // registered by consumers
    pub(crate) fn add_consumer(&self, group: &str, data: ConsumerDataFn) {
        if let Ok(mut r) = self.inner.lock() {
            r.consumers.insert(group.to_owned(), data);
        }
    }

    fn snapshot(&self) -> (Vec<String>, Vec<ConsumerData>) {
        match self.inner.lock() {
            Ok(r) => (r.producers.clone(), r.consumers.values().map(|f| f()).collect()),
            Err(_) => (Vec::new(), Vec::new()),
        }
    }
}

impl ClientCore {
    /// The heartbeat body as it stands now.
    pub(crate) fn heartbeat_data(&self) -> HeartbeatData {
        let (producers, consumers) = self.registry.snapshot();
        HeartbeatData {
            client_id: self.client_id.clone(),
            consumer_data_set: consumers,
            heartbeat_fingerprint: 0,
            producer_data_set: producers
                .into_iter()
                .map(|group_name| ProducerData { group_name })
                .collect(),
            without_sub: false,
        }
    }

    /// Send a heartbeat to every known broker (masters only when there is no consumer, like Java).
    /// Succeeds when at least one broker accepted it, or when no broker is known yet.
    pub(crate) async fn send_heartbeat_to_all(&self) -> Result<()> {
        let data = self.heartbeat_data();
        if data.producer_data_set.is_empty() && data.consumer_data_set.is_empty() {
            return Ok(());
        }
        let masters_only = data.consumer_data_set.is_empty();
        let body = bytes::Bytes::from(data.to_json());
        let snapshot = self.routes.snapshot();
        let targets: Vec<String> = snapshot
            .all_broker_addrs()
            .filter(|(_, id, _)| !masters_only || *id == 0)
            .map(|(_, _, a)| a.to_owned())
            .collect();
        let mut last_err = None;
        let mut ok = 0usize;
        for addr in &targets {
            let cmd = RemotingCommand::request(RequestCode::HEART_BEAT, &HeartbeatRequestHeader {})
                .with_body(body.clone());
            match self
                .remoting
                .invoke_ok(addr, cmd, self.config.request_timeout)
                .await
            {
                Ok(_) => ok += 1,
                Err(e) => {
                    // Refused credentials or permissions do not fix themselves: say so where people look.
                    let acl = matches!(
                        e.kind(),
                        ErrorKind::AuthFailed { .. } | ErrorKind::PermissionDenied { .. }
                    );
                    if acl {
                        warn!(%addr, error = %e, "heartbeat refused by the broker's ACL");
                    } else {
                        debug!(%addr, error = %e, "heartbeat failed");
                    }
                    last_err = Some(e);
                }
            }
        }
        self.heartbeats.round(ok, targets.len() - ok, last_err.clone());
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(()),
        }
    }

    /// Unregister every group from every broker. Failures are logged; shutdown goes on.
    pub(crate) async fn unregister_all(&self) {
        let (producers, consumers) = self.registry.snapshot();
        let snapshot = self.routes.snapshot();
        let addrs: Vec<String> = snapshot
            .all_broker_addrs()
            .map(|(_, _, a)| a.to_owned())
            .collect();
        for addr in &addrs {
            if self.remoting.pool().get_if_connected(addr).is_none() {
                continue; // never talked to it: nothing registered there
            }
            let groups = producers
                .iter()
                .map(|g| (Some(g.clone()), None))
                .chain(consumers.iter().map(|c| (None, Some(c.group_name.clone()))));
            for (producer_group, consumer_group) in groups {
                let h = UnregisterClientRequestHeader {
                    client_id: self.client_id.clone(),
                    producer_group,
                    consumer_group,
                };
                let cmd = RemotingCommand::request(RequestCode::UNREGISTER_CLIENT, &h);
                if let Err(e) = self
                    .remoting
                    .invoke_ok(addr, cmd, self.config.request_timeout)
                    .await
                {
                    warn!(%addr, error = %e, "unregister failed");
                }
            }
        }
    }
}
