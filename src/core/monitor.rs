//! Resource monitoring verdicts: streaks over the limits condemn a worker, which is then
//! replaced (fork first, retire the old one when the new one is ready).

use std::time::Instant;

use super::command::{Command, KillSignal, Notice};
use super::event::{Reading, Sample, SampleResult, WorkerId};
use super::worker::{Purpose, Worker};
use super::Supervisor;

const MB: f64 = 1024.0 * 1024.0;

impl Supervisor {
    pub(super) fn toggle_pause(&mut self) {
        let paused = !self.paused;
        self.set_paused(paused, "SIGUSR2");
        let targets: Vec<(WorkerId, u32)> = self
            .workers
            .values()
            .filter_map(|w| Some((w.id, w.pid?)))
            .collect();
        for (id, pid) in targets {
            self.out.push(Command::Kill {
                id,
                pid,
                signal: KillSignal::Usr2,
            });
        }
    }

    pub(super) fn set_paused(&mut self, paused: bool, why: &str) {
        self.paused = paused;
        let state = if paused { "paused" } else { "resumed" };
        self.debug(None, format!("monitoring {state} ({why})"));
    }

    /// Time for a round of samples: ask the shell for the workers that are due.
    pub(super) fn sample_due(&mut self, now: Instant) {
        let Some(at) = self.next_sample else {
            return;
        };
        if at > now || self.stopping.is_some() {
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

    /// Serving, past its warm-up, no reload running, and its slot neither being replaced
    /// nor still retiring an old worker (a replacement then keeps within 2 x WORKERS).
    fn is_sampled(&self, worker: &Worker, now: Instant) -> bool {
        let slot = &self.slots[worker.slot as usize];
        let slot_retiring = self
            .workers
            .values()
            .any(|w| w.slot == worker.slot && w.is_retiring());
        slot.serving == Some(worker.id)
            && slot.incoming.is_none()
            && self.reload.is_none()
            && !slot_retiring
            && !worker.is_retiring()
            && worker.uptime(now) >= self.policy.limits.warmup
    }

    pub(super) fn on_samples(&mut self, now: Instant, samples: Vec<Sample>) {
        if self.paused || self.stopping.is_some() {
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
                SampleResult::Unreadable => {
                    self.condemn(now, sample.id, "could not be sampled".into())
                }
                // Its exit is on the way: that, not a replacement, takes care of the slot.
                SampleResult::Exited => {
                    self.debug(self.tag(sample.id), "sampled after it exited".into())
                }
            }
        }
    }

    fn judge(&mut self, now: Instant, id: WorkerId, reading: Reading) {
        let limits = self.policy.limits.clone();
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        let over_mem = reading.rss_bytes > limits.max_memory_bytes;
        let over_cpu = reading.cpu_percent > limits.max_cpu_percent;
        let s = &mut worker.streaks;
        s.memory = if over_mem { s.memory + 1 } else { 0 };
        s.cpu = if over_cpu { s.cpu + 1 } else { 0 };
        let streaks = *s;
        let tag = worker.tag();
        let rss_mb = reading.rss_bytes as f64 / MB;
        if over_mem || over_cpu {
            let text = format!(
                "worker {} over its limits: rss {rss_mb:.1} MB (limit {:.0}), cpu {:.1}% (limit {:.0}%), {} memory / {} cpu samples in a row",
                tag.slot,
                limits.max_memory_bytes as f64 / MB,
                reading.cpu_percent,
                limits.max_cpu_percent,
                streaks.memory,
                streaks.cpu
            );
            self.debug(Some(tag), text);
        }
        let perc = reading.rss_bytes.saturating_mul(100) / limits.max_memory_bytes.max(1);
        if perc > 80 {
            let message = format!(r#"{{"msg":"mem_high","mem_perc":{perc}}}"#);
            self.out.push(Command::Send { id, message });
        }
        if streaks.memory >= limits.mem_failures {
            self.condemn(now, id, "used too much memory".into());
        } else if streaks.cpu >= limits.cpu_failures {
            self.condemn(now, id, "used too much cpu".into());
        }
    }

    /// Fork a replacement for `id`; the old worker is retired once the new one is ready.
    fn condemn(&mut self, now: Instant, id: WorkerId, reason: String) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        worker.streaks = Default::default();
        let (tag, slot, generation) = (worker.tag(), worker.slot, worker.generation);
        self.debug(Some(tag), format!("replacing worker {slot}: it {reason}"));
        let purpose = Purpose::Replace { old: id, reason };
        let new = self.fork(now, slot, generation, purpose);
        self.slots[slot as usize].incoming = Some(new);
    }

    /// A replacement is ready: tell it whom it replaced, then retire the faulty worker.
    pub(super) fn promote_replacement(
        &mut self,
        now: Instant,
        id: WorkerId,
        old: WorkerId,
        reason: String,
    ) {
        let new_pid = self.workers.get(&id).and_then(|w| w.pid);
        let old_pid = self.workers.get(&old).and_then(|w| w.pid);
        let slot = self.workers.get(&id).map_or(0, |w| w.slot);
        let message = serde_json::json!({
            "msg": "replace_faulty_worker",
            "reason": reason,
            "old_pid": old_pid,
            "new_pid": new_pid,
        })
        .to_string();
        self.out.push(Command::Send { id, message });
        self.retire(now, old);
        let s = &mut self.slots[slot as usize];
        s.serving = Some(id);
        s.incoming = None;
        let notice = Notice::WorkerReplaced {
            slot,
            old_pid,
            new_pid,
            reason,
        };
        self.out.push(Command::Notify(notice));
    }
}
