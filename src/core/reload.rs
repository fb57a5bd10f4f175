//! Transactional, coalescing, optionally rolling reloads.
//!
//! A reload replaces the slots batch by batch (`Policy::batch_size`), forking a batch's new
//! workers at once. Swapping by slot (the default), each old worker is retired as soon as its
//! own replacement is ready; swapping by batch, once every new worker of the batch is. A new
//! worker that dies or misses the ready timeout fails the reload: the batch's new workers
//! that have not taken over are retired and their slots' old workers keep serving. A reload
//! asked for during a reload runs once after.

use std::collections::VecDeque;
use std::time::Instant;

use super::command::{NodeCommand, Notice, ServiceState};
use super::event::WorkerId;
use super::policy::Swap;
use super::reason::FailReason;
use super::trace::Trace;
use super::worker::{Phase, Purpose};
use super::Supervisor;

/// The reload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reload {
    generation: u32,
    pending: VecDeque<u32>,
    /// The new workers of the current batch that have not taken over their slot yet.
    batch: Vec<WorkerId>,
}

impl Reload {
    /// Its `RELOAD_INDEX`.
    pub(super) fn generation(&self) -> u32 {
        self.generation
    }
}

impl Supervisor {
    pub(super) fn request_reload(&mut self, now: Instant) {
        if !self.life.is_accepting() {
            return self.trace(None, Trace::ReloadIgnored);
        }
        if !self.can_start_reload() {
            if !self.life.is_queued() {
                self.trace(None, Trace::ReloadQueued);
            }
            self.life.set_queued(true);
            return;
        }
        self.start_reload(now);
    }

    /// No reload or scale runs, no worker is still retiring and no replacement is under
    /// way, so a reload keeps within 2 x the slots there are.
    fn can_start_reload(&self) -> bool {
        self.life.reload().is_none()
            && !self.scaling()
            && !self.workers.values().any(|w| w.is_retiring())
            && self.slots.iter().all(|s| s.incoming.is_none())
    }

    fn start_reload(&mut self, now: Instant) {
        self.reload_index += 1;
        let generation = self.reload_index;
        self.trace(None, Trace::ReloadStarts { generation });
        self.tell_service(ServiceState::Reloading);
        let pending = (0..self.slot_count).collect();
        self.life.set_reload(Reload {
            generation,
            pending,
            batch: Vec::new(),
        });
        self.start_batch(now);
    }

    fn start_batch(&mut self, now: Instant) {
        let size = self.policy.batch_size(self.slot_count) as usize;
        let Some(reload) = self.life.reload_mut() else {
            return;
        };
        let generation = reload.generation;
        let take = size.min(reload.pending.len());
        let slots: Vec<u32> = reload.pending.drain(..take).collect();
        if slots.is_empty() {
            return self.finish_reload();
        }
        let mut batch = Vec::with_capacity(slots.len());
        for slot in slots {
            if let Some(old) = self.slots[slot as usize].incoming {
                self.retire(now, old);
            }
            let id = self.fork(now, slot, generation, Purpose::Reload);
            self.slots[slot as usize].bring_in(id);
            batch.push(id);
        }
        if let Some(reload) = self.life.reload_mut() {
            reload.batch = batch;
        }
    }

    /// A worker of the current batch is ready. Swapping by slot, it takes over its slot at
    /// once; by batch, the batch takes over once all of it is ready. An empty batch is done.
    pub(super) fn on_reload_worker_ready(&mut self, now: Instant, id: WorkerId) {
        let swap = self.policy.swap;
        let Some(reload) = self.life.reload() else {
            return;
        };
        if !reload.batch.contains(&id) {
            return;
        }
        let taking_over = match swap {
            Swap::Slot => vec![id],
            Swap::Batch if self.all_ready(&reload.batch) => reload.batch.clone(),
            Swap::Batch => return,
        };
        if let Some(reload) = self.life.reload_mut() {
            reload.batch.retain(|b| !taking_over.contains(b));
        }
        for id in taking_over {
            self.promote(now, id);
        }
        if self.life.reload().is_some_and(|r| r.batch.is_empty()) {
            self.start_batch(now);
        }
    }

