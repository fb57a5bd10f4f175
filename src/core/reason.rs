//! Why things happen, as values: the shell turns them into words (`shell/describe.rs`).

use super::event::Signal;

/// How a worker ended, as Node reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: Option<i32>,
    /// The signal's name (`SIGKILL`), when a signal ended it.
    pub signal: Option<String>,
}

/// Why a new worker (of a reload or a replacement) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    ExitedBeforeReady {
        slot: u32,
        pid: Option<u32>,
        status: ExitStatus,
    },
    NotReadyInTime {
        slot: u32,
        timeout_ms: u64,
    },
    /// master-process on disk changed to `version`: the master upgrades in place instead.
    PackageChanged {
        version: String,
    },
}

/// Why the master stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Signal(Signal),
    /// `handle.stop()`.
    Requested,
    /// The control socket's `stop`.
    ControlSocket,
    /// The launcher (`npm start`, `npx`) with this pid exited.
    LauncherExited {
        pid: u32,
    },
    /// master-process on disk is now `version`.
    PackageChanged {
        version: String,
    },
    /// An upgrade could not replace the image after handing over its sockets.
    UpgradeFailed,
    /// A slot crashed `streak` times in a row soon after start.
    CrashLoop {
        slot: u32,
        streak: u32,
    },
}

/// Why a faulty worker is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceReason {
    Memory,
    Cpu,
    /// Its statistics could not be read while it was alive.
    Unsampled,
    /// Its event loop did not answer within the heartbeat timeout.
    Unresponsive,
}

/// Who paused or resumed monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseCause {
    Usr2,
    Worker,
    /// The control socket's `pause` or `resume`.
    Request,
}

/// Why a scale is not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleRefused {
    /// A count outside 1..=`MAX_WORKERS`.
    OutOfRange { requested: u32 },
    /// One more was asked at `MAX_WORKERS` already.
    AtMaximum,
    /// One fewer was asked at 1 already.
    AtMinimum,
    /// The master is not running (not started yet, or stopping).
    NotRunning,
}
