//! ACL against a real broker with ACL 2.0 on (authentication and authorization, RocketMQ 5.5.0; see the
//! test kit's `AclOptions`): with the right credentials everything works (send, concurrent and orderly
//! consumption, offsets, queue locks); a wrong secret fails at once with `AuthFailed` and is not retried;
//! a user without permission on a topic gets `PermissionDenied`, also without retries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rmq_client::acl::Credentials;
use rmq_client::admin::Admin;
use rmq_client::consumer::{
    ConcurrentConsumer, ConsumeContext, ConsumeFromWhere, ConsumeOrderlyContext, ConsumeOrderlyResult,
    ConsumeResult, ConsumerConfig, MessageSelector, OrderlyConsumer,
};
use rmq_client::producer::Producer;
use rmq_client::{ClientConfig, ErrorKind, RpcHook};
use rmq_protocol::message::{Message, MessageExt, MessageQueue};
use rmq_protocol::{RemotingCommand, RequestCode};
use rmq_testkit::{AclOptions, AclUser, Cluster, ClusterOptions};

const ADMIN: (&str, &str) = ("acl-admin", "acl-admin-secret");
/// May publish and subscribe on `acl_*` topics and groups.
const ALICE: (&str, &str) = ("alice", "alice-secret");
/// May only use `bob_*` topics and groups.
const BOB: (&str, &str) = ("bob", "bob-secret");

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let acl = AclOptions::new(ADMIN.0, ADMIN.1)
            .user(AclUser::new(ALICE.0, ALICE.1).allow(&["Topic:acl_*", "Group:acl_*"], &["Pub", "Sub"]))
            .user(AclUser::new(BOB.0, BOB.1).allow(&["Topic:bob_*", "Group:bob_*"], &["Pub", "Sub"]));
        let started = Instant::now();
        let cluster = Cluster::start(ClusterOptions {
            brokers: 1,
            acl: Some(acl),
            ..Default::default()
        })
        .unwrap();
        eprintln!("ACL cluster ready in {:?}", started.elapsed());
        cluster
    })
}

fn client(user: (&str, &str)) -> ClientConfig {
    ClientConfig::new(cluster().namesrv_addr()).with_credentials(Credentials::new(user.0, user.1))
}

fn new_topic(prefix: &str) -> String {
    let t = rmq_testkit::unique_name(prefix);
    cluster().create_topic(&t, 4).unwrap();
    t
}

/// Counts the requests of one code the producer sends (runs before the ACL signing).
#[derive(Default)]
struct CountSends(AtomicUsize);

impl RpcHook for CountSends {
    fn before_request(&self, _addr: &str, cmd: &mut RemotingCommand) {
        if cmd.code == RequestCode::SEND_MESSAGE_V2.0 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn producer(user: (&str, &str), counter: Option<Arc<CountSends>>) -> Producer {
    let mut b = Producer::builder(rmq_testkit::unique_name("acl_pg"))
        .client_config(client(user))
        .retries(2);
    if let Some(c) = counter {
        b = b.rpc_hook(c);
    }
    b.start().await.unwrap()
}

fn consumer_config(user: (&str, &str), group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group);
    c.client = client(user);
    c.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    c
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_credentials_send_consume_commit_offsets_and_lock_queues() {
    let topic = new_topic("acl_topic");
    let p = producer(ALICE, None).await;
    let mut sent = BTreeSet::new();
    for i in 0..40 {
        let body = format!("m{i}");
        p.send(Message::new(&topic, body.clone())).await.unwrap();
        sent.insert(body);
    }
    p.shutdown().await;

    // Concurrent consumer: heartbeats, rebalance, pulls, offset commits all signed.
    let group = rmq_testkit::unique_name("acl_cg");
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let s = seen.clone();
    let c = ConcurrentConsumer::builder(consumer_config(ALICE, &group))
        .subscribe(&topic, MessageSelector::all())
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            let mut s = s.lock().unwrap();
            for m in msgs {
                s.insert(String::from_utf8_lossy(&m.body).into_owned());
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    wait_for("the concurrent consumer", Duration::from_secs(60), || {
        *seen.lock().unwrap() == sent
    })
    .await;
    c.shutdown().await; // persists offsets

    // The broker has the group's offsets at the end of every queue (read back as the super user).
    let admin = Admin::connect(client(ADMIN)).unwrap();
    let broker = cluster().brokers()[0].name.clone();
    for q in 0..4 {
        let mq = MessageQueue::new(topic.clone(), broker.clone(), q);
        let max = admin.max_offset(&mq).await.unwrap();
        let committed = admin.query_consumer_offset(&group, &mq).await.unwrap();
        assert_eq!(committed, Some(max), "queue {q}");
    }

    // Orderly consumer: consumes only while it holds the broker's queue locks.
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let s = seen.clone();
    let o = OrderlyConsumer::builder(consumer_config(ALICE, &rmq_testkit::unique_name("acl_og")))
        .subscribe(&topic, MessageSelector::all())
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeOrderlyContext| {
            let mut s = s.lock().unwrap();
            for m in msgs {
                s.insert(String::from_utf8_lossy(&m.body).into_owned());
            }
            ConsumeOrderlyResult::Success
        })
        .start()
        .await
        .unwrap();
    wait_for("the orderly consumer", Duration::from_secs(60), || {
        *seen.lock().unwrap() == sent
    })
    .await;
    o.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_fails_at_once_with_auth_failed() {
    let topic = new_topic("acl_wrong");
    let sends = Arc::new(CountSends::default());
    let p = producer((ALICE.0, "not-the-secret"), Some(sends.clone())).await;
    let started = Instant::now();
    let err = p.send(Message::new(&topic, "x")).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err.kind(), ErrorKind::AuthFailed { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.remark(), Some("check signature failed."));
    assert_eq!(
        sends.0.load(Ordering::SeqCst),
        1,
        "an auth failure is not retried"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let shown = format!("{err} {err:?} {:?}", p.options());
    assert!(!shown.contains("not-the-secret"), "{shown}");
    eprintln!("wrong secret: {err} after {took:?}");

    // An unknown user, and no credentials at all, are authentication failures too.
    let p2 = producer(("nobody", "x"), None).await;
    let err = p2.send(Message::new(&topic, "x")).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::AuthFailed { .. }), "{err:?}");
    let anonymous = Producer::builder(rmq_testkit::unique_name("acl_pg"))
        .name_server(cluster().namesrv_addr())
        .start()
        .await
        .unwrap();
    let err = anonymous.send(Message::new(&topic, "x")).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::AuthFailed { .. }), "{err:?}");
    for p in [p, p2, anonymous] {
        p.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_without_permission_on_the_topic_is_denied() {
    let topic = new_topic("acl_denied");
    let sends = Arc::new(CountSends::default());
    let p = producer(BOB, Some(sends.clone())).await;
    let started = Instant::now();
    let err = p.send(Message::new(&topic, "x")).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err.kind(), ErrorKind::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("has no permission"), "{err}");
    assert_eq!(sends.0.load(Ordering::SeqCst), 1, "a denial is not retried");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    eprintln!("denied: {err} after {took:?}");

    // Bob's own topics work.
    let own = new_topic("bob_topic");
    p.send(Message::new(&own, "ok")).await.unwrap();
    p.shutdown().await;

    // Reading the other topic's offsets for a group of Bob's is denied too.
    let admin = Admin::connect(client(BOB)).unwrap();
    let mq = MessageQueue::new(topic, cluster().brokers()[0].name.clone(), 0);
    let err = admin
        .query_consumer_offset(&rmq_testkit::unique_name("bob_g"), &mq)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::PermissionDenied { .. }),
        "{err:?}"
    );
}

