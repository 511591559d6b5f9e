//! The report lines of Apache RocketMQ's `org.apache.rocketmq.example.benchmark.Producer`.
//!
//! It prints, every `-ri` ms once ten 1-second snapshots exist,
//! `Current Time: … | Send TPS: N | Max RT(ms): N | Average RT(ms): x.xxx | Send Failed: N | Response Failed: N`
//! where TPS and average RT cover the last ~10 s (the oldest to the newest snapshot) and Max RT
//! is the maximum since the start; RT has millisecond resolution.

/// The class run by `compare-produce`.
pub(crate) const PRODUCER_CLASS: &str = "org.apache.rocketmq.example.benchmark.Producer";

/// Printed first by the Java Producer (before its `DefaultMQProducer` starts).
pub(crate) const START_PREFIX: &str = "topic:";

/// One parsed report line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct JavaReport {
    pub(crate) send_tps: f64,
    /// Since the start of the process, warm-up included.
    pub(crate) max_rt_ms: f64,
    pub(crate) avg_rt_ms: f64,
    pub(crate) send_failed: u64,
    pub(crate) response_failed: u64,
}

/// Parses a periodic (`Current Time: …`) or final (`[Complete] …`) report line.
pub(crate) fn parse_report(line: &str) -> Option<JavaReport> {
    if !line.contains("Send TPS") {
        return None;
    }
    let field = |name: &str| -> Option<&str> {
        let start = line.find(name)? + name.len();
        let rest = line.get(start..)?.trim_start().strip_prefix(':')?;
        rest.split('|').next().map(str::trim)
    };
    let num = |name: &str| field(name)?.split_whitespace().next()?.parse::<f64>().ok();
    Some(JavaReport {
        send_tps: num("Send TPS")?,
        max_rt_ms: num("Max RT(ms)")?,
        avg_rt_ms: num("Average RT(ms)")?,
        send_failed: num("Send Failed").map_or(0, |v| v as u64),
        response_failed: num("Response Failed").map_or(0, |v| v as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_periodic_and_complete_lines() {
        let line = "Current Time: 2025-01-02 03:04:05,678 | Send TPS: 12345 | Max RT(ms): 27 | \
                    Average RT(ms):   1.234 | Send Failed: 1 | Response Failed: 2";
        assert_eq!(
            parse_report(line),
            Some(JavaReport {
                send_tps: 12345.0,
                max_rt_ms: 27.0,
                avg_rt_ms: 1.234,
                send_failed: 1,
                response_failed: 2
            })
        );
        let done = "[Complete] Send Total: 1000 | Send TPS: 900 | Max RT(ms): 30 | Average RT(ms):  \
                    2.000 | Send Failed: 0 | Response Failed: 0";
        assert_eq!(parse_report(done).map(|r| r.send_tps), Some(900.0));
        assert_eq!(parse_report("topic: t, threadCount: 16"), None);
    }
}
