//! What the master logs, as values; `Debug` ones show only with `DEBUG=master-process`,
//! `Error` ones always. The shell turns them into lines (`shell/describe.rs`).

use std::time::Duration;

use super::event::WorkerId;
use super::reason::{ExitStatus, FailReason, PauseCause, ReplaceReason, ScaleRefused, StopReason};
use super::worker::RetireStage;

/// How loud a trace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Error,
}

/// One decision or observation of the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Trace {
    Starting {
        workers: u32,
    },
    Forking {
        slot: u32,
        generation: u32,
    },
    HasPid {
        slot: u32,
        pid: u32,
    },
    Listening {
        slot: u32,
    },
    Ready {
        slot: u32,
    },
    Exited {
        slot: u32,
        status: ExitStatus,
    },
    /// An event (`what`) of a worker the core does not know.
    Unknown {
        what: &'static str,
        id: WorkerId,
    },
    Monitoring {
        paused: bool,
        cause: PauseCause,
    },
    SampledAfterExit,
    OverLimits(OverLimits),
    Replacing {
        slot: u32,
        reason: ReplaceReason,
    },
    Unresponsive {
        slot: u32,
        silent: Duration,
    },
    ReloadIgnored,
    UpgradeBegins {
        attempt: u32,
    },
    UpgradeRefused {
        attempt: u32,
        reason: crate::core::UpgradeRefusal,
    },
    /// The checks passed: the image is being replaced.
    UpgradeReplacing,
    UpgradeFailed {
        error: String,
    },
    /// This image's first generation serves after the `upgrades`-th upgrade.
    Upgraded {
        upgrades: u32,
    },
    /// A worker of the image this one replaced ended.
    AdoptedExited {
        pid: u32,
    },
    ReloadQueued,
    ReloadStarts {
        generation: u32,
    },
    ReloadDone {
        generation: u32,
    },
    RestartIn {
        slot: u32,
        delay: Duration,
    },
    ScaleStarts {
        from: u32,
        to: u32,
    },
    /// A scale must wait for the reload or scale in progress; `to` is the latest target.
    ScaleQueued {
        to: u32,
    },
    ScaleDone {
        from: u32,
        workers: u32,
    },
    /// A scale up ends with `starting` new workers not ready after the ready timeout; they
    /// keep starting in their slots (a reload replaces them).
    ScaleNotReady {
        starting: u32,
        timeout_ms: u64,
    },
    ScaleRefused {
        reason: ScaleRefused,
    },
    /// A slot taken away by a scale down is empty and gone.
    SlotRemoved {
        slot: u32,
    },
    Retiring {
        slot: u32,
    },
    Drained,
    Settled,
    DrainLate,
    KillTimeout {
        stage: RetireStage,
    },
    AlreadyStopping {
        reason: StopReason,
    },
    Stopping {
        reason: StopReason,
    },
    /// A stop waits out the shutdown delay while the workers serve.
    StopDelayed {
        reason: StopReason,
        delay: std::time::Duration,
    },
    /// A second stop request ends the shutdown delay early.
    DelayCutShort {
        reason: StopReason,
    },
    Exiting {
        code: i32,
    },
    /// A connection no worker took goes to worker `to` (by id).
    HandingOff {
        ticket: u32,
        to: WorkerId,
    },
    /// A connection no worker took waits: no worker takes connections now.
    HandoffWaits {
        ticket: u32,
    },
    /// A retiring worker's channel closed before its drain was over: signalled at once.
    DisconnectedWhileDraining,
    // Errors from here on.
    PackageChanged {
        version: String,
    },
    ReloadFailed {
        generation: u32,
        reason: FailReason,
    },
    ReplacementFailed {
        reason: FailReason,
    },
    CrashLoop {
        slot: u32,
        streak: u32,
    },
    NeverStarted {
        slot: u32,
    },
    StuckAfterKill {
        slot: u32,
        pid: Option<u32>,
        grace: Duration,
    },
    StartedAfterGivenUp {
        id: WorkerId,
        pid: u32,
    },
}

/// A sample over a limit: the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverLimits {
    pub slot: u32,
    pub rss_bytes: u64,
    pub max_memory_bytes: u64,
    pub cpu_percent: f64,
    pub max_cpu_percent: f64,
    pub memory_streak: u32,
    pub cpu_streak: u32,
}

impl Trace {
    pub fn level(&self) -> Level {
        use Trace::*;
        match self {
            PackageChanged { .. }
            | ReloadFailed { .. }
            | ReplacementFailed { .. }
            | CrashLoop { .. }
            | NeverStarted { .. }
            | StuckAfterKill { .. }
            | StartedAfterGivenUp { .. }
            | ScaleNotReady { .. }
            | UpgradeBegins { .. }
            | UpgradeRefused { .. }
            | UpgradeReplacing
            | UpgradeFailed { .. }
            | Upgraded { .. } => Level::Error,
            _ => Level::Debug,
        }
    }
}
