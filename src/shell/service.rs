//! The master as a citizen of its service manager: the notifications (`notify.rs`) the core
//! asks for, a `STATUS=` line kept up to date, and the watchdog, which is fed only while
//! Node's event loop answers (a ping through the JS glue, answered by `Master.pong()`) and
//! the driver thread turns. Every datagram goes through `notify_queue.rs`, so a receiver
//! that does not read never holds up the driver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::driver::Outbox;
use super::notify::{state_message, Notifier, NotifyEnv};
use super::notify_queue::NotifyQueue;
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
    queue: NotifyQueue,
    watchdog: Option<Watchdog>,
    last_failure: Option<String>,
    /// The last `STATUS=` line queued, so an unchanged one is not sent again.
    last_status: Option<String>,
}

impl ServiceLink {
    /// A link for `env` (none without `NOTIFY_SOCKET`); `pongs` counts the glue's answers.
    pub fn new(env: &NotifyEnv, pongs: Arc<AtomicU64>, now: Instant) -> Option<ServiceLink> {
        let address = env.socket.as_deref()?;
        let queue = match Notifier::new(address).and_then(NotifyQueue::start) {
            Ok(queue) => queue,
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
            queue,
            watchdog,
            last_failure: None,
            last_status: None,
        })
    }

    /// When the watchdog next has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.watchdog.as_ref().map(|w| w.next)
    }

    /// The core's word for the service manager.
    pub fn tell(&mut self, state: ServiceState, core: &Supervisor) {
        let status = status_line(core, self.last_failure.as_deref());
        self.queue.message(state_message(state, &status));
        if state == ServiceState::Ready {
            self.last_status = Some(status);
        }
    }

    /// State messages dropped because the service manager did not read them.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// Wait, at most `timeout`, until every queued datagram is sent: before the exit.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.queue.flush(timeout)
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
        if self.last_status.as_deref() != Some(status.as_str()) {
            self.queue.status(&status);
            self.last_status = Some(status);
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
            self.queue.message("WATCHDOG=1".into());
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
