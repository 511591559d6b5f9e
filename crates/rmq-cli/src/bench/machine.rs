//! What machine a benchmark ran on, from `/proc` (Linux; fields are `unknown` elsewhere).

/// The 1, 5 and 15 minute load averages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoadAvg(pub(crate) f64, pub(crate) f64, pub(crate) f64);

impl std::fmt::Display for LoadAvg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} {:.2} {:.2}", self.0, self.1, self.2)
    }
}

pub(crate) fn load_avg() -> Option<LoadAvg> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

pub(crate) fn parse_loadavg(text: &str) -> Option<LoadAvg> {
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some(LoadAvg(it.next()??, it.next()??, it.next()??))
}

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) nproc: usize,
    pub(crate) cpu_model: String,
    pub(crate) mem_total_gib: Option<f64>,
    pub(crate) kernel: String,
    pub(crate) java: String,
}

impl Machine {
    pub(crate) fn probe(java: Option<&std::path::Path>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total_gib =
            super::proc::parse_status_kib(&meminfo, "MemTotal").map(|kib| kib as f64 / (1024.0 * 1024.0));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let java = java
            .and_then(|j| std::process::Command::new(j).arg("-version").output().ok())
            .and_then(|o| {
                // `java -version` prints on stderr; its second line names the build.
                let text = String::from_utf8_lossy(&o.stderr).into_owned();
                text.lines().nth(1).map(|l| l.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            mem_total_gib,
            kernel,
            java,
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} CPUs ({}), ", self.nproc, self.cpu_model)?;
        if let Some(gib) = self.mem_total_gib {
            write!(f, "{gib:.0} GiB RAM, ")?;
        }
        write!(f, "Linux {}, {}", self.kernel, self.java)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loadavg() {
        assert_eq!(
            parse_loadavg("0.52 1.07 2.10 3/140 17393\n"),
            Some(LoadAvg(0.52, 1.07, 2.10))
        );
        assert_eq!(parse_loadavg("x"), None);
        assert_eq!(LoadAvg(0.5, 1.0, 2.25).to_string(), "0.50 1.00 2.25");
    }
}
