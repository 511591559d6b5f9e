//! Routing of broker-initiated requests to whoever registered for their code.

use std::collections::HashMap;
use std::sync::Mutex;

use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::mpsc;
use tracing::debug;

use crate::transport::InboundRequest;

/// Every code a client may receive from a broker.
pub(crate) const INBOUND_CODES: &[RequestCode] = &[
    RequestCode::CHECK_TRANSACTION_STATE,
    RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
    RequestCode::RESET_CONSUMER_CLIENT_OFFSET,
    RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT,
    RequestCode::GET_CONSUMER_RUNNING_INFO,
    RequestCode::CONSUME_MESSAGE_DIRECTLY,
    RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT,
];

/// Handlers by request code. Registration is rare; lookups happen per inbound request.
#[derive(Debug, Default)]
pub(crate) struct InboundHandlers {
    by_code: Mutex<HashMap<i32, mpsc::Sender<InboundRequest>>>,
}

impl InboundHandlers {
    /// Deliver requests with `code` to `tx` (replacing any previous handler).
    pub(crate) fn register(&self, code: RequestCode, tx: mpsc::Sender<InboundRequest>) {
        if let Ok(mut m) = self.by_code.lock() {
            m.insert(code.0, tx);
        }
    }

    /// Hand `req` to its handler, or answer it ourselves when nobody handles its code.
    pub(crate) async fn dispatch(&self, req: InboundRequest) {
        let handler = self
            .by_code
            .lock()
            .ok()
            .and_then(|m| m.get(&req.command.code).cloned());
        let req = match handler {
            Some(tx) => match tx.try_send(req) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(r)) => {
                    (r, ResponseCode::SYSTEM_BUSY, "handler queue full")
                }
                Err(mpsc::error::TrySendError::Closed(r)) => {
                    (r, ResponseCode::REQUEST_CODE_NOT_SUPPORTED, "handler stopped")
                }
            },
            None => {
                let code = req.command.code;
                (
                    req,
                    ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                    if code == 0 { "" } else { "no handler" },
                )
            }
        };
        let (req, code, why) = req;
        debug!(code = req.command.code, why, "inbound request not handled");
        if req.command.is_oneway() {
            return;
        }
        let remark = format!(" request type {} not supported ({why})", req.command.code);
        let resp = RemotingCommand::new_response(code, req.command.opaque, Some(remark))
            .with_serialize_type(req.command.serialize_type);
        let _ = req.connection.respond(resp).await;
    }
}
