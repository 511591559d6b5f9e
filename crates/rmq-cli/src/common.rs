//! What most commands share: where the name server is, `--json`, and small parsers.

use std::time::Duration;

use rmq_client::admin::Admin;
use rmq_client::ClientConfig;
use rmq_testkit::{dev_home, DevCluster};

/// Used when neither `--namesrv`, `NAMESRV_ADDR` nor a running `rmq dev` cluster gives one.
pub(crate) const DEFAULT_NAMESRV: &str = "127.0.0.1:9876";

/// `--namesrv` and `--json`, flattened into every command that talks to a cluster.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Common {
    /// Name server address(es), `host:port[;host:port]` [default: the `rmq dev` cluster's if
    /// one runs, else 127.0.0.1:9876]
    #[arg(
        short = 'n',
        long,
        visible_alias = "ns",
        env = "NAMESRV_ADDR",
        value_name = "ADDR"
    )]
    pub(crate) namesrv: Option<String>,
    /// Print JSON (one object, or one object per line for streams) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

impl Common {
    /// The name server to use.
    pub(crate) fn namesrv(&self) -> String {
        if let Some(ns) = self.namesrv.as_deref().filter(|s| !s.trim().is_empty()) {
            return ns.trim().to_owned();
        }
        default_namesrv()
    }

    /// Client settings for the name server.
    pub(crate) fn client_config(&self) -> ClientConfig {
        ClientConfig::new(self.namesrv())
    }

    /// An admin client for the name server.
    pub(crate) fn admin(&self) -> anyhow::Result<Admin> {
        Ok(Admin::connect(self.client_config())?)
    }
}

/// The `rmq dev` cluster's name server if one is recorded, else [`DEFAULT_NAMESRV`].
pub(crate) fn default_namesrv() -> String {
    match DevCluster::load(&dev_home()) {
        Ok(Some(dev)) => dev.namesrv_addr,
        _ => DEFAULT_NAMESRV.to_owned(),
    }
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub(crate) fn duration(s: &str) -> anyhow::Result<Duration> {
    crate::bench::parse_duration(s)
}

/// Parses `key=value`.
pub(crate) fn key_value(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => anyhow::bail!("expected key=value, got {s:?}"),
    }
}
