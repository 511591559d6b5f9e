//! Resident memory of this process, read from `/proc/self/status` (Linux), and the "bounded and
//! flat" judgement over a series of readings.

use std::time::Duration;

/// `VmRSS` of this process in bytes; `None` without `/proc`.
pub fn current() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kib(&status, "VmRSS").map(|kib| kib * 1024)
}

/// CPU time (user + system, all threads) this process has used, from `/proc/self/stat`;
/// `None` without `/proc`. Resolution 10 ms (the kernel reports clock ticks of `USER_HZ` = 100).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    stat_cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are counted after its `)`.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The value in KiB of a `Key:   123 kB` line of a `/proc/<pid>/status` text.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// RSS readings taken at a fixed interval.
#[derive(Debug, Clone, Default)]
pub struct RssSeries {
    /// (time since the first reading, bytes).
    pub readings: Vec<(Duration, u64)>,
}

/// What a series shows.
///
/// Growth compares the medians of the two halves of the steady state. Under glibc's allocator the
/// RSS of a process that frees and allocates 1 MiB buffers wobbles by about a tenth without any
/// trend (measured: 88–100 MiB over 180 s with a constant 64 MiB cache), so the largest reading
/// of a short half says more about where that wobble was than about growth; a leak raises the
/// whole second half, and with it the median. The maxima are kept for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatness {
    /// Largest reading.
    pub max: u64,
    /// Largest reading of the first half.
    pub first_half_max: u64,
    /// Largest reading of the second half.
    pub second_half_max: u64,
    /// Median reading of the first half.
    pub first_half_median: u64,
    /// Median reading of the second half.
    pub second_half_median: u64,
}

impl Flatness {
    /// How much the second half's median exceeds the first half's, in percent (0 when lower).
    pub fn growth_percent(&self) -> f64 {
        percent_above(self.second_half_median, self.first_half_median)
    }

    /// How much the second half's maximum exceeds the first half's, in percent (0 when lower).
    pub fn peak_growth_percent(&self) -> f64 {
        percent_above(self.second_half_max, self.first_half_max)
    }
}

fn percent_above(later: u64, earlier: u64) -> f64 {
    if earlier == 0 {
        return 0.0;
    }
    later.saturating_sub(earlier) as f64 * 100.0 / earlier as f64
}

fn median(values: &[u64]) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}

impl RssSeries {
    /// Adds a reading.
    pub fn push(&mut self, at: Duration, bytes: u64) {
        self.readings.push((at, bytes));
    }

    /// Up to `points` readings spread evenly over the series, in whole MiB, for a report line.
    pub fn sketch(&self, points: usize) -> Vec<u64> {
        let step = self.readings.len().div_ceil(points.max(1)).max(1);
        self.readings.iter().step_by(step).map(|r| r.1 >> 20).collect()
    }

    /// Maximum over the whole series, and maximum and median of each half of the readings taken
    /// at or after `from` (the warm-up before it counts for the maximum only); `None` with fewer
    /// than 2 readings after `from`.
    pub fn flatness(&self, from: Duration) -> Option<Flatness> {
        let max = self.readings.iter().map(|r| r.1).max()?;
        let steady: Vec<u64> = self
            .readings
            .iter()
            .filter(|r| r.0 >= from)
            .map(|r| r.1)
            .collect();
        if steady.len() < 2 {
            return None;
        }
        let (first, second) = steady.split_at(steady.len() / 2);
        Some(Flatness {
            max,
            first_half_max: first.iter().copied().max()?,
            second_half_max: second.iter().copied().max()?,
            first_half_median: median(first)?,
            second_half_median: median(second)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(status, "VmRSS"), Some(1024));
        assert_eq!(status_kib(status, "VmHWM"), Some(2048));
        assert_eq!(status_kib(status, "VmSwap"), None);
        assert!(current().is_some_and(|b| b > 0));
    }

    #[test]
    fn reads_cpu_ticks_after_the_command_name() {
        // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime ...
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0";
        assert_eq!(stat_cpu_ticks(stat), Some(325));
        assert!(cpu_time().is_some());
    }

    #[test]
    fn flatness_compares_halves_after_warm_up() {
        let mut s = RssSeries::default();
        for (i, mib) in [10u64, 50, 100, 100, 104, 102, 110, 105].iter().enumerate() {
            s.push(Duration::from_secs(i as u64), mib << 20);
        }
        let f = s.flatness(Duration::from_secs(2)).unwrap();
        assert_eq!(f.max, 110 << 20);
        // Steady: [100, 100, 104] and [102, 110, 105].
        assert_eq!((f.first_half_max, f.second_half_max), (104 << 20, 110 << 20));
        assert_eq!(
            (f.first_half_median, f.second_half_median),
            (100 << 20, 105 << 20)
        );
        assert!((f.growth_percent() - 5.0).abs() < 1e-9);
        assert!((f.peak_growth_percent() - 600.0 / 104.0).abs() < 1e-9);
        assert_eq!(s.flatness(Duration::from_secs(7)), None);
    }

    #[test]
    fn wobble_is_not_growth_but_a_raised_floor_is() {
        // A late peak in an otherwise level series.
        let wobble = [90u64, 91, 90, 92, 91, 90, 91, 92, 90, 99];
        // Every reading of the second half higher.
        let leak = [90u64, 91, 90, 92, 91, 96, 97, 96, 98, 97];
        let flat = |readings: &[u64]| {
            let mut s = RssSeries::default();
            for (i, mib) in readings.iter().enumerate() {
                s.push(Duration::from_secs(i as u64), mib << 20);
            }
            s.flatness(Duration::ZERO).unwrap()
        };
        assert!(flat(&wobble).growth_percent() < 1.0);
        assert!(flat(&wobble).peak_growth_percent() > 5.0);
        assert!(flat(&leak).growth_percent() > 5.0);
    }

    #[test]
    fn shrinking_is_no_growth() {
        let shrinking = Flatness {
            max: 5,
            first_half_max: 5,
            second_half_max: 3,
            first_half_median: 5,
            second_half_median: 3,
        };
        assert_eq!(shrinking.growth_percent(), 0.0);
        assert_eq!(shrinking.peak_growth_percent(), 0.0);
    }
}
