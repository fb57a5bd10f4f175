//! What the machine allows this process: usable CPUs and the cgroup v2 memory limit.

use std::fs;
use std::path::PathBuf;

use crate::config::HostFacts;

/// Read the host facts config needs (affinity, cgroup v2 `cpu.max` and `memory.max`).
pub fn read_host() -> HostFacts {
    let cgroup = cgroup_dir();
    let quota = cgroup
        .as_ref()
        .and_then(|d| fs::read_to_string(d.join("cpu.max")).ok());
    let memory = cgroup
        .as_ref()
        .and_then(|d| fs::read_to_string(d.join("memory.max")).ok());
    let cpus = match quota.as_deref().and_then(parse_cpu_max) {
        Some(q) => affinity_cpus().min(q),
        None => affinity_cpus(),
    };
    HostFacts {
        cpus: cpus.max(1),
        memory_limit: memory.as_deref().and_then(parse_memory_max),
        pointer_width: usize::BITS,
    }
}

#[cfg(target_os = "linux")]
fn affinity_cpus() -> u32 {
    use nix::sched::{sched_getaffinity, CpuSet};
    use nix::unistd::Pid;
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count() as u32,
        Err(_) => fallback_cpus(),
    }
}

#[cfg(not(target_os = "linux"))]
fn affinity_cpus() -> u32 {
    fallback_cpus()
}

fn fallback_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// This process's cgroup v2 directory, from `/proc/self/cgroup` (`0::/path`).
fn cgroup_dir() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(PathBuf::from("/sys/fs/cgroup").join(path.trim_start_matches('/')))
}

/// `cpu.max` is `max 100000` (no quota) or `<quota> <period>`: CPUs, rounded up.
pub fn parse_cpu_max(text: &str) -> Option<u32> {
    let mut parts = text.split_whitespace();
    let quota: u64 = parts.next()?.parse().ok()?;
    let period: u64 = parts.next()?.parse().ok().filter(|&p| p > 0)?;
    Some(quota.div_ceil(period).max(1) as u32)
}

/// `memory.max` is `max` or a byte count.
pub fn parse_memory_max(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_rounds_a_quota_up_and_ignores_max() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("150000 100000"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
    }

    #[test]
    fn memory_max_reads_bytes_or_nothing() {
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max("1073741824\n"), Some(1 << 30));
    }

    #[test]
    fn host_has_at_least_one_cpu() {
        assert!(read_host().cpus >= 1);
    }
}
