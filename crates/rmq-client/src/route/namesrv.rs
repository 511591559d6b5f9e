//! Name-server client: requests to a `;`-separated list of name servers, failing over between them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::header::{GetBrokerClusterInfoRequestHeader, GetRouteInfoRequestHeader};
use rmq_protocol::route::{ClusterInfo, TopicRouteData};
use rmq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

use crate::error::{Error, ErrorKind, Result};
use crate::remoting::RemotingClient;

/// Talks to the name servers. Requests go to the last server that answered; on a connection failure or
/// timeout the next one is tried, until every server has been tried once.
#[derive(Debug, Clone)]
pub struct NameServerClient {
    addrs: Arc<[String]>,
    current: Arc<AtomicUsize>,
    remoting: RemotingClient,
    timeout: Duration,
}

impl NameServerClient {
    /// A client for `addrs` (non-empty) over `remoting`.
    pub fn new(addrs: Vec<String>, remoting: RemotingClient, timeout: Duration) -> Result<Self> {
        if addrs.is_empty() {
            return Err(Error::new(ErrorKind::NoNameServer));
        }
        let start = rand::random::<usize>() % addrs.len();
        Ok(NameServerClient {
            addrs: addrs.into(),
            current: Arc::new(AtomicUsize::new(start)),
            remoting,
            timeout,
        })
    }

    /// The configured addresses.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// Send `cmd` to a name server, failing over on transport errors. Returns the response whatever its code.
    pub async fn invoke(&self, cmd: RemotingCommand) -> Result<RemotingCommand> {
        let n = self.addrs.len();
        let first = self.current.load(Ordering::Relaxed) % n;
        let mut last_err = Error::new(ErrorKind::NoNameServer);
        for i in 0..n {
            let idx = (first + i) % n;
            let addr = &self.addrs[idx];
            match self.remoting.invoke(addr, cmd.clone(), self.timeout).await {
                Ok(resp) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) if is_transport_error(&e) => {
                    debug!(%addr, error = %e, "name server failed, trying the next");
                    last_err = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err)
    }

    /// The route of `topic`. An unknown topic is [`ErrorKind::TopicNotExist`].
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            accept_standard_json_only: Some(true),
        };
        let resp = self
            .invoke(RemotingCommand::request(
                RequestCode::GET_ROUTEINFO_BY_TOPIC,
                &header,
            ))
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(TopicRouteData::from_json(&resp.body)?),
            ResponseCode::TOPIC_NOT_EXIST => Err(Error::new(ErrorKind::TopicNotExist {
                topic: topic.to_owned(),
            })),
            code => Err(Error::broker(code, resp.remark)),
        }
    }

    /// Clusters and their brokers.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        let cmd = RemotingCommand::request(
            RequestCode::GET_BROKER_CLUSTER_INFO,
            &GetBrokerClusterInfoRequestHeader {},
        );
        let resp = crate::remoting::expect_success(self.invoke(cmd).await?)?;
        Ok(ClusterInfo::from_json(&resp.body)?)
    }
}

fn is_transport_error(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Connect { .. }
            | ErrorKind::Timeout { .. }
            | ErrorKind::Disconnected { .. }
            | ErrorKind::Tls { .. }
            | ErrorKind::Io
    )
}
