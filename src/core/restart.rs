//! Crashed workers: restart with throttle and exponential back-off; give up on a crash loop.

use std::time::Instant;

use super::reason::{ExitStatus, FailReason, StopReason};
use super::slot::Role;
use super::trace::Trace;
use super::worker::{Purpose, Worker};
use super::{Supervisor, EXIT_CRASH_LOOP};

impl Supervisor {
    /// A worker that was not being retired has exited.
    pub(super) fn on_unexpected_exit(&mut self, now: Instant, worker: &Worker, status: ExitStatus) {
        let slot = worker.slot as usize;
        match self.slots[slot].forget(worker.id) {
            Role::Incoming => return self.on_incoming_failed(now, worker, status),
            Role::Gone => return,
            Role::Serving => {}
        }
        let Some(streak) = self.count_crash(now, worker) else {
            return;
        };
        if self.slots[slot].incoming.is_none() {
            // A healthy run (streak 0) lived at least the throttle, so this is zero for it.
            let delay = self
                .policy
                .backoff(streak)
                .saturating_sub(worker.uptime(now));
            self.schedule_restart(now, worker.slot, delay);
        }
    }

    /// An incoming worker died before it took over its slot.
    fn on_incoming_failed(&mut self, now: Instant, worker: &Worker, status: ExitStatus) {
        let reason = FailReason::ExitedBeforeReady {
            slot: worker.slot,
            pid: worker.pid,
            status,
        };
        match worker.purpose {
            Purpose::Reload => {
                self.reload_failed(now, reason);
                // Its old worker may have died meanwhile: the slot must not stay empty.
                self.restart_if_empty(now, worker.slot);
            }
            _ => {
                self.trace(Some(worker.tag()), Trace::ReplacementFailed { reason });
                self.restart_if_empty(now, worker.slot);
            }
        }
    }

    /// Count a crash in the worker's slot; `None` when the master gave up.
    fn count_crash(&mut self, now: Instant, worker: &Worker) -> Option<u32> {
        let uptime = worker.uptime(now);
        let fast = uptime < self.policy.throttle
            || (!worker.is_ready() && uptime < self.policy.ready_timeout);
        let streak = self.slots[worker.slot as usize].count_crash(fast);
        let limit = self.policy.max_crashes;
        if limit > 0 && streak >= limit {
            let slot = worker.slot;
            self.trace(Some(worker.tag()), Trace::CrashLoop { slot, streak });
            let reason = StopReason::CrashLoop { slot, streak };
            self.request_stop(now, EXIT_CRASH_LOOP, reason);
            return None;
        }
        Some(streak)
    }

    /// Restart a slot left with no worker, with the back-off its crash history earned.
    pub(super) fn restart_if_empty(&mut self, now: Instant, slot: u32) {
        let s = &self.slots[slot as usize];
        if s.is_empty() {
            let delay = self.policy.backoff(s.fast_crashes.max(1));
            self.schedule_restart(now, slot, delay);
        }
    }

    fn schedule_restart(&mut self, now: Instant, slot: u32, delay: std::time::Duration) {
        // A slot a scale down took away is never restarted.
        if !self.life.is_running() || slot >= self.slot_count {
            return;
        }
        if delay.is_zero() {
            return self.restart(now, slot);
        }
        self.trace(None, Trace::RestartIn { slot, delay });
        self.slots[slot as usize].restart_at = Some(now + delay);
    }

    fn restart(&mut self, now: Instant, slot: u32) {
        let id = self.fork(now, slot, self.reload_index, Purpose::Serve);
        self.slots[slot as usize].serve(id);
    }

    pub(super) fn restart_due(&mut self, now: Instant) {
        let due: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&s| {
                self.slots[s as usize]
                    .restart_at
                    .is_some_and(|at| at <= now)
            })
            .collect();
        for slot in due {
            self.restart(now, slot);
        }
    }
}
