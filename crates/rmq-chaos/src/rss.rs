//! Resident memory of this process, read from `/proc/self/status` (Linux), and the "bounded and
//! flat" judgement over a series of readings.

use std::time::Duration;

/// `VmRSS` of this process in bytes; `None` without `/proc`.
pub fn current() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kib(&status, "VmRSS").map(|kib| kib * 1024)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatness {
    /// Largest reading.
    pub max: u64,
    /// Largest reading of the first half.
    pub first_half_max: u64,
    /// Largest reading of the second half.
    pub second_half_max: u64,
}

impl Flatness {
    /// How much the second half's maximum exceeds the first half's, in percent (0 when lower).
    pub fn growth_percent(&self) -> f64 {
        if self.first_half_max == 0 {
            return 0.0;
        }
        (self.second_half_max.saturating_sub(self.first_half_max)) as f64 * 100.0 / self.first_half_max as f64
    }
}

impl RssSeries {
    /// Adds a reading.
    pub fn push(&mut self, at: Duration, bytes: u64) {
        self.readings.push((at, bytes));
    }

    /// Maxima over the whole series and over each half of the readings taken at or after `from`
    /// (the warm-up before it counts for the maximum only); `None` with fewer than 2 readings
    /// after `from`.
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
    fn flatness_compares_halves_after_warm_up() {
        let mut s = RssSeries::default();
        for (i, mib) in [10u64, 50, 100, 100, 104, 102, 110, 105].iter().enumerate() {
            s.push(Duration::from_secs(i as u64), mib << 20);
        }
        let f = s.flatness(Duration::from_secs(2)).unwrap();
        assert_eq!(f.max, 110 << 20);
        assert_eq!((f.first_half_max, f.second_half_max), (104 << 20, 110 << 20));
        assert!((f.growth_percent() - 600.0 / 104.0).abs() < 1e-9);
        assert_eq!(s.flatness(Duration::from_secs(7)), None);
        let shrinking = Flatness {
            max: 5,
            first_half_max: 5,
            second_half_max: 3,
        };
        assert_eq!(shrinking.growth_percent(), 0.0);
    }
}
