//! A cluster reached only through fault proxies: one in front of the name server, one in front
//! of each broker.

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::proxy::FaultProxy;

/// Fault proxies in front of a [`Cluster`]'s name server and brokers.
///
/// The name server proxy rewrites each broker's address in every reply body (routes, cluster
/// info) to that broker's proxy, so a client given [`ProxiedCluster::namesrv_addr`] talks to the
/// brokers only through their proxies, while the brokers keep registering with the real name
/// server directly.
///
/// ```no_run
/// use rmq_testkit::{Cluster, Fault, ProxiedCluster};
/// let cluster = Cluster::shared();
/// let proxied = ProxiedCluster::start(cluster).unwrap();
/// let namesrv = proxied.namesrv_addr(); // point the client under test here
/// proxied.broker("broker-a").unwrap().set_fault(Fault::BlackHole);
/// # let _ = namesrv;
/// ```
#[derive(Debug)]
pub struct ProxiedCluster {
    namesrv: FaultProxy,
    brokers: Vec<(String, FaultProxy)>,
}

impl ProxiedCluster {
    /// Starts the proxies (everything passes until told otherwise).
    pub fn start(cluster: &Cluster) -> Result<ProxiedCluster> {
        let namesrv = FaultProxy::start(&cluster.namesrv_addr())?;
        let mut brokers = Vec::new();
        for b in cluster.brokers() {
            let proxy = FaultProxy::start(&b.addr)?;
            // Quoted, so that a port that prefixes another never matches.
            namesrv.rewrite(&format!("\"{}\"", b.addr), &format!("\"{}\"", proxy.addr()));
            brokers.push((b.name.clone(), proxy));
        }
        Ok(ProxiedCluster { namesrv, brokers })
    }

    /// The proxied name server address: give this to the client under test.
    pub fn namesrv_addr(&self) -> &str {
        self.namesrv.addr()
    }

    /// The name server's proxy.
    pub fn namesrv(&self) -> &FaultProxy {
        &self.namesrv
    }

    /// The proxy in front of the named broker.
    pub fn broker(&self, name: &str) -> Result<&FaultProxy> {
        self.brokers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .ok_or_else(|| Error::UnknownBroker(name.to_string()))
    }

    /// Every broker proxy, with its broker's name.
    pub fn brokers(&self) -> impl Iterator<Item = (&str, &FaultProxy)> {
        self.brokers.iter().map(|(n, p)| (n.as_str(), p))
    }
}
