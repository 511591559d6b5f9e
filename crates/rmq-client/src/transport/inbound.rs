//! Requests initiated by the server (broker or name server), handed from connection actors to the client.

use std::sync::Arc;

use rmq_protocol::RequestCode;
use tokio::sync::mpsc;

use super::connection::ConnectionHandle;
use crate::hook::RpcHook;

/// A request the server sent us, with the connection to answer on.
#[derive(Debug)]
pub struct InboundRequest {
    /// The connection it arrived on; answer with [`ConnectionHandle::respond`] unless it is oneway.
    pub connection: ConnectionHandle,
    /// The request itself.
    pub command: rmq_protocol::RemotingCommand,
}

/// Where connection actors deliver server-initiated requests: a channel plus the codes its receiver
/// handles. Anything else is answered `REQUEST_CODE_NOT_SUPPORTED` by the actor itself.
#[derive(Clone)]
pub struct InboundSink {
    tx: mpsc::Sender<InboundRequest>,
    codes: Arc<[RequestCode]>,
    hook: Option<Arc<dyn RpcHook>>,
}

impl std::fmt::Debug for InboundSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSink")
            .field("codes", &self.codes)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl InboundSink {
    /// A sink delivering the given codes to `tx`.
    pub fn new(tx: mpsc::Sender<InboundRequest>, codes: &[RequestCode]) -> Self {
        InboundSink {
            tx,
            codes: codes.into(),
            hook: None,
        }
    }

    /// Run `hook` ([`RpcHook::before_response`]) on every answer written through the connection handle
    /// of a delivered request.
    pub fn with_hook(mut self, hook: Option<Arc<dyn RpcHook>>) -> Self {
        self.hook = hook;
        self
    }

    pub(crate) fn hook(&self) -> Option<&Arc<dyn RpcHook>> {
        self.hook.as_ref()
    }

    pub(crate) fn accepts(&self, code: RequestCode) -> bool {
        self.codes.contains(&code)
    }

    pub(crate) fn try_send(&self, req: InboundRequest) -> Result<(), ()> {
        self.tx.try_send(req).map_err(|_| ())
    }
}
