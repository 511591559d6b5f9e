//! The Go side of `side-by-side`: `bench/go` (`rmq-bench-go`), a small program on the Apache
//! RocketMQ Go client that runs the same workloads as `rmq bench produce` and `rmq bench consume`
//! and prints the same JSON summaries. `scripts/bench-side-by-side` builds it with `go build`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::compare_consume::DrainJob;
use super::drain::Markers;

/// The Go client the program is built with (`bench/go/go.mod`).
pub(crate) const CLIENT: &str = "github.com/apache/rocketmq-client-go/v2 v2.1.2";

/// Printed on stderr by `rmq-bench-go produce` when its senders start.
pub(crate) const PRODUCE_START_MARKER: &str = "rmq-bench-go produce: sending";

/// The lines `rmq-bench-go consume` prints before `Start()` and when the count is complete.
pub(crate) const CONSUME_MARKERS: Markers = Markers {
    start: "rmq-bench-go consume: starting",
    drained: "rmq-bench-go consume: drained",
};

/// `rmq-bench-go produce`: `concurrency` goroutines sending `size`-byte bodies with `SendSync`
/// for `warmup` + `duration`.
pub(crate) fn produce_command(
    go_bin: &Path,
    ns: &str,
    topic: &str,
    concurrency: u64,
    size: usize,
    warmup: Duration,
    duration: Duration,
) -> Command {
    let mut cmd = Command::new(go_bin);
    cmd.args(["produce", "-namesrv", ns, "-topic", topic])
        .args(["-c", &concurrency.to_string(), "-s", &size.to_string()])
        .args(["-warmup", &go_duration(warmup), "-d", &go_duration(duration)])
        // The client logs through logrus at INFO unless told otherwise; the program also lowers it.
        .env("ROCKETMQ_GO_LOG_LEVEL", "error");
    cmd
}

/// `rmq-bench-go consume` for `job`: a new push consumer group from the first offset.
pub(crate) fn consume_command(go_bin: &Path, job: &DrainJob<'_>) -> Command {
    let mut cmd = Command::new(go_bin);
    cmd.args([
        "consume", "-namesrv", job.ns, "-topic", job.topic, "-group", job.group,
    ])
    .args([
        "-n",
        &job.target.to_string(),
        "-timeout",
        &go_duration(job.timeout),
    ])
    .env("ROCKETMQ_GO_LOG_LEVEL", "error");
    if let Some(w) = job.threads {
        cmd.args(["-w", &w.to_string()]);
    }
    cmd
}

/// A duration in Go's `time.ParseDuration` syntax.
fn go_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = include_str!("../../../../bench/go/main.go");
    const PRODUCE: &str = include_str!("../../../../bench/go/produce.go");
    const CONSUME: &str = include_str!("../../../../bench/go/consume.go");
    const GO_MOD: &str = include_str!("../../../../bench/go/go.mod");

    #[test]
    fn markers_and_version_match_the_go_program() {
        assert!(PRODUCE.contains(&format!("\"{PRODUCE_START_MARKER}\"")));
        assert!(CONSUME.contains(&format!("\"{}\"", CONSUME_MARKERS.start)));
        assert!(CONSUME.contains(&format!("\"{}\"", CONSUME_MARKERS.drained)));
        assert!(MAIN.contains("rlog.SetLogLevel(\"error\")"));
        let (module, version) = CLIENT.split_once(' ').unwrap_or_default();
        assert!(
            GO_MOD.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.ends_with(&[module, version]) || words == ["require", module, version]
            }),
            "bench/go/go.mod does not require {CLIENT}"
        );
    }

    #[test]
    fn durations_in_go_syntax() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30000ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
    }
}
