//! The test driver: one `Supervisor`, a fake clock (a base `Instant` captured once plus
//! offsets), pids handed out as `1000 + id`, and helpers for the usual event sequences.
//!
//! Every `handle` checks two invariants on the way: nothing due at or before `now` is left
//! pending (`poll_timeout() > now`), and the number of workers ever tracked is recorded in
//! `max_live` so tests can bound it.

use std::time::{Duration, Instant};

use master_process::core::{
    Command, Event, ExitStatus, FailReason, Level, NodeCommand, Notice, Policy, Reading,
    ReplaceReason, Sample, SampleResult, ServiceState, Signal, StopReason, Supervisor, Trace,
    Worker, WorkerId, WorkerMessage, WorkerNote, WorkerSignal, WorkerTag,
};

pub const MB: u64 = 1024 * 1024;

/// "No command", typed so it compares with a `Vec<Command>`.
pub const NOTHING: [Command; 0] = [];

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The pid the harness reports for worker `id` in `Forked`.
pub fn pid(id: WorkerId) -> u32 {
    1000 + id
}

/// The default policy with `workers` slots and monitoring kept out of the way (first round
/// after an hour, warm-up of an hour), so only the subject of a test produces commands.
pub fn policy(workers: u32) -> Policy {
    let mut policy = Policy {
        workers,
        ..Policy::default()
    };
    policy.limits.interval = secs(3600);
    policy.limits.warmup = secs(3600);
    policy
}

pub struct Harness {
    pub sup: Supervisor,
    workers: u32,
    base: Instant,
    now: Instant,
    /// The most workers tracked (alive or starting) after any event so far.
    pub max_live: usize,
}

impl Harness {
    pub fn new(policy: Policy) -> Self {
        let base = Instant::now();
        let workers = policy.workers;
        Harness {
            sup: Supervisor::new(policy),
            workers,
            base,
            now: base,
            max_live: 0,
        }
    }

    /// Time since the test began.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// `poll_timeout()` as an offset from the beginning of the test.
    pub fn deadline(&self) -> Option<Duration> {
        self.sup.poll_timeout().map(|at| at - self.base)
    }

    /// The fake clock's current instant.
    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    pub fn advance_to(&mut self, offset: Duration) {
        let to = self.base + offset;
        assert!(to >= self.now, "time only goes forward");
        self.now = to;
    }

    /// Feed one event at the current time; every command, traces included.
    pub fn handle_raw(&mut self, event: Event) -> Vec<Command> {
        let out = self.sup.handle(self.now, event);
        self.max_live = self.max_live.max(self.live());
        if let Some(at) = self.sup.poll_timeout() {
            assert!(
                at > self.now,
                "a deadline at or before now was left pending"
            );
        }
        out
    }

