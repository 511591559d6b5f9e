//! Transactional messages: half message, local transaction, END_TRANSACTION, and answering the broker's
//! CHECK_TRANSACTION_STATE.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rmq_protocol::header::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, TRANSACTION_COMMIT_TYPE,
    TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use rmq_protocol::message::{decode_messages, decode_offset_msg_id, properties as prop, Message, MessageExt};
use rmq_protocol::{RemotingCommand, RequestCode};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::options::ProducerBuilder;
use super::producer::Producer;
use super::result::{SendResult, SendStatus};
use crate::error::{Error, Result};
use crate::namespace;
use crate::transport::InboundRequest;

/// The state of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalTransactionState {
    /// Deliver the message.
    Commit,
    /// Discard the message.
    Rollback,
    /// Not decided yet: the broker will ask again through [`TransactionListener::check`].
    Unknown,
}

impl LocalTransactionState {
    fn wire(self) -> i32 {
        match self {
            LocalTransactionState::Commit => TRANSACTION_COMMIT_TYPE,
            LocalTransactionState::Rollback => TRANSACTION_ROLLBACK_TYPE,
            LocalTransactionState::Unknown => TRANSACTION_NOT_TYPE,
        }
    }
}

/// Your side of a transaction. Both methods run on blocking threads; a panic counts as `Unknown`.
pub trait TransactionListener: Send + Sync + 'static {
    /// Run the local transaction for `msg`, whose half message has just been stored.
    fn execute(&self, msg: &Message, half: &SendResult) -> LocalTransactionState;

    /// Tell the broker what became of the transaction of `msg` (asked when `execute` returned `Unknown`
    /// or its answer was lost).
    fn check(&self, msg: &MessageExt) -> LocalTransactionState;
}

/// The outcome of [`TransactionProducer::send_in_transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    /// The half message's send result.
    pub send_result: SendResult,
    /// What the local transaction decided (and what was reported to the broker).
    pub local_state: LocalTransactionState,
}

/// A producer that sends transactional messages (Java `TransactionMQProducer`).
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use std::sync::Arc;
/// use rmq_client::producer::{LocalTransactionState, SendResult, TransactionListener, TransactionProducer};
/// use rmq_protocol::message::{Message, MessageExt};
///
/// struct Orders;
/// impl TransactionListener for Orders {
///     fn execute(&self, _m: &Message, _r: &SendResult) -> LocalTransactionState { LocalTransactionState::Commit }
///     fn check(&self, _m: &MessageExt) -> LocalTransactionState { LocalTransactionState::Commit }
/// }
/// let producer = TransactionProducer::start(
///     rmq_client::producer::Producer::builder("tx_group").name_server("127.0.0.1:9876"),
///     Arc::new(Orders),
/// ).await?;
/// producer.send_in_transaction(Message::new("orders", "paid")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TransactionProducer {
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
}

impl std::fmt::Debug for TransactionProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionProducer")
            .field("producer", &self.producer)
            .finish_non_exhaustive()
    }
}

impl TransactionProducer {
    /// Start a transactional producer from `builder`, answering broker checks with `listener`.
    pub async fn start(builder: ProducerBuilder, listener: Arc<dyn TransactionListener>) -> Result<Self> {
        let producer = builder.start().await?;
        let (tx, rx) = mpsc::channel(2000);
        producer
            .inner
            .core
            .handlers
            .register(RequestCode::CHECK_TRANSACTION_STATE, tx);
        let this = TransactionProducer { producer, listener };
        let checker = this.clone_weakly();
        let cancel = this.producer.inner.cancel.clone();
        this.producer
            .inner
            .core
            .tracker
            .spawn(checker.run_checks(rx, cancel));
        Ok(this)
    }

    fn clone_weakly(&self) -> CheckHandler {
        CheckHandler {
            inner: Arc::downgrade(&self.producer.inner),
            listener: self.listener.clone(),
        }
    }

