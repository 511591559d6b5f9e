//! `rmq message get <id>`: one message by its id.

use anyhow::{bail, Context};
use rmq_protocol::message::{decode_offset_msg_id, MessageExt};

use super::consume::{message_json, message_text};
use crate::common::Common;
use crate::output::{bold, fields, json_line};

/// Options of `rmq message`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: MessageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MessageCommand {
    /// Look a message up by the id `rmq send` printed (its unique id; needs --topic) or by the
    /// broker's offset message id.
    #[command(after_help = "Examples:
  rmq message get -t orders 7F0000010B6E1B2C3D4E5F60708090A0
  rmq message get 7F00000100002A9F0000000000001234")]
    Get {
        #[command(flatten)]
        common: Common,
        /// Message id.
        id: String,
        /// Topic of the message: look the id up as a unique id (`UNIQ_KEY`) in this topic.
        #[arg(short = 't', long)]
        topic: Option<String>,
    },
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let MessageCommand::Get { common, id, topic } = args.command;
    let admin = common.admin()?;
    let mut found: Option<MessageExt> = None;
    if let Some(topic) = &topic {
        found = admin
            .query_message_by_unique_key(topic, &id)
            .await
            .with_context(|| format!("looking up message {id} in topic {topic}"))?;
    }
    if found.is_none() && decode_offset_msg_id(&id).is_ok() {
        // Not found as a unique id (or no topic): try it as an offset message id.
        match admin.view_message(&id).await {
            Ok(m) if topic.as_deref().is_none_or(|t| m.message.topic == t) => found = Some(m),
            Ok(_) => {}
            Err(e) if topic.is_some() => tracing::debug!(error = %e, "not an offset message id"),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("looking up message {id}"))),
        }
    }
    let Some(m) = found else {
        match topic {
            Some(t) => bail!("no message with id {id} in topic {t}"),
            None => bail!("{id} is not an offset message id; pass --topic to look it up as a unique id"),
        }
    };
    if common.json {
        json_line(&message_json(&m, None));
    } else {
        fields(&[
            ("msg id", bold(&m.msg_id())),
            ("offset msg id", m.offset_msg_id()),
            ("topic", m.message.topic.clone()),
            ("queue", format!("{} @ {}", m.queue_id, m.queue_offset)),
            ("store host", m.store_host.to_string()),
            ("born host", m.born_host.to_string()),
            ("stored at (ms)", m.store_timestamp.to_string()),
        ]);
        println!("{}", message_text(&m));
    }
    Ok(())
}
