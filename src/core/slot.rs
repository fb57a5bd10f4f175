//! A `WORKER_INDEX` position: who serves it, who is coming to replace it, crash history.
//! Who owns a slot changes only through these methods.

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

/// The part a worker played in its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Serving,
    Incoming,
    /// Neither: retired already, or never the slot's.
    Gone,
}

impl Slot {
    /// `id` serves the slot from now on (first start, crash restart).
    pub fn serve(&mut self, id: WorkerId) {
        self.serving = Some(id);
        self.restart_at = None;
    }

    /// `id` is started to take over from the serving worker; a restart pending is dropped.
    pub fn bring_in(&mut self, id: WorkerId) {
        self.incoming = Some(id);
        self.restart_at = None;
    }

    /// The incoming worker `id` is ready: it serves the slot now.
    pub fn take_over(&mut self, id: WorkerId) {
        self.serving = Some(id);
        self.incoming = None;
        self.restart_at = None;
    }

    /// Drop every reference to `id` (retired or gone); the part it played.
    pub fn forget(&mut self, id: WorkerId) -> Role {
        if self.serving == Some(id) {
            self.serving = None;
            Role::Serving
        } else if self.incoming == Some(id) {
            self.incoming = None;
            Role::Incoming
        } else {
            Role::Gone
        }
    }

    /// Count a crash of the serving worker: fast ones in a row, a slow one resets. The streak.
    pub fn count_crash(&mut self, fast: bool) -> u32 {
        self.fast_crashes = if fast { self.fast_crashes + 1 } else { 0 };
        self.fast_crashes
    }

    /// A run that ended healthy breaks the crash streak.
    pub fn healthy_run(&mut self) {
        self.fast_crashes = 0;
    }

    /// No worker serves or comes, and no restart is planned.
    pub fn is_empty(&self) -> bool {
        self.serving.is_none() && self.incoming.is_none() && self.restart_at.is_none()
    }
}
