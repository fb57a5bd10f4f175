//! The master as a citizen of its service manager: the notifications (`notify.rs`) the core
//! asks for, a `STATUS=` line kept up to date, and the watchdog, which is fed only while
//! Node's event loop answers (a ping through the JS glue, answered by `Master.pong()`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::driver::Outbox;
use super::notify::{Notifier, NotifyEnv};
use crate::core::{NodeCommand, Notice, ServiceState, Supervisor};

/// `WATCHDOG=1` every half of `WATCHDOG_USEC`, if the last ping came back.
struct Watchdog {
    every: Duration,
    next: Instant,
    pings: u64,
    pongs: Arc<AtomicU64>,
}

/// The link to the service manager, when there is one.
pub struct ServiceLink {
    notifier: Notifier,
    watchdog: Option<Watchdog>,
    last_failure: Option<String>,
}

impl ServiceLink {
    /// A link for `env` (none without `NOTIFY_SOCKET`); `pongs` counts the glue's answers.
    pub fn new(env: &NotifyEnv, pongs: Arc<AtomicU64>, now: Instant) -> Option<ServiceLink> {
        let address = env.socket.as_deref()?;
        let notifier = match Notifier::new(address) {
            Ok(notifier) => notifier,
            Err(e) => {
                tracing::error!("NOTIFY_SOCKET={address:?} cannot be used ({e}): not notifying");
                return None;
            }
        };
        let watchdog = env.watchdog.map(|limit| Watchdog {
            every: limit / 2,
            next: now,
            pings: 0,
            pongs,
        });
        Some(ServiceLink {
            notifier,
            watchdog,
            last_failure: None,
        })
    }

    /// When the watchdog next has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.watchdog.as_ref().map(|w| w.next)
    }

    /// The core's word for the service manager.
    pub fn tell(&mut self, state: ServiceState, core: &Supervisor) {
        let status = status_line(core, self.last_failure.as_deref());
        if let Err(e) = self.notifier.state(state, &status) {
            tracing::error!("could not notify the service manager: {e}");
        }
    }

    /// Remember the outcome of reloads for the status line.
    pub fn observe(&mut self, command: &NodeCommand) {
        match command {
            NodeCommand::Notify(Notice::ReloadFailed { generation, reason }) => {
                self.last_failure = Some(format!("reload {generation} failed: {reason}"));
            }
            NodeCommand::Notify(Notice::ReloadDone { .. }) => self.last_failure = None,
            _ => {}
        }
    }

    /// After each event: a new `STATUS=` line if anything a person would see changed.
    pub fn refresh_status(&mut self, core: &Supervisor) {
        let status = status_line(core, self.last_failure.as_deref());
        if let Err(e) = self.notifier.status(&status) {
            tracing::error!("could not send STATUS to the service manager: {e}");
        }
    }

    /// Feed the watchdog when due, if Node answered the last ping; then ping again.
    pub fn tick(&mut self, now: Instant, outbox: &dyn Outbox) {
        let Some(dog) = self.watchdog.as_mut() else {
            return;
        };
        if now < dog.next {
            return;
        }
        if dog.pongs.load(Ordering::SeqCst) >= dog.pings {
            if let Err(e) = self.notifier.send("WATCHDOG=1") {
                tracing::error!("could not feed the watchdog: {e}");
            }
        } else {
            tracing::debug!("the JS event loop has not answered: watchdog not fed");
        }
        dog.pings += 1;
        outbox.ping();
        dog.next = now + dog.every;
    }
}

/// What `systemctl status` shows: workers serving, generation, reloading, last failure.
pub fn status_line(core: &Supervisor, last_failure: Option<&str>) -> String {
    if core.is_stopping() {
        let left = core.workers().count();
        return format!("stopping: {left} worker(s) left");
    }
    let slots = core.slots();
    let serving = slots
        .iter()
        .filter(|s| {
            s.serving
                .and_then(|id| core.workers().find(|w| w.id == id))
                .is_some_and(|w| w.is_ready())
        })
        .count();
    let mut line = format!(
        "{serving}/{} workers serving, generation {}",
        slots.len(),
        core.reload_index()
    );
    if core.is_reloading() {
        line.push_str(", reloading");
    }
    if let Some(failure) = last_failure {
        line.push_str(&format!("; last {failure}"));
    }
    line
}
