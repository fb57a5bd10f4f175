//! The driver's end of the metrics server: mark each turn, count control requests, publish
//! a snapshot when a turn is over, and close the server at exit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::{Board, MetricsServer, Snapshot};
use crate::core::Supervisor;
use crate::shell::control::Request;

/// What the driver holds of the metrics server.
pub struct Link {
    pub board: Arc<Board>,
    pub server: MetricsServer,
    control: BTreeMap<&'static str, u64>,
}

impl Link {
    pub fn new(board: Arc<Board>, server: MetricsServer) -> Self {
        Link {
            board,
            server,
            control: BTreeMap::new(),
        }
    }

    /// The driver took an input.
    pub fn turn_began(&self) {
        self.board.pulse.busy(Instant::now());
    }

    /// The driver is done with it: publish what it changed.
    pub fn turn_ended(&self, core: &Supervisor) {
        self.board
            .publish(Snapshot::of(core, Instant::now(), &self.control));
        self.board.pulse.idle();
    }

    /// A control request (socket or JS handle) is being answered.
    pub fn count(&mut self, request: &Request) {
        let name = match request {
            Request::Status => "status",
            Request::Reload => "reload",
            Request::Stop => "stop",
            Request::Pause => "pause",
            Request::Resume => "resume",
            Request::Scale(_) => "scale",
            Request::Upgrade => "upgrade",
            Request::Handover => return,
        };
        *self.control.entry(name).or_default() += 1;
    }

    /// The master exits: stop answering, remove a socket file.
    pub fn close(&self) {
        if self.server.close() {
            tracing::debug!("metrics socket removed");
        }
    }

    /// The driver thread returns.
    pub fn end(&self) {
        self.board.pulse.end();
    }
}
