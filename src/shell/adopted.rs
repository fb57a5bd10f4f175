//! Reaping the workers of the image an upgrade replaced. They stay children of the master
//! (same pid), but Node's new image did not spawn them, so libuv never waits for them:
//! without this they would end as zombies. One thread per worker blocks in `waitpid` for
//! that pid alone (libuv waits only for the pids it spawned, so neither takes the other's).

use std::sync::mpsc::Sender;

use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::Input;
use crate::core::{Event, WorkerId};

/// Wait for `pid` (core id `id`) on a thread of its own, then tell the driver.
pub fn reap(id: WorkerId, pid: u32, tx: Sender<Input>) {
    let spawned = std::thread::Builder::new()
        .name(format!("master-process reaper {pid}"))
        .spawn(move || {
            // Until it ended (or was already reaped: ECHILD); either way it is gone.
            while let Err(Errno::EINTR) = waitpid(Pid::from_raw(pid as i32), None) {}
            let _ = tx.send(Input::Event(Event::AdoptedExited { id }));
        });
    if spawned.is_err() {
        tracing::error!(
            pid,
            "cannot start a thread to reap worker {pid} of the replaced image"
        );
    }
}
