//! Metrics and health: installs a Prometheus recorder, serves it on `/metrics`, and runs a producer and a
//! consumer for 30 s (or until Ctrl-C), printing the client's series every 10 s and the health at the end.
//!
//! `cargo run -p rmq-client --example metrics -- <topic>`, then `curl localhost:9464/metrics`
//! (METRICS_ADDR changes the address). See docs/metrics.md for every metric.
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig,
};
use rmq_client::producer::Producer;
use rmq_protocol::message::{Message, MessageExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The recorder first: clients bind their metric handles to the recorder installed when they start.
    let prometheus = PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0])?
        .install_recorder()?;
    rmq_client::telemetry::describe_metrics();
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9464".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("serving http://{addr}/metrics");
    tokio::spawn(serve(listener, prometheus.clone()));

    let topic = common::topic();
    let producer = Producer::builder("example_metrics_producer")
        .name_server(common::namesrv())
        .start()
        .await?;
    let mut config = ConsumerConfig::new("example_metrics_consumers");
    config.client.namesrv_addr = common::namesrv();
    config.consume_from_where = ConsumeFromWhere::ConsumeFromLastOffset;
    let consumer = ConcurrentConsumer::builder(config)
        .subscribe(&topic, "*")
        .listener(|_: &[MessageExt], _: &mut ConsumeContext| ConsumeResult::Success)
        .start()
        .await?;

    let send_loop = {
        let (producer, topic) = (producer.clone(), topic.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            for i in 0u64.. {
                tick.tick().await;
                if let Err(e) = producer.send(Message::new(&topic, format!("metrics #{i}"))).await {
                    println!("send failed: {e}");
                }
            }
        })
    };
    let mut report = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(10),
        Duration::from_secs(10),
    );
    let stop = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = &mut stop => break,
            _ = report.tick() => print_client_series(&prometheus),
        }
    }
    send_loop.abort();

    let health = consumer.health();
    println!(
        "consumer: {} queues, stuck {:?}, last heartbeat accepted {:?} ago",
        health.queues.len(),
        health.stuck,
        health.client.heartbeat.since_last_success
    );
    for (mq, q) in &health.queues {
        println!(
            "  {mq}: cached {}, last pull {:?} ago, last consumed {:?} ago",
            q.cached_messages, q.since_last_pull, q.since_last_consumed
        );
    }
    let health = producer.health();
    println!(
        "producer: last send ok {:?} ago, last error {:?}, route ages {:?}",
        health.since_last_send_ok,
        health.last_send_error.map(|(_, e)| e.to_string()),
        health
            .client
            .routes
            .iter()
            .map(|(t, r)| (t.clone(), r.age))
            .collect::<Vec<_>>()
    );
    consumer.shutdown().await;
    producer.shutdown().await;
    Ok(())
}

/// Print the counters and gauges of the client (histogram buckets left out for brevity).
fn print_client_series(prometheus: &PrometheusHandle) {
    prometheus.run_upkeep();
    println!("---");
    for line in prometheus.render().lines() {
        if line.starts_with("rocketmq_client_") && !line.contains("_bucket{") {
            println!("{line}");
        }
    }
}

/// A minimal HTTP endpoint: every request gets the current exposition.
async fn serve(listener: TcpListener, prometheus: PrometheusHandle) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let prometheus = prometheus.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            prometheus.run_upkeep();
            let body = prometheus.render();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        });
    }
}
