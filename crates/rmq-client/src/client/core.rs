//! `ClientCore`: what one producer or consumer runs on.
//!
//! It owns the connection pool, the route table and its refresh task, the heartbeat task and the
//! dispatcher of broker-initiated requests. All of them are tokio tasks stopped through the core's
//! cancellation token and awaited through its task tracker on shutdown.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::dispatch::{InboundHandlers, INBOUND_CODES};
use super::heartbeat::Registry;
use crate::config::ClientConfig;
use crate::error::Result;
use crate::hook::RpcHook;
use crate::remoting::RemotingClient;
use crate::route::{NameServerClient, RouteTable};
use crate::telemetry::client::{HeartbeatTelemetry, PoolMetrics};
use crate::tls::TlsConfig;
use crate::transport::{ConnectionOptions, InboundSink};

/// Shared state of one running client (producer or consumer).
pub(crate) struct ClientCore {
    pub(crate) config: ClientConfig,
    pub(crate) client_id: String,
    pub(crate) remoting: RemotingClient,
    pub(crate) routes: RouteTable,
    pub(crate) handlers: InboundHandlers,
    pub(crate) registry: Registry,
    pub(crate) heartbeat_now: Notify,
    /// Heartbeat counters and the last round's outcome.
    pub(crate) heartbeats: HeartbeatTelemetry,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// Stops the heartbeat task (before unregistering, so no round re-registers this client).
    heartbeat_stop: CancellationToken,
    /// The heartbeat task, awaited on shutdown before the groups are unregistered.
    heartbeat_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for ClientCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCore")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientCore {
    /// Validate `config`, then start the background tasks. No connection is made yet.
    pub(crate) fn start(config: ClientConfig, hook: Option<Arc<dyn RpcHook>>) -> Result<Arc<Self>> {
        let addrs = config.name_servers()?;
        let hook = crate::acl::client_hook(hook, config.credentials.as_ref())?;
        let (inbound_tx, mut inbound_rx) = mpsc::channel(1024);
        let opts = ConnectionOptions {
            connect_timeout: config.connect_timeout,
            max_frame: config.max_frame,
            tls: config.tls.as_ref().map(TlsConfig::connector).transpose()?,
            ..Default::default()
        };
        let sink = InboundSink::new(inbound_tx, INBOUND_CODES);
        let remoting = RemotingClient::new(opts, Some(sink), hook, config.serialize_type);
        let namesrv = NameServerClient::new(addrs, remoting.clone(), config.request_timeout)?;
        let client_id = config.client_id();
        crate::telemetry::describe_metrics();
        remoting.pool().observe(PoolMetrics::new(&client_id));
        let cancel = CancellationToken::new();
        let core = Arc::new(ClientCore {
            heartbeats: HeartbeatTelemetry::new(&client_id),
            client_id,
            config,
            remoting,
            routes: RouteTable::new(namesrv),
            handlers: InboundHandlers::default(),
            registry: Registry::default(),
            heartbeat_now: Notify::new(),
            heartbeat_stop: cancel.child_token(),
            cancel,
            tracker: TaskTracker::new(),
            heartbeat_task: std::sync::Mutex::new(None),
        });

        let routes = core.routes.clone();
        core.tracker
            .spawn(routes.run_refresh(core.config.poll_name_server_interval, core.cancel.child_token()));

        let weak = Arc::downgrade(&core);
        let cancel = core.cancel.child_token();
        core.tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    req = inbound_rx.recv() => match (req, weak.upgrade()) {
                        (Some(req), Some(core)) => core.handlers.dispatch(req).await,
                        _ => break,
                    },
                }
            }
        });

        let weak = Arc::downgrade(&core);
        let cancel = core.heartbeat_stop.clone();
        let interval = core.config.heartbeat_interval;
        let mut routes_rx = core.routes.subscribe();
        let heartbeats = core.tracker.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut known: BTreeSet<String> = BTreeSet::new();
            loop {
                let Some(core) = weak.upgrade() else { break };
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                    _ = core.heartbeat_now.notified() => {}
                    changed = routes_rx.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        // Only a broker we have not announced ourselves to needs a heartbeat right away
                        // (e.g. so it can send transaction checks to this producer).
                        let addrs: BTreeSet<String> =
                            routes_rx.borrow_and_update().all_broker_addrs().map(|(_, _, a)| a.to_owned()).collect();
                        if addrs.is_subset(&known) {
                            continue;
                        }
                    }
                }
                known = core.routes.snapshot().all_broker_addrs().map(|(_, _, a)| a.to_owned()).collect();
                if let Err(e) = core.send_heartbeat_to_all().await {
                    debug!(error = %e, "heartbeat round failed");
                }
            }
        });
        if let Ok(mut slot) = core.heartbeat_task.lock() {
            *slot = Some(heartbeats);
        }
        Ok(core)
    }

    /// Admin requests (queue ends, offsets by time) over this client's connections and routes.
    pub(crate) fn admin(&self) -> crate::admin::Admin {
        crate::admin::Admin::with_parts(
            self.remoting.clone(),
            self.routes.clone(),
            self.config.request_timeout,
        )
    }

    /// Ask the heartbeat task to run a round now.
    #[allow(dead_code)] // consumers trigger heartbeats when subscriptions change
    pub(crate) fn trigger_heartbeat(&self) {
        self.heartbeat_now.notify_one();
    }

    /// Stop background tasks (after unregistering `groups`), wait for them up to `grace`, close connections.
    ///
    /// The heartbeat task is stopped, and a round in flight awaited, before unregistering: a
    /// heartbeat answered after a broker's UNREGISTER_CLIENT would register this client again there,
    /// and until the connection closed the other members of its groups would count it in their
    /// allocation (Java serialises both with `lockHeartbeat` and drops the group from its table
    /// first).
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.heartbeat_stop.cancel();
        let heartbeats = self.heartbeat_task.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = heartbeats {
            let _ = tokio::time::timeout(grace, h).await;
        }
        self.unregister_all().await;
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(grace, self.tracker.wait()).await;
        self.remoting.close();
    }
}

impl Drop for ClientCore {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
