//! Stopping: retire every worker, then remove the socket and exit.

use std::time::Instant;

use super::command::{Command, NodeCommand, Notice, ServiceState};
use super::lifecycle::Lifecycle;
use super::reason::StopReason;
use super::trace::Trace;
use super::Supervisor;

impl Supervisor {
    /// Begin a clean stop ending in `Exit { code }`; a second request changes nothing.
    pub(super) fn request_stop(&mut self, now: Instant, code: i32, reason: StopReason) {
        if self.life.is_stopping() {
            return self.trace(None, Trace::AlreadyStopping { reason });
        }
        self.upgrade_stopped();
        self.life = Lifecycle::Stopping { code };
        let trace = Trace::Stopping {
            reason: reason.clone(),
        };
        self.trace(None, trace);
        self.node(NodeCommand::Notify(Notice::Stopping { code, reason }));
        self.node(NodeCommand::CloseListeners);
        self.close_waiting_connections();
        self.tell_service(ServiceState::Stopping);
        for slot in &mut self.slots {
            slot.restart_at = None;
        }
        let ids: Vec<_> = self.workers.keys().copied().collect();
        for id in ids {
            self.retire(now, id);
        }
    }

    /// Once stopping and no worker is left: clean the socket and exit. Checked after every
    /// event (`Supervisor::handle`).
    pub(super) fn check_stopped(&mut self) {
        let Lifecycle::Stopping { code } = self.life else {
            return;
        };
        if !self.workers.is_empty() || self.has_adopted() {
            return;
        }
        if self.policy.unix_socket {
            self.out.push(Command::RemoveSocket);
        }
        self.trace(None, Trace::Exiting { code });
        self.node(NodeCommand::Exit { code });
        self.life = Lifecycle::Exited;
    }
}
