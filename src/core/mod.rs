//! The supervisor as a pure state machine: `handle(now, Event) -> Vec<Command>` and
//! `poll_timeout()`. No clock, thread, napi or syscall in here; the shell does all of that.

mod command;
pub mod compile_cache;
mod event;
mod lifecycle;
mod monitor;
mod policy;
mod reason;
mod reload;
mod restart;
mod retire;
mod service;
mod shutdown;
mod slot;
mod trace;
mod worker;

use std::collections::BTreeMap;
use std::time::Instant;

pub use command::{
    Command, NodeCommand, Notice, ServiceState, WorkerNote, WorkerSignal, WorkerTag,
};
pub use event::{Event, Reading, Sample, SampleResult, Signal, WorkerId, WorkerMessage};
pub use policy::{Limits, Policy, ReadyOn, Swap, PACED_CRASHES};
pub use reason::{ExitStatus, FailReason, PauseCause, ReplaceReason, StopReason};
pub use slot::Slot;
pub use trace::{Level, OverLimits, Trace};
pub use worker::{Phase, Purpose, RetireStage, Worker, EXIT_GRACE};

use lifecycle::Lifecycle;

/// Exit code when the master gives up on a worker that keeps crashing at start.
pub const EXIT_CRASH_LOOP: i32 = 70;
/// Exit code when master-process itself changed on disk.
pub const EXIT_PACKAGE_CHANGED: i32 = 1;

/// The master's brain. Feed it events with the time they happened; run what it returns.
#[derive(Debug)]
pub struct Supervisor {
    policy: Policy,
    workers: BTreeMap<WorkerId, Worker>,
    slots: Vec<Slot>,
    next_id: WorkerId,
    reload_index: u32,
    life: Lifecycle,
    paused: bool,
    next_sample: Option<Instant>,
    out: Vec<Command>,
}

impl Supervisor {
    /// A supervisor that has not started: nothing happens before `Event::Start`.
    pub fn new(policy: Policy) -> Self {
        let slots = (0..policy.workers).map(|_| Slot::default()).collect();
        Supervisor {
            policy,
            workers: BTreeMap::new(),
            slots,
            next_id: 1,
            reload_index: 0,
            life: Lifecycle::Idle,
            paused: false,
            next_sample: None,
            out: Vec::new(),
        }
    }

