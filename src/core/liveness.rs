//! Liveness (what gunicorn calls `timeout`): a ready worker whose event loop stops answering
//! over IPC (a deadlock, an endless loop, SIGSTOP) while using neither CPU nor memory is
//! replaced. A worker that can answer says so once at start (`Alive`); from then on, once
//! ready, it is asked every third of the timeout, and one that has not answered within the
//! timeout is cut off from new connections at once and replaced; once the replacement is
//! ready it is retired (it will not drain, so SIGKILL comes at the kill timeout). Paused
//! with monitoring.

use std::time::{Duration, Instant};

use super::command::NodeCommand;
use super::event::WorkerId;
use super::reason::ReplaceReason;
use super::trace::Trace;
use super::worker::Phase;
use super::Supervisor;

/// What the core knows of a worker's liveness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Liveness {
    /// When it last answered (or said it can answer); `None`: it never did, so it is not
    /// checked (a worker without the heartbeat module cannot answer).
    pub answered_at: Option<Instant>,
    /// When it is asked next, once ready.
    pub ask_at: Option<Instant>,
    /// Whether it was cut off from new connections for not answering.
    pub cut_off: bool,
}

impl Supervisor {
    fn heartbeat_period(&self) -> Option<Duration> {
        self.policy.heartbeat_timeout.map(|t| t / 3)
    }

    /// The worker answered, or said at start that it can.
    pub(super) fn on_alive(&mut self, now: Instant, id: WorkerId) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return self.unknown(id, "heartbeat");
        };
        worker.liveness.answered_at = Some(now);
    }

    /// A worker just became ready: its questions start.
    pub(super) fn start_asking(&mut self, now: Instant, id: WorkerId) {
        let Some(period) = self.heartbeat_period() else {
            return;
        };
        if let Some(worker) = self.workers.get_mut(&id) {
            worker.liveness.ask_at = Some(now + period);
            if let Some(at) = worker.liveness.answered_at.as_mut() {
                *at = (*at).max(now);
            }
        }
    }

    /// The next liveness deadline of a worker: its next question, or its answer's end.
    pub(super) fn liveness_deadline(&self, id: WorkerId) -> Option<Instant> {
        let timeout = self.policy.heartbeat_timeout?;
        let worker = self.workers.get(&id)?;
        let answered = worker.liveness.answered_at?;
        if worker.phase != Phase::Ready || !self.life.is_running() {
            return None;
        }
        let ask = worker.liveness.ask_at;
        let give_up = Some(answered + timeout);
        let give_up = give_up.filter(|_| !self.paused);
        ask.into_iter().chain(give_up).min()
    }

    /// Ask the workers that are due, and give up on those silent for the timeout.
    pub(super) fn liveness_due(&mut self, now: Instant) {
        let (Some(timeout), Some(period)) =
            (self.policy.heartbeat_timeout, self.heartbeat_period())
        else {
            return;
        };
        if !self.life.is_running() {
            return;
        }
        let ready: Vec<WorkerId> = self
            .workers
            .values()
            .filter(|w| w.phase == Phase::Ready && w.liveness.answered_at.is_some())
            .map(|w| w.id)
            .collect();
        for id in ready {
            let Some(worker) = self.workers.get_mut(&id) else {
                continue;
            };
            if worker.liveness.ask_at.is_some_and(|at| at <= now) {
                worker.liveness.ask_at = Some(now + period);
                self.node(NodeCommand::Heartbeat { id });
            }
            let silent = self.workers.get(&id).and_then(|w| w.liveness.answered_at);
            if silent.is_some_and(|at| now >= at + timeout) && !self.paused {
                self.unresponsive(now, id, timeout);
            }
        }
    }

    /// Cut the silent worker off from new connections at once and replace it; it is
    /// retired when its replacement is ready, as a faulty worker is (so a replacement that
    /// fails leaves the slot no emptier, and 2 x WORKERS holds).
    fn unresponsive(&mut self, now: Instant, id: WorkerId, timeout: Duration) {
        let Some(worker) = self.workers.get(&id) else {
            return;
        };
        if !self.is_replaceable(worker) {
            // A reload or a replacement is already bringing its slot a new worker; ask
            // again after another timeout.
            if let Some(w) = self.workers.get_mut(&id) {
                w.liveness.answered_at = Some(now);
            }
            return;
        }
        let (tag, slot) = (worker.tag(), worker.slot);
        let silent = timeout;
        self.trace(Some(tag), Trace::Unresponsive { slot, silent });
        self.node(NodeCommand::Isolate { id });
        if let Some(w) = self.workers.get_mut(&id) {
            w.liveness.answered_at = Some(now);
            w.liveness.cut_off = true;
        }
        self.condemn(now, id, ReplaceReason::Unresponsive);
    }
}
