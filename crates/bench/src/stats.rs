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

/// CPU time a process has used so far, to the nanosecond: the sum over its threads of the
/// scheduler's run time (`/proc/<pid>/task/*/schedstat`). `/proc/<pid>/stat`'s utime and stime
/// are counted in clock ticks (10 ms) charged to whichever thread runs when the tick fires, far
/// too coarse for calls of a few tens of microseconds; schedstat is exact. Threads that ended
/// are not counted (the servers measured here keep theirs); zero when the process is gone.
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// CPU time the calling thread has used so far, to the nanosecond (its schedstat run time).
pub(crate) fn thread_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
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
