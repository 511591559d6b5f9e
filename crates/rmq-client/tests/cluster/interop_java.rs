//! Interoperability with the real Java client (`org.apache.rocketmq:rocketmq-client` 5.5.0) on a real
//! cluster: what our producer sends, Java's `DefaultLitePullConsumer` reads back identically, and what
//! Java's `DefaultMQProducer` sends, our decoder reads back identically.
//!
//! The Java programs live in `tests/java/interop/` (plain sources, no build tool). They are compiled with
//! `javac` against the test kit's RocketMQ jars once per test binary run, run with the kit's JVM flags
//! (`support/java.rs`), and print one JSON object per message on stdout (lines starting with `@@INTEROP `).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]
// `support/mod.rs` declares its helpers `pub`, which `unreachable_pub` flags in every test that uses it.
#![allow(unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::time::{Duration, Instant};

use crate::support::java::{java_classes, java_command, tail, work_dir};
use crate::support::*;
use rmq_client::producer::{Producer, SendResult, SendStatus};
use rmq_protocol::message::{
    body_crc, properties as prop, sysflag, CompressionType, Message, MessageExt, MessageQueue,
};
use serde::Deserialize;

/// Prefix of the result lines the Java programs print (see `InteropJson.java`).
const LINE_PREFIX: &str = "@@INTEROP ";
/// A Java program still running after this long is killed and the test fails.
const JAVA_TIMEOUT: Duration = Duration::from_secs(60);
/// Properties Java's consumer adds to every message after a pull (`PullAPIWrapper.processPullResult`).
const CONSUMER_ADDED: &[&str] = &[prop::MIN_OFFSET, prop::MAX_OFFSET];
/// Properties the 5.5.0 broker adds when it stores a single (non-batch) message.
const BROKER_ADDED: &[&str] = &[prop::CLUSTER, prop::MSG_REGION, prop::TRACE_SWITCH];

// ---------------------------------------------------------------------------------------------------
// Running the Java programs
// ---------------------------------------------------------------------------------------------------

/// Runs `main` with `args`, kills it after [`JAVA_TIMEOUT`], and returns its result lines parsed as `T`.
/// Panics with the program's output when it fails, times out or prints something unparsable.
async fn run_java<T: for<'de> Deserialize<'de>>(main: &str, args: &[&str]) -> Vec<T> {
    let classes = tokio::task::spawn_blocking(java_classes).await.unwrap();
    let tag = unique(main);
    let stdout_path = work_dir().join(format!("{tag}.out"));
    let stderr_path = work_dir().join(format!("{tag}.err"));
    let mut cmd = java_command(classes, main);
    cmd.args(args)
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start java for {main}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > JAVA_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    let noise: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(LINE_PREFIX)).collect();
    let explain = || {
        format!(
            "{main} {args:?}\n--- stderr ---\n{}\n--- stdout (other than results) ---\n{}\n--- {} result lines ---",
            tail(&stderr, 150),
            noise.join("\n"),
            stdout.lines().filter(|l| l.starts_with(LINE_PREFIX)).count()
        )
    };
    match status {
        None => panic!("Java program killed after {JAVA_TIMEOUT:?}: {}", explain()),
        Some(s) if !s.success() => panic!("Java program failed ({s}): {}", explain()),
        Some(_) => {}
    }
    eprintln!("{main} ran in {:?}", started.elapsed());
    let results: Vec<T> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(LINE_PREFIX))
        .map(|json| {
            serde_json::from_str(json).unwrap_or_else(|e| panic!("bad result line from {main}: {e}\n{json}"))
        })
        .collect();
    let _ = fs::remove_file(&stdout_path);
    let _ = fs::remove_file(&stderr_path);
    results
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn props_map(m: &Message) -> BTreeMap<String, String> {
    m.properties
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The compression sysFlag bits (type and COMPRESSED).
fn compression_bits(sys_flag: i32) -> i32 {
    sys_flag & (sysflag::COMPRESSION_TYPE_MASK | sysflag::COMPRESSED)
}

// ---------------------------------------------------------------------------------------------------
// Rust producer -> Java consumer
// ---------------------------------------------------------------------------------------------------

/// One message as `JavaConsume` saw it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JavaConsumed {
    msg_id: String,
    offset_msg_id: Option<String>,
    topic: String,
    tags: Option<String>,
    keys: Option<String>,
    body_hex: String,
    flag: i32,
    sys_flag: i32,
    properties: BTreeMap<String, String>,
    broker_name: String,
    queue_id: i32,
    queue_offset: i64,
    commit_log_offset: i64,
    store_size: i32,
    #[serde(rename = "bodyCRC")]
    body_crc: i32,
    reconsume_times: i32,
    prepared_transaction_offset: i64,
    born_timestamp: i64,
    born_host: String,
    store_timestamp: i64,
    store_host: String,
}

