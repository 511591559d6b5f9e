//! `chaos-consumer NAMESRV TOPIC GROUP ID`: a concurrent push consumer in its own process, for
//! scenarios that `kill -9` a consumer (R3). Writes `READY` once started, then one line per
//! delivery (`rmq_chaos::consumer_process::delivery_line`) to stdout before the listener
//! returns; shuts down gracefully when its stdin closes.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use rmq_chaos::consumer_process::{delivery_line, READY};
use rmq_chaos::harness::{body_id, consumer_config};
use rmq_client::consumer::{ConcurrentConsumer, ConsumeContext, ConsumeResult, MessageSelector};
use rmq_client::ClientConfig;
use rmq_protocol::message::MessageExt;

fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [namesrv, topic, group, id] = args.as_slice() else {
        let _ = writeln!(std::io::stderr(), "usage: chaos-consumer NAMESRV TOPIC GROUP ID");
        return ExitCode::from(2);
    };
    let config = consumer_config(ClientConfig::new(namesrv.as_str()), group, id);
    let started = ConcurrentConsumer::builder(config)
        .subscribe(topic, MessageSelector::all())
        .listener(|msgs: &[MessageExt], ctx: &mut ConsumeContext| {
            let entered = SystemTime::now();
            let exited = SystemTime::now();
            let lines: String = msgs
                .iter()
                .map(|m| {
                    delivery_line(
                        &body_id(&m.body),
                        ctx.message_queue(),
                        m.queue_offset,
                        m.reconsume_times,
                        entered,
                        exited,
                    )
                })
                .collect();
            // Not on record, not consumed: the message comes back.
            match emit(&lines) {
                Ok(()) => ConsumeResult::Success,
                Err(_) => ConsumeResult::ReconsumeLater,
            }
        })
        .start()
        .await;
    let consumer = match started {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "chaos-consumer {id}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if emit(&format!("{READY}\n")).is_err() {
        return ExitCode::FAILURE;
    }
    // Runs until stdin closes (the test's graceful stop) or the process is killed.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink)
    })
    .await;
    consumer.shutdown().await;
    ExitCode::SUCCESS
}
