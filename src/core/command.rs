//! What the supervisor asks the shell to do: the outputs of `Supervisor::handle`.

use super::event::WorkerId;

/// Signals the master sends to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillSignal {
    Term,
    Kill,
    Usr2,
}

/// The worker a log line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerTag {
    pub id: WorkerId,
    pub pid: Option<u32>,
    pub slot: u32,
}

/// `Debug` lines show only with `DEBUG=master-process`; `Error` lines always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Error,
}

/// One line for the master's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub level: Level,
    pub worker: Option<WorkerTag>,
    pub text: String,
}

/// Events for the JS handle returned by `init()`.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    WorkerListening {
        id: WorkerId,
        pid: u32,
        slot: u32,
        generation: u32,
    },
    WorkerExit {
        id: WorkerId,
        pid: Option<u32>,
        slot: u32,
        code: Option<i32>,
        signal: Option<String>,
        expected: bool,
    },
    ReloadDone {
        generation: u32,
    },
    ReloadFailed {
        generation: u32,
        reason: String,
    },
    WorkerReplaced {
        slot: u32,
        old_pid: Option<u32>,
        new_pid: Option<u32>,
        reason: String,
    },
    Stopping {
        code: i32,
        reason: String,
    },
}

/// An output of the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Fork {
        id: WorkerId,
        slot: u32,
        generation: u32,
    },
    /// Ask the worker's drain module to stop taking connections and report when empty.
    Drain {
        id: WorkerId,
    },
    /// One more IPC round trip before signalling, so connections in transit settle.
    Settle {
        id: WorkerId,
    },
    /// Send a JSON string message to the worker (`worker.send`).
    Send {
        id: WorkerId,
        message: String,
    },
    /// Signal the worker through the handle the shell took at its fork (by pid without one).
    Kill {
        id: WorkerId,
        pid: u32,
        signal: KillSignal,
    },
    /// Find out whether the worker's process has ended; answer with `Event::Probed`.
    Probe {
        id: WorkerId,
        pid: u32,
    },
    /// Read CPU and memory of these workers and answer with `Event::Samples`.
    Sample {
        targets: Vec<(WorkerId, u32)>,
    },
    ChmodSocket,
    RemoveSocket,
    Log(Log),
    Notify(Notice),
    Exit {
        code: i32,
    },
}
