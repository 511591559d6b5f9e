//! The RPC-hook point: code that sees (and may amend) every request before it is sent.
//!
//! ACL signing plugs in here: it adds its ext fields and a signature computed over the request as it
//! stands. Hooks run in the caller's task, never in a connection actor.
//!
//! Where hooks run: [`RemotingClient`](crate::RemotingClient) calls [`RpcHook::before_request`] on every
//! request and oneway request, and the connection handle of an
//! [`InboundRequest`](crate::transport::InboundRequest) calls [`RpcHook::before_response`] on every answer
//! written to a server-initiated request. The only frames no hook sees are the refusals a connection
//! actor writes itself (`REQUEST_CODE_NOT_SUPPORTED` for a code nobody handles, `SYSTEM_BUSY` when the
//! handler queue is full); the Java client does not run its hooks on those either.

use std::sync::Arc;

use rmq_protocol::RemotingCommand;

/// Called for every request this client sends, and every response it writes to a server request.
pub trait RpcHook: Send + Sync + 'static {
    /// Amend `cmd` before it is encoded and sent to `addr`.
    fn before_request(&self, addr: &str, cmd: &mut RemotingCommand);

    /// Observe the response to `request` (default: nothing).
    fn after_response(&self, addr: &str, request: &RemotingCommand, response: &RemotingCommand) {
        let _ = (addr, request, response);
    }

    /// Amend `response`, an answer to a request `addr` sent us, before it is written (default: the same
    /// as [`before_request`](Self::before_request), so ACL signing covers answers too; brokers do not
    /// check them, and the Java client does not sign them).
    fn before_response(&self, addr: &str, response: &mut RemotingCommand) {
        self.before_request(addr, response);
    }
}

/// Several hooks run in order (`after_response` in the same order).
#[derive(Clone)]
pub struct HookChain {
    hooks: Vec<Arc<dyn RpcHook>>,
}

impl HookChain {
    /// Run `hooks` in the given order.
    pub fn new(hooks: Vec<Arc<dyn RpcHook>>) -> Self {
        HookChain { hooks }
    }
}

impl std::fmt::Debug for HookChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookChain")
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl RpcHook for HookChain {
    fn before_request(&self, addr: &str, cmd: &mut RemotingCommand) {
        for h in &self.hooks {
            h.before_request(addr, cmd);
        }
    }

    fn after_response(&self, addr: &str, request: &RemotingCommand, response: &RemotingCommand) {
        for h in &self.hooks {
            h.after_response(addr, request, response);
        }
    }

    fn before_response(&self, addr: &str, response: &mut RemotingCommand) {
        for h in &self.hooks {
            h.before_response(addr, response);
        }
    }
}
