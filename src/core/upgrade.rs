//! Upgrading the master in place: the same process replaces its own image with the Node
//! and master-process on disk now, keeping its pid and listening sockets.
//!
//! The old image first proves the new code can serve: a reload of every slot (the app as
//! it is on disk now, with the usual rollback if it fails), then a check of the new image
//! (Node runs, the addon loads, the settings parse). Only then is it replaced: nothing
//! before that point changes what serves, so a refused upgrade leaves the master as it
//! was. The new image resumes with the old image's state (`Resumed`), forks a new
//! generation on the kept sockets and reaps the old image's workers, which drain by
//! themselves once their IPC channel closes, killing the ones still there at the kill
//! deadline.

use std::time::Instant;

use super::command::{Command, NodeCommand, Notice, ServiceState, WorkerSignal};
use super::event::WorkerId;
use super::reason::FailReason;
use super::trace::Trace;
use super::Supervisor;

/// Where an upgrade of this image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// The reload that proves the app on disk serves runs as generation `generation`.
    Reload { generation: u32 },
    /// The shell checks that the new image can start.
    Check,
    /// The image is being replaced.
    Exec,
}

/// Why an upgrade was refused; the master goes on as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeRefusal {
    /// Starting or stopping.
    NotRunning,
    /// Another upgrade is under way.
    UnderWay,
    /// The previous upgrade's new workers are starting or its old workers draining.
    LastNotOver,
    /// A reload or a scale is under way.
    Busy,
    /// The reload of the app on disk failed (and was rolled back).
    AppFailed(FailReason),
    /// The new image cannot start: what the check said.
    ImageFailed(String),
    /// A stop came first.
    Stopping,
    /// `PORT` is a unix socket path that cluster binds: closing cluster's listening socket
    /// before the exec would remove the socket file (libuv unlinks the path it bound).
    UnixSocketPort,
}

/// What the new image takes over from the image it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resumed {
    /// The newest generation of the old image: the new image forks the next one.
    pub generation: u32,
    /// The slots the old image kept (after its scales).
    pub slots: u32,
    pub paused: bool,
    /// Upgrades this master has had, this one included.
    pub upgrades: u32,
    /// The old image's workers, by pid: they drain by themselves; reaped, or killed at the
    /// kill deadline.
    pub workers: Vec<u32>,
}

/// A worker of the image this one replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adopted {
    pub pid: u32,
    pub kill_at: Instant,
    pub killed: bool,
}

/// Upgrades asked for, done and in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Upgrades {
    pub(super) stage: Option<Stage>,
    /// Upgrades this master has had (images after the first).
    pub(super) done: u32,
    /// Upgrades asked of this image.
    pub(super) attempts: u32,
    /// Whether this image came from an upgrade whose new generation is not all ready yet.
    pub(super) resuming: bool,
    pub(super) adopted: std::collections::BTreeMap<WorkerId, Adopted>,
    /// The version on disk that began the upgrade under way, if a new version did.
    pub(super) new_version: Option<String>,
    /// A version on disk whose upgrade was refused: not acted on again by itself.
    pub(super) declined: Option<String>,
}

impl Supervisor {
    /// Take over from the image this one replaced; call before `Event::Start`. The adopted
    /// workers get ids from the core's own count, so the shell can hold a handle for each:
    /// returns `(id, pid)` for each.
    pub fn resume(&mut self, now: Instant, resumed: Resumed) -> Vec<(WorkerId, u32)> {
        if self.has_started() {
            return Vec::new();
        }
        self.reload_index = resumed.generation + 1;
        self.slot_count = resumed.slots.max(1);
        self.slots = (0..self.slot_count).map(|_| Default::default()).collect();
        self.paused = resumed.paused;
        self.upgrades.done = resumed.upgrades;
        self.upgrades.resuming = true;
        let kill_at = now + self.policy.kill_timeout;
        resumed
            .workers
            .into_iter()
            .map(|pid| {
                let id = self.next_id;
                self.next_id += 1;
                let adopted = Adopted {
                    pid,
                    kill_at,
                    killed: false,
                };
                self.upgrades.adopted.insert(id, adopted);
                (id, pid)
            })
            .collect()
    }

