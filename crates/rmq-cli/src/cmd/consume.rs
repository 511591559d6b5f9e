//! `rmq consume`: a push consumer (concurrent or orderly) that prints messages or JSON lines and
//! stops after N messages, a timeout, or Ctrl-C, shutting down cleanly (offsets committed).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use base64::Engine;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult,
    ConsumeResult, ConsumerConfig, MessageSelector, OrderlyConsumer,
};
use rmq_protocol::message::properties::is_system_property;
use rmq_protocol::message::MessageExt;
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use crate::common::{duration, Common};
use crate::output::{dim, json_line};

/// Options of `rmq consume`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rmq consume orders -c 10
  rmq consume orders -g billing --selector 'created || paid' --json
  rmq consume orders --sql \"region = 'eu'\" --from 10m
  rmq consume orders --orderly")]
pub(crate) struct Args {
    #[command(flatten)]
    common: Common,
    /// Topic to consume.
    topic: String,
    /// Consumer group (consumers of one group share the topic's queues and committed offsets).
    #[arg(short = 'g', long, default_value = "rmq_cli_consumer")]
    group: String,
    /// Tag expression: `*`, `TagA`, `TagA || TagB`.
    #[arg(short = 's', long, default_value = "*", conflicts_with = "sql")]
    selector: String,
    /// SQL92 filter over properties, e.g. `a > 5 AND region = 'eu'` (the broker must enable it).
    #[arg(long)]
    sql: Option<String>,
    /// Where a group without committed offsets starts: `first`, `last`, or a time ago such as
    /// `10m` or `2h`.
    #[arg(long, value_parser = parse_from, default_value = "first")]
    from: From,
    /// Consume in order, one queue at a time per consumer (for messages sent with a sharding key).
    #[arg(long)]
    orderly: bool,
    /// Stop after this many messages.
    #[arg(short = 'c', long)]
    count: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_parser = duration)]
    timeout: Option<Duration>,
}

/// `--from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    First,
    Last,
    Ago(Duration),
}

fn parse_from(s: &str) -> anyhow::Result<From> {
    match s {
        "first" => Ok(From::First),
        "last" => Ok(From::Last),
        _ => duration(s)
            .map(From::Ago)
            .map_err(|_| anyhow::anyhow!("expected `first`, `last` or a time ago such as `10m`")),
    }
}

/// Counts printed messages and says when the count is reached.
#[derive(Debug)]
struct Printer {
    json: bool,
    limit: Option<u64>,
    claimed: AtomicU64,
    done: Notify,
}

impl Printer {
    /// Prints `msg` unless the count is already reached (then `false`: leave it unconsumed).
    fn print(&self, msg: &MessageExt, broker: &str) -> bool {
        let n = self.claimed.fetch_add(1, Ordering::SeqCst);
        if self.limit.is_some_and(|limit| n >= limit) {
            return false;
        }
        if self.json {
            json_line(&message_json(msg, Some(broker)));
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", message_text(msg));
            let _ = out.flush();
        }
        if self.limit.is_some_and(|limit| n + 1 == limit) {
            self.done.notify_one();
        }
        true
    }

    fn printed(&self) -> u64 {
        let n = self.claimed.load(Ordering::SeqCst);
        self.limit.map_or(n, |l| n.min(l))
    }
}

