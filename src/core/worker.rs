//! One worker process as the supervisor sees it.

use std::time::{Duration, Instant};

use super::command::WorkerTag;
use super::event::{Reading, WorkerId};
use super::liveness::Liveness;
use super::reason::ReplaceReason;

/// Why a worker is being started next to the one serving its slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// Serves its slot as soon as it exists (first start, crash restart).
    Serve,
    /// Part of reload batch `generation`; promoted when the whole batch is ready.
    Reload,
    /// Replaces the faulty worker `old` for `reason`.
    Replace {
        old: WorkerId,
        reason: ReplaceReason,
    },
}

/// Where a retiring worker is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetireStage {
    /// Retired before its pid was known; starts once `Forked` arrives.
    AwaitPid,
    Draining,
    Settling,
    Terminating,
    /// SIGKILL sent; if no exit is reported by `kill_at + EXIT_GRACE`, the process is probed.
    Killed,
    /// Probed after SIGKILL: the answer decides whether it is gone or given up on.
    Probing,
}

/// How long after SIGKILL the core waits for the exit before it asks whether the process
/// is still there, so that a lost exit report cannot hold up a stop or a reload for good.
pub const EXIT_GRACE: Duration = Duration::from_secs(1);

/// A retirement in progress, with its two deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retire {
    pub stage: RetireStage,
    pub term_at: Instant,
    /// When SIGKILL is due; once it is sent (`Killed`), when it was sent.
    pub kill_at: Instant,
}

impl Retire {
    /// When this retirement next has something to do on its own.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.stage {
            // Without a pid the kill deadline is when the never-forked worker is given up.
            RetireStage::AwaitPid | RetireStage::Terminating => Some(self.kill_at),
            RetireStage::Draining | RetireStage::Settling => Some(self.term_at),
            RetireStage::Killed => Some(self.kill_at + EXIT_GRACE),
            RetireStage::Probing => None,
        }
    }
}

/// The life of a worker, from fork to exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Ready,
    Retiring(Retire),
}

/// Consecutive over-limit samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streaks {
    pub memory: u32,
    pub cpu: u32,
}

/// A worker: its slot (`WORKER_INDEX`), generation (`RELOAD_INDEX`) and state.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub id: WorkerId,
    pub slot: u32,
    pub generation: u32,
    pub pid: Option<u32>,
    pub started_at: Instant,
    pub phase: Phase,
    pub purpose: Purpose,
    /// When a worker that must become ready has failed if it is not.
    pub ready_by: Option<Instant>,
    pub streaks: Streaks,
    pub liveness: Liveness,
    /// Its latest sample (CPU and RSS), once monitoring has read it.
    pub last_reading: Option<Reading>,
    /// Whether its IPC channel is open (until `Event::Disconnected`).
    pub connected: bool,
}

impl Worker {
    pub fn tag(&self) -> WorkerTag {
        WorkerTag {
            id: self.id,
            pid: self.pid,
            slot: self.slot,
        }
    }

    pub fn is_retiring(&self) -> bool {
        matches!(self.phase, Phase::Retiring(_))
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Whether a connection may be handed to it: ready, known, reachable, not cut off.
    pub fn takes_connections(&self) -> bool {
        self.is_ready() && self.pid.is_some() && self.connected && !self.liveness.cut_off
    }

    /// How long since it was forked (since its fork was confirmed, once it was).
    pub fn uptime(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started_at)
    }
}
