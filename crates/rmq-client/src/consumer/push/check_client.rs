//! The start-time check of non-TAG subscriptions (Java `MQClientInstance.checkClientInBroker`).
//!
//! A broker without `enablePropertyFilter=true` accepts the heartbeat of an SQL92 subscription but
//! refuses every pull of it, so a consumer would run and receive nothing. Before the first heartbeat,
//! a consumer therefore sends CHECK_CLIENT_CONFIG (46) for each non-TAG subscription, and its
//! `start()` fails with the broker's answer: `SYSTEM_ERROR` (1) "The broker does not support consumer
//! to filter message by SQL92", or `SUBSCRIPTION_PARSE_FAILED` (23) with the parser's message for an
//! expression the broker cannot compile.
//!
//! Java asks one broker of the topic, picked at random, assuming all are configured alike; this asks
//! every broker of the topic's route (its master, else a replica), so the outcome does not depend on
//! the pick. For a topic without a route yet (just created, or not created yet) Java checks nothing;
//! this asks every broker the name server knows instead, since the topic's brokers are among them.
//! A broker that cannot be reached is skipped when another broker answered; when none did, start
//! fails with the transport error (Java fails on any error of its one request).

use bytes::Bytes;
use rmq_protocol::header::{CheckClientRequestBody, ExpressionType, SubscriptionData};
use rmq_protocol::route::BrokerData;
use rmq_protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use crate::client::ClientCore;
use crate::error::{Error, Result};

/// Ask the brokers of every non-TAG subscription in `subscriptions` whether they accept it for `group`.
/// Returns the first refusal as an [`ErrorKind::Broker`](crate::ErrorKind::Broker) error carrying the
/// broker's code and remark.
pub(crate) async fn check_client_in_broker(
    core: &ClientCore,
    group: &str,
    subscriptions: &[SubscriptionData],
) -> Result<()> {
    let mut all_brokers: Option<Vec<String>> = None;
    for sub in subscriptions
        .iter()
        .filter(|s| s.expression_type != ExpressionType::Tag)
    {
        let route = core.routes.snapshot().topics.get(&sub.topic).cloned();
        let addrs: Vec<String> = match route {
            Some(route) => select_addrs(&route.data.broker_datas),
            None => match &all_brokers {
                Some(addrs) => addrs.clone(),
                None => match core.routes.namesrv().cluster_info().await {
                    Ok(info) => {
                        debug!(topic = %sub.topic, "no route yet: checking the subscription with every broker");
                        let addrs = select_addrs(info.broker_addr_table.values());
                        all_brokers = Some(addrs.clone());
                        addrs
                    }
                    Err(e) => {
                        debug!(topic = %sub.topic, error = %e, "no route and no broker list: subscription not checked");
                        continue;
                    }
                },
            },
        };
        let body = Bytes::from(
            CheckClientRequestBody {
                client_id: core.client_id.clone(),
                group: group.to_owned(),
                namespace: None,
                subscription_data: Some(sub.clone()),
            }
            .to_json(),
        );
        let mut answered = false;
        let mut unreachable = None;
        for addr in &addrs {
            let cmd = RemotingCommand::new_request(RequestCode::CHECK_CLIENT_CONFIG, ExtFields::new())
                .with_body(body.clone());
            match core.remoting.invoke(addr, cmd, core.config.request_timeout).await {
                Ok(resp) if resp.response_code() == ResponseCode::SUCCESS => answered = true,
                Ok(resp) => {
                    let kind = sub.expression_type.as_str();
                    return Err(
                        Error::broker(resp.response_code(), resp.remark).with_context(format!(
                            "broker {addr} refused the {kind} subscription {:?} to {}",
                            sub.sub_string, sub.topic
                        )),
                    );
                }
                Err(e) => {
                    warn!(%addr, topic = %sub.topic, error = %e, "could not check a subscription with a broker");
                    unreachable = Some(e);
                }
            }
        }
        match unreachable {
            Some(e) if !answered => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The address to ask in each broker group: its master, else a replica.
fn select_addrs<'a>(brokers: impl IntoIterator<Item = &'a BrokerData>) -> Vec<String> {
    brokers
        .into_iter()
        .filter_map(BrokerData::select_addr)
        .map(str::to_owned)
        .collect()
}