    /// Feed one event at the current time; the commands without `Trace`.
    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        without_traces(self.handle_raw(event))
    }

    /// Step the clock to `poll_timeout()` and tick there; every command, traces included.
    pub fn fire_raw(&mut self) -> Vec<Command> {
        let at = self.sup.poll_timeout().expect("a deadline is pending");
        self.now = at;
        self.handle_raw(Event::Tick)
    }

    /// Step the clock to `poll_timeout()` and tick there; the commands without `Trace`.
    pub fn fire(&mut self) -> Vec<Command> {
        without_traces(self.fire_raw())
    }

    /// Workers alive or starting.
    pub fn live(&self) -> usize {
        self.sup.workers().count()
    }

    pub fn worker(&self, id: WorkerId) -> &Worker {
        self.sup
            .workers()
            .find(|w| w.id == id)
            .unwrap_or_else(|| panic!("worker {id} is gone"))
    }

    pub fn is_alive(&self, id: WorkerId) -> bool {
        self.sup.workers().any(|w| w.id == id)
    }

    /// The ids of the live workers, in id order.
    pub fn ids(&self) -> Vec<WorkerId> {
        self.sup.workers().map(|w| w.id).collect()
    }

    pub fn start(&mut self) -> Vec<Command> {
        self.handle(Event::Start)
    }

    pub fn signal(&mut self, signal: Signal) -> Vec<Command> {
        self.handle(Event::Signal(signal))
    }

    pub fn hup(&mut self) -> Vec<Command> {
        self.signal(Signal::Hup)
    }

    pub fn forked(&mut self, id: WorkerId) -> Vec<Command> {
        self.handle(Event::Forked { id, pid: pid(id) })
    }

    pub fn listening(&mut self, id: WorkerId) -> Vec<Command> {
        self.handle(Event::Listening { id, socket: false })
    }

    pub fn message(&mut self, id: WorkerId, message: WorkerMessage) -> Vec<Command> {
        self.handle(Event::Message { id, message })
    }

    /// `Forked` (which must say nothing) then `Listening`; returns what `Listening` said.
    pub fn ready(&mut self, id: WorkerId) -> Vec<Command> {
        assert_eq!(self.forked(id), NOTHING);
        self.listening(id)
    }

    /// `Start`, then every worker forks and listens. Returns the ids, slot order.
    pub fn start_all_ready(&mut self) -> Vec<WorkerId> {
        let ids: Vec<WorkerId> = (1..=self.workers).collect();
        let forks: Vec<Command> = ids.iter().map(|&id| fork(id, id - 1, 0)).collect();
        assert_eq!(self.start(), forks);
        for &id in &ids {
            assert_eq!(self.ready(id), [listening(id, id - 1, 0)]);
        }
        ids
    }

    /// The worker exits by itself with `code`.
    pub fn exited(&mut self, id: WorkerId, code: i32) -> Vec<Command> {
        self.handle(Event::Exited {
            id,
            code: Some(code),
            signal: None,
        })
    }

    /// The worker dies of `signal` ("SIGKILL", ...).
    pub fn signalled(&mut self, id: WorkerId, signal: &str) -> Vec<Command> {
        self.handle(Event::Exited {
            id,
            code: None,
            signal: Some(signal.into()),
        })
    }

    /// A retiring worker goes the whole way: drained, settled, SIGTERM, exit 0. Asserts each
    /// step and the expected-exit notice; returns what the exit said after that notice.
    pub fn retire_cleanly(&mut self, id: WorkerId) -> Vec<Command> {
        let slot = self.worker(id).slot;
        assert_eq!(self.handle(Event::Drained { id }), [settle(id)]);
        assert_eq!(self.handle(Event::Settled { id }), [term(id)]);
        let mut out = self.exited(id, 0);
        assert_eq!(
            out.first(),
            Some(&exit(id, slot, Some(0), None, true)),
            "{out:?}"
        );
        out.remove(0);
        out
    }

    /// Feed one `Samples` event, `None` being `SampleResult::Unreadable`; every command,
    /// traces included.
    pub fn samples_raw(&mut self, readings: &[(WorkerId, Option<Reading>)]) -> Vec<Command> {
        let results: Vec<(WorkerId, SampleResult)> = readings
            .iter()
            .map(|&(id, reading)| {
                let result = reading.map_or(SampleResult::Unreadable, SampleResult::Read);
                (id, result)
            })
            .collect();
        self.sample_results_raw(&results)
    }

    /// Feed one `Samples` event of any results (`SampleResult::Exited` included); every
    /// command, traces included.
    pub fn sample_results_raw(&mut self, results: &[(WorkerId, SampleResult)]) -> Vec<Command> {
        let samples = results
            .iter()
            .map(|(id, result)| Sample {
                id: *id,
                result: result.clone(),
            })
            .collect();
        self.handle_raw(Event::Samples(samples))
    }

    /// Feed one `Samples` event; the commands without `Trace`.
    pub fn samples(&mut self, readings: &[(WorkerId, Option<Reading>)]) -> Vec<Command> {
        without_traces(self.samples_raw(readings))
    }

    /// Step to the next sampling round, which must ask for exactly one `Sample`; its targets.
    pub fn sample_round(&mut self) -> Vec<(WorkerId, u32)> {
        match self.fire().as_slice() {
            [Command::Sample { targets }] => targets.clone(),
            other => panic!("expected one Sample at {:?}, got {other:?}", self.elapsed()),
        }
    }
}

/// The `Probe` of worker `id` (after SIGKILL and `EXIT_GRACE` without an exit).
pub fn release(id: WorkerId) -> Command {
    Command::Release { id }
}

pub fn probe(id: WorkerId) -> Command {
    Command::Probe { id, pid: pid(id) }
}

/// A reading of `rss_mb` MiB and `cpu` percent.
pub fn reading(rss_mb: u64, cpu: f64) -> Option<Reading> {
    Some(Reading {
        cpu_percent: cpu,
        rss_bytes: rss_mb * MB,
    })
}

/// The commands without traces and without what the service manager is told (tests of
/// those read them with `handle_raw` and `services`).
pub fn without_traces(commands: Vec<Command>) -> Vec<Command> {
    commands
        .into_iter()
        .filter(|c| !matches!(c, Command::Trace { .. } | Command::Service(_)))
        .collect()
}

/// What the service manager is told in `commands`, in order.
pub fn services(commands: &[Command]) -> Vec<ServiceState> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Service(state) => Some(*state),
            _ => None,
        })
        .collect()
}

/// The traces of `commands`, every level, in order.
pub fn traces(commands: &[Command]) -> Vec<Trace> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Trace { trace, .. } => Some(trace.clone()),
            _ => None,
        })
        .collect()
}

/// The traces of `commands` at `level`.
pub fn traces_at(commands: &[Command], level: Level) -> Vec<Trace> {
    traces(commands)
        .into_iter()
        .filter(|t| t.level() == level)
        .collect()
}