/// The kit's `mqadmin` signs as the super user (through `conf/tools.yml`), so ACL admin commands work.
#[test]
fn mqadmin_runs_as_the_super_user() {
    let out = cluster()
        .mqadmin(&["getUser", "-c", cluster().cluster_name(), "-u", ALICE.0])
        .unwrap();
    assert!(out.contains(ALICE.0), "{out}");
}

/// Compiles `tests/java/acl-signatures/AclJavaProduce.java` against the kit's jars and runs it.
async fn run_java_producer(topic: &str, count: usize) -> String {
    let runtime = cluster().runtime();
    let javac = runtime.java().with_file_name("javac");
    let javac = if javac.is_file() { javac } else { "javac".into() };
    let classes =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("acl-java-{}", std::process::id()));
    std::fs::create_dir_all(&classes).unwrap();
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/java/acl-signatures/AclJavaProduce.java"
    );
    let out = std::process::Command::new(&javac)
        .arg("-encoding")
        .arg("UTF-8")
        .arg("-cp")
        .arg(cluster().java_classpath())
        .arg("-d")
        .arg(&classes)
        .arg(source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", javac.display()));
    assert!(
        out.status.success(),
        "javac: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The kit's java command, with the compiled class added to its class path.
    let base = cluster().java_command("AclJavaProduce", &["-Xmx128m", "-XX:TieredStopAtLevel=1"]);
    let mut cmd = std::process::Command::new(base.get_program());
    let mut args = base.get_args();
    while let Some(arg) = args.next() {
        cmd.arg(arg);
        if arg == "-cp" {
            let mut cp = args.next().unwrap().to_owned();
            cp.push(":");
            cp.push(&classes);
            cmd.arg(cp);
        }
    }
    let count = count.to_string();
    let ns = cluster().namesrv_addr();
    cmd.args([ns.as_str(), topic, ALICE.0, ALICE.1, count.as_str()]);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("AclJavaProduce did not finish within 120 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "AclJavaProduce failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The Java client with its `AclClientRPCHook` works on the same cluster set-up: Java sends, Rust consumes,
/// and Java sees the same answer to a wrong secret (NO_PERMISSION, "check signature failed.").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_acl_hook_producer_and_rust_consumer_share_the_cluster() {
    let topic = new_topic("acl_java");
    let stdout = run_java_producer(&topic, 10).await;
    eprintln!(
        "Java producer: {}",
        stdout
            .lines()
            .filter(|l| l.starts_with("WRONG"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let sent: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("SENT ")).collect();
    assert_eq!(sent.len(), 10, "{stdout}");
    let wrong = stdout.lines().find_map(|l| l.strip_prefix("WRONG ")).unwrap();
    assert_eq!(wrong, "16 check signature failed.", "{stdout}");

    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let s = seen.clone();
    let c = ConcurrentConsumer::builder(consumer_config(ALICE, &rmq_testkit::unique_name("acl_jg")))
        .subscribe(&topic, MessageSelector::all())
        .listener(move |msgs: &[MessageExt], _: &mut ConsumeContext| {
            let mut s = s.lock().unwrap();
            for m in msgs {
                s.insert(String::from_utf8_lossy(&m.body).into_owned());
            }
            ConsumeResult::Success
        })
        .start()
        .await
        .unwrap();
    let expected: BTreeSet<String> = (0..10).map(|i| format!("java {i}")).collect();
    wait_for("Java's messages", Duration::from_secs(60), || {
        *seen.lock().unwrap() == expected
    })
    .await;
    c.shutdown().await;
}
