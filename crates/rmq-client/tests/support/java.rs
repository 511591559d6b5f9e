//! Running the Java programs of `tests/java/interop/` (plain sources, no build tool) against the test
//! cluster: they are compiled with `javac` against the test kit's RocketMQ jars once per test binary run
//! and started with the kit's JVM flags.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{cluster, unique};

/// Where the Java sources are.
pub const JAVA_SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/interop");

/// JVM options of the Java programs (on top of the kit's module flags and quiet logging).
pub const JVM_ARGS: &[&str] = &[
    "-Xmx256m",
    "-Xms32m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dfile.encoding=UTF-8",
];

/// This run's scratch directory, per test binary and process (directories of dead runs are removed).
pub fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(env!("CARGO_CRATE_NAME"));
        if let Ok(entries) = fs::read_dir(&base) {
            for e in entries.flatten() {
                let stale = e
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|pid| {
                        pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                    });
                if stale {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn javac() -> PathBuf {
    let runtime = cluster().runtime();
    let sibling = runtime.java().with_file_name("javac");
    if sibling.is_file() {
        sibling
    } else {
        PathBuf::from("javac")
    }
}

/// Compiles `tests/java/interop/*.java` once per test binary run; returns the classes directory.
/// Blocks (call it from `spawn_blocking` in async tests).
pub fn java_classes() -> &'static Path {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let out = work_dir().join("classes");
        fs::create_dir_all(&out).unwrap();
        let mut sources: Vec<PathBuf> = fs::read_dir(JAVA_SOURCES)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "java"))
            .collect();
        sources.sort();
        assert!(!sources.is_empty(), "no Java sources in {JAVA_SOURCES}");
        let javac = javac();
        let started = Instant::now();
        let output = Command::new(&javac)
            .args(["-encoding", "UTF-8", "-nowarn", "-d"])
            .arg(&out)
            .arg("-cp")
            .arg(cluster().java_classpath())
            .args(&sources)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", javac.display()));
        assert!(
            output.status.success(),
            "javac failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("compiled the Java programs in {:?}", started.elapsed());
        out
    })
}

/// The kit's `java` command for `main` (module flags, quiet client logging, `user.home` in the cluster
/// directory, [`JVM_ARGS`]) with `classes` appended to its class path. Stdin is null; change it if the
/// program reads it.
pub fn java_command(classes: &Path, main: &str) -> Command {
    let base = cluster().java_command(main, JVM_ARGS);
    let mut cmd = Command::new(base.get_program());
    let mut args = base.get_args();
    while let Some(arg) = args.next() {
        cmd.arg(arg);
        if arg == "-cp" || arg == "-classpath" {
            let mut cp = OsString::from(args.next().expect("class path after -cp"));
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
    cmd.stdin(Stdio::null());
    cmd
}

/// A Java program running in the background: its stdout lines are collected as they come, its stdin
/// stays open until [`stop`](Self::stop) closes it, and it is killed if the test ends first.
pub struct JavaProcess {
    main: String,
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
    stderr_path: PathBuf,
}

impl JavaProcess {
    /// Compiles the programs if needed and starts `main` with `args`.
    pub async fn spawn(main: &str, args: &[&str]) -> JavaProcess {
        let classes = tokio::task::spawn_blocking(java_classes).await.unwrap();
        let stderr_path = work_dir().join(format!("{}.err", unique(main)));
        let mut cmd = java_command(classes, main);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr_path).unwrap());
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start java for {main}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        let reader = tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        JavaProcess {
            main: main.to_owned(),
            child,
            stdin,
            lines,
            reader,
            stderr_path,
        }
    }

    /// The stdout lines so far that start with `prefix`, with the prefix removed.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }

    /// Waits up to `timeout` for a stdout line starting with `prefix` for which `accept` holds (given the
    /// rest of the line), looking only at the prefixed lines from index `from` on (as numbered by
    /// [`lines`](Self::lines)); returns the first such line's index and rest. Panics with the program's
    /// output when none comes in time, or when the program exits first.
    pub async fn wait_line(
        &mut self,
        prefix: &str,
        from: usize,
        timeout: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> (usize, String) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let hit = self
                .lines(prefix)
                .into_iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| accept(l));
            if let Some(hit) = hit {
                return hit;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before printing the awaited {prefix:?} line:\n{}",
                    self.main,
                    self.stderr_tail(100)
                );
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{} printed no matching {prefix:?} line within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                    self.main,
                    tail(&self.lines("").join("\n"), 40),
                    self.stderr_tail(100)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Closes stdin (the programs take that as the signal to shut down), waits up to `timeout` for the
    /// exit, and returns every stdout line. Panics when the program fails or does not stop in time.
    pub async fn stop(mut self, timeout: Duration) -> Vec<String> {
        drop(self.stdin.take());
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!(
                    "{} did not stop within {timeout:?}:\n{}",
                    self.main,
                    self.stderr_tail(100)
                );
            }
        };
        assert!(
            status.success(),
            "{} failed ({status}):\n{}",
            self.main,
            self.stderr_tail(100)
        );
        // The reader task sees end of file right after the exit.
        tokio::time::timeout(Duration::from_secs(5), &mut self.reader)
            .await
            .unwrap_or_else(|_| panic!("stdout of {} still open after its exit", self.main))
            .unwrap();
        let _ = fs::remove_file(&self.stderr_path);
        let out = self.lines.lock().unwrap().clone();
        out
    }

    /// The last `n` lines of the program's stderr.
    pub fn stderr_tail(&self, n: usize) -> String {
        tail(&fs::read_to_string(&self.stderr_path).unwrap_or_default(), n)
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(n)..].join("\n")
}
