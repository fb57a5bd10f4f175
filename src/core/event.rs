//! What happens to the supervisor: the inputs of `Supervisor::handle`.

/// The core's own name for a worker; stable for the worker's life, never reused.
pub type WorkerId = u32;

/// The glue's name for a connection the primary holds and must hand to a worker.
pub type Ticket = u32;

/// The signals the master handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Hup,
    Term,
    Int,
    Usr2,
    /// One slot more (as gunicorn does).
    Ttin,
    /// One slot fewer (as gunicorn does).
    Ttou,
}

/// The number of slots a scale asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleTo {
    /// Exactly this many.
    Count(u32),
    /// One more than the latest target (SIGTTIN).
    More,
    /// One fewer than the latest target (SIGTTOU).
    Fewer,
}

/// A message from a worker that means something to the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerMessage {
    Ready,
    PauseMonitoring,
    ResumeMonitoring,
}

/// What sampling one worker found.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub id: WorkerId,
    pub result: SampleResult,
}

/// A reading, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleResult {
    Read(Reading),
    /// The process is alive but its statistics cannot be read.
    Unreadable,
    /// The process has ended; its exit has not reached the core yet.
    Exited,
}

/// CPU in percent of one core since the previous reading, memory as RSS in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

/// An input of the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `init()` ran: fork the first generation.
    Start,
    Signal(Signal),
    /// `handle.reload()`, same as SIGHUP.
    ReloadRequested,
    /// `handle.stop()`, same as SIGTERM.
    StopRequested,
    /// The control socket's `stop`, same as SIGTERM.
    ControlStop,
    /// The process that launched the master (`npm start`, `npx`) exited: same as SIGTERM,
    /// so the master is never left behind, orphaned.
    LauncherExited {
        pid: u32,
    },
    /// Change the number of slots (`handle.scale(n)`, the control socket, SIGTTIN/SIGTTOU).
    Scale(ScaleTo),
    /// Pause monitoring if it runs (the control socket's `pause`); workers are not signalled.
    PauseRequested,
    /// Resume monitoring if it is paused (the control socket's `resume`); workers are not
    /// signalled.
    ResumeRequested,
    Forked {
        id: WorkerId,
        pid: u32,
    },
    /// A server in the worker listens; `socket` is true when it is the `PORT` unix socket.
    Listening {
        id: WorkerId,
        socket: bool,
    },
    Message {
        id: WorkerId,
        message: WorkerMessage,
    },
    /// The worker's drain module stopped listening and has no connection left.
    Drained {
        id: WorkerId,
    },
    /// The worker answered the round trip that follows `Drained`.
    Settled {
        id: WorkerId,
    },
    Exited {
        id: WorkerId,
        code: Option<i32>,
        signal: Option<String>,
    },
    Samples(Vec<Sample>),
    /// The answer to `Command::Probe`: whether the worker's process has ended.
    Probed {
        id: WorkerId,
        exited: bool,
    },
    /// The fork of `id` was not made: master-process on disk is now `version`.
    PackageChanged {
        id: WorkerId,
        version: String,
    },
    /// The worker's event loop answered a heartbeat (or said at start that it can).
    Alive {
        id: WorkerId,
    },
    /// The worker's IPC channel closed: nothing can be sent to it, no answer can come.
    Disconnected {
        id: WorkerId,
    },
    /// The primary holds connection `ticket` that no worker took: a hand-off whose worker's
    /// channel closed before it answered (cluster's own, or one of ours).
    Orphaned {
        ticket: Ticket,
    },
    /// Worker `id` answered the hand-off of `ticket`: it took the connection, or refused it.
    HandoffAnswered {
        ticket: Ticket,
        id: WorkerId,
        accepted: bool,
    },
    /// Upgrade the master in place (the control socket's `upgrade`, `handle.upgrade()`).
    UpgradeRequested,
    /// The answer to `NodeCommand::CheckUpgrade`: `None` when the new image can start,
    /// else what the check said.
    UpgradeChecked {
        error: Option<String>,
    },
    /// Replacing the image failed after the sockets were handed over.
    ExecFailed {
        error: String,
    },
    /// A worker of the image this one replaced ended (the shell reaped it).
    AdoptedExited {
        id: WorkerId,
    },
    /// Nothing but time passed.
    Tick,
}
