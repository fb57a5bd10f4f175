//! What the master counts for `/metrics`: totals that only grow for the life of the master,
//! whatever reloads, crashes or scales do to its workers. They are read off the events the
//! core takes and the commands it gives, so counting changes no decision.

use std::time::{Duration, Instant};

use super::command::{Command, NodeCommand, Notice};
use super::event::{Event, Ticket};
use super::reason::ReplaceReason;
use super::trace::Trace;

/// The upper bounds, in seconds, of the reload duration histogram's buckets (`+Inf` after).
pub const RELOAD_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// A histogram of durations with fixed buckets (`RELOAD_BUCKETS`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or under each bound of `RELOAD_BUCKETS` (not cumulative).
    pub buckets: [u64; RELOAD_BUCKETS.len()],
    /// Every observation, the ones over the last bound included.
    pub count: u64,
    /// The sum of the observations, in seconds.
    pub sum: f64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = RELOAD_BUCKETS.iter().position(|&bound| secs <= bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += secs;
    }

    /// Observations at or under each bound, cumulative (as the exposition wants them).
    pub fn cumulative(&self) -> [u64; RELOAD_BUCKETS.len()] {
        let mut total = 0;
        self.buckets.map(|n| {
            total += n;
            total
        })
    }
}

/// Workers replaced, by why (`ReplaceReason`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replacements {
    pub memory: u64,
    pub cpu: u64,
    /// Its statistics could not be read while it was alive.
    pub unsampled: u64,
    /// Its event loop did not answer the heartbeat.
    pub heartbeat: u64,
}

/// What of an event counts, taken before the core consumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Orphaned,
    /// A worker said it took connection `Ticket`.
    Accepted(Ticket),
    Other,
}

impl From<&Event> for Seen {
    fn from(event: &Event) -> Self {
        match event {
            Event::Orphaned { .. } => Seen::Orphaned,
            Event::HandoffAnswered {
                ticket,
                accepted: true,
                ..
            } => Seen::Accepted(*ticket),
            _ => Seen::Other,
        }
    }
}

/// The master's totals since `Event::Start`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Reloads whose every slot got its new worker.
    pub reloads_done: u64,
    /// Reloads that failed and were rolled back.
    pub reloads_rolled_back: u64,
    /// From a reload's start to its outcome, done or rolled back.
    pub reload_seconds: Histogram,
    /// Workers that exited on their own with an exit code (crashes, `process.exit`).
    pub exits: u64,
    /// Workers that a signal ended without the master asking.
    pub kills: u64,
    pub replacements: Replacements,
    /// Connections that reached the primary with no worker to take them.
    pub orphaned: u64,
    /// Orphaned connections a worker took over (the hand-off).
    pub rescued: u64,
    /// When the reload in progress began, by generation.
    reload_began: Option<(u32, Instant)>,
}

impl Counters {
    /// Count what an event (`seen`) and the commands `out` it gave at `now` say happened.
    pub fn observe(&mut self, now: Instant, seen: Seen, out: &[Command]) {
        match seen {
            Seen::Orphaned => self.orphaned += 1,
            Seen::Accepted(ticket) if closes(out, ticket) => self.rescued += 1,
            _ => {}
        }
        for command in out {
            self.command(now, command);
        }
    }

    fn command(&mut self, now: Instant, command: &Command) {
        match command {
            Command::Trace { trace, .. } => self.trace(now, trace),
            Command::Node(NodeCommand::Notify(Notice::WorkerExit {
                expected: false,
                status,
                ..
            })) => match status.signal {
                Some(_) => self.kills += 1,
                None => self.exits += 1,
            },
            _ => {}
        }
    }

    fn trace(&mut self, now: Instant, trace: &Trace) {
        match trace {
            Trace::ReloadStarts { generation } => self.reload_began = Some((*generation, now)),
            Trace::ReloadDone { generation } => {
                self.reloads_done += 1;
                self.reload_over(now, *generation);
            }
            Trace::ReloadFailed { generation, .. } => {
                self.reloads_rolled_back += 1;
                self.reload_over(now, *generation);
            }
            Trace::Replacing { reason, .. } => {
                let r = &mut self.replacements;
                *match reason {
                    ReplaceReason::Memory => &mut r.memory,
                    ReplaceReason::Cpu => &mut r.cpu,
                    ReplaceReason::Unsampled => &mut r.unsampled,
                    ReplaceReason::Unresponsive => &mut r.heartbeat,
                } += 1;
            }
            _ => {}
        }
    }

    fn reload_over(&mut self, now: Instant, generation: u32) {
        if let Some((began, at)) = self.reload_began {
            if began == generation {
                self.reload_seconds
                    .observe(now.saturating_duration_since(at));
                self.reload_began = None;
            }
        }
    }
}

/// Whether `out` closes the primary's copy of `ticket` (a worker took the connection).
fn closes(out: &[Command], ticket: Ticket) -> bool {
    out.iter().any(
        |c| matches!(c, Command::Node(NodeCommand::CloseConnection { ticket: t }) if *t == ticket),
    )
}