/// A message our producer sent and where the broker said it went.
#[derive(Debug)]
struct Sent {
    message: Message,
    msg_id: String,
    offset_msg_id: String,
    queue: MessageQueue,
    queue_offset: i64,
    /// How our producer compressed the body (None: sent as is).
    compression: Option<CompressionType>,
}

impl Sent {
    fn single(message: Message, r: &SendResult, compression: Option<CompressionType>) -> Sent {
        assert_eq!(r.status, SendStatus::SendOk);
        assert!(!r.msg_id.contains(','), "single send with a list of ids: {r:?}");
        Sent {
            message,
            msg_id: r.msg_id.clone(),
            offset_msg_id: r.offset_msg_id.clone(),
            queue: r.queue.clone(),
            queue_offset: r.queue_offset,
            compression,
        }
    }

    fn batch(messages: Vec<Message>, r: &SendResult) -> Vec<Sent> {
        assert_eq!(r.status, SendStatus::SendOk);
        let ids: Vec<&str> = r.msg_id.split(',').collect();
        let offset_ids: Vec<&str> = r.offset_msg_id.split(',').collect();
        assert_eq!(ids.len(), messages.len(), "batch msg_id list: {r:?}");
        assert_eq!(
            offset_ids.len(),
            messages.len(),
            "batch offset_msg_id list: {r:?}"
        );
        messages
            .into_iter()
            .enumerate()
            .map(|(i, message)| Sent {
                message,
                msg_id: ids[i].to_owned(),
                offset_msg_id: offset_ids[i].to_owned(),
                queue: r.queue.clone(),
                queue_offset: r.queue_offset + i as i64,
                compression: None,
            })
            .collect()
    }
}

fn rust_plain(topic: &str, i: usize) -> Message {
    let mut m = Message::new(topic, format!("rust plain {i} ünï 城市 😀").into_bytes())
        .with_tags(format!("RTag{}", i % 3))
        .with_flag(i as i32);
    m.set_keys([format!("rkey-{i}"), format!("rorder-{}", i % 4)]);
    m.put_user_property("idx", i.to_string()).unwrap();
    m.put_user_property("城市", "上海").unwrap();
    m.put_user_property("emoji", "😀🚀 ok").unwrap();
    m.put_user_property("json", "a\"b\\c{d}[e],:f").unwrap();
    m
}

fn rust_big(topic: &str, ty: CompressionType) -> Message {
    let mut body = String::new();
    let mut line = 0;
    while body.len() < 12_000 {
        body.push_str(&format!(
            "rust {} line {line}: the quick brown fox ünï 城市\n",
            ty.name()
        ));
        line += 1;
    }
    let mut m = Message::new(topic, body.into_bytes()).with_tags("RBig");
    m.set_keys([format!("rbig-{}", ty.name()), "rbig".to_owned()]);
    m.put_user_property("compress", ty.name()).unwrap();
    m.put_user_property("城市", "上海").unwrap();
    m
}

fn rust_batch_item(topic: &str, i: usize) -> Message {
    let mut m = Message::new(topic, format!("rust batch {i} 城市").into_bytes())
        .with_tags("RBatch")
        .with_flag(100 + i as i32);
    m.set_keys([format!("rbatch-{i}"), "rbatch".to_owned()]);
    m.put_user_property("idx", i.to_string()).unwrap();
    m.put_user_property("城市", "上海").unwrap();
    m.put_user_property("emoji", "🚀").unwrap();
    m
}