    /// The underlying producer (for ordinary sends).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Send `msg` as a half message, run the local transaction, and commit or roll back.
    ///
    /// If the half message was not stored with SEND_OK the transaction is rolled back without running
    /// the listener. The END_TRANSACTION request is oneway, as in Java: if it is lost the broker checks
    /// back later.
    pub async fn send_in_transaction(&self, mut msg: Message) -> Result<TransactionSendResult> {
        msg.clear_property(prop::DELAY_TIME_LEVEL);
        msg.set_transaction_prepared(true);
        msg.set_producer_group(self.producer.inner.group.clone());
        let send_result = self.producer.send(msg.clone()).await?;
        let local_state = if send_result.status == SendStatus::SendOk {
            if let Some(tid) = send_result.transaction_id.clone() {
                msg.set_transaction_id(tid);
            }
            let listener = self.listener.clone();
            let (m, r) = (msg.clone(), send_result.clone());
            tokio::task::spawn_blocking(move || run_guarded(|| listener.execute(&m, &r)))
                .await
                .unwrap_or(LocalTransactionState::Unknown)
        } else {
            LocalTransactionState::Rollback
        };
        self.end_transaction(&send_result, local_state).await?;
        Ok(TransactionSendResult {
            send_result,
            local_state,
        })
    }

    async fn end_transaction(&self, r: &SendResult, state: LocalTransactionState) -> Result<()> {
        let inner = &self.producer.inner;
        let (_, commit_log_offset) = decode_offset_msg_id(&r.offset_msg_id)?;
        let topic = namespace::wrap(inner.options.namespace.as_deref(), &r.queue.topic);
        let header = EndTransactionRequestHeader {
            topic: Some(topic.clone()),
            producer_group: inner.group.clone(),
            tran_state_table_offset: r.queue_offset,
            commit_log_offset,
            commit_or_rollback: state.wire(),
            from_transaction_check: None,
            msg_id: r.msg_id.clone(),
            transaction_id: r.transaction_id.clone(),
            bname: Some(r.queue.broker_name.clone()),
        };
        let addr = inner
            .core
            .routes
            .master_addr(&r.queue.broker_name, Some(&topic))
            .await?;
        let cmd = RemotingCommand::request(RequestCode::END_TRANSACTION, &header);
        inner
            .core
            .remoting
            .invoke_oneway(&addr, cmd, inner.options.send_timeout)
            .await
    }

    /// Stop the producer (see [`Producer::shutdown`]).
    pub async fn shutdown(&self) {
        self.producer.shutdown().await
    }
}

fn run_guarded(f: impl FnOnce() -> LocalTransactionState) -> LocalTransactionState {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        warn!("transaction listener panicked; reporting UNKNOWN");
        LocalTransactionState::Unknown
    })
}

/// Answers CHECK_TRANSACTION_STATE without keeping the producer alive.
struct CheckHandler {
    inner: std::sync::Weak<super::producer::ProducerInner>,
    listener: Arc<dyn TransactionListener>,
}

impl CheckHandler {
    async fn run_checks(
        self,
        mut rx: mpsc::Receiver<InboundRequest>,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let req = tokio::select! {
                _ = cancel.cancelled() => break,
                r = rx.recv() => match r { Some(r) => r, None => break },
            };
            if let Err(e) = self.answer(req).await {
                warn!(error = %e, "could not answer a transaction check");
            }
        }
    }

    async fn answer(&self, req: InboundRequest) -> Result<()> {
        let Some(inner) = self.inner.upgrade() else {
            return Ok(());
        };
        let h: CheckTransactionStateRequestHeader = req.command.decode_header()?;
        let msg = decode_messages(&req.command.body)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("transaction check without a message"))?;
        let listener = self.listener.clone();
        let m = msg.clone();
        let state = tokio::task::spawn_blocking(move || run_guarded(|| listener.check(&m)))
            .await
            .unwrap_or(LocalTransactionState::Unknown);
        debug!(msg_id = %msg.msg_id(), ?state, "answering transaction check");
        let header = EndTransactionRequestHeader {
            topic: h.topic.clone(),
            producer_group: inner.group.clone(),
            tran_state_table_offset: h.tran_state_table_offset,
            commit_log_offset: h.commit_log_offset,
            commit_or_rollback: state.wire(),
            from_transaction_check: Some(true),
            msg_id: msg
                .unique_key()
                .map(str::to_owned)
                .or(h.msg_id.clone())
                .unwrap_or_default(),
            transaction_id: h.transaction_id.clone(),
            bname: h.bname.clone(),
        };
        let cmd = RemotingCommand::request(RequestCode::END_TRANSACTION, &header);
        // Answer on the connection the check came from (its peer is the broker holding the half message).
        inner
            .core
            .remoting
            .invoke_oneway(req.connection.addr(), cmd, inner.options.send_timeout)
            .await
    }
}
