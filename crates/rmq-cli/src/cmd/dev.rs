//! `rmq dev up | status | down`: a local Apache RocketMQ that keeps running between commands.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rmq_testkit::{dev_home, DevCluster, DevOptions, DevStatus};
use serde_json::{json, Value};

use crate::output::{bold, dim, fields, green, json_line, red, table};

/// Options of `rmq dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: DevCommand,
    /// Where the cluster's state and data live [env: RMQ_DEV_HOME; default:
    /// ~/.local/state/rocketmq-rs/dev]
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum DevCommand {
    /// Start a NameServer and a broker (Apache RocketMQ from Maven Central; the first run
    /// downloads it) that keep running after this command; print the name server address.
    Up {
        /// Name server port [default: 9876 if free, else any free port]
        #[arg(long)]
        port: Option<u16>,
        /// Number of brokers.
        #[arg(long, default_value_t = 1)]
        brokers: usize,
        /// How long each server may take to start.
        #[arg(long, value_parser = crate::common::duration, default_value = "120s")]
        timeout: Duration,
    },
    /// Show whether the dev cluster runs: its processes and what the name server reports.
    /// Exits non-zero when it is not (fully) up.
    Status,
    /// Stop the dev cluster and remove its data.
    Down,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let home = args.home.clone().unwrap_or_else(dev_home);
    let json = args.json;
    tokio::task::spawn_blocking(move || match args.command {
        DevCommand::Up {
            port,
            brokers,
            timeout,
        } => up(home, port, brokers, timeout, json),
        DevCommand::Status => status(home, json),
        DevCommand::Down => down(home, json),
    })
    .await?
}

fn cluster_json(dev: &DevCluster) -> Value {
    json!({
        "namesrv_addr": dev.namesrv_addr,
        "cluster": dev.cluster_name,
        "home": dev.home,
        "processes": dev.processes.iter().map(|p| json!({
            "name": p.name, "pid": p.pid, "addr": p.addr, "dir": p.dir, "log": p.log,
        })).collect::<Vec<_>>(),
    })
}

fn up(home: PathBuf, port: Option<u16>, brokers: usize, timeout: Duration, json: bool) -> anyhow::Result<()> {
    if brokers == 0 {
        anyhow::bail!("--brokers must be at least 1");
    }
    if !json {
        eprintln!(
            "{}",
            dim("starting the dev cluster (the first run downloads Apache RocketMQ from Maven Central)…")
        );
    }
    let options = DevOptions {
        namesrv_port: port,
        brokers,
        start_timeout: timeout,
    };
    let (dev, already) = DevCluster::up(&home, &options)
        .with_context(|| format!("starting the dev cluster in {}", home.display()))?;
    if json {
        let mut v = cluster_json(&dev);
        v["already_running"] = json!(already);
        json_line(&v);
        return Ok(());
    }
    if already {
        println!("the dev cluster is already up");
    } else {
        println!("{}", green("the dev cluster is up"));
    }
    print_cluster(&dev);
    println!(
        "\n{}",
        dim(&format!(
            "try: rmq send -n {ns} TopicTest hello; rmq consume -n {ns} TopicTest -c 1",
            ns = dev.namesrv_addr
        ))
    );
    Ok(())
}

fn print_cluster(dev: &DevCluster) {
    fields(&[
        ("name server", bold(&dev.namesrv_addr)),
        ("cluster", dev.cluster_name.clone()),
        ("home", dev.home.display().to_string()),
    ]);
}

fn status(home: PathBuf, json: bool) -> anyhow::Result<()> {
    let Some(dev) = DevCluster::load(&home)? else {
        if json {
            json_line(&json!({"running": false, "home": home}));
        } else {
            println!(
                "no dev cluster in {} (start one with `rmq dev up`)",
                home.display()
            );
        }
        anyhow::bail!("the dev cluster is not running");
    };
    let st: DevStatus = dev.status();
    let healthy = st.healthy();
    if json {
        let mut v = cluster_json(&dev);
        v["running"] = json!(healthy);
        v["registered_brokers"] = json!(st.registered_brokers);
        for (slot, (_, alive)) in v["processes"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .zip(&st.processes)
        {
            slot["alive"] = json!(alive);
        }
        json_line(&v);
    } else {
        print_cluster(&dev);
        let rows: Vec<Vec<String>> = st
            .processes
            .iter()
            .map(|(p, alive)| {
                let registered = match (&st.registered_brokers, p.name.as_str()) {
                    (_, "namesrv") => String::new(),
                    (Some(list), name) if list.iter().any(|b| b == name) => "registered".into(),
                    (Some(_), _) => "not registered".into(),
                    (None, _) => "unknown".into(),
                };
                vec![
                    p.name.clone(),
                    p.pid.to_string(),
                    p.addr.clone(),
                    if *alive { green("running") } else { red("stopped") },
                    registered,
                ]
            })
            .collect();
        println!();
        table(&["PROCESS", "PID", "ADDRESS", "STATE", "NAME SERVER"], &rows);
    }
    if !healthy {
        anyhow::bail!("the dev cluster is not fully up; `rmq dev down` then `rmq dev up` restarts it");
    }
    Ok(())
}

fn down(home: PathBuf, json: bool) -> anyhow::Result<()> {
    let stopped =
        DevCluster::down(&home).with_context(|| format!("stopping the dev cluster in {}", home.display()))?;
    if json {
        json_line(&json!({"stopped": stopped.is_some(), "home": home}));
    } else if let Some(dev) = stopped {
        println!(
            "stopped the dev cluster ({}) and removed its data",
            dev.namesrv_addr
        );
    } else {
        println!("no dev cluster in {}", home.display());
    }
    Ok(())
}
