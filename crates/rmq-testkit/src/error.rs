//! The one error type of the test kit.

use std::time::Duration;

/// Result alias used throughout the test kit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while resolving the Java runtime or running a cluster.
///
/// Messages carry what a test author needs to act: the missing tool, the Maven output, or
/// the tail of the JVM logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required external program (`java`, `mvn`) could not be found.
    #[error("`{tool}` not found: {hint}")]
    ToolNotFound {
        /// The program that is missing.
        tool: &'static str,
        /// How to provide it.
        hint: String,
    },
    /// Maven failed to resolve the RocketMQ jars.
    #[error("resolving the RocketMQ {version} jars with Maven failed ({status}); mvn output:\n{output}")]
    Resolve {
        /// RocketMQ version being resolved.
        version: &'static str,
        /// Exit status of `mvn`.
        status: String,
        /// Tail of the Maven output.
        output: String,
    },
    /// A file-system or process-spawning operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JVM did not print its readiness line in time.
    #[error("{process} was not ready after {timeout:?}; logs:\n{logs}")]
    StartTimeout {
        /// Process name (`namesrv`, `broker-a`, ...).
        process: String,
        /// How long we waited.
        timeout: Duration,
        /// Tail of the process logs.
        logs: String,
    },
    /// A JVM exited before it became ready.
    #[error("{process} exited ({status}) before it was ready; logs:\n{logs}")]
    Exited {
        /// Process name (`namesrv`, `broker-a`, ...).
        process: String,
        /// Exit status.
        status: String,
        /// Tail of the process logs.
        logs: String,
    },
    /// No broker of that name exists in the cluster.
    #[error("no broker named `{0}` in this cluster")]
    UnknownBroker(String),
    /// The operation does not fit the current state (e.g. starting a broker that is running).
    #[error("{0}")]
    InvalidState(String),
    /// An external command (mqadmin, kill, ...) failed.
    #[error("`{command}` failed ({status}); output:\n{output}")]
    Command {
        /// The command line, shortened.
        command: String,
        /// Exit status or reason.
        status: String,
        /// Its stdout and stderr.
        output: String,
    },
    /// No block of free local ports was found.
    #[error("no free local ports found after {attempts} attempts")]
    NoFreePorts {
        /// How many candidates were tried.
        attempts: usize,
    },
    /// A remoting round trip to a server failed or timed out.
    #[error("remoting request to {addr} failed: {reason}")]
    Remoting {
        /// Server address.
        addr: String,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with a description of what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// `true` for a readiness timeout or an early JVM exit.
    pub fn is_start_failure(&self) -> bool {
        matches!(self, Error::StartTimeout { .. } | Error::Exited { .. })
    }
}

/// Adds a context to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    /// Converts the error into [`Error::Io`] with the context produced by `f`.
    fn ctx<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(f(), e))
    }
}
