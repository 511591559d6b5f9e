//! Locating `java` and the Apache RocketMQ jars.
//!
//! The jars are resolved once from Maven Central with `runtime/pom.xml` into a per-user cache
//! directory; later runs find the completion marker and never start Maven again.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tracing::{debug, info, warn};

use crate::error::{Error, IoContext, Result};
use crate::lock::ResolveLock;

/// The Apache RocketMQ version the kit runs (must match `runtime/pom.xml`).
pub const ROCKETMQ_VERSION: &str = "5.5.0";

/// Environment variable naming a runtime directory to use instead of the per-user cache.
///
/// It may hold a `lib/` directory of jars (a RocketMQ binary distribution works), the jars
/// themselves, or nothing yet, in which case Maven resolves into it.
pub const RUNTIME_DIR_ENV: &str = "RMQ_RUNTIME_DIR";

const POM: &str = include_str!("../runtime/pom.xml");
const MARKER: &str = ".rmq-testkit-complete";
const COPY_DEPENDENCIES: &str = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies";

/// Module flags RocketMQ needs on Java 9+ (harmless when unused).
pub(crate) const JAVA17_FLAGS: [&str; 8] = [
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.nio=ALL-UNNAMED",
    "--add-opens",
    "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports",
    "java.base/sun.nio.ch=ALL-UNNAMED",
];

/// Silences the status dump of RocketMQ's shaded logback on stdout.
const QUIET_LOGBACK: &str =
    "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener";

/// Where a [`Runtime`]'s jars came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeSource {
    /// Found complete on disk; Maven was not run.
    Cache,
    /// Resolved by running Maven in this call.
    Maven,
}

/// A `java` executable plus a directory holding every RocketMQ jar.
#[derive(Debug, Clone)]
pub struct Runtime {
    java: PathBuf,
    root: PathBuf,
    lib_dir: PathBuf,
    source: RuntimeSource,
}

static RESOLVED: Mutex<Option<Runtime>> = Mutex::new(None);

impl Runtime {
    /// Resolves the runtime once per process (later calls return a clone of the first success).
    ///
    /// Fails with [`Error::ToolNotFound`] when `java`, or `mvn` on a cache miss, is missing.
    pub fn resolve() -> Result<Runtime> {
        let mut resolved = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(runtime) = resolved.as_ref() {
            return Ok(runtime.clone());
        }
        let runtime = Self::resolve_uncached()?;
        *resolved = Some(runtime.clone());
        Ok(runtime)
    }

    /// Resolves the runtime now, looking at the disk again (runs Maven only on a cache miss).
    pub fn resolve_uncached() -> Result<Runtime> {
        let java = find_java()?;
        let (root, from_env) = runtime_root();
        let lib_dir = lib_dir_of(&root);
        let complete = |lib: &Path| is_complete(lib, from_env);
        let runtime = |source| Runtime {
            java: java.clone(),
            root: root.clone(),
            lib_dir: lib_dir.clone(),
            source,
        };
        if complete(&lib_dir) {
            debug!(lib_dir = %lib_dir.display(), "RocketMQ runtime cache hit");
            return Ok(runtime(RuntimeSource::Cache));
        }
        fs::create_dir_all(&root).ctx(|| format!("creating {}", root.display()))?;
        let Some(_lock) = ResolveLock::acquire(&root, || complete(&lib_dir))? else {
            debug!(lib_dir = %lib_dir.display(), "RocketMQ runtime resolved by another process");
            return Ok(runtime(RuntimeSource::Cache));
        };
        if complete(&lib_dir) {
            return Ok(runtime(RuntimeSource::Cache));
        }
        let started = Instant::now();
        run_maven(&root, &lib_dir)?;
        info!(lib_dir = %lib_dir.display(), elapsed = ?started.elapsed(), "resolved RocketMQ {ROCKETMQ_VERSION}");
        Ok(runtime(RuntimeSource::Maven))
    }

    /// The `java` executable.
    pub fn java(&self) -> &Path {
        &self.java
    }

    /// The directory holding the jars.
    pub fn lib_dir(&self) -> &Path {
        &self.lib_dir
    }

    /// Whether this value came from the cache or from running Maven.
    pub fn source(&self) -> RuntimeSource {
        self.source
    }

    /// The class path (`<lib_dir>/*`, expanded by `java` itself).
    pub fn classpath(&self) -> OsString {
        self.lib_dir.join("*").into_os_string()
    }

    /// A `java` command for `main_class` with the RocketMQ jars on the class path, the Java 17
    /// module flags, quiet logging and `user.home` under the runtime directory; `jvm_args`
    /// (e.g. `-Xmx1g`) go before the main class. Add program arguments with `.arg(..)`.
    pub fn java_command(&self, main_class: &str, jvm_args: &[&str]) -> Command {
        self.jvm_command(
            &self.root.join("home"),
            "rmq.client.logback.xml",
            jvm_args,
            main_class,
        )
    }

    /// Like [`Runtime::java_command`] with an explicit `user.home` and logback resource.
    pub(crate) fn jvm_command<I, S>(
        &self,
        user_home: &Path,
        logback: &str,
        jvm_args: I,
        main: &str,
    ) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.java);
        cmd.args(JAVA17_FLAGS)
            .arg("-XX:-OmitStackTraceInFastThrow")
            .arg(path_property("rocketmq.home.dir", &self.root))
            .arg(path_property("user.home", user_home))
            .arg(format!("-Drmq.logback.configurationFile={logback}"))
            .arg(QUIET_LOGBACK);
        // Brokers extract a 13 MiB RocksDB library into java.io.tmpdir at every start; keep it
        // under the node's own directory so it goes away with the cluster instead of piling up
        // in /tmp.
        let tmp = user_home.join("tmp");
        if std::fs::create_dir_all(&tmp).is_ok() {
            cmd.arg(path_property("java.io.tmpdir", &tmp));
        }
        cmd.args(jvm_args)
            .arg("-cp")
            .arg(self.classpath())
            .arg(main)
            .stdin(Stdio::null());
        cmd
    }
}

