//! Request-reply (Java `DefaultMQProducer.request`): a requester sends a message and waits for the
//! answer; a responder consumes the request and replies with [`Producer::reply`]. The reply travels
//! through the broker (`<cluster>_REPLY_TOPIC`), which pushes it straight to the requesting client.
//!
//! `cargo run -p rmq-client --example request_reply -- <topic>`
//!
//! Both sides run in this program; in practice they are different services, and the responder can
//! equally be a Java or Go consumer (the request carries the standard correlation properties).
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_client::producer::Producer;
use rmq_protocol::message::{Message, MessageExt};

#[tokio::main]
async fn main() -> rmq_client::Result<()> {
    let topic = common::topic();

    // The responder: a consumer of the request topic and a producer to send the replies with.
    let replier = Producer::builder("example_rr_responder")
        .name_server(common::namesrv())
        .start()
        .await?;
    let mut config = ConsumerConfig::new("example_rr_responders");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromLastOffset;
    let replying = replier.clone();
    let responder = ConcurrentConsumer::builder(config)
        .subscribe(&topic, "price-query")
        .async_listener(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let replier = replying.clone();
            async move {
                for request in &msgs {
                    let question = String::from_utf8_lossy(&request.body).into_owned();
                    let answer = format!("{question}: 42.00 EUR");
                    // The request's correlation id and requester travel back with the reply.
                    replier.reply(request, answer.into_bytes()).await?;
                }
                Ok::<_, rmq_client::Error>(ConsumeResult::Success)
            }
        })
        .start()
        .await?;

    // The requester: any producer. `request` waits for the reply up to its timeout.
    let requester = Producer::builder("example_rr_requester")
        .name_server(common::namesrv())
        .start()
        .await?;
    for item in ["apples", "pears", "plums"] {
        let request = Message::new(&topic, item).with_tags("price-query");
        // A new responder group starts at the queue's end once its first rebalance is done, so the
        // first request may go unanswered for a moment: retry a timed-out request a few times.
        let mut answer = None;
        for _ in 0..10 {
            match requester.request(request.clone(), Duration::from_secs(3)).await {
                Ok(reply) => {
                    answer = Some(reply);
                    break;
                }
                Err(e) if e.is_timeout() => println!("{item}: no reply within 3 s, asking again"),
                Err(e) => return Err(e),
            }
        }
        match answer {
            Some(reply) => println!("{item} -> {}", String::from_utf8_lossy(&reply.body)),
            None => println!("{item}: no reply"),
        }
    }

    requester.shutdown().await;
    responder.shutdown().await;
    replier.shutdown().await;
    Ok(())
}
