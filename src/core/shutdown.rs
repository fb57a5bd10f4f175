//! Stopping: retire every worker, then remove the socket and exit.

use std::time::Instant;

use super::command::{Command, Notice};
use super::Supervisor;

impl Supervisor {
    /// Begin a clean stop ending in `Exit { code }`; a second request changes nothing.
    pub(super) fn request_stop(&mut self, now: Instant, code: i32, reason: String) {
        if self.stopping.is_some() {
            return self.debug(None, format!("already stopping; {reason} ignored"));
        }
        self.stopping = Some(code);
        self.debug(None, format!("stopping ({reason}): retiring every worker"));
        self.out
            .push(Command::Notify(Notice::Stopping { code, reason }));
        self.reload = None;
        self.reload_queued = false;
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
        let Some(code) = self.stopping else {
            return;
        };
        if !self.workers.is_empty() || self.exited {
            return;
        }
        if self.policy.unix_socket {
            self.out.push(Command::RemoveSocket);
        }
        self.debug(None, format!("all workers gone: exiting with code {code}"));
        self.out.push(Command::Exit { code });
        self.exited = true;
    }
}
