//! The supervisor as a pure state machine: `handle(now, Event) -> Vec<Command>` and
//! `poll_timeout()`. No clock, thread, napi or syscall in here; the shell does all of that.

mod command;
pub mod compile_cache;
mod counters;
mod event;
mod handoff;
mod lifecycle;
mod liveness;
mod monitor;
mod persist_cache;
mod policy;
mod reason;
mod reload;
mod restart;
mod retire;
mod scale;
mod service;
mod shutdown;
mod slot;
mod trace;
mod upgrade;
mod worker;

use std::collections::BTreeMap;
use std::time::Instant;

pub use command::{
    Command, NodeCommand, Notice, ServiceState, WorkerNote, WorkerSignal, WorkerTag,
};
pub use counters::{Counters, Histogram, Replacements, Seen, RELOAD_BUCKETS};
pub use event::{
    Event, Reading, Sample, SampleResult, ScaleTo, Signal, Ticket, WorkerId, WorkerMessage,
};
pub use policy::{Limits, NewVersion, Policy, ReadyOn, Swap, MAX_WORKERS, PACED_CRASHES};
pub use reason::{ExitStatus, FailReason, PauseCause, ReplaceReason, ScaleRefused, StopReason};
pub use slot::Slot;
pub use trace::{Level, OverLimits, Trace};
pub use upgrade::{Adopted, Resumed, UpgradeRefusal};
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
    /// Every slot, the ones a scale down is emptying (past `slot_count`) included.
    slots: Vec<Slot>,
    /// The slots the master keeps now: `Policy::workers` at start, then what scales made it.
    slot_count: u32,
    started_at: Option<Instant>,
    next_id: WorkerId,
    reload_index: u32,
    life: Lifecycle,
    paused: bool,
    next_sample: Option<Instant>,
    handoffs: handoff::Handoffs,
    counters: Counters,
    upgrades: upgrade::Upgrades,
    out: Vec<Command>,
}

impl Supervisor {
    /// A supervisor that has not started: nothing happens before `Event::Start`.
    pub fn new(policy: Policy) -> Self {
        let slots = (0..policy.workers).map(|_| Slot::default()).collect();
        Supervisor {
            workers: BTreeMap::new(),
            slots,
            slot_count: policy.workers,
            started_at: None,
            next_id: 1,
            reload_index: 0,
            life: Lifecycle::Idle,
            paused: false,
            next_sample: None,
            handoffs: Default::default(),
            counters: Counters::default(),
            upgrades: Default::default(),
            out: Vec::new(),
            policy,
        }
    }