/// A consumed (or looked-up) message as JSON: ids, position, tags, keys, user properties and
/// the body (`body` when UTF-8, else `body_base64`).
pub(crate) fn message_json(m: &MessageExt, broker: Option<&str>) -> Value {
    let props: Map<String, Value> = m
        .message
        .properties
        .iter()
        .filter(|(k, _)| !is_system_property(k))
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    let mut v = json!({
        "topic": m.message.topic,
        "broker": broker,
        "queue_id": m.queue_id,
        "queue_offset": m.queue_offset,
        "msg_id": m.msg_id(),
        "offset_msg_id": m.offset_msg_id(),
        "tags": m.message.tags(),
        "keys": m.message.keys(),
        "properties": props,
        "born_timestamp": m.born_timestamp,
        "store_timestamp": m.store_timestamp,
        "born_host": m.born_host.to_string(),
        "store_host": m.store_host.to_string(),
        "reconsume_times": m.reconsume_times,
    });
    match std::str::from_utf8(&m.message.body) {
        Ok(text) => v["body"] = json!(text),
        Err(_) => v["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(&m.message.body)),
    }
    v
}

/// A message as one line of text: position and id (dim), tags, keys, properties, then the body.
pub(crate) fn message_text(m: &MessageExt) -> String {
    let mut meta = format!(
        "{} q{}@{} {}",
        m.message.topic,
        m.queue_id,
        m.queue_offset,
        m.msg_id()
    );
    if let Some(t) = m.message.tags() {
        meta.push_str(&format!(" tags={t}"));
    }
    let keys = m.message.keys();
    if !keys.is_empty() {
        meta.push_str(&format!(" keys={}", keys.join(",")));
    }
    for (k, v) in m
        .message
        .properties
        .iter()
        .filter(|(k, _)| !is_system_property(k))
    {
        meta.push_str(&format!(" {k}={v}"));
    }
    format!("{} {}", dim(&meta), String::from_utf8_lossy(&m.message.body))
}

/// The started consumer, either kind.
enum Running {
    Concurrent(ConcurrentConsumer),
    Orderly(OrderlyConsumer),
}

impl Running {
    async fn shutdown(&self) {
        match self {
            Running::Concurrent(c) => c.shutdown().await,
            Running::Orderly(c) => c.shutdown().await,
        }
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if args.count == Some(0) {
        return Ok(());
    }
    // A consumer of a topic that does not exist would wait for it silently.
    args.common
        .admin()?
        .topic_route(&args.topic)
        .await
        .with_context(|| format!("looking up topic {}", args.topic))?;
    let mut config = ConsumerConfig::new(args.group.as_str());
    config.client = args.common.client_config();
    // One message per listener call, so a count stops exactly at a message boundary.
    config.consume_message_batch_max_size = 1;
    match args.from {
        From::First => config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset,
        From::Last => config.consume_from_where = ConsumeFromWhere::ConsumeFromLastOffset,
        From::Ago(ago) => {
            config.consume_from_where = ConsumeFromWhere::ConsumeFromTimestamp;
            config.consume_timestamp = Some(SystemTime::now() - ago);
        }
    }
    let selector = match &args.sql {
        Some(sql) => MessageSelector::sql(sql),
        None => MessageSelector::tag(args.selector.as_str()),
    };
    let printer = Arc::new(Printer {
        json: args.common.json,
        limit: args.count,
        claimed: AtomicU64::new(0),
        done: Notify::new(),
    });
    let consumer = if args.orderly {
        let p = printer.clone();
        OrderlyConsumer::builder(config)
            .subscribe(args.topic.as_str(), selector)
            .listener(move |msgs: &[MessageExt], ctx: &mut ConsumeOrderlyContext| {
                let broker = &ctx.message_queue().broker_name;
                // Past the count: leave the message to be delivered again (after this exits).
                if msgs.iter().all(|m| p.print(m, broker)) {
                    ConsumeOrderlyResult::Success
                } else {
                    ConsumeOrderlyResult::SuspendCurrentQueueAMoment
                }
            })
            .start()
            .await
            .map(Running::Orderly)
    } else {
        let p = printer.clone();
        ConcurrentConsumer::builder(config)
            .subscribe(args.topic.as_str(), selector)
            .async_listener(move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
                let p = p.clone();
                async move {
                    let broker = &ctx.message_queue().broker_name;
                    if msgs.iter().all(|m| p.print(m, broker)) {
                        ConsumeResult::Success
                    } else {
                        // Past the count: never complete, so the offset is not committed and the
                        // message is delivered again later (shutdown does not wait for this call).
                        std::future::pending().await
                    }
                }
            })
            .start()
            .await
            .map(Running::Concurrent)
    }
    .with_context(|| {
        format!(
            "starting a consumer of topic {} in group {}",
            args.topic, args.group
        )
    })?;
    if !args.common.json {
        eprintln!(
            "{}",
            dim(&format!(
                "consuming {} as group {} (Ctrl-C to stop)…",
                args.topic, args.group
            ))
        );
    }
    let timeout = async {
        match args.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let reason = tokio::select! {
        _ = printer.done.notified() => "count reached",
        _ = timeout => "timeout",
        r = tokio::signal::ctrl_c() => {
            r.context("listening for Ctrl-C")?;
            "interrupted"
        }
    };
    consumer.shutdown().await;
    if !args.common.json {
        eprintln!(
            "{}",
            dim(&format!(
                "{reason}: {} consumed",
                plural(printer.printed(), "message")
            ))
        );
    }
    Ok(())
}

/// `1 message`, `2 messages`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
