//! Summaries of timing samples and the server's memory figures.

use std::time::Duration;

/// Median, 99th percentile and mean of a set of samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) mean: Duration,
}

impl Summary {
    /// Summarises `samples` (nearest-rank percentiles); all zero when there are none.
    pub(crate) fn of(samples: &[Duration]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = |q: f64| {
            let index = (q * sorted.len() as f64).ceil() as usize;
            sorted
                .get(index.saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        let total: Duration = sorted.iter().sum();
        Self {
            p50: rank(0.50),
            p99: rank(0.99),
            mean: total / u32::try_from(sorted.len().max(1)).unwrap_or(u32::MAX),
        }
    }

    /// The figures in microseconds, for the JSON line.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({"p50_us": us(self.p50), "p99_us": us(self.p99), "mean_us": us(self.mean)})
    }
}

/// Whole microseconds.
pub(crate) fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Resident, peak resident and anonymous (heap and stacks, not mapped files) set sizes of a
/// process in kB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    pub(crate) rss_kb: u64,
    pub(crate) hwm_kb: u64,
    pub(crate) anon_kb: u64,
}

impl Memory {
    /// Reads the figures of `pid` (zeros when the process is gone).
    pub(crate) fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            let line = status.lines().find_map(|line| line.strip_prefix(name));
            line.and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Self {
            rss_kb: field("VmRSS:"),
            hwm_kb: field("VmHWM:"),
            anon_kb: field("RssAnon:"),
        }
    }

    /// This program's own figures.
    pub(crate) fn own() -> Self {
        Self::of(std::process::id())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({"vm_rss_kb": self.rss_kb, "vm_hwm_kb": self.hwm_kb, "rss_anon_kb": self.anon_kb})
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rss, hwm, anon) = (mb(self.rss_kb), mb(self.hwm_kb), mb(self.anon_kb));
        write!(f, "{rss}/{hwm}/{anon} MB")
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat` (zero when the
/// process is gone). Resolution: one clock tick, 10 ms (Linux's USER_HZ is 100).
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces), from field 3 (state) on;
    // utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The child processes of `pid` (of any of its threads).
pub(crate) fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found: Vec<u32> = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// kB as MB with one decimal.
pub(crate) fn mb(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Summary::of(&samples);
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.mean, Duration::from_micros(50_500));
        assert_eq!(Summary::of(&[]).p99, Duration::ZERO);
    }

    #[test]
    fn reads_own_memory() {
        let m = Memory::own();
        assert!(m.rss_kb > 0 && m.hwm_kb >= m.rss_kb && m.anon_kb <= m.rss_kb);
        assert_eq!(mb(1536), "1.5");
    }

    #[test]
    fn reads_cpu_time_and_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_millis(200);
        while std::time::Instant::now() < deadline {
            std::hint::black_box(0u64);
        }
        assert!(cpu_time(std::process::id()) >= Duration::from_millis(10));
        assert!(children(std::process::id()).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(cpu_time(u32::MAX), Duration::ZERO);
    }
}
