//! What the supervisor asks the shell to do: the outputs of `Supervisor::handle`.

use super::event::{Ticket, WorkerId};
use super::reason::{ExitStatus, FailReason, ReplaceReason, StopReason};
use super::trace::Trace;
use super::upgrade::UpgradeRefusal;

/// Signals the master sends to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerSignal {
    Term,
    Kill,
    Usr2,
}

/// The worker a trace is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerTag {
    pub id: WorkerId,
    pub pid: Option<u32>,
    pub slot: u32,
}

/// A message the master sends to a worker's `process.on('message')`.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerNote {
    /// The worker's RSS is above 80 % of the memory limit: `percent` of it.
    MemHigh { percent: f64 },
    /// To the new worker that replaced the faulty `old_pid`.
    ReplacedFaulty {
        reason: ReplaceReason,
        old_pid: Option<u32>,
        new_pid: Option<u32>,
    },
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
        status: ExitStatus,
        expected: bool,
    },
    ReloadDone {
        generation: u32,
    },
    ReloadFailed {
        generation: u32,
        reason: FailReason,
    },
    /// A scale is over: `workers` slots, each with a worker that is ready (or restarting).
    Scaled {
        workers: u32,
    },
    WorkerReplaced {
        slot: u32,
        old_pid: Option<u32>,
        new_pid: Option<u32>,
        reason: ReplaceReason,
    },
    Stopping {
        code: i32,
        reason: StopReason,
    },
    /// Upgrade `attempt` of this image was refused; nothing changed.
    UpgradeRefused {
        attempt: u32,
        reason: UpgradeRefusal,
    },
    /// This image came from an upgrade (the `upgrades`-th) and its workers all serve.
    Upgraded {
        upgrades: u32,
    },
}

/// What the service manager (systemd's `NOTIFY_SOCKET`) is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Every slot serves: after the first generation, and after each reload ends.
    Ready,
    /// A reload began.
    Reloading,
    /// A stop began.
    Stopping,
}

/// What only Node's main thread can do: the commands the JS glue runs.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeCommand {
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
    /// `worker.send` a note.
    Send {
        id: WorkerId,
        note: WorkerNote,
    },
    Notify(Notice),
    Exit {
        code: i32,
    },
    /// Ask the worker's event loop to answer (`Event::Alive`).
    Heartbeat {
        id: WorkerId,
    },
    /// Stop handing the worker new connections at once (it stopped responding).
    Isolate {
        id: WorkerId,
    },
    /// Ask the worker to write what it compiled to the module compile cache now.
    PersistCompileCache {
        id: WorkerId,
    },
    /// Hand connection `ticket` to worker `to` (cluster's own hand-off message).
    HandOff {
        ticket: Ticket,
        to: WorkerId,
    },
    /// Close the primary's copy of connection `ticket`: a worker has its own, or the master
    /// stops and none will.
    CloseConnection {
        ticket: Ticket,
    },
    /// Check that the image on disk can start (Node runs, the addon loads, the settings
    /// parse); answer with `Event::UpgradeChecked`.
    CheckUpgrade,
    /// Replace this image with the one on disk, keeping the pid and listening sockets;
    /// `Event::ExecFailed` if that cannot be done.
    Exec,
    /// The master stops: its listening sockets may close now (the ones no worker holds at
    /// once, the others once their last worker has drained). Until then they stay open
    /// whatever takes a worker away.
    CloseListeners,
}

/// An output of the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// For the JS glue.
    Node(NodeCommand),
    /// Signal the worker through the handle the shell took at its fork.
    Signal {
        id: WorkerId,
        pid: u32,
        signal: WorkerSignal,
    },
    /// The core no longer supervises worker `id` (a process still there after SIGKILL is
    /// given up): let go of what the shell holds for it (its pidfd).
    Release {
        id: WorkerId,
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
    /// Tell the service manager.
    Service(ServiceState),
    /// A line for the master's log, about `worker` if any.
    Trace {
        worker: Option<WorkerTag>,
        trace: Trace,
    },
}

impl From<NodeCommand> for Command {
    fn from(command: NodeCommand) -> Self {
        Command::Node(command)
    }
}
