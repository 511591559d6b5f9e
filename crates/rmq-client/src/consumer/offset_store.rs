//! `OffsetStore`: a consumer group's committed offsets, kept in memory and stored on the brokers
//! (CLUSTERING: QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET to the queue's master, Java
//! `RemoteBrokerOffsetStore`) or in a local file (BROADCASTING, Java `LocalFileOffsetStore`).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use rmq_protocol::header::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::message::MessageQueue;
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

use crate::client::ClientCore;
use crate::consumer::local_offsets::{Loaded, LocalOffsetFile};
use crate::consumer::stats::{now_ms, OffsetCounters, OffsetStoreMetrics};
use crate::error::{Error, Result};
use crate::telemetry::consumer::ConsumerLabels;

/// Where [`OffsetStore::read`] looks (Java `ReadOffsetType`).
#[allow(dead_code)] // the push consumer reads memory first; the pull consumer (#6) uses the others
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOffsetType {
    /// Only this client's memory.
    ReadFromMemory,
    /// Only the broker.
    ReadFromStore,
    /// Memory, and the broker when memory has nothing.
    MemoryFirstThenStore,
}

/// Committed offsets of one consumer group: the next offset to consume for each queue.
#[derive(Debug)]
pub(crate) struct OffsetStore {
    core: Arc<ClientCore>,
    group: String,
    table: Mutex<HashMap<MessageQueue, i64>>,
    counters: OffsetCounters,
    /// BROADCASTING: the local file and what it holds.
    local: Option<Local>,
    /// Offsets written per burst by `persist_all_oneway`.
    persist_burst: usize,
}

#[derive(Debug)]
struct Local {
    file: LocalOffsetFile,
    stored: Mutex<HashMap<MessageQueue, i64>>,
}

impl OffsetStore {
    /// Offsets stored on the brokers.
    pub(crate) fn remote(core: Arc<ClientCore>, group: String) -> Self {
        OffsetStore {
            counters: OffsetCounters::new(&ConsumerLabels::new(&group, &core.client_id)),
            core,
            group,
            table: Mutex::new(HashMap::new()),
            local: None,
            persist_burst: 10,
        }
    }

    /// Write this many offsets per burst when persisting all.
    pub(crate) fn with_persist_burst(mut self, n: usize) -> Self {
        self.persist_burst = n;
        self
    }

    /// Offsets stored in `file`, loaded now (see [`Loaded`]: damage is logged, never fatal).
    pub(crate) fn local(core: Arc<ClientCore>, group: String, file: LocalOffsetFile) -> Self {
        let stored = match file.load() {
            Loaded::Main(t) | Loaded::Backup(t) => t,
            Loaded::Missing | Loaded::Unusable => HashMap::new(),
        };
        OffsetStore {
            local: Some(Local {
                file,
                stored: Mutex::new(stored),
            }),
            ..Self::remote(core, group)
        }
    }

    /// BROADCASTING: merge memory into the file's table and write it (on the blocking pool).
    async fn save_local(&self, local: &Local) -> Result<()> {
        let table = {
            let mut stored = local
                .stored
                .lock()
                .map_err(|_| Error::invalid("offset table poisoned"))?;
            for (mq, o) in self.snapshot() {
                stored.insert(mq, o);
            }
            stored.clone()
        };
        let file = local.file.clone();
        let started = std::time::Instant::now();
        let res = tokio::task::spawn_blocking(move || file.save(&table))
            .await
            .map_err(|e| Error::new(crate::ErrorKind::Io).with_context(format!("offset file writer: {e}")))
            .and_then(|r| {
                r.map_err(|e| {
                    Error::new(crate::ErrorKind::Io)
                        .with_context(format!("writing {}: {e}", local.file.path().display()))
                })
            });
        self.count_persist(res.is_ok(), started.elapsed());
        res
    }

