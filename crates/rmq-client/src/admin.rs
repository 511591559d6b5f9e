//! Administrative operations the tests and the `rmq` command line need: topics, clusters, offsets.

use std::time::Duration;

use rmq_protocol::header::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader, GetMinOffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::message::{decode_messages, sysflag, MessageExt, MessageQueue};
use rmq_protocol::route::ClusterInfo;
use rmq_protocol::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};

use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::remoting::{expect_success, RemotingClient};
use crate::route::{NameServerClient, RouteTable, TopicRoute};
use crate::tls::TlsConfig;
use crate::transport::ConnectionOptions;

mod inspect;

pub use inspect::{ConsumerClient, ConsumerConnection, QueueProgress};

/// Least timeout of an admin request (Java `DefaultMQAdminExt` uses 5 s).
const ADMIN_MIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a topic should look like when created or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub topic: String,
    /// Readable queues per broker (default 8).
    pub read_queue_nums: i32,
    /// Writable queues per broker (default 8).
    pub write_queue_nums: i32,
    /// Permission bits: 6 = read + write (default).
    pub perm: i32,
    /// Whether the topic is ordered (default false).
    pub order: bool,
    /// 5.x attributes such as `+message.type=NORMAL` (default none).
    pub attributes: Option<String>,
}

impl TopicSpec {
    /// A read-write topic with `queues` queues per broker.
    pub fn new(topic: impl Into<String>, queues: i32) -> Self {
        TopicSpec {
            topic: topic.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            order: false,
            attributes: None,
        }
    }

    fn validate(&self) -> Result<()> {
        crate::validate::topic_name(&self.topic)?;
        if !(1..=1024).contains(&self.read_queue_nums) || !(1..=1024).contains(&self.write_queue_nums) {
            return Err(Error::invalid(format!(
                "queue counts must be within 1..=1024, got read {} write {}",
                self.read_queue_nums, self.write_queue_nums
            )));
        }
        Ok(())
    }
}

/// Administrative client: topics, cluster info, queue and consumer offsets.
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use rmq_client::admin::{Admin, TopicSpec};
/// let admin = Admin::connect(rmq_client::ClientConfig::new("127.0.0.1:9876"))?;
/// admin.create_topic_in_cluster("DefaultCluster", &TopicSpec::new("orders", 8)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    remoting: RemotingClient,
    routes: RouteTable,
    timeout: Duration,
}

impl Admin {
    /// An admin client for the name servers in `config`, signing its requests with
    /// `config.credentials` when set. Connections are made on first use.
    pub fn connect(config: ClientConfig) -> Result<Self> {
        let addrs = config.name_servers()?;
        let opts = ConnectionOptions {
            connect_timeout: config.connect_timeout,
            max_frame: config.max_frame,
            tls: config.tls.as_ref().map(TlsConfig::connector).transpose()?,
            ..Default::default()
        };
        let hook = crate::acl::client_hook(None, config.credentials.as_ref())?;
        let remoting = RemotingClient::new(opts, None, hook, config.serialize_type);
        let namesrv = NameServerClient::new(addrs, remoting.clone(), config.request_timeout)?;
        Ok(Admin {
            remoting,
            routes: RouteTable::new(namesrv),
            // Admin requests that change broker config write files on the broker: at least Java
            // DefaultMQAdminExt's 5 s.
            timeout: config.request_timeout.max(ADMIN_MIN_TIMEOUT),
        })
    }

    /// An admin client sharing an existing remoting client and route table.
    pub fn with_parts(remoting: RemotingClient, routes: RouteTable, timeout: Duration) -> Self {
        Admin {
            remoting,
            routes,
            timeout,
        }
    }

    /// The remoting client used.
    pub fn remoting(&self) -> &RemotingClient {
        &self.remoting
    }