    /// Apply one event at `now`, then every deadline that is due, and return the commands.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Command> {
        if self.life != Lifecycle::Exited {
            self.on_event(now, event);
            self.on_timers(now);
            self.run_queued_reload(now);
            self.check_first_ready();
            self.check_stopped();
        }
        std::mem::take(&mut self.out)
    }

    /// The next instant at which `handle(now, Event::Tick)` has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.life == Lifecycle::Exited {
            return None;
        }
        let restarts = self.slots.iter().filter_map(|s| s.restart_at);
        let workers = self.workers.values().flat_map(worker_deadlines);
        let sample = self.next_sample.filter(|_| self.life.is_running());
        restarts.chain(workers).chain(sample).min()
    }

    /// Reloads so far: the `RELOAD_INDEX` of the newest generation.
    pub fn reload_index(&self) -> u32 {
        self.reload_index
    }

    /// Whether a reload is running.
    pub fn is_reloading(&self) -> bool {
        self.life.reload().is_some()
    }

    /// Whether monitoring is paused (SIGUSR2 or a worker's `pause_monitoring`).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The workers alive or starting, by id.
    pub fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers.values()
    }

    /// The settings it decides with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The `WORKER_INDEX` positions, by index.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Whether `Event::Start` has been handled.
    pub fn has_started(&self) -> bool {
        self.life != Lifecycle::Idle
    }

    /// Whether a stop is under way (or done).
    pub fn is_stopping(&self) -> bool {
        self.life.is_stopping()
    }

    /// Whether the supervisor has asked the master to exit.
    pub fn has_exited(&self) -> bool {
        self.life == Lifecycle::Exited
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Start => self.start(now),
            Event::Signal(signal) => self.on_signal(now, signal),
            Event::ReloadRequested => self.request_reload(now),
            Event::StopRequested => self.request_stop(now, 0, StopReason::Requested),
            Event::Forked { id, pid } => self.on_forked(now, id, pid),
            Event::Listening { id, socket } => self.on_listening(now, id, socket),
            Event::Message { id, message } => self.on_message(now, id, message),
            Event::Drained { id } => self.on_drained(id),
            Event::Settled { id } => self.on_settled(id),
            Event::Exited { id, code, signal } => {
                self.on_exited(now, id, ExitStatus { code, signal })
            }
            Event::Probed { id, exited } => self.on_probed(now, id, exited),
            Event::Samples(samples) => self.on_samples(now, samples),
            Event::PackageChanged { id, version } => self.on_package_changed(now, id, version),
            Event::Tick => {}
        }
    }

    fn on_timers(&mut self, now: Instant) {
        self.restart_due(now);
        self.ready_deadlines(now);
        self.retire_deadlines(now);
        self.sample_due(now);
    }

    fn start(&mut self, now: Instant) {
        if self.life != Lifecycle::Idle {
            return;
        }
        self.life = Lifecycle::Running {
            reload: None,
            queued: false,
            announced: false,
        };
        let workers = self.policy.workers;
        self.trace(None, Trace::Starting { workers });
        for slot in 0..self.policy.workers {
            let id = self.fork(now, slot, 0, Purpose::Serve);
            self.slots[slot as usize].serve(id);
        }
        self.next_sample = Some(now + self.policy.limits.interval);
    }

    fn on_signal(&mut self, now: Instant, signal: Signal) {
        match signal {
            Signal::Hup => self.request_reload(now),
            Signal::Term | Signal::Int => self.request_stop(now, 0, StopReason::Signal(signal)),
            Signal::Usr2 => self.toggle_pause(),
        }
    }

    /// Create a worker and ask the shell to fork it.
    fn fork(&mut self, now: Instant, slot: u32, generation: u32, purpose: Purpose) -> WorkerId {
        let id = self.next_id;
        self.next_id += 1;
        let ready_by = match purpose {
            Purpose::Serve => None,
            _ => Some(now + self.policy.ready_timeout),
        };
        let worker = Worker {
            id,
            slot,
            generation,
            pid: None,
            started_at: now,
            phase: Phase::Starting,
            purpose,
            ready_by,
            streaks: Default::default(),
        };
        let tag = worker.tag();
        self.workers.insert(id, worker);
        self.trace(Some(tag), Trace::Forking { slot, generation });
        self.node(NodeCommand::Fork {
            id,
            slot,
            generation,
        });
        id
    }

    fn on_forked(&mut self, now: Instant, id: WorkerId, pid: u32) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return self.kill_stray(id, pid);
        };
        worker.pid = Some(pid);
        worker.started_at = now;
        let tag = worker.tag();
        let awaiting =
            matches!(worker.phase, Phase::Retiring(r) if r.stage == RetireStage::AwaitPid);
        self.trace(
            Some(tag),
            Trace::HasPid {
                slot: tag.slot,
                pid,
            },
        );
        if awaiting {
            self.begin_drain(id);
        }
    }

    fn on_listening(&mut self, now: Instant, id: WorkerId, socket: bool) {
        let Some(worker) = self.workers.get(&id) else {
            return self.unknown(id, "listening");
        };
        let (tag, generation) = (worker.tag(), worker.generation);
        if socket && self.policy.unix_socket {
            self.out.push(Command::ChmodSocket);
        }
        self.trace(Some(tag), Trace::Listening { slot: tag.slot });
        if let Some(pid) = tag.pid {
            let notice = Notice::WorkerListening {
                id,
                pid,
                slot: tag.slot,
                generation,
            };
            self.node(NodeCommand::Notify(notice));
        }
        if self.policy.ready_on == ReadyOn::Listening {
            self.became_ready(now, id);
        }
    }

    fn on_message(&mut self, now: Instant, id: WorkerId, message: WorkerMessage) {
        if !self.workers.contains_key(&id) {
            return self.unknown(id, "message");
        }
        match message {
            WorkerMessage::Ready if self.policy.ready_on == ReadyOn::Message => {
                self.became_ready(now, id)
            }
            WorkerMessage::Ready => {}
            WorkerMessage::PauseMonitoring => self.set_paused(true, PauseCause::Worker),
            WorkerMessage::ResumeMonitoring => self.set_paused(false, PauseCause::Worker),
        }
    }

    fn became_ready(&mut self, now: Instant, id: WorkerId) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        if worker.phase != Phase::Starting {
            return;
        }
        worker.phase = Phase::Ready;
        worker.ready_by = None;
        let purpose = worker.purpose.clone();
        let tag = worker.tag();
        self.trace(Some(tag), Trace::Ready { slot: tag.slot });
        match purpose {
            Purpose::Serve => {}
            Purpose::Reload => self.on_reload_worker_ready(now, id),
            Purpose::Replace { old, reason } => self.promote_replacement(now, id, old, reason),
        }
    }

    fn on_exited(&mut self, now: Instant, id: WorkerId, status: ExitStatus) {
        let Some(worker) = self.workers.remove(&id) else {
            return self.unknown(id, "exit");
        };
        let expected = worker.is_retiring() || self.life.is_stopping();
        let slot = worker.slot;
        let trace = Trace::Exited {
            slot,
            status: status.clone(),
        };
        self.trace(Some(worker.tag()), trace);
        let notice = Notice::WorkerExit {
            id,
            pid: worker.pid,
            slot,
            status: status.clone(),
            expected,
        };
        self.node(NodeCommand::Notify(notice));
        if !expected {
            self.on_unexpected_exit(now, &worker, status);
        }
    }

    fn on_package_changed(&mut self, now: Instant, id: WorkerId, version: String) {
        if let Some(worker) = self.workers.remove(&id) {
            self.slots[worker.slot as usize].forget(id);
        }
        let trace = Trace::PackageChanged {
            version: version.clone(),
        };
        self.trace(None, trace);
        self.request_stop(
            now,
            EXIT_PACKAGE_CHANGED,
            StopReason::PackageChanged { version },
        );
    }

    fn unknown(&mut self, id: WorkerId, what: &'static str) {
        self.trace(None, Trace::Unknown { what, id });
    }

    /// Log `trace`, about `worker` if given.
    fn trace(&mut self, worker: Option<WorkerTag>, trace: Trace) {
        self.out.push(Command::Trace { worker, trace });
    }

    /// Ask the JS glue to run `command`.
    fn node(&mut self, command: NodeCommand) {
        self.out.push(Command::Node(command));
    }
}

fn worker_deadlines(worker: &Worker) -> impl Iterator<Item = Instant> {
    let ready = worker.ready_by.filter(|_| worker.phase == Phase::Starting);
    let retire = match worker.phase {
        Phase::Retiring(r) => r.next_deadline(),
        _ => None,
    };
    ready.into_iter().chain(retire)
}
