//! The launcher watch. `npm start` and `npx` (yarn and pnpm too) run the app through
//! `sh -c`, and when they are told to stop they signal only that shell (or nothing, for
//! `SIGHUP`) and exit: the master would go on, orphaned, with every worker serving. A
//! master they started (they set `npm_lifecycle_event`) watches its parent and the
//! launcher above a `sh -c`, and stops as on `SIGTERM` once either is gone.
//!
//! It polls (`getppid` and signal 0, every `EVERY`) rather than waiting on a pidfd or a
//! kqueue: the same few lines on Linux and macOS, for two syscalls five times a second.

use std::sync::mpsc::Sender;
use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::log::with_master_log;
use super::Input;
use crate::core::Event;

/// How often the watch looks.
const EVERY: Duration = Duration::from_millis(200);

/// The variable package managers set for the scripts they run.
const LAUNCHED_BY: &str = "npm_lifecycle_event";

/// Shells a package manager runs the script in: the launcher is the process above one.
const SHELLS: [&str; 6] = ["sh", "dash", "bash", "zsh", "ash", "busybox"];

/// The processes a master started by a package manager watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    /// The master's parent when it started (a `sh -c`, or the launcher itself).
    pub parent: u32,
    /// The package manager's process (the parent when no shell sits between).
    pub launcher: u32,
}

/// What to watch, or `None` when no package manager started this master (or its parent
/// is already init, so there is nothing to outlive).
pub fn watched() -> Option<Watched> {
    std::env::var_os(LAUNCHED_BY)?;
    let parent = nix::unistd::getppid().as_raw() as u32;
    if parent <= 1 {
        return None;
    }
    let (name, grandparent) = describe(parent)?;
    Some(pick(parent, &name, grandparent))
}

/// The launcher is the parent, or the parent's parent when the parent is a shell.
pub fn pick(parent: u32, parent_name: &str, grandparent: Option<u32>) -> Watched {
    let launcher = match grandparent {
        Some(gp) if gp > 1 && SHELLS.contains(&parent_name) => gp,
        _ => parent,
    };
    Watched { parent, launcher }
}

/// A process's name and parent pid.
fn describe(pid: u32) -> Option<(String, Option<u32>)> {
    let mut system = System::new().ok()?;
    let pids = [Pid::from_u32(pid)];
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&pids),
        true,
        ProcessRefreshKind::nothing(),
    );
    let process = system.process(pids[0])?;
    let name = process.name().to_string_lossy().into_owned();
    Some((name, process.parent().map(|p| p.as_u32())))
}

/// Watch on a thread of its own; the driver gets `Event::LauncherExited` once.
pub fn watch(watched: Watched, tx: Sender<Input>) {
    let spawned = std::thread::Builder::new()
        .name("master-process launcher watch".into())
        .spawn(move || with_master_log(|| watch_until_gone(watched, tx)));
    if spawned.is_err() {
        tracing::error!("cannot start the launcher watch: the master will outlive npm");
    }
}

fn watch_until_gone(watched: Watched, tx: Sender<Input>) {
    let Watched { parent, launcher } = watched;
    tracing::debug!("started by a package manager: stopping when its launcher (pid {launcher}) or parent (pid {parent}) exits");
    while still_there(watched) {
        std::thread::sleep(EVERY);
    }
    let _ = tx.send(Input::Event(Event::LauncherExited { pid: launcher }));
}

/// The parent is still ours (not reparented) and the launcher is alive.
fn still_there(watched: Watched) -> bool {
    let parent = nix::unistd::getppid().as_raw() as u32;
    let launcher = nix::unistd::Pid::from_raw(watched.launcher as i32);
    let alive = !matches!(
        nix::sys::signal::kill(launcher, None),
        Err(nix::errno::Errno::ESRCH)
    );
    parent == watched.parent && alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn above_a_shell_the_launcher_is_the_grandparent() {
        assert_eq!(
            pick(20, "sh", Some(10)),
            Watched {
                parent: 20,
                launcher: 10
            }
        );
    }

    #[test]
    fn a_parent_that_is_not_a_shell_is_the_launcher() {
        assert_eq!(
            pick(20, "node", Some(10)),
            Watched {
                parent: 20,
                launcher: 20
            }
        );
    }

    #[test]
    fn a_shell_whose_parent_is_init_is_the_launcher() {
        assert_eq!(pick(20, "sh", Some(1)).launcher, 20);
        assert_eq!(pick(20, "sh", None).launcher, 20);
    }

    #[test]
    fn this_process_parent_is_described() {
        let parent = nix::unistd::getppid().as_raw() as u32;
        let (name, _) = describe(parent).expect("the test runner's parent exists");
        assert!(!name.is_empty());
    }
}