    /// Apply one event at `now`, then every deadline that is due, and return the commands.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Command> {
        if self.life != Lifecycle::Exited {
            let seen = Seen::from(&event);
            self.on_event(now, event);
            self.on_timers(now);
            self.settle_scale(now);
            self.run_queued_reload(now);
            self.check_first_ready();
            self.check_stopped();
            self.counters.observe(now, seen, &self.out);
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
        let liveness = self
            .workers
            .keys()
            .filter_map(|&id| self.liveness_deadline(id));
        let scale = self.scale_deadline();
        restarts
            .chain(workers)
            .chain(sample)
            .chain(liveness)
            .chain(scale)
            .chain(self.adopted_deadline())
            .chain(self.delayed_stop_deadline())
            .min()
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

    /// What it counted since the start (`/metrics`); these totals never go down.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The settings it decides with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The `WORKER_INDEX` positions, by index: the `slot_count()` kept, then any that a
    /// scale down is still emptying.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// How many slots the master keeps now (`WORKERS` until a scale changes it).
    pub fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// The generation of the reload in progress, if one is.
    pub fn reloading(&self) -> Option<u32> {
        self.life.reload().map(|r| r.generation())
    }

    /// The generation whose outcome (`ReloadDone` or `ReloadFailed`) answers a reload asked
    /// for just now: the queued one if a reload waits, else the one in progress.
    pub fn awaited_reload(&self) -> Option<u32> {
        if self.life.is_queued() {
            Some(self.reload_index + 1)
        } else {
            self.reloading()
        }
    }

    /// Whether a scale is in progress or waits (`Scaled` will follow).
    pub fn is_scaling(&self) -> bool {
        self.scaling() || self.life.scale_to().is_some()
    }

    /// The count the scales in progress or waiting lead to, if any.
    pub fn scaling_to(&self) -> Option<u32> {
        self.life
            .scale_to()
            .or_else(|| self.scaling().then_some(self.slot_count))
    }

    /// How long since `Event::Start`.
    pub fn uptime(&self, now: Instant) -> std::time::Duration {
        self.started_at.map_or(std::time::Duration::ZERO, |at| {
            now.saturating_duration_since(at)
        })
    }

    /// Whether `Event::Start` has been handled.
    pub fn has_started(&self) -> bool {
        self.life != Lifecycle::Idle
    }

    /// Whether a stop is under way (or done), the shutdown delay included.
    pub fn is_stopping(&self) -> bool {
        self.life.is_stopping() || self.life.delayed_stop().is_some()
    }

    /// What is left of the shutdown delay, while one runs (the workers still serve).
    pub fn shutdown_delay_left(&self, now: Instant) -> Option<std::time::Duration> {
        self.life
            .delayed_stop()
            .map(|s| s.at.saturating_duration_since(now))
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
            Event::StopRequested => self.ask_stop(now, StopReason::Requested),
            Event::ControlStop => self.ask_stop(now, StopReason::ControlSocket),
            Event::LauncherExited { pid } => self.ask_stop(now, StopReason::LauncherExited { pid }),
            Event::Scale(to) => self.request_scale(now, to),
            Event::PauseRequested => self.request_pause(true),
            Event::ResumeRequested => self.request_pause(false),
            Event::Forked { id, pid } => self.on_forked(now, id, pid),
            Event::Listening { id, socket } => self.on_listening(now, id, socket),
            Event::Message { id, message } => self.on_message(now, id, message),
            Event::Drained { id } => self.on_drained(id),
            Event::Settled { id } => self.on_settled(id),
            Event::Exited { id, code, signal } => {
                self.on_exited(now, id, ExitStatus { code, signal })
            }
            Event::Probed { id, exited } => self.on_probed(now, id, exited),
            Event::Alive { id } => self.on_alive(now, id),
            Event::Samples(samples) => self.on_samples(now, samples),
            Event::PackageChanged { id, version } => self.on_package_changed(now, id, version),
            Event::Disconnected { id } => self.on_disconnected(id),
            Event::Orphaned { ticket } => self.on_orphaned(ticket),
            Event::HandoffAnswered {
                ticket,
                id,
                accepted,
            } => self.on_handoff_answered(ticket, id, accepted),
            Event::UpgradeRequested => self.request_upgrade(now),
            Event::UpgradeChecked { error } => self.on_upgrade_checked(error),
            Event::ExecFailed { error } => self.on_exec_failed(now, error),
            Event::AdoptedExited { id } => self.on_adopted_exited(id),
            Event::Tick => {}
        }
    }

    fn on_timers(&mut self, now: Instant) {
        self.restart_due(now);
        self.ready_deadlines(now);
        self.retire_deadlines(now);
        self.sample_due(now);
        self.liveness_due(now);
        self.adopted_deadlines(now);
        self.delayed_stop_due(now);
    }

    fn start(&mut self, now: Instant) {
        if self.life != Lifecycle::Idle {
            return;
        }
        self.life = Lifecycle::running();
        self.started_at = Some(now);
        let workers = self.slot_count;
        self.trace(None, Trace::Starting { workers });
        for slot in 0..workers {
            let id = self.fork(now, slot, self.reload_index, Purpose::Serve);
            self.slots[slot as usize].serve(id);
        }
        self.next_sample = Some(now + self.policy.limits.interval);
    }

    fn on_signal(&mut self, now: Instant, signal: Signal) {
        match signal {
            Signal::Hup => self.request_reload(now),
            Signal::Term | Signal::Int => self.ask_stop(now, StopReason::Signal(signal)),
            Signal::Usr2 => self.toggle_pause(PauseCause::Usr2),
            Signal::Ttin => self.request_scale(now, ScaleTo::More),
            Signal::Ttou => self.request_scale(now, ScaleTo::Fewer),
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
            liveness: Default::default(),
            last_reading: None,
            connected: true,
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
        self.start_asking(now, id);
        self.place_waiting();
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
        let slot = self.workers.remove(&id).map(|worker| {
            self.slots[worker.slot as usize].forget(id);
            worker.slot
        });
        let upgrading = self.is_upgrading()
            || (self.policy.new_version == NewVersion::Upgrade
                && self.upgrade_on_new_version(now, &version));
        if upgrading {
            // The fork that was not made is made again (the upgrade's forks are not checked).
            if let Some(slot) = slot {
                self.restart_if_empty(now, slot);
            }
            return;
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