pub fn errors(commands: &[Command]) -> Vec<Trace> {
    traces_at(commands, Level::Error)
}

pub fn debugs(commands: &[Command]) -> Vec<Trace> {
    traces_at(commands, Level::Debug)
}

/// The trace command as the core emits it: `trace` about `worker` if any.
pub fn trace(worker: Option<WorkerTag>, trace: Trace) -> Command {
    Command::Trace { worker, trace }
}

/// How a worker ended: exit `code` and/or the `signal` that ended it.
pub fn status(code: Option<i32>, signal: Option<&str>) -> ExitStatus {
    ExitStatus {
        code,
        signal: signal.map(String::from),
    }
}

/// A new worker `id` of `slot` exited with `code` before it was ready.
pub fn exited_before_ready(slot: u32, id: WorkerId, code: i32) -> FailReason {
    FailReason::ExitedBeforeReady {
        slot,
        pid: Some(pid(id)),
        status: status(Some(code), None),
    }
}

/// A new worker of `slot` was not ready within `timeout_ms`.
pub fn not_ready(slot: u32, timeout_ms: u64) -> FailReason {
    FailReason::NotReadyInTime { slot, timeout_ms }
}

/// The stop a SIGTERM (`Signal::Term`) or SIGINT asks for.
pub fn by_signal(signal: Signal) -> StopReason {
    StopReason::Signal(signal)
}

pub fn fork(id: WorkerId, slot: u32, generation: u32) -> Command {
    Command::Node(NodeCommand::Fork {
        id,
        slot,
        generation,
    })
}

pub fn drain(id: WorkerId) -> Command {
    Command::Node(NodeCommand::Drain { id })
}

pub fn settle(id: WorkerId) -> Command {
    Command::Node(NodeCommand::Settle { id })
}

/// `signal` to worker `id` at its harness pid.
pub fn signal(id: WorkerId, signal: WorkerSignal) -> Command {
    Command::Signal {
        id,
        pid: pid(id),
        signal,
    }
}

pub fn term(id: WorkerId) -> Command {
    signal(id, WorkerSignal::Term)
}

pub fn sigkill(id: WorkerId) -> Command {
    signal(id, WorkerSignal::Kill)
}

pub fn usr2(id: WorkerId) -> Command {
    signal(id, WorkerSignal::Usr2)
}

pub fn notify(notice: Notice) -> Command {
    Command::Node(NodeCommand::Notify(notice))
}

pub fn listening(id: WorkerId, slot: u32, generation: u32) -> Command {
    notify(Notice::WorkerListening {
        id,
        pid: pid(id),
        slot,
        generation,
    })
}

/// The exit notice of a worker that had its harness pid.
pub fn exit(
    id: WorkerId,
    slot: u32,
    code: Option<i32>,
    signal: Option<&str>,
    expected: bool,
) -> Command {
    notify(Notice::WorkerExit {
        id,
        pid: Some(pid(id)),
        slot,
        status: status(code, signal),
        expected,
    })
}

/// The master itself exits with `code`.
pub fn master_exit(code: i32) -> Command {
    Command::Node(NodeCommand::Exit { code })
}

pub fn reload_done(generation: u32) -> Command {
    notify(Notice::ReloadDone { generation })
}

pub fn reload_failed(generation: u32, reason: FailReason) -> Command {
    notify(Notice::ReloadFailed { generation, reason })
}

/// The listening sockets may close: what every stop says right after `stopping`.
pub fn close_listeners() -> Command {
    Command::Node(NodeCommand::CloseListeners)
}

pub fn stopping(code: i32, reason: StopReason) -> Command {
    notify(Notice::Stopping { code, reason })
}

/// The notice that the faulty worker `old` of `slot` was replaced by `new` for `reason`.
pub fn replaced(slot: u32, old: WorkerId, new: WorkerId, reason: ReplaceReason) -> Command {
    notify(Notice::WorkerReplaced {
        slot,
        old_pid: Some(pid(old)),
        new_pid: Some(pid(new)),
        reason,
    })
}

/// `note` sent to worker `id`.
pub fn send(id: WorkerId, note: WorkerNote) -> Command {
    Command::Node(NodeCommand::Send { id, note })
}

pub fn mem_high(id: WorkerId, percent: f64) -> Command {
    send(id, WorkerNote::MemHigh { percent })
}

/// The note to the new worker `new` that it replaced the faulty `old` for `reason`.
pub fn replaced_faulty(old: WorkerId, new: WorkerId, reason: ReplaceReason) -> Command {
    send(
        new,
        WorkerNote::ReplacedFaulty {
            reason,
            old_pid: Some(pid(old)),
            new_pid: Some(pid(new)),
        },
    )
}