    /// Upgrades this master has had since its first image.
    pub fn upgrades(&self) -> u32 {
        self.upgrades.done
    }

    /// Upgrades asked of this image so far: the number of the latest.
    pub fn upgrade_attempts(&self) -> u32 {
        self.upgrades.attempts
    }

    /// Whether an upgrade of this image is under way.
    pub fn is_upgrading(&self) -> bool {
        self.upgrades.stage.is_some()
    }

    /// Whether this image came from an upgrade and its first generation is not all ready.
    pub fn is_resuming(&self) -> bool {
        self.upgrades.resuming
    }

    /// The old image's workers still alive, by pid.
    pub fn adopted(&self) -> impl Iterator<Item = &Adopted> {
        self.upgrades.adopted.values()
    }

    pub(super) fn request_upgrade(&mut self, now: Instant) {
        let refusal = if self.policy.unix_socket {
            Some(UpgradeRefusal::UnixSocketPort)
        } else if !self.life.is_accepting() {
            Some(UpgradeRefusal::NotRunning)
        } else if self.upgrades.stage.is_some() {
            Some(UpgradeRefusal::UnderWay)
        } else if self.upgrades.resuming || !self.upgrades.adopted.is_empty() {
            Some(UpgradeRefusal::LastNotOver)
        } else if self.life.reload().is_some() || self.life.is_queued() || self.is_scaling() {
            Some(UpgradeRefusal::Busy)
        } else {
            None
        };
        self.upgrades.attempts += 1;
        if let Some(reason) = refusal {
            return self.upgrade_refused(reason);
        }
        self.trace(
            None,
            Trace::UpgradeBegins {
                attempt: self.upgrades.attempts,
            },
        );
        self.request_reload(now);
        // Queued behind workers still retiring, the reload will be the next generation.
        let generation = self.awaited_reload().unwrap_or(self.reload_index);
        self.upgrades.stage = Some(Stage::Reload { generation });
    }

    /// master-process on disk is now `version` (a fork found it): the reload in progress,
    /// if any, is called off and an upgrade begins instead. Whether it began; when it
    /// cannot (starting, stopping, scaling, the last upgrade not over, a unix-socket
    /// `PORT`) the master stops as 4.x did.
    pub(super) fn upgrade_on_new_version(&mut self, now: Instant, version: &str) -> bool {
        let scaling = self.is_scaling();
        let busy = self.upgrades.resuming || !self.upgrades.adopted.is_empty();
        if !self.life.is_accepting() || scaling || busy || self.policy.unix_socket {
            return false;
        }
        let reason = FailReason::PackageChanged {
            version: version.to_string(),
        };
        self.reload_failed(now, reason);
        self.life.set_queued(false);
        self.request_upgrade(now);
        if self.is_upgrading() {
            self.upgrades.new_version = Some(version.to_string());
        }
        self.is_upgrading()
    }

    /// Whether a fork that finds `version` on disk goes ahead anyway: the check is not
    /// acted on during an upgrade (its forks run the new code on purpose), nor for a
    /// version whose upgrade was refused (the master serves on as it is).
    pub fn forks_despite(&self, version: &str) -> bool {
        self.is_upgrading() || self.upgrades.declined.as_deref() == Some(version)
    }

    /// The reload of generation `generation` is over: an upgrade that waited on it goes on
    /// to the check of the new image, or is refused.
    pub(super) fn upgrade_reload_over(&mut self, generation: u32, failed: Option<&FailReason>) {
        if self.upgrades.stage != Some(Stage::Reload { generation }) {
            return;
        }
        match failed {
            None => {
                self.upgrades.stage = Some(Stage::Check);
                self.node(NodeCommand::CheckUpgrade);
            }
            Some(reason) => self.upgrade_refused(UpgradeRefusal::AppFailed(reason.clone())),
        }
    }

