//! What a scrape reads: a copy of the master's state that the driver publishes after each
//! event it handled, so the metrics thread never asks the driver (nor a worker) anything.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::core::{Counters, Phase, Supervisor};

/// One slot's serving worker, for the per-worker gauges (labelled by index, never pid).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerLine {
    pub index: u32,
    pub generation: u32,
    pub rss_bytes: Option<u64>,
    /// Of one core: 1.0 is a core busy all the time.
    pub cpu_ratio: Option<f64>,
}

/// The workers by state, as the status report names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByState {
    pub starting: u64,
    pub serving: u64,
    pub retiring: u64,
}

/// The master's state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the master started (uptime is counted at the scrape).
    pub started_at: Option<Instant>,
    pub generation: u32,
    /// Slots kept now.
    pub slots: u32,
    /// Slots the scales in progress or waiting lead to (`slots` when none).
    pub slots_wanted: u32,
    pub reloading: bool,
    pub stopping: bool,
    /// Stopping, and the shutdown delay runs: the workers still serve.
    pub delaying: bool,
    pub workers: ByState,
    /// Ready workers that take new connections (not retiring).
    pub ready: u64,
    pub per_slot: Vec<WorkerLine>,
    pub counters: Counters,
    /// Control requests answered, by name (`status`, `reload`, ...).
    pub control: BTreeMap<&'static str, u64>,
}

/// Every control request name, so each series exists from the start.
pub const CONTROL_REQUESTS: [&str; 7] = [
    "status", "reload", "stop", "pause", "resume", "scale", "upgrade",
];

impl Snapshot {
    /// Read off the core, with the shell's own totals.
    pub fn of(core: &Supervisor, now: Instant, control: &BTreeMap<&'static str, u64>) -> Self {
        let mut workers = ByState::default();
        let mut ready = 0;
        for w in core.workers() {
            match w.phase {
                Phase::Starting => workers.starting += 1,
                Phase::Ready => {
                    workers.serving += 1;
                    ready += u64::from(w.takes_connections());
                }
                Phase::Retiring(_) => workers.retiring += 1,
            }
        }
        let by_id: BTreeMap<_, _> = core.workers().map(|w| (w.id, w)).collect();
        let per_slot = core
            .slots()
            .iter()
            .enumerate()
            .take(core.slot_count() as usize)
            .filter_map(|(index, slot)| {
                let id = slot.serving?;
                let w = by_id.get(&id)?;
                Some(WorkerLine {
                    index: index as u32,
                    generation: w.generation,
                    rss_bytes: w.last_reading.map(|r| r.rss_bytes),
                    cpu_ratio: w.last_reading.map(|r| r.cpu_percent / 100.0),
                })
            })
            .collect();
        let uptime = core.uptime(now);
        Snapshot {
            started_at: core
                .has_started()
                .then(|| now.checked_sub(uptime))
                .flatten(),
            generation: core.reload_index(),
            slots: core.slot_count(),
            slots_wanted: core.scaling_to().unwrap_or(core.slot_count()),
            reloading: core.is_reloading(),
            stopping: core.is_stopping(),
            delaying: core.shutdown_delay_left(now).is_some(),
            workers,
            ready,
            per_slot,
            counters: core.counters().clone(),
            control: control.clone(),
        }
    }
}
