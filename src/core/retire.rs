//! Retiring a worker: drain, settle, SIGTERM, and SIGKILL at the kill timeout.

use std::time::Instant;

use super::command::{Command, NodeCommand, WorkerSignal};
use super::event::WorkerId;
use super::reason::ExitStatus;
use super::trace::Trace;
use super::worker::{Phase, Retire, RetireStage, EXIT_GRACE};
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
            slot.healthy_run();
        }
        self.trace(Some(tag), Trace::Retiring { slot: tag.slot });
        if has_pid {
            self.begin_drain(id);
        }
    }

    /// First step once the pid is known: drain when workers carry the module and this one
    /// can still be reached, else SIGTERM.
    pub(super) fn begin_drain(&mut self, id: WorkerId) {
        let connected = self.workers.get(&id).is_some_and(|w| w.connected);
        if self.policy.drain && connected {
            self.set_stage(id, RetireStage::Draining);
            self.node(NodeCommand::Drain { id });
        } else {
            self.terminate(id);
        }
    }

    pub(super) fn on_drained(&mut self, id: WorkerId) {
        if self.stage(id) == Some(RetireStage::Draining) {
            self.trace(self.tag(id), Trace::Drained);
            self.set_stage(id, RetireStage::Settling);
            self.node(NodeCommand::Settle { id });
        }
    }

    pub(super) fn on_settled(&mut self, id: WorkerId) {
        if self.stage(id) == Some(RetireStage::Settling) {
            self.trace(self.tag(id), Trace::Settled);
            self.terminate(id);
        }
    }

    /// The worker's IPC channel closed: nothing reaches it and no answer can come. A drain
    /// or settle in progress is not waited for (SIGTERM now); what was being handed to it
    /// is placed again.
    pub(super) fn on_disconnected(&mut self, id: WorkerId) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return self.unknown(id, "disconnect");
        };
        if !worker.connected {
            return;
        }
        worker.connected = false;
        if matches!(
            self.stage(id),
            Some(RetireStage::Draining | RetireStage::Settling)
        ) {
            self.trace(self.tag(id), Trace::DisconnectedWhileDraining);
            self.terminate(id);
        }
        self.place_again_sent_to(id);
    }

    pub(super) fn retire_deadlines(&mut self, now: Instant) {
        self.give_up_unforked(now);
        let due: Vec<(WorkerId, Retire)> = self
            .workers
            .values()
            .filter(|w| w.pid.is_some())
            .filter_map(|w| match w.phase {
                Phase::Retiring(r) if r.next_deadline().is_some_and(|at| at <= now) => {
                    Some((w.id, r))
                }
                _ => None,
            })
            .collect();
        for (id, r) in due {
            match r.stage {
                RetireStage::Draining | RetireStage::Settling if now < r.kill_at => {
                    self.trace(self.tag(id), Trace::DrainLate);
                    self.terminate(id);
                }
                RetireStage::Killed => self.probe(id),
                RetireStage::Probing => {}
                stage => self.kill(now, id, stage),
            }
        }
    }

    /// No exit was reported in `EXIT_GRACE` after SIGKILL: ask whether the process is gone.
    fn probe(&mut self, id: WorkerId) {
        self.set_stage(id, RetireStage::Probing);
        if let Some(pid) = self.workers.get(&id).and_then(|w| w.pid) {
            self.out.push(Command::Probe { id, pid });
        }
    }

    /// The probe's answer: a process that has ended is handled as its exit; one that still
    /// exists after SIGKILL (stuck in the kernel) is no longer waited for.
    pub(super) fn on_probed(&mut self, now: Instant, id: WorkerId, exited: bool) {
        if self.stage(id) != Some(RetireStage::Probing) {
            return;
        }
        if exited {
            let status = ExitStatus {
                code: None,
                signal: None,
            };
            return self.on_exited(now, id, status);
        }
        if let Some(worker) = self.workers.remove(&id) {
            self.out.push(Command::Release { id });
            let trace = Trace::StuckAfterKill {
                slot: worker.slot,
                pid: worker.pid,
                grace: EXIT_GRACE,
            };
            self.trace(Some(worker.tag()), trace);
        }
    }

    /// A worker forked after the core gave it up (its fork was confirmed too late, e.g. while
    /// the JS thread was stalled) would serve unsupervised: kill it.
    pub(super) fn kill_stray(&mut self, id: WorkerId, pid: u32) {
        self.trace(None, Trace::StartedAfterGivenUp { id, pid });
        self.out.push(Command::Signal {
            id,
            pid,
            signal: WorkerSignal::Kill,
        });
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
                let slot = worker.slot;
                self.trace(Some(worker.tag()), Trace::NeverStarted { slot });
            }
        }
    }

    fn terminate(&mut self, id: WorkerId) {
        self.set_stage(id, RetireStage::Terminating);
        if let Some(pid) = self.workers.get(&id).and_then(|w| w.pid) {
            self.out.push(Command::Signal {
                id,
                pid,
                signal: WorkerSignal::Term,
            });
        }
    }

    fn kill(&mut self, now: Instant, id: WorkerId, stage: RetireStage) {
        self.set_stage(id, RetireStage::Killed);
        // A fork confirmed long after its deadline is killed now: the grace counts from here.
        if let Some(Phase::Retiring(r)) = self.workers.get_mut(&id).map(|w| &mut w.phase) {
            r.kill_at = now;
        }
        let Some(pid) = self.workers.get(&id).and_then(|w| w.pid) else {
            return;
        };
        let tag = self.tag(id);
        self.trace(tag, Trace::KillTimeout { stage });
        self.out.push(Command::Signal {
            id,
            pid,
            signal: WorkerSignal::Kill,
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
