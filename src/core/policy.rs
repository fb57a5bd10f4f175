//! The validated numbers the supervisor decides with. Built by `config.rs`; plain data here.

use std::time::Duration;

/// When a new worker counts as ready to take traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyOn {
    /// Its first `listening` event (4.x behaviour).
    Listening,
    /// Its message `ready` (`process.send('ready')` or `{msg: 'ready'}`).
    Message,
}

/// How a reload hands a slot over to its new worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// Each old worker is retired as soon as its own replacement is ready (4.x behaviour).
    Slot,
    /// The old workers of a batch are retired once every new worker of the batch is ready;
    /// one failure rolls the whole batch back.
    Batch,
}

/// What the master does when master-process on disk changed version (seen at a fork).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewVersion {
    /// Upgrade in place (same pid, same sockets), when an upgrade can start now.
    Upgrade,
    /// Stop every worker and exit 1, so the service manager restarts it (4.x behaviour).
    Exit,
}

/// The most slots a master keeps (`WORKERS`, and any scale).
pub const MAX_WORKERS: u32 = 1024;

/// Fast crashes in a row restarted at the plain 4.x pace (`WORKER_THROTTLE` minus the
/// worker's life) before the back-off starts doubling.
pub const PACED_CRASHES: u32 = 3;

/// Resource limits; a worker over one for `failures` samples in a row is replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_memory_bytes: u64,
    pub mem_failures: u32,
    pub max_cpu_percent: f64,
    pub cpu_failures: u32,
    pub interval: Duration,
    pub warmup: Duration,
}

/// Everything the core needs to know about the user's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The slots at start (`WORKERS`); a scale changes the core's count, not this.
    pub workers: u32,
    pub kill_timeout: Duration,
    pub throttle: Duration,
    pub max_throttle: Duration,
    /// Fast crashes in a row in one slot before the master gives up; 0 never gives up.
    pub max_crashes: u32,
    /// Slots replaced at once during a reload; 0 means all of them (at most the slots there
    /// are when the reload starts).
    pub reload_batch: u32,
    /// Whether a reload swaps slot by slot or batch by batch.
    pub swap: Swap,
    pub new_version: NewVersion,
    pub ready_on: ReadyOn,
    pub ready_timeout: Duration,
    /// A ready worker that does not answer a heartbeat for this long is replaced; `None`: off.
    pub heartbeat_timeout: Option<Duration>,
    /// On a stop (signal or control `stop`), how long workers keep serving after the master
    /// said it is stopping (`/readyz` 503) before they are retired; zero: at once (4.x).
    pub shutdown_delay: Duration,
    /// Whether workers carry the drain module (see `lib/worker/drain.js`).
    pub drain: bool,
    /// Whether workers compile with a module compile cache they can write (and carry the
    /// drain module, which writes it): then a generation writes it as soon as it serves.
    pub persist_compile_cache: bool,
    /// Whether `PORT` is a unix socket path the master looks after.
    pub unix_socket: bool,
    pub limits: Limits,
}

impl Policy {
    /// How long before the SIGKILL deadline a drain that has not finished gets SIGTERM anyway.
    pub fn term_margin(&self) -> Duration {
        (self.kill_timeout / 4).min(Duration::from_secs(1))
    }

    /// The delay before restarting after the `streak`-th fast crash in a row: the throttle
    /// for the first `PACED_CRASHES`, then doubling each time, capped at `max_throttle`.
    pub fn backoff(&self, streak: u32) -> Duration {
        let doublings = streak.saturating_sub(PACED_CRASHES).min(20);
        let grown = self.throttle.saturating_mul(1u32 << doublings);
        grown.min(self.max_throttle.max(self.throttle))
    }

    /// How many of `slots` slots one reload batch replaces.
    pub fn batch_size(&self, slots: u32) -> u32 {
        match self.reload_batch {
            0 => slots,
            n => n.min(slots),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            workers: 1,
            kill_timeout: Duration::from_secs(5),
            throttle: Duration::from_secs(1),
            max_throttle: Duration::from_secs(30),
            max_crashes: 10,
            reload_batch: 0,
            swap: Swap::Slot,
            new_version: NewVersion::Upgrade,
            ready_on: ReadyOn::Listening,
            ready_timeout: Duration::from_secs(30),
            heartbeat_timeout: Some(Duration::from_secs(30)),
            shutdown_delay: Duration::ZERO,
            drain: true,
            persist_compile_cache: false,
            unix_socket: false,
            limits: Limits {
                max_memory_bytes: 1200 * 1024 * 1024,
                mem_failures: 10,
                max_cpu_percent: 95.0,
                cpu_failures: 10,
                interval: Duration::from_secs(2),
                warmup: Duration::from_secs(30),
            },
        }
    }
}