    /// Set the in-memory offset of `mq`. With `increase_only` a smaller offset is ignored (an out-of-order
    /// completion never moves the commit point back).
    pub(crate) fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        if offset < 0 {
            return;
        }
        if let Ok(mut t) = self.table.lock() {
            let slot = t.entry(mq.clone()).or_insert(offset);
            if !increase_only || offset > *slot {
                *slot = offset;
            }
        }
    }

    /// The in-memory offset of `mq`.
    pub(crate) fn read_memory(&self, mq: &MessageQueue) -> Option<i64> {
        self.table.lock().ok().and_then(|t| t.get(mq).copied())
    }

    /// The committed offset of `mq`, looked up as `how` says. `Ok(None)`: no offset anywhere. A failed
    /// broker read is an error, never "no offset".
    pub(crate) async fn read(&self, mq: &MessageQueue, how: ReadOffsetType) -> Result<Option<i64>> {
        match how {
            ReadOffsetType::ReadFromMemory => Ok(self.read_memory(mq)),
            ReadOffsetType::MemoryFirstThenStore if self.read_memory(mq).is_some() => {
                Ok(self.read_memory(mq))
            }
            ReadOffsetType::MemoryFirstThenStore | ReadOffsetType::ReadFromStore => {
                let stored = self.fetch(mq).await?;
                if let Some(o) = stored {
                    self.update(mq, o, false);
                }
                Ok(stored)
            }
        }
    }

    /// Counters of reads and writes.
    pub(crate) fn metrics(&self) -> OffsetStoreMetrics {
        self.counters.snapshot()
    }

    /// Forget `mq` (after its final offset was persisted).
    pub(crate) fn remove(&self, mq: &MessageQueue) {
        if let Ok(mut t) = self.table.lock() {
            t.remove(mq);
        }
    }

    /// Every queue with an in-memory offset.
    pub(crate) fn snapshot(&self) -> Vec<(MessageQueue, i64)> {
        self.table
            .lock()
            .map(|t| t.iter().map(|(q, o)| (q.clone(), *o)).collect())
            .unwrap_or_default()
    }

    /// The offset the broker stores for `mq`: `Ok(None)` when it has none. Any failure is an error — never
    /// "no offset" — so that a queue is not started from a guessed position.
    pub(crate) async fn fetch(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        if let Some(local) = &self.local {
            self.counters.fetched.fetch_add(1, Relaxed);
            self.counters.metrics.fetched(true);
            return Ok(local.stored.lock().ok().and_then(|t| t.get(mq).copied()));
        }
        let res = self.fetch_inner(mq).await;
        match &res {
            Ok(_) => self.counters.fetched.fetch_add(1, Relaxed),
            Err(_) => self.counters.fetch_failures.fetch_add(1, Relaxed),
        };
        self.counters.metrics.fetched(res.is_ok());
        res
    }

    async fn fetch_inner(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        let addr = self
            .core
            .routes
            .master_addr(&mq.broker_name, Some(&mq.topic))
            .await?;
        let h = QueryConsumerOffsetRequestHeader {
            consumer_group: self.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            set_zero_if_not_found: None,
            bname: Some(mq.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET, &h);
        let resp = self
            .core
            .remoting
            .invoke(&addr, cmd, self.core.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(Some(
                resp.decode_header::<QueryConsumerOffsetResponseHeader>()?.offset,
            )),
            ResponseCode::QUERY_NOT_FOUND => Ok(None),
            code => Err(Error::broker(code, resp.remark)),
        }
    }

    /// Write the in-memory offset of `mq` to its broker and wait for the answer.
    pub(crate) async fn persist(&self, mq: &MessageQueue) -> Result<()> {
        let Some(offset) = self.read_memory(mq) else {
            return Ok(());
        };
        if let Some(local) = &self.local {
            return self.save_local(local).await;
        }
        let started = std::time::Instant::now();
        let res = match self.update_request(mq, offset).await {
            Ok((addr, cmd)) => self
                .core
                .remoting
                .invoke_ok(&addr, cmd, self.core.config.request_timeout)
                .await
                .map(drop),
            Err(e) => Err(e),
        };
        self.count_persist(res.is_ok(), started.elapsed());
        res
    }

    fn count_persist(&self, ok: bool, took: std::time::Duration) {
        self.counters.metrics.persisted(ok, took);
        if ok {
            self.counters.persisted.fetch_add(1, Relaxed);
            self.counters.last_persist_ms.store(now_ms(), Relaxed);
        } else {
            self.counters.persist_failures.fetch_add(1, Relaxed);
        }
    }

    /// Write every in-memory offset to its broker (oneway, as the Java client's periodic persist does).
    pub(crate) async fn persist_all_oneway(&self) {
        if let Some(local) = &self.local {
            if let Err(e) = self.save_local(local).await {
                tracing::warn!(error = %e, "could not write the offset file; retrying at the next persist");
            }
            return;
        }
        let burst = self.persist_burst.max(1);
        for (i, (mq, offset)) in self.snapshot().into_iter().enumerate() {
            if i > 0 && i % burst == 0 {
                tokio::task::yield_now().await;
            }
            let started = std::time::Instant::now();
            match self.update_request(&mq, offset).await {
                Ok((addr, cmd)) => {
                    let res = self
                        .core
                        .remoting
                        .invoke_oneway(&addr, cmd, self.core.config.request_timeout)
                        .await;
                    self.count_persist(res.is_ok(), started.elapsed());
                    if let Err(e) = res {
                        debug!(queue = %mq, error = %e, "offset persist failed");
                    }
                }
                Err(e) => {
                    self.count_persist(false, started.elapsed());
                    debug!(queue = %mq, error = %e, "offset persist: no broker address");
                }
            }
        }
    }

    async fn update_request(&self, mq: &MessageQueue, offset: i64) -> Result<(String, RemotingCommand)> {
        let addr = self
            .core
            .routes
            .master_addr(&mq.broker_name, Some(&mq.topic))
            .await?;
        let h = UpdateConsumerOffsetRequestHeader {
            consumer_group: self.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            commit_offset: offset,
            bname: Some(mq.broker_name.clone()),
        };
        Ok((
            addr,
            RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET, &h),
        ))
    }
}
