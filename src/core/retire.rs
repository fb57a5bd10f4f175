//! Retiring a worker: drain, settle, SIGTERM, and SIGKILL at the kill timeout.

use std::time::Instant;

use super::command::{Command, KillSignal};
use super::event::WorkerId;
use super::worker::{Phase, Retire, RetireStage};
use super::Supervisor;

impl Supervisor {
    /// Start retiring `id`; the kill timeout counts from `now`. No-op if already retiring.
    pub(super) fn retire(&mut self, now: Instant, id: WorkerId) {
        let policy_kill = self.policy.kill_timeout;
        let margin = self.policy.term_margin();
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        if worker.is_retiring() {
            return;
        }
        let kill_at = now + policy_kill;
        let term_at = kill_at - margin;
        // A run we end after it was ready for the throttle is healthy: it ends a crash streak.
        let healthy = worker.is_ready() && worker.uptime(now) >= self.policy.throttle;
        worker.ready_by = None;
        worker.phase = Phase::Retiring(Retire {
            stage: RetireStage::AwaitPid,
            term_at,
            kill_at,
        });
        let (tag, has_pid) = (worker.tag(), worker.pid.is_some());
        let slot = &mut self.slots[tag.slot as usize];
        slot.forget(id);
        if healthy {
            slot.fast_crashes = 0;
        }
        self.debug(Some(tag), format!("retiring worker {}", tag.slot));
        if has_pid {
            self.begin_drain(id);
        }
    }

    /// First step once the pid is known: drain when workers carry the module, else SIGTERM.
    pub(super) fn begin_drain(&mut self, id: WorkerId) {
        if self.policy.drain {
            self.set_stage(id, RetireStage::Draining);
            self.out.push(Command::Drain { id });
        } else {
            self.terminate(id);
        }
    }

    pub(super) fn on_drained(&mut self, id: WorkerId) {
        if self.stage(id) == Some(RetireStage::Draining) {
            self.debug(self.tag(id), "drained: settling".into());
            self.set_stage(id, RetireStage::Settling);
            self.out.push(Command::Settle { id });
        }
    }

    pub(super) fn on_settled(&mut self, id: WorkerId) {
        if self.stage(id) == Some(RetireStage::Settling) {
            self.debug(self.tag(id), "settled: terminating".into());
            self.terminate(id);
        }
    }

    pub(super) fn retire_deadlines(&mut self, now: Instant) {
        self.give_up_unforked(now);
        let due: Vec<(WorkerId, RetireStage, bool)> = self
            .workers
            .values()
            .filter(|w| w.pid.is_some())
            .filter_map(|w| match w.phase {
                Phase::Retiring(r) => Some((w.id, r, w.pid)),
                _ => None,
            })
            .filter_map(|(id, r, _)| {
                let kill = r.stage != RetireStage::Killed && now >= r.kill_at;
                let term = matches!(r.stage, RetireStage::Draining | RetireStage::Settling)
                    && now >= r.term_at;
                (kill || term).then_some((id, r.stage, kill))
            })
            .collect();
        for (id, stage, kill) in due {
            if kill {
                self.kill(id, stage);
            } else {
                self.debug(self.tag(id), "drain did not finish in time".into());
                self.terminate(id);
            }
        }
    }

    /// A worker retired before its fork was confirmed, and still unconfirmed at the kill
    /// deadline, never existed as far as anyone can tell: forget it rather than wait forever.
    fn give_up_unforked(&mut self, now: Instant) {
        let lost: Vec<WorkerId> = self
            .workers
            .values()
            .filter(|w| w.pid.is_none())
            .filter(|w| matches!(w.phase, Phase::Retiring(r) if now >= r.kill_at))
            .map(|w| w.id)
            .collect();
        for id in lost {
            if let Some(worker) = self.workers.remove(&id) {
                self.slots[worker.slot as usize].forget(id);
                self.error(
                    Some(worker.tag()),
                    format!("worker {} never started; forgotten", worker.slot),
                );
            }
        }
    }

    fn terminate(&mut self, id: WorkerId) {
        self.set_stage(id, RetireStage::Terminating);
        if let Some(pid) = self.workers.get(&id).and_then(|w| w.pid) {
            self.out.push(Command::Kill {
                pid,
                signal: KillSignal::Term,
            });
        }
    }

    fn kill(&mut self, id: WorkerId, stage: RetireStage) {
        self.set_stage(id, RetireStage::Killed);
        let Some(pid) = self.workers.get(&id).and_then(|w| w.pid) else {
            return;
        };
        let tag = self.tag(id);
        self.debug(tag, format!("kill timeout passed while {stage:?}: SIGKILL"));
        self.out.push(Command::Kill {
            pid,
            signal: KillSignal::Kill,
        });
    }

    fn stage(&self, id: WorkerId) -> Option<RetireStage> {
        match self.workers.get(&id)?.phase {
            Phase::Retiring(r) => Some(r.stage),
            _ => None,
        }
    }

    fn set_stage(&mut self, id: WorkerId, stage: RetireStage) {
        if let Some(worker) = self.workers.get_mut(&id) {
            if let Phase::Retiring(r) = &mut worker.phase {
                r.stage = stage;
            }
        }
    }

    pub(super) fn tag(&self, id: WorkerId) -> Option<super::WorkerTag> {
        self.workers.get(&id).map(|w| w.tag())
    }
}