    fn all_ready(&self, ids: &[WorkerId]) -> bool {
        ids.iter().all(|id| {
            self.workers
                .get(id)
                .is_some_and(|w| w.phase == Phase::Ready)
        })
    }

    /// `id` takes over its slot; every other live worker of the slot is retired.
    fn promote(&mut self, now: Instant, id: WorkerId) {
        let Some(slot) = self.workers.get(&id).map(|w| w.slot) else {
            return;
        };
        let others: Vec<WorkerId> = self
            .workers
            .values()
            .filter(|w| w.slot == slot && w.id != id && !w.is_retiring())
            .map(|w| w.id)
            .collect();
        for old in others {
            self.retire(now, old);
        }
        self.slots[slot as usize].take_over(id);
    }

    fn finish_reload(&mut self) {
        let Some(reload) = self.life.take_reload() else {
            return;
        };
        let generation = reload.generation;
        self.trace(None, Trace::ReloadDone { generation });
        self.node(NodeCommand::Notify(Notice::ReloadDone { generation }));
        self.tell_service(ServiceState::Ready);
        self.persist_compile_cache();
        self.upgrade_reload_over(generation, None);
    }

    /// Roll the current batch back: its new workers that have not taken over yet go, and
    /// the old workers of their slots keep serving.
    pub(super) fn reload_failed(&mut self, now: Instant, reason: FailReason) {
        let Some(reload) = self.life.take_reload() else {
            return;
        };
        let generation = reload.generation;
        let trace = Trace::ReloadFailed {
            generation,
            reason: reason.clone(),
        };
        self.trace(None, trace);
        let mut slots = Vec::new();
        for id in reload.batch {
            if let Some(slot) = self.workers.get(&id).map(|w| w.slot) {
                slots.push(slot);
                self.retire(now, id);
            }
        }
        for slot in slots {
            self.restart_if_empty(now, slot);
        }
        self.upgrade_reload_over(generation, Some(&reason));
        self.node(NodeCommand::Notify(Notice::ReloadFailed {
            generation,
            reason,
        }));
        self.tell_service(ServiceState::Ready);
    }

    /// Start the reload asked for meanwhile, once the last one's retirements are over.
    /// Checked after every event (`Supervisor::handle`), so nothing else needs to call it.
    pub(super) fn run_queued_reload(&mut self, now: Instant) {
        if self.life.is_queued() && self.can_start_reload() {
            self.life.set_queued(false);
            self.start_reload(now);
        }
    }

    /// Workers that had to be ready by now and are not.
    pub(super) fn ready_deadlines(&mut self, now: Instant) {
        let late: Vec<(WorkerId, Purpose)> = self
            .workers
            .values()
            .filter(|w| w.phase == Phase::Starting && w.ready_by.is_some_and(|at| at <= now))
            .map(|w| (w.id, w.purpose.clone()))
            .collect();
        for (id, purpose) in late {
            // An earlier rollback in this loop may have retired it already.
            let still_late = self
                .workers
                .get(&id)
                .is_some_and(|w| w.phase == Phase::Starting);
            if !still_late {
                continue;
            }
            let tag = self.tag(id);
            let slot = tag.map_or(0, |t| t.slot);
            let reason = FailReason::NotReadyInTime {
                slot,
                timeout_ms: self.policy.ready_timeout.as_millis() as u64,
            };
            match purpose {
                Purpose::Reload => self.reload_failed(now, reason),
                _ => {
                    self.trace(tag, Trace::ReplacementFailed { reason });
                    self.retire(now, id);
                    self.restart_if_empty(now, slot);
                }
            }
        }
    }
}
