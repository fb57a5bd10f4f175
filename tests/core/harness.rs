//! The test driver: one `Supervisor`, a fake clock (a base `Instant` captured once plus
//! offsets), pids handed out as `1000 + id`, and helpers for the usual event sequences.
//!
//! Every `handle` checks two invariants on the way: nothing due at or before `now` is left
//! pending (`poll_timeout() > now`), and the number of workers ever tracked is recorded in
//! `max_live` so tests can bound it.

use std::time::{Duration, Instant};

use master_process::core::{
    Command, Event, KillSignal, Level, Notice, Policy, Reading, Sample, SampleResult, Signal,
    Supervisor, Worker, WorkerId, WorkerMessage,
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

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    pub fn advance_to(&mut self, offset: Duration) {
        let to = self.base + offset;
        assert!(to >= self.now, "time only goes forward");
        self.now = to;
    }

    /// Feed one event at the current time; every command, logs included.
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

    /// Feed one event at the current time; the commands without `Log`.
    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        without_logs(self.handle_raw(event))
    }

    /// Step the clock to `poll_timeout()` and tick there; every command, logs included.
    pub fn fire_raw(&mut self) -> Vec<Command> {
        let at = self.sup.poll_timeout().expect("a deadline is pending");
        self.now = at;
        self.handle_raw(Event::Tick)
    }

    /// Step the clock to `poll_timeout()` and tick there; the commands without `Log`.
    pub fn fire(&mut self) -> Vec<Command> {
        without_logs(self.fire_raw())
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
        assert_eq!(self.handle(Event::Drained { id }), [Command::Settle { id }]);
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
    /// logs included.
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
    /// command, logs included.
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

    /// Feed one `Samples` event; the commands without `Log`.
    pub fn samples(&mut self, readings: &[(WorkerId, Option<Reading>)]) -> Vec<Command> {
        without_logs(self.samples_raw(readings))
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

pub fn without_logs(commands: Vec<Command>) -> Vec<Command> {
    commands
        .into_iter()
        .filter(|c| !matches!(c, Command::Log(_)))
        .collect()
}

/// The log lines of `commands` at `level`, text only.
pub fn lines(commands: &[Command], level: Level) -> Vec<String> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Log(log) if log.level == level => Some(log.text.clone()),
            _ => None,
        })
        .collect()
}

pub fn errors(commands: &[Command]) -> Vec<String> {
    lines(commands, Level::Error)
}

pub fn debugs(commands: &[Command]) -> Vec<String> {
    lines(commands, Level::Debug)
}

pub fn fork(id: WorkerId, slot: u32, generation: u32) -> Command {
    Command::Fork {
        id,
        slot,
        generation,
    }
}

pub fn drain(id: WorkerId) -> Command {
    Command::Drain { id }
}

pub fn settle(id: WorkerId) -> Command {
    Command::Settle { id }
}

pub fn term(id: WorkerId) -> Command {
    Command::Kill {
        id,
        pid: pid(id),
        signal: KillSignal::Term,
    }
}

pub fn sigkill(id: WorkerId) -> Command {
    Command::Kill {
        id,
        pid: pid(id),
        signal: KillSignal::Kill,
    }
}

pub fn usr2(id: WorkerId) -> Command {
    Command::Kill {
        id,
        pid: pid(id),
        signal: KillSignal::Usr2,
    }
}

pub fn listening(id: WorkerId, slot: u32, generation: u32) -> Command {
    Command::Notify(Notice::WorkerListening {
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
    Command::Notify(Notice::WorkerExit {
        id,
        pid: Some(pid(id)),
        slot,
        code,
        signal: signal.map(String::from),
        expected,
    })
}

pub fn reload_done(generation: u32) -> Command {
    Command::Notify(Notice::ReloadDone { generation })
}

pub fn reload_failed(generation: u32, reason: &str) -> Command {
    Command::Notify(Notice::ReloadFailed {
        generation,
        reason: reason.into(),
    })
}

pub fn stopping(code: i32, reason: &str) -> Command {
    Command::Notify(Notice::Stopping {
        code,
        reason: reason.into(),
    })
}

pub fn mem_high(id: WorkerId, perc: u64) -> Command {
    Command::Send {
        id,
        message: format!(r#"{{"msg":"mem_high","mem_perc":{perc}}}"#),
    }
}
