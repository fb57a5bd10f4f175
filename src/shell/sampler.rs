//! CPU and memory of worker pids, with one long-lived sysinfo `System`.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::core::{Reading, Sample, WorkerId};

/// Refreshes only the pids it is asked about.
pub struct Sampler {
    system: Option<System>,
}

impl Sampler {
    pub fn new() -> Self {
        Sampler {
            system: System::new().ok(),
        }
    }

    /// One reading per target; `None` for a pid that cannot be read.
    pub fn sample(&mut self, targets: &[(WorkerId, u32)]) -> Vec<Sample> {
        let Some(system) = self.system.as_mut() else {
            return targets
                .iter()
                .map(|&(id, _)| Sample { id, reading: None })
                .collect();
        };
        let pids: Vec<Pid> = targets.iter().map(|&(_, pid)| Pid::from_u32(pid)).collect();
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        targets
            .iter()
            .map(|&(id, pid)| {
                let reading = system.process(Pid::from_u32(pid)).map(|p| Reading {
                    cpu_percent: f64::from(p.cpu_usage()),
                    rss_bytes: p.memory(),
                });
                Sample { id, reading }
            })
            .collect()
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}
