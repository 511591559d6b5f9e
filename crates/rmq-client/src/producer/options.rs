//! Producer settings and the builder that starts a producer.

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::CompressionType;

use super::producer::Producer;
use crate::config::ClientConfig;
use crate::error::Result;
use crate::hook::RpcHook;

/// Every producer setting, with the Java client's defaults.
#[derive(Clone)]
pub struct ProducerOptions {
    /// Producer group (required). Java: `producerGroup`.
    pub group: String,
    /// Name servers, identity and timeouts shared with consumers.
    pub client: ClientConfig,
    /// Total time budget of one send, retries included: 3 s. Java: `sendMsgTimeout`.
    pub send_timeout: Duration,
    /// Extra attempts after a failed synchronous send, each on another broker where possible: 2.
    /// Java: `retryTimesWhenSendFailed`.
    pub retries: u32,
    /// Extra attempts after a failed callback-style send: 2. Java: `retryTimesWhenSendAsyncFailed`.
    pub async_retries: u32,
    /// Also retry (on another broker) when the broker stored the message but answered with a status
    /// other than SEND_OK: false. Java: `retryAnotherBrokerWhenNotStoreOK`.
    pub retry_another_broker_when_not_store_ok: bool,
    /// Largest body accepted, checked before any network call: 4 MiB. Java: `maxMessageSize`.
    pub max_message_size: usize,
    /// Bodies of at least this many bytes are compressed (single messages only): 4 KiB.
    /// Java: `compressMsgBodyOverHowmuch`.
    pub compress_over: usize,
    /// Compression algorithm: ZLIB (Java's default; LZ4 and ZSTD also supported).
    pub compression: CompressionType,
    /// Compression level: 5 (as Java).
    pub compression_level: i32,
    /// Avoid brokers that recently failed or answered slowly: true. Java: `sendLatencyFaultEnable`.
    pub latency_fault_tolerance: bool,
    /// Queue count of topics auto-created by a first send (when the broker allows it): 4.
    /// Java: `defaultTopicQueueNums`.
    pub default_topic_queue_nums: i32,
    /// Template topic for auto-creation: `TBW102`. Java: `createTopicKey`.
    pub create_topic_key: String,
    /// Namespace wrapped around topic and group names (`<namespace>%<name>`): none.
    pub namespace: Option<String>,
    /// Hook called on every request (e.g. ACL signing): none.
    pub rpc_hook: Option<Arc<dyn RpcHook>>,
}

impl std::fmt::Debug for ProducerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerOptions")
            .field("group", &self.group)
            .field("client", &self.client)
            .field("send_timeout", &self.send_timeout)
            .field("retries", &self.retries)
            .field("max_message_size", &self.max_message_size)
            .field("compress_over", &self.compress_over)
            .field("compression", &self.compression)
            .field("latency_fault_tolerance", &self.latency_fault_tolerance)
            .field("namespace", &self.namespace)
            .field("rpc_hook", &self.rpc_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl ProducerOptions {
    /// Defaults for `group`; the name-server list must still be set.
    pub fn new(group: impl Into<String>) -> Self {
        ProducerOptions {
            group: group.into(),
            client: ClientConfig::new(""),
            send_timeout: Duration::from_secs(3),
            retries: 2,
            async_retries: 2,
            retry_another_broker_when_not_store_ok: false,
            max_message_size: 4 * 1024 * 1024,
            compress_over: 4 * 1024,
            compression: CompressionType::Zlib,
            compression_level: 5,
            latency_fault_tolerance: true,
            default_topic_queue_nums: 4,
            create_topic_key: "TBW102".into(),
            namespace: None,
            rpc_hook: None,
        }
    }
}

/// Builds and starts a [`Producer`].
///
/// ```no_run
/// # async fn demo() -> rmq_client::Result<()> {
/// use std::time::Duration;
/// use rmq_client::producer::Producer;
/// let producer = Producer::builder("order_producer")
///     .name_server("127.0.0.1:9876")
///     .send_timeout(Duration::from_secs(5))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ProducerBuilder {
    options: ProducerOptions,
}

impl ProducerBuilder {
    pub(crate) fn new(group: impl Into<String>) -> Self {
        ProducerBuilder {
            options: ProducerOptions::new(group),
        }
    }

    /// Start from complete options.
    pub fn from_options(options: ProducerOptions) -> Self {
        ProducerBuilder { options }
    }

    /// Name-server addresses, `host:port` separated by `;`.
    pub fn name_server(mut self, addrs: impl Into<String>) -> Self {
        self.options.client.namesrv_addr = addrs.into();
        self
    }

    /// Client-wide settings (replaces the name-server list too).
    pub fn client_config(mut self, client: ClientConfig) -> Self {
        self.options.client = client;
        self
    }

    /// TLS to name servers and brokers (see [`crate::tls`]).
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Self {
        self.options.client.tls = Some(tls);
        self
    }

    /// Sign every request with these ACL credentials (see [`crate::acl`]).
    pub fn credentials(mut self, credentials: crate::acl::Credentials) -> Self {
        self.options.client.credentials = Some(credentials);
        self
    }

    /// Instance name (part of the client id).
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.options.client.instance_name = name.into();
        self
    }

    /// Total time budget of one send (default 3 s).
    pub fn send_timeout(mut self, t: Duration) -> Self {
        self.options.send_timeout = t;
        self
    }

    /// Extra attempts after a failed synchronous send (default 2).
    pub fn retries(mut self, n: u32) -> Self {
        self.options.retries = n;
        self
    }

    /// Extra attempts after a failed callback-style send (default 2).
    pub fn async_retries(mut self, n: u32) -> Self {
        self.options.async_retries = n;
        self
    }

    /// Retry on another broker when a message was stored without SEND_OK (default false).
    pub fn retry_another_broker_when_not_store_ok(mut self, on: bool) -> Self {
        self.options.retry_another_broker_when_not_store_ok = on;
        self
    }

    /// Largest body accepted (default 4 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.options.max_message_size = bytes;
        self
    }

    /// Compress bodies of at least this size (default 4 KiB).
    pub fn compress_over(mut self, bytes: usize) -> Self {
        self.options.compress_over = bytes;
        self
    }

    /// Compression algorithm (default ZLIB).
    pub fn compression(mut self, c: CompressionType) -> Self {
        self.options.compression = c;
        self
    }

    /// Avoid recently failed or slow brokers (default on).
    pub fn latency_fault_tolerance(mut self, on: bool) -> Self {
        self.options.latency_fault_tolerance = on;
        self
    }

    /// Queue count for topics auto-created by a first send (default 4).
    pub fn default_topic_queue_nums(mut self, n: i32) -> Self {
        self.options.default_topic_queue_nums = n;
        self
    }

    /// Namespace for topic and group names.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.options.namespace = Some(ns.into());
        self
    }

    /// A hook called on every request.
    pub fn rpc_hook(mut self, hook: Arc<dyn RpcHook>) -> Self {
        self.options.rpc_hook = Some(hook);
        self
    }

    /// The options as built so far.
    pub fn options(&self) -> &ProducerOptions {
        &self.options
    }

    /// Validate the options and start the producer.
    pub async fn start(self) -> Result<Producer> {
        Producer::start(self.options, None).await
    }
}
