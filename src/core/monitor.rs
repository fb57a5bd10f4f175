//! Resource monitoring verdicts: streaks over the limits condemn a worker, which is then
//! replaced (fork first, retire the old one when the new one is ready).

use std::time::Instant;

use super::command::{Command, NodeCommand, Notice, WorkerNote, WorkerSignal};
use super::event::{Reading, Sample, SampleResult, WorkerId};
use super::reason::{PauseCause, ReplaceReason};
use super::trace::{OverLimits, Trace};
use super::worker::{Purpose, Worker};
use super::Supervisor;

impl Supervisor {
    /// SIGUSR2: pause or resume, and forward the signal to every worker.
    pub(super) fn toggle_pause(&mut self, cause: PauseCause) {
        let paused = !self.paused;
        self.set_paused(paused, cause);
        let targets: Vec<(WorkerId, u32)> = self
            .workers
            .values()
            .filter_map(|w| Some((w.id, w.pid?)))
            .collect();
        for (id, pid) in targets {
            self.out.push(Command::Signal {
                id,
                pid,
                signal: WorkerSignal::Usr2,
            });
        }
    }

    /// Pause (or resume) monitoring, as SIGUSR2 does, but without signalling workers: an
    /// app without a SIGUSR2 handler would die of it. Nothing if it is so already.
    pub(super) fn request_pause(&mut self, paused: bool) {
        if self.paused != paused {
            self.set_paused(paused, PauseCause::Request);
        }
    }

    pub(super) fn set_paused(&mut self, paused: bool, cause: PauseCause) {
        self.paused = paused;
        self.trace(None, Trace::Monitoring { paused, cause });
    }

    /// Time for a round of samples: ask the shell for the workers that are due.
    pub(super) fn sample_due(&mut self, now: Instant) {
        let Some(at) = self.next_sample else {
            return;
        };
        if at > now || !self.life.is_running() {
            return;
        }
        self.next_sample = Some(now + self.policy.limits.interval);
        if self.paused {
            return;
        }
        let targets: Vec<(WorkerId, u32)> = self
            .workers
            .values()
            .filter(|w| self.is_sampled(w, now))
            .filter_map(|w| w.pid.map(|pid| (w.id, pid)))
            .collect();
        if !targets.is_empty() {
            self.out.push(Command::Sample { targets });
        }
    }

    /// Replaceable (see `is_replaceable`) and past its warm-up.
    fn is_sampled(&self, worker: &Worker, now: Instant) -> bool {
        self.is_replaceable(worker) && worker.uptime(now) >= self.policy.limits.warmup
    }

    /// Serving, no reload running, and its slot neither being replaced nor still retiring
    /// an old worker: a replacement then keeps within 2 x WORKERS.
    pub(super) fn is_replaceable(&self, worker: &Worker) -> bool {
        let slot = &self.slots[worker.slot as usize];
        let slot_retiring = self
            .workers
            .values()
            .any(|w| w.slot == worker.slot && w.is_retiring());
        slot.serving == Some(worker.id)
            && slot.incoming.is_none()
            && self.life.reload().is_none()
            && !slot_retiring
            && !worker.is_retiring()
    }

    pub(super) fn on_samples(&mut self, now: Instant, samples: Vec<Sample>) {
        if self.paused || !self.life.is_running() {
            return;
        }
        for sample in samples {
            let eligible = self
                .workers
                .get(&sample.id)
                .is_some_and(|w| self.is_sampled(w, now));
            if !eligible {
                continue;
            }
            match sample.result {
                SampleResult::Read(reading) => self.judge(now, sample.id, reading),
                SampleResult::Unreadable => self.condemn(now, sample.id, ReplaceReason::Unsampled),
                // Its exit is on the way: that, not a replacement, takes care of the slot.
                SampleResult::Exited => self.trace(self.tag(sample.id), Trace::SampledAfterExit),
            }
        }
    }

    fn judge(&mut self, now: Instant, id: WorkerId, reading: Reading) {
        let limits = self.policy.limits.clone();
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        worker.last_reading = Some(reading);
        let over_mem = reading.rss_bytes > limits.max_memory_bytes;
        let over_cpu = reading.cpu_percent > limits.max_cpu_percent;
        let s = &mut worker.streaks;
        s.memory = if over_mem { s.memory + 1 } else { 0 };
        s.cpu = if over_cpu { s.cpu + 1 } else { 0 };
        let streaks = *s;
        let tag = worker.tag();
        if over_mem || over_cpu {
            let over = OverLimits {
                slot: tag.slot,
                rss_bytes: reading.rss_bytes,
                max_memory_bytes: limits.max_memory_bytes,
                cpu_percent: reading.cpu_percent,
                max_cpu_percent: limits.max_cpu_percent,
                memory_streak: streaks.memory,
                cpu_streak: streaks.cpu,
            };
            self.trace(Some(tag), Trace::OverLimits(over));
        }
        // Unrounded, as 4.x sent it (85.43, not 85).
        let percent = reading.rss_bytes as f64 * 100.0 / limits.max_memory_bytes.max(1) as f64;
        if percent > 80.0 {
            let note = WorkerNote::MemHigh { percent };
            self.node(NodeCommand::Send { id, note });
        }
        if streaks.memory >= limits.mem_failures {
            self.condemn(now, id, ReplaceReason::Memory);
        } else if streaks.cpu >= limits.cpu_failures {
            self.condemn(now, id, ReplaceReason::Cpu);
        }
    }

    /// Fork a replacement for `id`; the old worker is retired once the new one is ready.
    pub(super) fn condemn(&mut self, now: Instant, id: WorkerId, reason: ReplaceReason) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        worker.streaks = Default::default();
        let (tag, slot, generation) = (worker.tag(), worker.slot, worker.generation);
        self.trace(Some(tag), Trace::Replacing { slot, reason });
        let purpose = Purpose::Replace { old: id, reason };
        let new = self.fork(now, slot, generation, purpose);
        self.slots[slot as usize].bring_in(new);
    }

    /// A replacement is ready: tell it whom it replaced, then retire the faulty worker.
    pub(super) fn promote_replacement(
        &mut self,
        now: Instant,
        id: WorkerId,
        old: WorkerId,
        reason: ReplaceReason,
    ) {
        let new_pid = self.workers.get(&id).and_then(|w| w.pid);
        let old_pid = self.workers.get(&old).and_then(|w| w.pid);
        let slot = self.workers.get(&id).map_or(0, |w| w.slot);
        let note = WorkerNote::ReplacedFaulty {
            reason,
            old_pid,
            new_pid,
        };
        self.node(NodeCommand::Send { id, note });
        self.retire(now, old);
        self.slots[slot as usize].take_over(id);
        let notice = Notice::WorkerReplaced {
            slot,
            old_pid,
            new_pid,
            reason,
        };
        self.node(NodeCommand::Notify(notice));
    }
}
