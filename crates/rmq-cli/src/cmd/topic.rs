//! `rmq topic create | delete | route | list`.

use anyhow::{bail, Context};
use rmq_client::admin::{Admin, TopicSpec};
use serde_json::json;

use crate::common::Common;
use crate::output::{json_line, table};

/// Options of `rmq topic`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: TopicCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TopicCommand {
    /// Create (or update) a topic on every master broker of a cluster.
    #[command(after_help = "Example:\n  rmq topic create orders --queues 8")]
    Create {
        #[command(flatten)]
        common: Common,
        /// Topic name.
        topic: String,
        /// Read and write queues per broker.
        #[arg(short = 'q', long, default_value_t = 8)]
        queues: i32,
        /// Cluster to create it in [default: the only cluster, if there is one]
        #[arg(long)]
        cluster: Option<String>,
        /// Mark the topic as ordered.
        #[arg(long)]
        order: bool,
        /// Message type attribute (RocketMQ 5): NORMAL, FIFO, DELAY or TRANSACTION.
        #[arg(long, value_name = "TYPE")]
        message_type: Option<String>,
    },
    /// Delete a topic from every master broker of a cluster and from the name servers.
    Delete {
        #[command(flatten)]
        common: Common,
        /// Topic name.
        topic: String,
        /// Cluster to delete it from [default: the only cluster, if there is one]
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Show a topic's route: brokers, their addresses and queue counts.
    Route {
        #[command(flatten)]
        common: Common,
        /// Topic name.
        topic: String,
    },
    /// List the topics the name server knows.
    List {
        #[command(flatten)]
        common: Common,
        /// Include system topics (`%RETRY%…`, `RMQ_SYS_…`, `TBW102`, …).
        #[arg(long)]
        all: bool,
    },
}

/// The cluster named, or the only one.
pub(crate) async fn pick_cluster(admin: &Admin, named: Option<String>) -> anyhow::Result<String> {
    if let Some(c) = named {
        return Ok(c);
    }
    let info = admin
        .cluster_info()
        .await
        .context("asking the name server for clusters")?;
    let mut names: Vec<&String> = info.cluster_addr_table.keys().collect();
    names.sort();
    match names.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("the name server knows no cluster (no broker has registered)"),
        many => bail!("several clusters ({many:?}); choose one with --cluster"),
    }
}

/// Whether `topic` is one the brokers create for themselves.
fn is_system_topic(topic: &str) -> bool {
    topic.starts_with("%RETRY%")
        || topic.starts_with("%DLQ%")
        || topic.starts_with("rmq_sys_")
        || topic.starts_with("RMQ_SYS_")
        || topic.starts_with("rocketmq-")
        || topic.starts_with("SCHEDULE_TOPIC")
        || topic.starts_with("TRANS_")
        || topic.starts_with("OFFSET_MOVED_EVENT")
        || topic.starts_with("SELF_TEST_TOPIC")
        || topic.starts_with("BenchmarkTest")
        || topic == "TBW102"
        || topic.ends_with("REPLY_TOPIC")
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        TopicCommand::Create {
            common,
            topic,
            queues,
            cluster,
            order,
            message_type,
        } => {
            let admin = common.admin()?;
            let cluster = pick_cluster(&admin, cluster).await?;
            let mut spec = TopicSpec::new(&topic, queues);
            spec.order = order;
            spec.attributes = message_type.map(|t| format!("+message.type={}", t.to_uppercase()));
            admin
                .create_topic_in_cluster(&cluster, &spec)
                .await
                .with_context(|| format!("creating topic {topic} in cluster {cluster}"))?;
            if common.json {
                json_line(&json!({"topic": topic, "cluster": cluster, "queues": queues, "created": true}));
            } else {
                println!("created topic {topic} in cluster {cluster} ({queues} queues per broker)");
            }
        }
        TopicCommand::Delete {
            common,
            topic,
            cluster,
        } => {
            let admin = common.admin()?;
            let cluster = pick_cluster(&admin, cluster).await?;
            admin
                .topic_route(&topic)
                .await
                .with_context(|| format!("looking up topic {topic}"))?;
            admin
                .delete_topic(&cluster, &topic)
                .await
                .with_context(|| format!("deleting topic {topic} from cluster {cluster}"))?;
            if common.json {
                json_line(&json!({"topic": topic, "cluster": cluster, "deleted": true}));
            } else {
                println!("deleted topic {topic} from cluster {cluster}");
            }
        }
        TopicCommand::Route { common, topic } => {
            let admin = common.admin()?;
            let route = admin
                .topic_route(&topic)
                .await
                .with_context(|| format!("looking up the route of topic {topic}"))?;
            let mut brokers = route.data.broker_datas.clone();
            brokers.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
            let queues = |name: &str| {
                route
                    .data
                    .queue_datas
                    .iter()
                    .find(|q| q.broker_name == name)
                    .map(|q| (q.read_queue_nums, q.write_queue_nums, q.perm))
                    .unwrap_or((0, 0, 0))
            };
            if common.json {
                let rows: Vec<_> = brokers
                    .iter()
                    .map(|b| {
                        let (r, w, perm) = queues(&b.broker_name);
                        json!({
                            "broker": b.broker_name,
                            "cluster": b.cluster,
                            "master_addr": b.master_addr(),
                            "read_queues": r,
                            "write_queues": w,
                            "perm": perm,
                        })
                    })
                    .collect();
                json_line(&json!({"topic": topic, "brokers": rows}));
            } else {
                let rows: Vec<Vec<String>> = brokers
                    .iter()
                    .map(|b| {
                        let (r, w, perm) = queues(&b.broker_name);
                        vec![
                            b.broker_name.clone(),
                            b.cluster.clone(),
                            b.master_addr().unwrap_or("-").to_owned(),
                            r.to_string(),
                            w.to_string(),
                            perm_text(perm),
                        ]
                    })
                    .collect();
                table(
                    &["BROKER", "CLUSTER", "MASTER", "READ Q", "WRITE Q", "PERM"],
                    &rows,
                );
            }
        }
        TopicCommand::List { common, all } => {
            let admin = common.admin()?;
            // Brokers also register topics named after themselves and their cluster.
            let info = admin
                .cluster_info()
                .await
                .context("asking the name server for clusters")?;
            let own =
                |t: &str| info.cluster_addr_table.contains_key(t) || info.broker_addr_table.contains_key(t);
            let topics: Vec<String> = admin
                .topic_list()
                .await
                .context("asking the name server for topics")?
                .into_iter()
                .filter(|t| all || !(is_system_topic(t) || own(t)))
                .collect();
            if common.json {
                json_line(&json!({"topics": topics}));
            } else {
                for t in topics {
                    println!("{t}");
                }
            }
        }
    }
    Ok(())
}

/// `rw`, `r-`, `-w` from permission bits (2 = read, 4 = write).
fn perm_text(perm: i32) -> String {
    let r = if perm & 4 != 0 { 'r' } else { '-' };
    let w = if perm & 2 != 0 { 'w' } else { '-' };
    format!("{r}{w}")
}
