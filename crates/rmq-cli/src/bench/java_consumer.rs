//! The Java side of `compare-consume`: `java/RmqBenchConsumer.java`, compiled with `javac` against
//! the RocketMQ jars at run time and started with the kit's JVM flags.
//!
//! Apache RocketMQ's own `org.apache.rocketmq.example.benchmark.Consumer` cannot be used as it is:
//! it has no option for where a new group starts (its `DefaultMQPushConsumer` keeps the default
//! `CONSUME_FROM_LAST_OFFSET`), never stops, and prints only 10-second TPS windows. The program here
//! builds its consumer the same way (same constructor, `AllocateMessageQueueAveragely`,
//! `consumeThreadMin = consumeThreadMax = -w` (20), instance name), starts from the first offset,
//! counts in a no-op listener and prints `rmq bench consume --json`'s summary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use rmq_testkit::Runtime;

/// The program's class (in the default package).
pub(crate) const CLASS: &str = "RmqBenchConsumer";
const SOURCE: &str = include_str!("java/RmqBenchConsumer.java");

/// Printed on stderr just before `consumer.start()`.
pub(crate) const START_MARKER: &str = "rmq-bench-java-consumer: starting";
/// Printed on stderr by the listener call that completes the count.
pub(crate) const DRAINED_MARKER: &str = "rmq-bench-java-consumer: drained";

/// The benchmark Consumer's default `-w` (and `DefaultMQPushConsumer`'s default thread count).
pub(crate) const DEFAULT_THREADS: usize = 20;

/// Compiles the program into `dir/classes`; returns that directory.
pub(crate) fn compile(runtime: &Runtime, dir: &Path) -> anyhow::Result<PathBuf> {
    let src = dir.join(format!("{CLASS}.java"));
    let classes = dir.join("classes");
    std::fs::create_dir_all(&classes).with_context(|| format!("creating {}", classes.display()))?;
    std::fs::write(&src, SOURCE).with_context(|| format!("writing {}", src.display()))?;
    let sibling = runtime.java().with_file_name("javac");
    let javac = if sibling.is_file() {
        sibling
    } else {
        PathBuf::from("javac")
    };
    let out = Command::new(&javac)
        .args(["-encoding", "UTF-8", "-nowarn", "-d"])
        .arg(&classes)
        .arg("-cp")
        .arg(runtime.classpath())
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "running {} (a JDK is needed for the Java consumer; or pass --skip-java)",
                javac.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "javac failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(classes)
}

/// `base` (a kit `java` command for [`CLASS`]) with `classes` appended to its class path.
pub(crate) fn with_classes(base: &Command, classes: &Path) -> Command {
    let mut cmd = Command::new(base.get_program());
    let mut args = base.get_args();
    while let Some(arg) = args.next() {
        cmd.arg(arg);
        if arg == "-cp" || arg == "-classpath" {
            let mut cp = args.next().map(OsString::from).unwrap_or_default();
            cp.push(":");
            cp.push(classes);
            cmd.arg(cp);
        }
    }
    for (key, value) in base.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    if let Some(dir) = base.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_classes_to_the_class_path() {
        let mut base = Command::new("java");
        base.args(["-Xmx1g", "-cp", "/lib/*", CLASS, "x"]).env("A", "1");
        let cmd = with_classes(&base, Path::new("/tmp/c"));
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["-Xmx1g", "-cp", "/lib/*:/tmp/c", CLASS, "x"]);
        assert_eq!(cmd.get_envs().count(), 1);
    }

    #[test]
    fn markers_match_the_java_source() {
        assert!(SOURCE.contains(&format!("\"{START_MARKER}\"")));
        assert!(SOURCE.contains(&format!("\"{DRAINED_MARKER}\"")));
        assert!(SOURCE.contains(&format!("public class {CLASS}")));
    }
}
