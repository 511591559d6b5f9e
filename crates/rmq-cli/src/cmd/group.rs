//! `rmq group consumers | offsets`.

use anyhow::Context;
use rmq_client::ErrorKind;
use rmq_protocol::ResponseCode;
use serde_json::json;

use crate::common::Common;
use crate::output::{bold, fields, json_line, table};

/// Options of `rmq group`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GroupCommand {
    /// The group's online consumers (client id, address, language, version) and subscriptions.
    Consumers {
        #[command(flatten)]
        common: Common,
        /// Consumer group.
        group: String,
    },
    /// Per queue: the broker's max offset, the group's committed offset and the lag between them.
    Offsets {
        #[command(flatten)]
        common: Common,
        /// Consumer group.
        group: String,
        /// Only this topic [default: every topic the group has offsets for]
        #[arg(short = 't', long)]
        topic: Option<String>,
    },
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        GroupCommand::Consumers { common, group } => consumers(common, group).await,
        GroupCommand::Offsets { common, group, topic } => offsets(common, group, topic).await,
    }
}

async fn consumers(common: Common, group: String) -> anyhow::Result<()> {
    let admin = common.admin()?;
    let conn = match admin.consumer_connection(&group).await {
        Ok(conn) => conn,
        Err(e) if matches!(e.kind(), ErrorKind::Broker { code, .. } if *code == ResponseCode::CONSUMER_NOT_ONLINE) =>
        {
            if common.json {
                json_line(&json!({"group": group, "consumers": [], "subscriptions": {}}));
            } else {
                println!("no consumer of group {group} is online");
            }
            return Ok(());
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("asking for the consumers of {group}"))),
    };
    if common.json {
        let clients: Vec<_> = conn
            .clients
            .iter()
            .map(|c| json!({"client_id": c.client_id, "client_addr": c.client_addr, "language": c.language, "version": c.version}))
            .collect();
        let subs: serde_json::Map<String, serde_json::Value> = conn
            .subscriptions
            .iter()
            .map(|(t, e)| (t.clone(), json!(e)))
            .collect();
        json_line(&json!({
            "group": group,
            "consumers": clients,
            "subscriptions": subs,
            "message_model": conn.message_model,
            "consume_type": conn.consume_type,
            "consume_from_where": conn.consume_from_where,
        }));
        return Ok(());
    }
    fields(&[
        ("group", bold(&group)),
        ("model", conn.message_model.clone().unwrap_or_default()),
        ("type", conn.consume_type.clone().unwrap_or_default()),
        ("from", conn.consume_from_where.clone().unwrap_or_default()),
    ]);
    println!();
    let rows: Vec<Vec<String>> = conn
        .clients
        .iter()
        .map(|c| {
            vec![
                c.client_id.clone(),
                c.client_addr.clone(),
                c.language.clone(),
                c.version.to_string(),
            ]
        })
        .collect();
    table(&["CLIENT ID", "ADDRESS", "LANGUAGE", "VERSION"], &rows);
    println!();
    let rows: Vec<Vec<String>> = conn
        .subscriptions
        .iter()
        .map(|(t, e)| vec![t.clone(), e.clone()])
        .collect();
    table(&["TOPIC", "EXPRESSION"], &rows);
    Ok(())
}

async fn offsets(common: Common, group: String, topic: Option<String>) -> anyhow::Result<()> {
    let admin = common.admin()?;
    if let Some(t) = &topic {
        admin
            .topic_route(t)
            .await
            .with_context(|| format!("looking up topic {t}"))?;
    }
    let progress = admin
        .consume_progress(&group, topic.as_deref())
        .await
        .with_context(|| format!("asking for the offsets of group {group}"))?;
    let total: i64 = progress.iter().map(|p| p.lag()).sum();
    if common.json {
        let queues: Vec<_> = progress
            .iter()
            .map(|p| {
                json!({
                    "topic": p.queue.topic,
                    "broker": p.queue.broker_name,
                    "queue_id": p.queue.queue_id,
                    "broker_offset": p.broker_offset,
                    "consumer_offset": p.consumer_offset,
                    "lag": p.lag(),
                    "last_timestamp": p.last_timestamp,
                })
            })
            .collect();
        json_line(&json!({"group": group, "queues": queues, "total_lag": total}));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = progress
        .iter()
        .map(|p| {
            vec![
                p.queue.topic.clone(),
                p.queue.broker_name.clone(),
                p.queue.queue_id.to_string(),
                p.broker_offset.to_string(),
                p.consumer_offset.to_string(),
                p.lag().to_string(),
            ]
        })
        .collect();
    table(
        &[
            "TOPIC",
            "BROKER",
            "QUEUE",
            "BROKER OFFSET",
            "CONSUMER OFFSET",
            "LAG",
        ],
        &rows,
    );
    println!("\n{} {total}", bold("total lag"));
    Ok(())
}
