//! Transactional messages: a half message is stored, the local transaction runs, and the message is
//! delivered only if the transaction commits. An undecided transaction is settled later by the broker
//! asking [`TransactionListener::check`].
//!
//! `cargo run -p rmq-client --example transaction -- <topic>`
//!
//! Three orders are sent: one commits, one rolls back (never delivered), and one answers `Unknown`; the
//! broker asks about that one later (a 5.x broker checks half messages older than `transactionTimeOut`,
//! 6 s, every `transactionCheckInterval`, 30 s), the program answers Commit and exits. A consumer of the
//! topic then sees `pay` and `slow`, never `cancel`.
#![allow(clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_client::producer::{
    LocalTransactionState, Producer, SendResult, TransactionListener, TransactionProducer,
};
use rmq_protocol::message::{Message, MessageExt};
use tokio::sync::mpsc;

/// Stands in for the application's database: what happened to each order.
struct Orders {
    /// Order id → whether its local transaction committed (`None`: still running).
    outcome: Mutex<HashMap<String, Option<bool>>>,
    /// Tells `main` which orders the broker asked about.
    checked: mpsc::UnboundedSender<String>,
}

impl Orders {
    fn order_id(msg: &Message) -> String {
        msg.keys().into_iter().next().unwrap_or_default().to_owned()
    }
}

impl TransactionListener for Orders {
    // Runs right after the half message was stored (on a blocking thread: it may block on a database).
    fn execute(&self, msg: &Message, half: &SendResult) -> LocalTransactionState {
        let id = Self::order_id(msg);
        println!(
            "half message {} stored for {id}; running the local transaction",
            half.msg_id
        );
        let state = match String::from_utf8_lossy(&msg.body).as_ref() {
            "pay" => Some(true),
            "cancel" => Some(false),
            _ => None, // e.g. the database did not answer in time
        };
        if let Ok(mut o) = self.outcome.lock() {
            // The undecided order finishes later: by the time the broker asks, it has committed.
            o.insert(id, state.or(Some(true)));
        }
        match state {
            Some(true) => LocalTransactionState::Commit,
            Some(false) => LocalTransactionState::Rollback,
            None => LocalTransactionState::Unknown,
        }
    }

    // The broker asks about a half message whose transaction was reported Unknown (or whose answer
    // was lost): look the outcome up, never re-run the transaction.
    fn check(&self, msg: &MessageExt) -> LocalTransactionState {
        let id = Self::order_id(msg);
        let state = match self
            .outcome
            .lock()
            .ok()
            .and_then(|o| o.get(&id).copied().flatten())
        {
            Some(true) => LocalTransactionState::Commit,
            Some(false) => LocalTransactionState::Rollback,
            None => LocalTransactionState::Unknown,
        };
        println!("broker checks {id}: answering {state:?}");
        let _ = self.checked.send(id);
        state
    }
}

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let topic = common::topic();
    let (checked, mut checks) = mpsc::unbounded_channel();
    let listener = Arc::new(Orders {
        outcome: Mutex::new(HashMap::new()),
        checked,
    });
    // The producer group identifies the transaction producers the broker may ask; keep it stable.
    let builder = Producer::builder("example_tx_producer").name_server(common::namesrv());
    let producer = TransactionProducer::start(builder, listener).await?;

    for (order, action) in [("order-1", "pay"), ("order-2", "cancel"), ("order-3", "slow")] {
        let msg = Message::new(&topic, action).with_keys([order]);
        let r = producer.send_in_transaction(msg).await?;
        println!(
            "{order}: half message {:?} in {}, local transaction {:?}",
            r.send_result.status, r.send_result.queue, r.local_state
        );
    }

    // order-3 stays invisible to consumers until the broker's check is answered.
    match tokio::time::timeout(Duration::from_secs(120), checks.recv()).await {
        Ok(Some(id)) => println!("{id} settled by the broker's check"),
        _ => println!("no transaction check within 120 s (see the broker's transactionCheckInterval)"),
    }
    producer.shutdown().await;
    Ok(())
}
