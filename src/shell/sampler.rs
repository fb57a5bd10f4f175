//! CPU and memory of worker pids, with one long-lived sysinfo `System`.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::core::{Reading, Sample, WorkerId};

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

    /// One reading per target (`None` for a pid that cannot be read), or nothing at all
    /// when this machine cannot be sampled: then monitoring is off, said once in the log.
    pub fn sample(&mut self, targets: &[(WorkerId, u32)]) -> Option<Vec<Sample>> {
        let system = match self.system.as_mut() {
            Ok(system) => system,
            Err(e) => {
                if !std::mem::replace(&mut self.said, true) {
                    tracing::error!("cannot read process statistics here ({e}): monitoring is off");
                }
                return None;
            }
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
            .collect::<Vec<_>>()
            .into()
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}