    /// The shell's answer to `CheckUpgrade`: `None` when the new image can start.
    pub(super) fn on_upgrade_checked(&mut self, error: Option<String>) {
        if self.upgrades.stage != Some(Stage::Check) {
            return;
        }
        if let Some(error) = error {
            return self.upgrade_refused(UpgradeRefusal::ImageFailed(error));
        }
        self.upgrades.stage = Some(Stage::Exec);
        self.trace(None, Trace::UpgradeReplacing);
        self.tell_service(ServiceState::Reloading);
        self.node(NodeCommand::Exec);
    }

    /// Replacing the image failed after the sockets were handed over: the master can no
    /// longer serve them, so it stops, as 4.x did when master-process changed on disk.
    pub(super) fn on_exec_failed(&mut self, now: Instant, error: String) {
        if self.upgrades.stage != Some(Stage::Exec) {
            return;
        }
        self.upgrades.stage = None;
        self.trace(None, Trace::UpgradeFailed { error });
        self.request_stop(
            now,
            super::EXIT_PACKAGE_CHANGED,
            super::StopReason::UpgradeFailed,
        );
    }

    /// A stop ends an upgrade that has not replaced the image yet.
    pub(super) fn upgrade_stopped(&mut self) {
        if matches!(
            self.upgrades.stage,
            Some(Stage::Reload { .. } | Stage::Check)
        ) {
            self.upgrade_refused(UpgradeRefusal::Stopping);
        }
    }

    fn upgrade_refused(&mut self, reason: UpgradeRefusal) {
        self.upgrades.stage = None;
        if let Some(version) = self.upgrades.new_version.take() {
            self.upgrades.declined = Some(version);
        }
        let attempt = self.upgrades.attempts;
        self.trace(
            None,
            Trace::UpgradeRefused {
                attempt,
                reason: reason.clone(),
            },
        );
        self.node(NodeCommand::Notify(Notice::UpgradeRefused {
            attempt,
            reason,
        }));
    }

    /// The first generation of a resumed image is ready: the upgrade is over.
    pub(super) fn upgrade_resumed(&mut self) {
        if !self.upgrades.resuming {
            return;
        }
        self.upgrades.resuming = false;
        let upgrades = self.upgrades.done;
        self.trace(None, Trace::Upgraded { upgrades });
        self.node(NodeCommand::Notify(Notice::Upgraded { upgrades }));
    }

    /// An old image's worker ended (the shell reaped it).
    pub(super) fn on_adopted_exited(&mut self, id: WorkerId) {
        if let Some(adopted) = self.upgrades.adopted.remove(&id) {
            self.trace(None, Trace::AdoptedExited { pid: adopted.pid });
            self.out.push(Command::Release { id });
        }
    }

    /// Old image's workers past the kill deadline get SIGKILL, once.
    pub(super) fn adopted_deadlines(&mut self, now: Instant) {
        let due: Vec<(WorkerId, u32)> = self
            .upgrades
            .adopted
            .iter()
            .filter(|(_, a)| !a.killed && a.kill_at <= now)
            .map(|(&id, a)| (id, a.pid))
            .collect();
        for (id, pid) in due {
            if let Some(adopted) = self.upgrades.adopted.get_mut(&id) {
                adopted.killed = true;
            }
            self.out.push(Command::Signal {
                id,
                pid,
                signal: WorkerSignal::Kill,
            });
        }
    }

    /// The next kill deadline of an old image's worker.
    pub(super) fn adopted_deadline(&self) -> Option<Instant> {
        self.upgrades
            .adopted
            .values()
            .filter(|a| !a.killed)
            .map(|a| a.kill_at)
            .min()
    }

    /// Whether a stop must still wait for the old image's workers.
    pub(super) fn has_adopted(&self) -> bool {
        !self.upgrades.adopted.is_empty()
    }
}
