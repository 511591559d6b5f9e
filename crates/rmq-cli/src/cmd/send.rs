//! `rmq send`: one message (or one per input line) with tags, keys, properties, delay and
//! sharding key.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use rmq_client::producer::{Producer, SelectByHash, SendResult};
use rmq_protocol::message::Message;
use serde_json::json;

use crate::common::{duration, key_value, Common};
use crate::output::{json_line, table};

/// Options of `rmq send`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rmq send orders 'hello'
  rmq send orders --tag created --key order-42 -p region=eu 'hello'
  rmq send orders -f event.json
  seq 3 | rmq send orders --lines --sharding-key user-7")]
pub(crate) struct Args {
    #[command(flatten)]
    common: Common,
    /// Topic to send to.
    topic: String,
    /// Message body [default: the file of --file, else standard input]
    body: Option<String>,
    /// Read the body from this file (`-` for standard input).
    #[arg(short = 'f', long, conflicts_with = "body", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Send each line of the input as its own message (empty lines are skipped).
    #[arg(long)]
    lines: bool,
    /// Tag.
    #[arg(long)]
    tag: Option<String>,
    /// Key (repeat for several).
    #[arg(long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// User property `name=value` (repeat for several).
    #[arg(short = 'p', long = "property", value_name = "NAME=VALUE", value_parser = key_value)]
    properties: Vec<(String, String)>,
    /// Deliver after this long (`10s`, `2m`; RocketMQ 5 timer messages).
    #[arg(long, value_parser = duration, conflicts_with = "delay_level")]
    delay: Option<Duration>,
    /// Deliver after a delay level (1..=18: 1s 5s 10s 30s 1m 2m … 2h).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=18))]
    delay_level: Option<i32>,
    /// Sharding key: messages with the same key go to the same queue (for orderly consumers).
    #[arg(long, value_name = "KEY")]
    sharding_key: Option<String>,
    /// Producer group.
    #[arg(long, default_value = "rmq_cli_producer")]
    group: String,
    /// Send timeout (retries included).
    #[arg(long, value_parser = duration, default_value = "5s")]
    timeout: Duration,
}

fn read_input(args: &Args) -> anyhow::Result<Vec<u8>> {
    if let Some(body) = &args.body {
        return Ok(body.clone().into_bytes());
    }
    match args.file.as_deref() {
        Some(path) if path != std::path::Path::new("-") => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .context("reading standard input")?;
            Ok(buf)
        }
    }
}

fn message(args: &Args, body: Vec<u8>) -> anyhow::Result<Message> {
    let mut msg = Message::new(&args.topic, body);
    if let Some(tag) = &args.tag {
        msg.set_tags(tag);
    }
    if !args.keys.is_empty() {
        msg.set_keys(&args.keys);
    }
    for (k, v) in &args.properties {
        msg.put_user_property(k, v)
            .with_context(|| format!("property {k:?}"))?;
    }
    if let Some(d) = args.delay {
        msg.set_delay_time_ms(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    }
    if let Some(level) = args.delay_level {
        msg.set_delay_time_level(level);
    }
    if let Some(key) = &args.sharding_key {
        msg.set_sharding_key(key);
    }
    Ok(msg)
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let input = tokio::task::block_in_place(|| read_input(&args))?;
    let bodies: Vec<Vec<u8>> = if args.lines {
        input
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        vec![input]
    };
    if bodies.is_empty() {
        bail!("nothing to send: the input has no lines");
    }
    let msgs = bodies
        .into_iter()
        .map(|b| message(&args, b))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let producer = Producer::builder(args.group.as_str())
        .client_config(args.common.client_config())
        .send_timeout(args.timeout)
        .start()
        .await
        .context("starting the producer")?;
    let mut results = Vec::with_capacity(msgs.len());
    let mut failure = None;
    for msg in msgs {
        let sent = if args.sharding_key.is_some() {
            producer
                .send_with_selector(msg, &SelectByHash::java_compatible())
                .await
        } else {
            producer.send(msg).await
        };
        match sent {
            Ok(r) => {
                if args.common.json {
                    print_json(&r);
                }
                results.push(r);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    producer.shutdown().await;
    if !args.common.json && !results.is_empty() {
        let rows: Vec<Vec<String>> = results.iter().map(row).collect();
        table(&["MSG ID", "BROKER", "QUEUE", "OFFSET", "STATUS"], &rows);
    }
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context(format!(
            "sending to topic {} ({} sent before the failure)",
            args.topic,
            results.len()
        )));
    }
    Ok(())
}

fn print_json(r: &SendResult) {
    json_line(&json!({
        "msg_id": r.msg_id,
        "offset_msg_id": r.offset_msg_id,
        "topic": r.queue.topic,
        "broker": r.queue.broker_name,
        "queue_id": r.queue.queue_id,
        "queue_offset": r.queue_offset,
        "status": format!("{:?}", r.status),
    }));
}

fn row(r: &SendResult) -> Vec<String> {
    vec![
        r.msg_id.clone(),
        r.queue.broker_name.clone(),
        r.queue.queue_id.to_string(),
        r.queue_offset.to_string(),
        format!("{:?}", r.status),
    ]
}
