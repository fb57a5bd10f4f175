//! A `WORKER_INDEX` position: who serves it, who is coming to replace it, crash history.

use std::time::Instant;

use super::event::WorkerId;

/// One of the `WORKERS` positions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slot {
    /// The worker that takes this slot's share of traffic (ready or still starting).
    pub serving: Option<WorkerId>,
    /// A worker started to take over from `serving` (reload or replacement).
    pub incoming: Option<WorkerId>,
    /// When a crashed slot is forked again.
    pub restart_at: Option<Instant>,
    /// Fast crashes in a row, reset by a healthy run.
    pub fast_crashes: u32,
}

impl Slot {
    /// Drop every reference to `id`.
    pub fn forget(&mut self, id: WorkerId) {
        if self.serving == Some(id) {
            self.serving = None;
        }
        if self.incoming == Some(id) {
            self.incoming = None;
        }
    }
}
