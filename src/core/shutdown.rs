//! Stopping: wait out the shutdown delay (if any) while the workers serve, retire every
//! worker, then remove the socket and exit.

use std::time::Instant;

use super::command::{Command, NodeCommand, Notice, ServiceState};
use super::lifecycle::{DelayedStop, Lifecycle};
use super::reason::StopReason;
use super::trace::Trace;
use super::Supervisor;

impl Supervisor {
    /// A stop asked from outside (a signal, `stop()`, the control socket, the launcher's
    /// exit): after `Policy::shutdown_delay` while running, so a load balancer sees the
    /// master stopping (`/readyz`, the service manager) before the listeners close. A second
    /// request during the delay stops at once.
    pub(super) fn ask_stop(&mut self, now: Instant, reason: StopReason) {
        let delay = self.policy.shutdown_delay;
        if delay.is_zero() || !self.life.is_accepting() {
            return self.request_stop(now, 0, reason);
        }
        self.upgrade_stopped();
        let trace = Trace::StopDelayed {
            reason: reason.clone(),
            delay,
        };
        self.trace(None, trace);
        self.announce_stop(0, reason.clone());
        self.life.delay_stop(DelayedStop {
            at: now + delay,
            reason,
        });
    }

    /// Begin a clean stop ending in `Exit { code }`; a second request changes nothing, but
    /// one during the shutdown delay ends the delay.
    pub(super) fn request_stop(&mut self, now: Instant, code: i32, reason: StopReason) {
        if self.life.is_stopping() {
            return self.trace(None, Trace::AlreadyStopping { reason });
        }
        if self.life.delayed_stop().is_some() {
            self.trace(None, Trace::DelayCutShort { reason });
        } else {
            self.upgrade_stopped();
            let trace = Trace::Stopping {
                reason: reason.clone(),
            };
            self.trace(None, trace);
            self.announce_stop(code, reason);
        }
        self.begin_stopping(now, code);
    }

    /// The shutdown delay is over: the usual stop. Checked on every event.
    pub(super) fn delayed_stop_due(&mut self, now: Instant) {
        let Some(stop) = self.life.delayed_stop().filter(|s| s.at <= now) else {
            return;
        };
        let reason = stop.reason.clone();
        self.trace(None, Trace::Stopping { reason });
        self.begin_stopping(now, 0);
    }

    /// The deadline of the shutdown delay, while one runs.
    pub(super) fn delayed_stop_deadline(&self) -> Option<Instant> {
        self.life.delayed_stop().map(|s| s.at)
    }

    /// Tell the app (`stopping`) and the service manager (`STOPPING=1`).
    fn announce_stop(&mut self, code: i32, reason: StopReason) {
        self.node(NodeCommand::Notify(Notice::Stopping { code, reason }));
        self.tell_service(ServiceState::Stopping);
    }

    /// Close the listeners and retire every worker; the exit follows the last one.
    fn begin_stopping(&mut self, now: Instant, code: i32) {
        self.life = Lifecycle::Stopping { code };
        self.node(NodeCommand::CloseListeners);
        self.close_waiting_connections();
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