/// Java's view of a message against what we sent and the broker's answer.
fn assert_java_saw_what_we_sent(j: &JavaConsumed, s: &Sent) {
    let m = &s.message;
    let what = format!("message {} ({:?})", s.msg_id, m.tags());
    assert_eq!(
        j.msg_id, s.msg_id,
        "{what}: Java getMsgId() vs our SendResult.msg_id"
    );
    assert_eq!(
        j.offset_msg_id.as_deref(),
        Some(s.offset_msg_id.as_str()),
        "{what}: Java getOffsetMsgId() vs our SendResult.offset_msg_id"
    );
    assert_eq!(j.topic, m.topic, "{what}: topic");
    assert!(unhex(&j.body_hex) == m.body, "{what}: body differs");
    assert_eq!(j.tags.as_deref(), m.tags(), "{what}: tags");
    assert_eq!(j.keys.as_deref(), m.property(prop::KEYS), "{what}: keys");
    assert_eq!(j.flag, m.flag, "{what}: flag");
    for (k, v) in m.properties.iter() {
        assert_eq!(
            j.properties.get(k).map(String::as_str),
            Some(v),
            "{what}: property {k:?}"
        );
    }
    assert_eq!(
        j.properties.get(prop::UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
        Some(&s.msg_id),
        "{what}: UNIQ_KEY"
    );
    for k in j.properties.keys() {
        let known = m.properties.contains_key(k)
            || k == prop::UNIQ_CLIENT_MESSAGE_ID_KEYIDX
            || CONSUMER_ADDED.contains(&k.as_str())
            || BROKER_ADDED.contains(&k.as_str());
        assert!(known, "{what}: unexpected property {k:?} in Java's view");
    }
    assert_eq!(j.broker_name, s.queue.broker_name, "{what}: broker");
    assert_eq!(j.queue_id, s.queue.queue_id, "{what}: queue id");
    assert_eq!(j.queue_offset, s.queue_offset, "{what}: queue offset");
    assert_eq!(j.reconsume_times, 0, "{what}: reconsume times");
    // Java clears COMPRESSED after decompressing and keeps the type bits, which tell what we used.
    let expected_bits = s.compression.map_or(0, CompressionType::sys_flag_bits);
    assert_eq!(
        compression_bits(j.sys_flag),
        expected_bits,
        "{what}: sysFlag {:#x} after Java's decode",
        j.sys_flag
    );
}

/// Java's decode against ours, field by field, on the same stored bytes.
fn assert_same_decode(j: &JavaConsumed, o: &MessageExt) {
    let what = format!("message {}", j.msg_id);
    assert_eq!(o.msg_id(), j.msg_id, "{what}: msg id");
    assert_eq!(
        o.offset_msg_id(),
        j.offset_msg_id.clone().unwrap_or_default(),
        "{what}: offset msg id"
    );
    assert_eq!(o.topic, j.topic, "{what}: topic");
    assert!(o.body == unhex(&j.body_hex), "{what}: body");
    assert_eq!(o.flag, j.flag, "{what}: flag");
    assert_eq!(o.sys_flag, j.sys_flag, "{what}: sysFlag");
    let mut java_props = j.properties.clone();
    for k in CONSUMER_ADDED {
        assert!(
            java_props.remove(*k).is_some(),
            "{what}: Java consumer did not add {k}"
        );
    }
    assert_eq!(props_map(o), java_props, "{what}: properties");
    assert_eq!(o.queue_id, j.queue_id, "{what}: queue id");
    assert_eq!(o.queue_offset, j.queue_offset, "{what}: queue offset");
    assert_eq!(
        o.commit_log_offset, j.commit_log_offset,
        "{what}: commit log offset"
    );
    assert_eq!(o.store_size, j.store_size, "{what}: store size");
    assert_eq!(o.body_crc, j.body_crc, "{what}: body CRC");
    assert_eq!(o.reconsume_times, j.reconsume_times, "{what}: reconsume times");
    assert_eq!(
        o.prepared_transaction_offset, j.prepared_transaction_offset,
        "{what}: prepared transaction offset"
    );
    assert_eq!(o.born_timestamp, j.born_timestamp, "{what}: born timestamp");
    assert_eq!(o.born_host.to_string(), j.born_host, "{what}: born host");
    assert_eq!(o.store_timestamp, j.store_timestamp, "{what}: store timestamp");
    assert_eq!(o.store_host.to_string(), j.store_host, "{what}: store host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_produced_messages_read_by_java() {
    // Compile the Java side while we produce.
    let compile = tokio::task::spawn_blocking(java_classes);
    let topic = topic_with_queues("interop_r2j", 2).await;
    let namesrv = cluster().namesrv_addr();
    let producer = Producer::builder(unique("pg_r2j"))
        .name_server(&namesrv)
        .start()
        .await
        .unwrap();
    let mut sent = Vec::new();

    for i in 0..17 {
        let m = rust_plain(&topic, i);
        let r = producer.send(m.clone()).await.unwrap();
        sent.push(Sent::single(m, &r, None));
    }
    // Over 4 KiB: the default producer compresses with ZLIB; one producer each for LZ4 and ZSTD.
    let m = rust_big(&topic, CompressionType::Zlib);
    let r = producer.send(m.clone()).await.unwrap();
    sent.push(Sent::single(m, &r, Some(CompressionType::Zlib)));
    for ty in [CompressionType::Lz4, CompressionType::Zstd] {
        let p = Producer::builder(unique("pg_r2j_z"))
            .name_server(&namesrv)
            .compression(ty)
            .start()
            .await
            .unwrap();
        let m = rust_big(&topic, ty);
        let r = p.send(m.clone()).await.unwrap();
        sent.push(Sent::single(m, &r, Some(ty)));
        p.shutdown().await;
    }
    let batch: Vec<Message> = (0..10).map(|i| rust_batch_item(&topic, i)).collect();
    let r = producer.send_batch(batch.clone()).await.unwrap();
    sent.extend(Sent::batch(batch, &r));
    producer.shutdown().await;
    assert_eq!(sent.len(), 30);

    let ours: HashMap<String, MessageExt> = pull_topic(&topic)
        .await
        .into_iter()
        .map(|m| (m.msg_id().into_owned(), m))
        .collect();
    assert_eq!(ours.len(), sent.len(), "our raw pull");

    compile.await.unwrap();
    let group = unique("cg_r2j");
    let expected = sent.len().to_string();
    let java: Vec<JavaConsumed> =
        run_java("JavaConsume", &[&namesrv, &topic, &group, &expected, "45000"]).await;
    assert_eq!(java.len(), sent.len(), "messages Java consumed");
    let by_id: HashMap<&str, &JavaConsumed> = java.iter().map(|j| (j.msg_id.as_str(), j)).collect();
    assert_eq!(by_id.len(), java.len(), "Java saw duplicate msg ids");
    for s in &sent {
        let j = by_id
            .get(s.msg_id.as_str())
            .unwrap_or_else(|| panic!("Java never saw {} (tags {:?})", s.msg_id, s.message.tags()));
        assert_java_saw_what_we_sent(j, s);
        assert_same_decode(j, &ours[&s.msg_id]);
    }
}

// ---------------------------------------------------------------------------------------------------
// Java producer -> our decoder
// ---------------------------------------------------------------------------------------------------

/// One message as `JavaProduce` sent it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JavaSent {
    kind: String,
    compress_type: Option<String>,
    msg_id: String,
    result_msg_id: String,
    offset_msg_id: String,
    broker_name: String,
    queue_id: i32,
    queue_offset: i64,
    topic: String,
    tags: Option<String>,
    keys: Option<String>,
    flag: i32,
    body_hex: String,
    properties: BTreeMap<String, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_produced_messages_decode_identically_here() {
    let topic = topic_with_queues("interop_j2r", 2).await;
    let namesrv = cluster().namesrv_addr();
    let group = unique("pg_j2r");
    let java: Vec<JavaSent> = run_java("JavaProduce", &[&namesrv, &topic, &group]).await;
    let count = |kind: &str| java.iter().filter(|j| j.kind == kind).count();
    assert_eq!(
        (count("plain"), count("compressed"), count("batch")),
        (20, 3, 10),
        "what JavaProduce reported"
    );

    let stored = pull_topic(&topic).await;
    assert_eq!(stored.len(), java.len(), "messages stored in {topic}");
    let ours: HashMap<String, &MessageExt> = stored.iter().map(|m| (m.msg_id().into_owned(), m)).collect();
    assert_eq!(ours.len(), stored.len(), "duplicate msg ids in our decode");

    for j in &java {
        let what = format!("{} message {} ({:?})", j.kind, j.msg_id, j.tags);
        assert_eq!(
            j.msg_id, j.result_msg_id,
            "{what}: Java's UNIQ_KEY vs its SendResult"
        );
        let o = ours
            .get(&j.msg_id)
            .unwrap_or_else(|| panic!("{what}: not found by our decoder's msg_id()"));
        assert_eq!(o.topic, j.topic, "{what}: topic");
        assert!(o.body == unhex(&j.body_hex), "{what}: body");
        assert_eq!(o.tags(), j.tags.as_deref(), "{what}: tags");
        assert_eq!(o.property(prop::KEYS), j.keys.as_deref(), "{what}: keys");
        let java_keys: Vec<&str> = j.keys.as_deref().map_or(Vec::new(), |k| k.split(' ').collect());
        assert_eq!(o.keys(), java_keys, "{what}: keys()");
        assert_eq!(o.flag, j.flag, "{what}: flag");
        // Every property Java sent (user properties, TAGS, KEYS, WAIT, UNIQ_KEY) comes back as it was.
        for (k, v) in &j.properties {
            assert_eq!(o.property(k), Some(v.as_str()), "{what}: property {k:?}");
        }
        for k in o.properties.keys() {
            assert!(
                j.properties.contains_key(k) || BROKER_ADDED.contains(&k),
                "{what}: unexpected property {k:?} in our decode"
            );
        }
        if j.properties.contains_key("idx") {
            assert_eq!(
                o.user_property("idx"),
                j.properties.get("idx").map(String::as_str)
            );
        }
        assert_eq!(
            o.user_property("城市"),
            Some("上海"),
            "{what}: non-ASCII user property"
        );
        assert_eq!(o.msg_id(), j.msg_id, "{what}: msg_id()");
        assert_eq!(o.offset_msg_id(), j.offset_msg_id, "{what}: offset_msg_id()");
        assert_eq!(o.queue_id, j.queue_id, "{what}: queue id");
        assert_eq!(o.queue_offset, j.queue_offset, "{what}: queue offset");
        assert_eq!(
            o.store_host.to_string(),
            cluster().broker_addr(&j.broker_name).unwrap(),
            "{what}: store host vs the broker Java sent to"
        );
        assert_eq!(o.reconsume_times, 0, "{what}: reconsume times");
        match j.compress_type.as_deref() {
            Some(name) => {
                // Stored compressed by Java; decoded here, COMPRESSED cleared, type bits kept (as Java's
                // MessageDecoder does).
                let ty = CompressionType::from_name(name).unwrap();
                assert_eq!(
                    compression_bits(o.sys_flag),
                    ty.sys_flag_bits(),
                    "{what}: sysFlag {:#x} after our decode",
                    o.sys_flag
                );
                assert_eq!(o.user_property("compress"), Some(name), "{what}");
                assert!(o.body.len() > 4096, "{what}: body {} bytes", o.body.len());
            }
            None => {
                assert_eq!(
                    compression_bits(o.sys_flag),
                    0,
                    "{what}: sysFlag {:#x}",
                    o.sys_flag
                );
                assert_eq!(o.body_crc, body_crc(&o.body), "{what}: body CRC");
            }
        }
    }
    // The batch landed in one queue at consecutive offsets, in order.
    let batch: Vec<&JavaSent> = java.iter().filter(|j| j.kind == "batch").collect();
    for (i, j) in batch.iter().enumerate() {
        assert_eq!(
            (&j.broker_name, j.queue_id),
            (&batch[0].broker_name, batch[0].queue_id)
        );
        assert_eq!(j.queue_offset, batch[0].queue_offset + i as i64);
        assert_eq!(ours[&j.msg_id].user_property("idx"), Some(i.to_string().as_str()));
    }
}
