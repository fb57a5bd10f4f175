//! Scaling: the number of slots changes at run time.
//!
//! Scaling up adds slots at the end and forks their first worker at once (generation: the
//! current one); it is over when each of them is ready (or gone: a crash is the restart
//! logic's business), or once the ready timeout has passed: a new worker that hangs in its
//! start keeps starting in its slot, but no longer holds back reloads and scales. Scaling
//! down takes the highest slots away: their workers are retired through the usual drain,
//! and each slot is dropped once no worker of it is left; it is over when they all are.
//! One scale at a time, never during a reload and no reload during one, so a reload always
//! covers the slots there are and keeps within 2 x that count. A scale asked for meanwhile
//! waits, and only the latest target counts. The bounds are 1 and `MAX_WORKERS`.

use std::time::Instant;

use super::command::{NodeCommand, Notice};
use super::event::{ScaleTo, WorkerId};
use super::policy::MAX_WORKERS;
use super::reason::ScaleRefused;
use super::slot::Slot;
use super::trace::Trace;
use super::worker::{Phase, Purpose};
use super::Supervisor;

/// The scale in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaling {
    from: u32,
    /// The first workers of the slots added; the scale waits while one of them is starting.
    adding: Vec<WorkerId>,
    /// When the scale stops waiting for them (`ready_timeout` after it started).
    ready_by: Instant,
}

impl Supervisor {
    /// The count a scale request would lead to, or why it is refused. Relative requests count
    /// from the latest target (one waiting, else the current count).
    pub fn scale_target(&self, to: ScaleTo) -> Result<u32, ScaleRefused> {
        if !self.life.is_accepting() {
            return Err(ScaleRefused::NotRunning);
        }
        let latest = self.life.scale_to().unwrap_or(self.slot_count);
        match to {
            ScaleTo::Count(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
            ScaleTo::Count(n) => Err(ScaleRefused::OutOfRange { requested: n }),
            ScaleTo::More if latest >= MAX_WORKERS => Err(ScaleRefused::AtMaximum),
            ScaleTo::More => Ok(latest + 1),
            ScaleTo::Fewer if latest <= 1 => Err(ScaleRefused::AtMinimum),
            ScaleTo::Fewer => Ok(latest - 1),
        }
    }

    pub(super) fn request_scale(&mut self, now: Instant, to: ScaleTo) {
        let target = match self.scale_target(to) {
            Ok(target) => target,
            Err(reason) => return self.trace(None, Trace::ScaleRefused { reason }),
        };
        if self.can_scale() {
            return self.start_scale(now, target);
        }
        self.trace(None, Trace::ScaleQueued { to: target });
        self.life.set_scale_to(Some(target));
    }

    /// Running, with no reload and no other scale in progress.
    fn can_scale(&self) -> bool {
        self.life.is_accepting() && self.life.reload().is_none() && self.life.scale().is_none()
    }

    /// Whether a scale is in progress (a reload waits for it).
    pub(super) fn scaling(&self) -> bool {
        self.life.scale().is_some()
    }

    fn start_scale(&mut self, now: Instant, to: u32) {
        let from = self.slot_count;
        self.trace(None, Trace::ScaleStarts { from, to });
        self.slot_count = to;
        let mut adding = Vec::new();
        for slot in from..to {
            self.slots.push(Slot::default());
            let id = self.fork(now, slot, self.reload_index, Purpose::Serve);
            self.slots[slot as usize].serve(id);
            adding.push(id);
        }
        for slot in (to..from).rev() {
            self.slots[slot as usize].restart_at = None;
            let ids: Vec<WorkerId> = self
                .workers
                .values()
                .filter(|w| w.slot == slot && !w.is_retiring())
                .map(|w| w.id)
                .collect();
            for id in ids {
                self.retire(now, id);
            }
        }
        let ready_by = now + self.policy.ready_timeout;
        self.life.set_scale(Some(Scaling {
            from,
            adding,
            ready_by,
        }));
    }

    /// Drop the removed slots nobody is left in, end the scale once it is over, then start
    /// the one waiting. Checked after every event (`Supervisor::handle`).
    pub(super) fn settle_scale(&mut self, now: Instant) {
        loop {
            self.drop_removed_slots();
            if !self.finish_scale(now) || !self.can_scale() {
                return;
            }
            let Some(target) = self.life.scale_to() else {
                return;
            };
            self.life.set_scale_to(None);
            self.start_scale(now, target);
        }
    }

    /// Pop the slots past the count, from the last, once no worker of theirs is left.
    fn drop_removed_slots(&mut self) {
        while self.slots.len() > self.slot_count as usize {
            let last = self.slots.len() as u32 - 1;
            if self.workers.values().any(|w| w.slot == last) {
                return;
            }
            self.slots.pop();
            self.trace(None, Trace::SlotRemoved { slot: last });
        }
    }

    /// When a scale up stops waiting for its new workers, while one of them still starts.
    pub(super) fn scale_deadline(&self) -> Option<Instant> {
        let scale = self.life.scale()?;
        (self.still_starting(scale) > 0).then_some(scale.ready_by)
    }

    fn still_starting(&self, scale: &Scaling) -> u32 {
        let starting = scale.adding.iter().filter(|id| {
            self.workers
                .get(id)
                .is_some_and(|w| w.phase == Phase::Starting)
        });
        starting.count() as u32
    }

    /// End the scale in progress if it is over. False while one is still in progress.
    fn finish_scale(&mut self, now: Instant) -> bool {
        let Some(scale) = self.life.scale() else {
            return true;
        };
        let (starting, from, ready_by) = (self.still_starting(scale), scale.from, scale.ready_by);
        if (starting > 0 && now < ready_by) || self.slots.len() > self.slot_count as usize {
            return false;
        }
        if starting > 0 {
            let timeout_ms = self.policy.ready_timeout.as_millis() as u64;
            self.trace(
                None,
                Trace::ScaleNotReady {
                    starting,
                    timeout_ms,
                },
            );
        }
        let workers = self.slot_count;
        self.life.set_scale(None);
        self.trace(None, Trace::ScaleDone { from, workers });
        self.node(NodeCommand::Notify(Notice::Scaled { workers }));
        true
    }
}
