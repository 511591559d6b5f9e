//! Requests initiated by the server (broker or name server), handed from connection actors to the client.

use rmq_protocol::RequestCode;
use tokio::sync::mpsc;

use super::connection::ConnectionHandle;

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
#[derive(Debug, Clone)]
pub struct InboundSink {
    tx: mpsc::Sender<InboundRequest>,
    codes: std::sync::Arc<[RequestCode]>,
}

impl InboundSink {
    /// A sink delivering the given codes to `tx`.
    pub fn new(tx: mpsc::Sender<InboundRequest>, codes: &[RequestCode]) -> Self {
        InboundSink {
            tx,
            codes: codes.into(),
        }
    }

    pub(crate) fn accepts(&self, code: RequestCode) -> bool {
        self.codes.contains(&code)
    }

    pub(crate) fn try_send(&self, req: InboundRequest) -> Result<(), ()> {
        self.tx.try_send(req).map_err(|_| ())
    }
}
