//! The `rmq` binary against a real cluster (one per test binary): send, consume, topics,
//! groups, message lookup, Ctrl-C, and errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use rmq_testkit::{unique_name, Cluster};
use serde_json::{json, Value};
use support::*;

/// An empty dev home, so that no `rmq dev` cluster is ever picked up.
fn no_dev_home() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
        .to_path_buf()
}

fn cli(args: &[&str]) -> std::process::Command {
    let cluster = Cluster::shared();
    let mut cmd = rmq(&cluster.namesrv_addr(), &no_dev_home());
    cmd.args(args);
    cmd
}

fn topic_with_queues(prefix: &str, queues: u32) -> String {
    let topic = unique_name(prefix);
    Cluster::shared()
        .create_topic(&topic, queues)
        .expect("creating the topic");
    topic
}

/// Consumes exactly `n` messages as JSON lines.
fn consume_json(topic: &str, group: &str, n: usize) -> Vec<Value> {
    let out = ok(cli(&[
        "consume",
        topic,
        "-g",
        group,
        "--json",
        "-c",
        &n.to_string(),
        "--timeout",
        "90s",
    ]));
    let msgs = json_lines(&out);
    assert_eq!(msgs.len(), n, "consumed: {out}");
    msgs
}

/// `group offsets --json` total lag of `group` on `topic`.
fn total_lag(topic: &str, group: &str) -> i64 {
    let out = ok(cli(&["group", "offsets", group, "-t", topic, "--json"]));
    let v: Value = serde_json::from_str(&out).expect("offsets JSON");
    v["total_lag"].as_i64().expect("total_lag")
}

#[test]
fn sent_bodies_tags_keys_and_properties_come_back() {
    let topic = topic_with_queues("cli_send", 2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, b"{\"from\":\"file\"}\n").unwrap();

    let sent_arg = ok(cli(&[
        "send",
        &topic,
        "from argument",
        "--tag",
        "TagA",
        "--key",
        "k1",
        "--key",
        "k2",
        "-p",
        "color=blue",
        "-p",
        "size=3",
        "--json",
    ]));
    let sent_file = ok(cli(&[
        "send",
        &topic,
        "-f",
        file.to_str().unwrap(),
        "--tag",
        "TagF",
        "--json",
    ]));
    let sent_stdin = run_with_stdin(
        cli(&["send", &topic, "--key", "stdin-key", "--json"]),
        b"from stdin",
    );
    assert!(sent_stdin.status.success(), "{}", describe(&sent_stdin));
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for out in [sent_arg, sent_file, String::from_utf8(sent_stdin.stdout).unwrap()] {
        let r = json_lines(&out);
        assert_eq!(r.len(), 1, "{out}");
        assert_eq!(r[0]["status"], "SendOk");
        ids.insert(r[0]["msg_id"].as_str().unwrap().to_owned());
    }

    let got = consume_json(&topic, &unique_name("cli_send_g"), 3);
    let mut seen: Vec<Value> = got
        .iter()
        .map(|m| {
            assert!(
                ids.contains(m["msg_id"].as_str().unwrap()),
                "unexpected id in {m}"
            );
            json!({"body": m["body"], "tags": m["tags"], "keys": m["keys"], "properties": m["properties"]})
        })
        .collect();
    seen.sort_by_key(|v| v["body"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        seen,
        vec![
            json!({"body": "from argument", "tags": "TagA", "keys": ["k1", "k2"], "properties": {"color": "blue", "size": "3"}}),
            json!({"body": "from stdin", "tags": null, "keys": ["stdin-key"], "properties": {}}),
            json!({"body": "{\"from\":\"file\"}\n", "tags": "TagF", "keys": [], "properties": {}}),
        ]
    );
}

#[test]
fn tag_selector_and_lines() {
    let topic = topic_with_queues("cli_sel", 2);
    let out = run_with_stdin(
        cli(&["send", &topic, "--lines", "--tag", "keep", "--json"]),
        b"a\nb\n\nc\n",
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json_lines(&String::from_utf8(out.stdout).unwrap()).len(), 3);
    ok(cli(&["send", &topic, "dropped", "--tag", "other"]));
    let group = unique_name("cli_sel_g");
    let out = ok(cli(&[
        "consume",
        &topic,
        "-g",
        &group,
        "-s",
        "keep",
        "--json",
        "-c",
        "3",
        "--timeout",
        "90s",
    ]));
    let mut bodies: Vec<String> = json_lines(&out)
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["a", "b", "c"]);
}

