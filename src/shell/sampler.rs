//! CPU and memory of worker pids, with one long-lived sysinfo `System`.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::core::{Reading, Sample, SampleResult, WorkerId};

/// Refreshes only the pids it is asked about.
pub struct Sampler {
    system: Result<System, String>,
    said: bool,
}

impl Sampler {
    pub fn new() -> Self {
        let system = System::new().map_err(|e| e.to_string());
        Sampler {
            system,
            said: false,
        }
    }

    /// One result per target, or nothing at all when this machine cannot be sampled: then
    /// monitoring is off, said once in the log. A pid that cannot be read is `Exited` when
    /// `has_exited(id, pid)` says so, else `Unreadable`.
    pub fn sample(
        &mut self,
        targets: &[(WorkerId, u32)],
        has_exited: impl Fn(WorkerId, u32) -> bool,
    ) -> Option<Vec<Sample>> {
        let system = match self.system.as_mut() {
            Ok(system) => system,
            Err(e) => {
                if !std::mem::replace(&mut self.said, true) {
                    tracing::error!("cannot read process statistics here ({e}): monitoring is off");
                }
                return None;
            }
        };
        // sysinfo drops a dead process only when it is refreshed: refresh the pids it still
        // holds from earlier rounds too (retired workers), so its table stays as small as
        // the set of live workers instead of growing with every reload.
        let mut pids: Vec<Pid> = targets.iter().map(|&(_, pid)| Pid::from_u32(pid)).collect();
        pids.extend(system.processes().keys().copied());
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        let results = targets.iter().map(|&(id, pid)| {
            let result = match system.process(Pid::from_u32(pid)) {
                Some(p) => SampleResult::Read(Reading {
                    cpu_percent: f64::from(p.cpu_usage()),
                    rss_bytes: p.memory(),
                }),
                None if has_exited(id, pid) => SampleResult::Exited,
                None => SampleResult::Unreadable,
            };
            Sample { id, result }
        });
        Some(results.collect())
    }

    /// How many processes the sampler holds statistics for.
    pub fn tracked(&self) -> usize {
        self.system.as_ref().map_or(0, |s| s.processes().len())
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn forgets_processes_that_are_no_longer_sampled_once_they_are_gone() {
        let mut sampler = Sampler::new();
        let mut children: Vec<_> = (0..3)
            .map(|_| Command::new("sleep").arg("30").spawn().unwrap())
            .collect();
        for (i, child) in children.iter().enumerate() {
            let target = [(i as WorkerId, child.id())];
            let out = sampler.sample(&target, |_, _| false).unwrap();
            assert!(matches!(out[0].result, SampleResult::Read(_)), "{out:?}");
        }
        assert_eq!(sampler.tracked(), 3);
        // Two are retired and gone; only the third is still sampled.
        for child in &mut children[..2] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let last = [(2, children[2].id())];
        sampler.sample(&last, |_, _| false).unwrap();
        assert_eq!(sampler.tracked(), 1);
        children[2].kill().unwrap();
        children[2].wait().unwrap();
    }

    #[test]
    fn a_pid_that_cannot_be_read_is_exited_or_unreadable_as_the_handle_says() {
        let mut sampler = Sampler::new();
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let target = [(5, child.id())];
        let out = sampler.sample(&target, |id, _| id == 5).unwrap();
        assert_eq!(out[0].result, SampleResult::Exited);
        let out = sampler.sample(&target, |_, _| false).unwrap();
        assert_eq!(out[0].result, SampleResult::Unreadable);
    }
}
