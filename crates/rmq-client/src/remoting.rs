//! `RemotingClient`: requests by address over the connection pool, with the RPC hook applied.

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::{RemotingCommand, ResponseCode, SerializeType};

use crate::error::{Error, Result};
use crate::hook::RpcHook;
use crate::transport::{ConnectionHandle, ConnectionOptions, ConnectionPool, InboundSink};

/// Sends requests to any address, connecting lazily through a [`ConnectionPool`].
#[derive(Clone)]
pub struct RemotingClient {
    pool: ConnectionPool,
    hook: Option<Arc<dyn RpcHook>>,
    serialize_type: SerializeType,
}

impl std::fmt::Debug for RemotingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotingClient")
            .field("pool", &self.pool)
            .field("hook", &self.hook.is_some())
            .field("serialize_type", &self.serialize_type)
            .finish()
    }
}

impl RemotingClient {
    /// A client over a new pool. `hook` runs on every request sent through this client and on every
    /// answer written to a request delivered to `inbound`.
    pub fn new(
        options: ConnectionOptions,
        inbound: Option<InboundSink>,
        hook: Option<Arc<dyn RpcHook>>,
        serialize_type: SerializeType,
    ) -> Self {
        let inbound = inbound.map(|sink| sink.with_hook(hook.clone()));
        RemotingClient {
            pool: ConnectionPool::new(options, inbound),
            hook,
            serialize_type,
        }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &ConnectionPool {
        &self.pool
    }

    /// The connection to `addr` (connecting if needed).
    pub async fn connection(&self, addr: &str) -> Result<ConnectionHandle> {
        self.pool.get(addr).await
    }

    fn prepare(&self, addr: &str, cmd: &mut RemotingCommand) {
        cmd.serialize_type = self.serialize_type;
        if let Some(h) = &self.hook {
            h.before_request(addr, cmd);
        }
    }

    /// Send `cmd` to `addr` and return the response, whatever its code.
    pub async fn invoke(
        &self,
        addr: &str,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        self.prepare(addr, &mut cmd);
        let deadline = tokio::time::Instant::now() + timeout;
        let conn = match tokio::time::timeout_at(deadline, self.pool.get(addr)).await {
            Ok(c) => c?,
            Err(_) => {
                return Err(Error::new(crate::ErrorKind::Timeout {
                    addr: Some(addr.to_owned()),
                    after: timeout,
                })
                .with_context("while connecting"))
            }
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let hook_req = self.hook.as_ref().map(|_| cmd.clone());
        let resp = conn.request(cmd, remaining).await?;
        if let (Some(h), Some(req)) = (&self.hook, hook_req) {
            h.after_response(addr, &req, &resp);
        }
        Ok(resp)
    }

    /// Send `cmd` to `addr` and return the response if its code is SUCCESS, else a `Broker` error.
    pub async fn invoke_ok(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let resp = self.invoke(addr, cmd, timeout).await?;
        expect_success(resp)
    }

    /// Send a oneway request to `addr`.
    pub async fn invoke_oneway(&self, addr: &str, mut cmd: RemotingCommand, timeout: Duration) -> Result<()> {
        self.prepare(addr, &mut cmd);
        let conn = tokio::time::timeout(timeout, self.pool.get(addr))
            .await
            .map_err(|_| {
                Error::new(crate::ErrorKind::Timeout {
                    addr: Some(addr.to_owned()),
                    after: timeout,
                })
            })??;
        conn.oneway(cmd).await
    }

    /// Close every connection.
    pub fn close(&self) {
        self.pool.close_all();
    }
}

/// `Ok(resp)` when `resp` is SUCCESS, else the matching error.
pub fn expect_success(resp: RemotingCommand) -> Result<RemotingCommand> {
    if resp.response_code() == ResponseCode::SUCCESS {
        Ok(resp)
    } else {
        Err(Error::broker(resp.response_code(), resp.remark))
    }
}