#[test]
fn topic_create_route_list_delete() {
    let cluster = Cluster::shared();
    let topic = unique_name("cli_topic");
    let out = ok(cli(&["topic", "create", &topic, "-q", "3", "--json"]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["cluster"],
        cluster.cluster_name()
    );

    let route: Value = serde_json::from_str(&ok(cli(&["topic", "route", &topic, "--json"]))).unwrap();
    let brokers = route["brokers"].as_array().unwrap();
    let names: Vec<&str> = brokers.iter().map(|b| b["broker"].as_str().unwrap()).collect();
    let expected: Vec<&str> = cluster.brokers().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, expected);
    for b in brokers {
        assert_eq!(
            (b["read_queues"].as_i64(), b["write_queues"].as_i64()),
            (Some(3), Some(3)),
            "{b}"
        );
        let addr = cluster.broker_addr(b["broker"].as_str().unwrap()).unwrap();
        assert_eq!(b["master_addr"], addr.as_str());
    }
    let text = ok(cli(&["topic", "route", &topic]));
    assert!(text.starts_with("BROKER"), "{text}");

    let listed = |all: bool| -> Vec<String> {
        let mut args = vec!["topic", "list", "--json"];
        if all {
            args.push("--all");
        }
        let v: Value = serde_json::from_str(&ok(cli(&args))).unwrap();
        v["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    let plain = listed(false);
    assert!(plain.contains(&topic), "{plain:?}");
    assert!(
        !plain.iter().any(|t| t == "TBW102" || t.starts_with("%RETRY%")),
        "{plain:?}"
    );
    assert!(listed(true).iter().any(|t| t == "TBW102"));

    ok(cli(&["topic", "delete", &topic]));
    assert!(!listed(false).contains(&topic));
    let out = run(cli(&["topic", "route", &topic]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        describe(&out)
    );
}

#[test]
fn cluster_lists_every_broker() {
    let cluster = Cluster::shared();
    let v: Value = serde_json::from_str(&ok(cli(&["cluster", "--json"]))).unwrap();
    let got: Vec<(String, String)> = v["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["broker"].as_str().unwrap().to_owned(),
                b["addr"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = cluster
        .brokers()
        .iter()
        .map(|b| (b.name.clone(), b.addr.clone()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn group_offsets_show_the_lag_until_consumed() {
    let topic = topic_with_queues("cli_lag", 2);
    let group = unique_name("cli_lag_g");
    let out = run_with_stdin(cli(&["send", &topic, "--lines"]), b"1\n2\n3\n4\n5\n");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(total_lag(&topic, &group), 5);
    let queues: Value =
        serde_json::from_str(&ok(cli(&["group", "offsets", &group, "-t", &topic, "--json"]))).unwrap();
    assert_eq!(
        queues["queues"].as_array().unwrap().len(),
        4,
        "2 queues on each of 2 brokers"
    );

    consume_json(&topic, &group, 5);
    // The committed offsets reach the broker during the consumer's shutdown.
    assert_eq!(total_lag(&topic, &group), 0);
}

#[test]
fn ctrl_c_stops_cleanly_and_commits_offsets() {
    let topic = topic_with_queues("cli_int", 2);
    let group = unique_name("cli_int_g");
    for body in ["x1", "x2", "x3"] {
        ok(cli(&["send", &topic, body]));
    }
    let consumer = Running::spawn(cli(&["consume", &topic, "-g", &group, "--json"]));
    // While it runs, the group lists it.
    let conn = eventually(Duration::from_secs(30), "the consumer to be listed", || {
        let v: Value = serde_json::from_str(&ok(cli(&["group", "consumers", &group, "--json"]))).ok()?;
        (!v["consumers"].as_array()?.is_empty()).then_some(v)
    });
    assert_eq!(conn["consumers"][0]["language"], "RUST", "{conn}");
    assert_eq!(conn["subscriptions"][&topic], "*", "{conn}");

    let lines = consumer.take_lines(3, Duration::from_secs(60));
    let mut bodies: Vec<String> = json_lines(&lines.join("\n"))
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["x1", "x2", "x3"]);
    consumer.interrupt();
    let (status, stderr) = consumer.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    assert_eq!(total_lag(&topic, &group), 0);
    let again = ok(cli(&[
        "consume",
        &topic,
        "-g",
        &group,
        "--json",
        "--timeout",
        "5s",
    ]));
    assert_eq!(
        json_lines(&again),
        Vec::<Value>::new(),
        "nothing old is delivered again"
    );
    // Once stopped, nobody is online.
    let v: Value = serde_json::from_str(&ok(cli(&["group", "consumers", &group, "--json"]))).unwrap();
    assert_eq!(v["consumers"], json!([]));
}

#[test]
fn message_get_finds_what_send_printed() {
    let topic = topic_with_queues("cli_get", 1);
    let sent = json_lines(&ok(cli(&[
        "send",
        &topic,
        "look me up",
        "--key",
        "k-get",
        "--json",
    ])));
    let id = sent[0]["msg_id"].as_str().unwrap().to_owned();
    let offset_id = sent[0]["offset_msg_id"].as_str().unwrap().to_owned();
    // The broker indexes unique keys shortly after storing the message.
    let found = eventually(Duration::from_secs(20), "the message to be indexed", || {
        let out = run(cli(&["message", "get", &id, "-t", &topic, "--json"]));
        out.status
            .success()
            .then(|| json_lines(&String::from_utf8_lossy(&out.stdout)).remove(0))
    });
    assert_eq!(found["body"], "look me up");
    assert_eq!(found["msg_id"], id.as_str());
    assert_eq!(found["keys"], json!(["k-get"]));
    let by_offset = json_lines(&ok(cli(&["message", "get", &offset_id, "--json"]))).remove(0);
    assert_eq!(by_offset["msg_id"], id.as_str());
    assert_eq!(by_offset["body"], "look me up");

    let out = run(cli(&[
        "message",
        "get",
        "0123456789ABCDEF0123456789ABCDEF",
        "-t",
        &topic,
    ]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no message with id"),
        "{}",
        describe(&out)
    );
}

#[test]
fn bad_input_fails_clearly_without_panicking() {
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["send", "t", "x", "--no-such-flag"], 2, "unexpected argument"),
        (vec!["consume"], 2, "required"),
        (vec!["send", "t", "x", "--delay-level", "99"], 2, "99"),
        (vec!["send", "t", "x", "-p", "novalue"], 2, "key=value"),
        (vec!["topic", "route", "cli_no_such_topic_x"], 1, "does not exist"),
        (
            vec!["consume", "cli_no_such_topic_x", "-c", "1"],
            1,
            "does not exist",
        ),
        (
            vec!["group", "offsets", "g", "-t", "cli_no_such_topic_x"],
            1,
            "does not exist",
        ),
        (vec!["message", "get", "not-an-id"], 1, "not an offset message id"),
        (vec!["consume", "t", "--from", "yesterday"], 2, "first"),
    ];
    for (args, code, needle) in cases {
        let out = run(cli(&args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", describe(&out));
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A name server nobody listens on.
    let mut cmd = rmq("127.0.0.1:1", &no_dev_home());
    cmd.args(["topic", "list"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: "),
        "{}",
        describe(&out)
    );
}

#[test]
fn orderly_consume_keeps_a_sharding_keys_order() {
    let topic = topic_with_queues("cli_order", 4);
    let out = run_with_stdin(
        cli(&["send", &topic, "--lines", "--sharding-key", "user-7", "--json"]),
        b"first\nsecond\nthird\n",
    );
    assert!(out.status.success(), "{}", describe(&out));
    let sent = json_lines(&String::from_utf8(out.stdout).unwrap());
    let queue = &sent[0]["queue_id"];
    assert!(
        sent.iter().all(|r| &r["queue_id"] == queue),
        "one queue per key: {sent:?}"
    );

    let group = unique_name("cli_order_g");
    let out = ok(cli(&[
        "consume",
        &topic,
        "-g",
        &group,
        "--orderly",
        "--json",
        "-c",
        "3",
        "--timeout",
        "90s",
    ]));
    let got = json_lines(&out);
    let bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["first", "second", "third"]);
}

#[test]
fn sql_filter_selects_by_property() {
    // One queue (one sharding key): the filtered-out message sits before the delivered one, so delivering
    // "large" means the pull went past "small" and the commit at exit covers both. (On two queues, `-c 1`
    // may exit before the other queue's pull answers; committing filtered-only queues is covered by
    // rmq-client's push_consumer tests.)
    let topic = topic_with_queues("cli_sql", 2);
    ok(cli(&[
        "send",
        &topic,
        "small",
        "-p",
        "size=1",
        "--sharding-key",
        "k",
    ]));
    ok(cli(&[
        "send",
        &topic,
        "large",
        "-p",
        "size=10",
        "--sharding-key",
        "k",
    ]));
    let group = unique_name("cli_sql_g");
    let out = ok(cli(&[
        "consume",
        &topic,
        "-g",
        &group,
        "--sql",
        "size > 5",
        "--json",
        "-c",
        "1",
        "--timeout",
        "90s",
    ]));
    let got = json_lines(&out);
    assert_eq!(got[0]["body"], "large");
    assert_eq!(
        total_lag(&topic, &group),
        0,
        "the filtered-out message counts as consumed"
    );
}

#[test]
fn bench_produce_then_consume_report_as_json() {
    let topic = topic_with_queues("cli_bench", 2);
    let out = ok(cli(&[
        "bench", "produce", "-t", &topic, "-n", "300", "--warmup", "0s", "-s", "200", "-c", "4", "--json",
    ]));
    let p: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (p["msgs"].as_u64(), p["errors"].as_u64()),
        (Some(300), Some(0)),
        "{p}"
    );
    let l = &p["latency"];
    let ms = |k: &str| l[k].as_f64().unwrap();
    assert!(
        ms("p50_ms") > 0.0 && ms("p50_ms") <= ms("p90_ms") && ms("p90_ms") <= ms("p99_ms"),
        "{l}"
    );
    assert!(
        ms("p99_ms") <= ms("p999_ms") && ms("p999_ms") <= ms("max_ms"),
        "{l}"
    );
    let expected_mb = p["msgs_per_sec"].as_f64().unwrap() * 200.0 / 1e6;
    assert!(
        (p["mb_per_sec"].as_f64().unwrap() - expected_mb).abs() < 1e-6,
        "{p}"
    );

    let out = ok(cli(&["bench", "consume", "-t", &topic, "--json"]));
    let c: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(c["target"], 300, "the backlog: {c}");
    assert_eq!(c["drained"], true, "{c}");
    assert_eq!(c["errors"], 0, "{c}");
    assert!(c["msgs"].as_u64().unwrap() >= 300, "{c}");
    let rate = c["msgs_per_sec"].as_f64().unwrap();
    assert!(
        (c["mb_per_sec"].as_f64().unwrap() - rate * 200.0 / 1e6).abs() < 1e-3 * rate.max(1.0),
        "{c}"
    );
    let age = &c["age"];
    assert!(
        age["p50_ms"].as_f64().unwrap() <= age["p999_ms"].as_f64().unwrap(),
        "{c}"
    );
}

#[test]
fn delayed_message_arrives_after_its_delay() {
    let topic = topic_with_queues("cli_delay", 1);
    ok(cli(&["send", &topic, "later", "--delay", "3s"]));
    let got = consume_json(&topic, &unique_name("cli_delay_g"), 1);
    assert_eq!(got[0]["body"], "later");
    // Stored in the topic when it became due (timer precision: 1 s).
    let waited = got[0]["store_timestamp"].as_i64().unwrap() - got[0]["born_timestamp"].as_i64().unwrap();
    assert!(waited >= 2000, "stored {waited} ms after it was sent");
}