/// `-Dkey=<path>` without a lossy conversion of the path.
pub(crate) fn path_property(key: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(format!("-D{key}="));
    arg.push(path);
    arg
}

/// The runtime root and whether it came from [`RUNTIME_DIR_ENV`].
fn runtime_root() -> (PathBuf, bool) {
    if let Some(dir) = std::env::var_os(RUNTIME_DIR_ENV).filter(|d| !d.is_empty()) {
        return (PathBuf::from(dir), true);
    }
    let base = match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(xdg), _) if Path::new(&xdg).is_absolute() => PathBuf::from(xdg).join("rocketmq-rs"),
        (_, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".cache").join("rocketmq-rs"),
        _ => std::env::temp_dir().join("rocketmq-rs-cache"),
    };
    (
        base.join(format!(
            "rocketmq-{ROCKETMQ_VERSION}-{:016x}",
            fnv1a(POM.as_bytes())
        )),
        false,
    )
}

/// `<root>/lib`, or `root` itself when it directly holds jars.
fn lib_dir_of(root: &Path) -> PathBuf {
    let lib = root.join("lib");
    if !lib.is_dir() && has_jar(root, "rocketmq-broker-") {
        return root.to_path_buf();
    }
    lib
}

fn is_complete(lib_dir: &Path, from_env: bool) -> bool {
    lib_dir.join(MARKER).is_file()
        || (from_env
            && ["rocketmq-namesrv-", "rocketmq-broker-", "rocketmq-tools-"]
                .iter()
                .all(|p| has_jar(lib_dir, p)))
}

fn has_jar(dir: &Path, prefix: &str) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".jar")
        })
    })
}

/// Runs Maven into a private temporary directory and renames the result into place.
fn run_maven(root: &Path, lib_dir: &Path) -> Result<()> {
    let mvn = find_mvn()?;
    let tmp = root.join(format!("tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).ctx(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    let pom = tmp.join("pom.xml");
    fs::write(&pom, POM).ctx(|| format!("writing {}", pom.display()))?;
    let tmp_lib = tmp.join("lib");
    info!(mvn = %mvn.display(), "resolving RocketMQ {ROCKETMQ_VERSION} jars with Maven (first run only)");
    let output = Command::new(&mvn)
        .args(["-B", "-q", "-Dstyle.color=never", "-f"])
        .arg(&pom)
        .arg(COPY_DEPENDENCIES)
        .arg(path_property("outputDirectory", &tmp_lib))
        .arg("-DincludeScope=runtime")
        .stdin(Stdio::null())
        .output()
        .ctx(|| format!("running {}", mvn.display()))?;
    if !output.status.success() || !has_jar(&tmp_lib, "rocketmq-broker-") {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let _ = fs::remove_dir_all(&tmp);
        return Err(Error::Resolve {
            version: ROCKETMQ_VERSION,
            status: output.status.to_string(),
            output: crate::logs::tail_lines(&text, 60),
        });
    }
    fs::write(tmp_lib.join(MARKER), ROCKETMQ_VERSION).ctx(|| "writing the runtime marker")?;
    // Never replace a complete directory (a racing resolver may have finished first); an
    // incomplete one is a leftover of an interrupted older run.
    if lib_dir.exists() && !lib_dir.join(MARKER).is_file() {
        fs::remove_dir_all(lib_dir).ctx(|| format!("removing stale {}", lib_dir.display()))?;
    }
    if let Err(e) = fs::rename(&tmp_lib, lib_dir) {
        if !lib_dir.join(MARKER).is_file() {
            let _ = fs::remove_dir_all(&tmp);
            return Err(Error::io(format!("moving jars into {}", lib_dir.display()), e));
        }
    }
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
}

fn find_java() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let java = PathBuf::from(home).join("bin").join("java");
        if is_executable(&java) {
            return Ok(java);
        }
        warn!(java = %java.display(), "JAVA_HOME does not contain bin/java; searching PATH");
    }
    find_in_path("java").ok_or_else(|| Error::ToolNotFound {
        tool: "java",
        hint: "install a JDK 17+ (e.g. `apt-get install openjdk-17-jdk-headless`) or set JAVA_HOME".into(),
    })
}

fn find_mvn() -> Result<PathBuf> {
    for var in ["MAVEN_HOME", "M2_HOME"] {
        if let Some(home) = std::env::var_os(var).filter(|h| !h.is_empty()) {
            let mvn = PathBuf::from(home).join("bin").join("mvn");
            if is_executable(&mvn) {
                return Ok(mvn);
            }
        }
    }
    find_in_path("mvn").ok_or_else(|| Error::ToolNotFound {
        tool: "mvn",
        hint: format!(
            "Maven 3.8+ is needed once to download RocketMQ {ROCKETMQ_VERSION} (`apt-get install maven`); \
             or set {RUNTIME_DIR_ENV} to a directory whose lib/ holds the RocketMQ jars"
        ),
    })
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// FNV-1a, a hash that is stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pom_pins_the_declared_version() {
        assert!(POM.contains(&format!(
            "<rocketmq.version>{ROCKETMQ_VERSION}</rocketmq.version>"
        )));
    }

    #[test]
    fn fnv1a_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
