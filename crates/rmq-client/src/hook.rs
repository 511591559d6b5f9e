//! The RPC-hook point: code that sees (and may amend) every request before it is sent.
//!
//! ACL signing plugs in here: it adds its ext fields and a signature computed over the request as it
//! stands. Hooks run in the caller's task, never in a connection actor.

use rmq_protocol::RemotingCommand;

/// Called for every request this client sends, and every response it writes to a server request.
pub trait RpcHook: Send + Sync + 'static {
    /// Amend `cmd` before it is encoded and sent to `addr`.
    fn before_request(&self, addr: &str, cmd: &mut RemotingCommand);

    /// Observe the response to `request` (default: nothing).
    fn after_response(&self, addr: &str, request: &RemotingCommand, response: &RemotingCommand) {
        let _ = (addr, request, response);
    }
}
