//! `rmq cluster`: clusters, their brokers and addresses, from the name server.

use anyhow::Context;
use serde_json::json;

use crate::common::Common;
use crate::output::{json_line, table};

/// Options of `rmq cluster`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    common: Common,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let admin = args.common.admin()?;
    let info = admin
        .cluster_info()
        .await
        .with_context(|| format!("asking the name server {} for clusters", args.common.namesrv()))?;
    // (cluster, broker, broker id, address), sorted.
    let mut rows: Vec<(String, String, i64, String)> = Vec::new();
    for (cluster, brokers) in &info.cluster_addr_table {
        for name in brokers {
            let Some(data) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &data.broker_addrs {
                rows.push((cluster.clone(), name.clone(), *id, addr.clone()));
            }
        }
    }
    rows.sort();
    if args.common.json {
        let brokers: Vec<_> = rows
            .iter()
            .map(|(c, b, id, a)| json!({"cluster": c, "broker": b, "broker_id": id, "addr": a, "role": role(*id)}))
            .collect();
        json_line(&json!({"brokers": brokers}));
    } else {
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|(c, b, id, a)| vec![c, b, id.to_string(), role(id).to_owned(), a])
            .collect();
        table(&["CLUSTER", "BROKER", "ID", "ROLE", "ADDRESS"], &rows);
    }
    Ok(())
}

fn role(id: i64) -> &'static str {
    if id == 0 {
        "master"
    } else {
        "slave"
    }
}