    /// The route table used.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// Clusters and brokers, from the name server.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        self.routes.namesrv().cluster_info().await
    }

    /// The current route of `topic`, fetched from the name server now.
    pub async fn topic_route(&self, topic: &str) -> Result<std::sync::Arc<TopicRoute>> {
        self.routes.refresh(topic).await
    }

    /// Create or update `spec` on the broker at `broker_addr`.
    pub async fn create_topic_on_broker(&self, broker_addr: &str, spec: &TopicSpec) -> Result<()> {
        spec.validate()?;
        let header = CreateTopicRequestHeader {
            topic: spec.topic.clone(),
            default_topic: "TBW102".into(),
            read_queue_nums: spec.read_queue_nums,
            write_queue_nums: spec.write_queue_nums,
            perm: spec.perm,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: spec.order,
            attributes: spec.attributes.clone(),
            force: None,
        };
        let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
        self.remoting
            .invoke_ok(broker_addr, cmd, self.timeout)
            .await
            .map(drop)
    }

    /// Master addresses of every broker in `cluster`.
    pub async fn cluster_masters(&self, cluster: &str) -> Result<Vec<(String, String)>> {
        let info = self.cluster_info().await?;
        let names = info
            .cluster_addr_table
            .get(cluster)
            .ok_or_else(|| Error::invalid(format!("cluster {cluster} not found")))?;
        let mut out = Vec::new();
        for name in names {
            let addr = info
                .broker_addr_table
                .get(name)
                .and_then(|b| b.master_addr())
                .ok_or_else(|| Error::new(ErrorKind::BrokerNotFound { broker: name.clone() }))?;
            out.push((name.clone(), addr.to_owned()));
        }
        out.sort();
        Ok(out)
    }

    /// Create or update `spec` on every master broker of `cluster`.
    pub async fn create_topic_in_cluster(&self, cluster: &str, spec: &TopicSpec) -> Result<()> {
        spec.validate()?;
        for (_, addr) in self.cluster_masters(cluster).await? {
            self.create_topic_on_broker(&addr, spec).await?;
        }
        Ok(())
    }

    /// Delete `topic` from every master of `cluster` and from every name server.
    pub async fn delete_topic(&self, cluster: &str, topic: &str) -> Result<()> {
        let header = DeleteTopicRequestHeader {
            topic: topic.to_owned(),
        };
        for (_, addr) in self.cluster_masters(cluster).await? {
            let cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER, &header);
            self.remoting.invoke_ok(&addr, cmd, self.timeout).await?;
        }
        for ns in self.routes.namesrv().addrs() {
            let cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV, &header);
            self.remoting.invoke_ok(ns, cmd, self.timeout).await?;
        }
        self.routes.remove(topic);
        Ok(())
    }

    /// Create or update the subscription group `group` on every master of `cluster`, with the broker's
    /// defaults (1 retry queue, 16 retries, broadcast allowed).
    pub async fn create_subscription_group(&self, cluster: &str, group: &str) -> Result<()> {
        let body = serde_json::json!({
            "groupName": group,
            "consumeEnable": true,
            "consumeFromMinEnable": true,
            "consumeBroadcastEnable": true,
            "consumeMessageOrderly": false,
            "retryQueueNums": 1,
            "retryMaxTimes": 16,
            "brokerId": 0,
            "whichBrokerWhenConsumeSlowly": 1,
            "notifyConsumerIdsChangedEnable": true,
        });
        let body = bytes::Bytes::from(body.to_string());
        for (_, addr) in self.cluster_masters(cluster).await? {
            let cmd = RemotingCommand::new_request(
                RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
                Default::default(),
            )
            .with_body(body.clone());
            self.remoting.invoke_ok(&addr, cmd, self.timeout).await?;
        }
        Ok(())
    }

    async fn master_of(&self, mq: &MessageQueue) -> Result<String> {
        self.routes.master_addr(&mq.broker_name, Some(&mq.topic)).await
    }

    async fn call<H: CommandHeader>(
        &self,
        addr: &str,
        code: RequestCode,
        header: &H,
    ) -> Result<RemotingCommand> {
        self.remoting
            .invoke_ok(addr, RemotingCommand::request(code, header), self.timeout)
            .await
    }

    /// The next offset to be written in `mq` (its max offset).
    pub async fn max_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let addr = self.master_of(mq).await?;
        let h = GetMaxOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            committed: true,
            bname: Some(mq.broker_name.clone()),
        };
        let resp = self.call(&addr, RequestCode::GET_MAX_OFFSET, &h).await?;
        Ok(resp.decode_header::<GetMaxOffsetResponseHeader>()?.offset)
    }

    /// The smallest offset still stored in `mq`.
    pub async fn min_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let addr = self.master_of(mq).await?;
        let h = GetMinOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            bname: Some(mq.broker_name.clone()),
        };
        let resp = self.call(&addr, RequestCode::GET_MIN_OFFSET, &h).await?;
        Ok(resp.decode_header::<GetMinOffsetResponseHeader>()?.offset)
    }

    /// The offset of the first message of `mq` stored at or after `timestamp_ms`.
    pub async fn offset_for_timestamp(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        let addr = self.master_of(mq).await?;
        let h = SearchOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            timestamp: timestamp_ms,
            boundary_type: None,
            bname: Some(mq.broker_name.clone()),
        };
        let resp = self
            .call(&addr, RequestCode::SEARCH_OFFSET_BY_TIMESTAMP, &h)
            .await?;
        Ok(resp.decode_header::<SearchOffsetResponseHeader>()?.offset)
    }

    /// The committed offset of `group` on `mq`; `None` when the broker has none stored.
    pub async fn query_consumer_offset(&self, group: &str, mq: &MessageQueue) -> Result<Option<i64>> {
        let addr = self.master_of(mq).await?;
        let h = QueryConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            set_zero_if_not_found: Some(false),
            bname: Some(mq.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET, &h);
        let resp = self.remoting.invoke(&addr, cmd, self.timeout).await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(Some(
                resp.decode_header::<QueryConsumerOffsetResponseHeader>()?.offset,
            )),
            ResponseCode::QUERY_NOT_FOUND => Ok(None),
            _ => Err(expect_success(resp)
                .err()
                .unwrap_or_else(|| Error::new(ErrorKind::Io))),
        }
    }

    /// Read up to `max` messages of `mq` from `offset` with one PULL_MESSAGE (no long polling, no
    /// subscription registered, nothing committed). Returns the messages and the next offset to read;
    /// no messages and an unchanged offset mean the end of the queue was reached.
    pub async fn read_queue(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
        max: i32,
    ) -> Result<(Vec<MessageExt>, i64)> {
        let addr = self.master_of(mq).await?;
        let h = PullMessageRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: offset,
            max_msg_nums: max,
            sys_flag: sysflag::pull::SUBSCRIPTION,
            subscription: Some("*".into()),
            expression_type: Some("TAG".into()),
            bname: Some(mq.broker_name.clone()),
            ..Default::default()
        };
        let resp = self
            .remoting
            .invoke(
                &addr,
                RemotingCommand::request(RequestCode::PULL_MESSAGE, &h),
                self.timeout,
            )
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => {
                let ph: PullMessageResponseHeader = resp.decode_header()?;
                Ok((decode_messages(&resp.body)?, ph.next_begin_offset))
            }
            ResponseCode::PULL_NOT_FOUND
            | ResponseCode::PULL_RETRY_IMMEDIATELY
            | ResponseCode::PULL_OFFSET_MOVED => {
                let ph: PullMessageResponseHeader = resp.decode_header()?;
                Ok((Vec::new(), ph.next_begin_offset))
            }
            code => Err(Error::broker(code, resp.remark)),
        }
    }

    /// Store `offset` as `group`'s committed offset on `mq` (synchronously).
    pub async fn update_consumer_offset(&self, group: &str, mq: &MessageQueue, offset: i64) -> Result<()> {
        let addr = self.master_of(mq).await?;
        let h = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            commit_offset: offset,
            bname: Some(mq.broker_name.clone()),
        };
        self.call(&addr, RequestCode::UPDATE_CONSUMER_OFFSET, &h)
            .await
            .map(drop)
    }
}
