//! Handles on worker processes, keyed by the core's worker id (never reused, unlike a pid),
//! so that a signal can never reach another process that reused a worker's pid (between
//! Node reaping a worker and the core hearing of its exit), and a reused pid can never
//! close or use another worker's handle.
//! On Linux a pidfd per worker; elsewhere, and on kernels without pidfds, plain kill(2).

use std::collections::HashMap;
use std::sync::Mutex;

use nix::sys::signal::Signal;

use crate::core::WorkerId;

/// A worker's pidfd on Linux (none where the kernel has no pidfds); none elsewhere:
/// signals then go by pid.
type Handle = Option<std::os::fd::OwnedFd>;

/// A pidfd for `pid` on Linux; elsewhere none.
#[cfg(target_os = "linux")]
fn take_handle(pid: u32) -> Handle {
    pidfd_open(pid)
}

#[cfg(not(target_os = "linux"))]
fn take_handle(_pid: u32) -> Handle {
    None
}

/// The handles of live workers, by worker id.
#[derive(Default)]
pub struct ProcessHandles {
    handles: Mutex<HashMap<WorkerId, Handle>>,
}

impl ProcessHandles {
    /// Take a handle on a just-forked child. Call it on Node's main thread, which is the one
    /// that reaps children: the pid cannot have been reused before this returns.
    pub fn open(&self, id: WorkerId, pid: u32) {
        if let Ok(mut handles) = self.handles.lock() {
            handles.insert(id, take_handle(pid));
        }
    }

    /// The worker exited: its handle goes.
    pub fn forget(&self, id: WorkerId) {
        if let Ok(mut handles) = self.handles.lock() {
            handles.remove(&id);
        }
    }

    /// How many handles are open (a worker's stays open until its exit is reported).
    pub fn len(&self) -> usize {
        self.handles.lock().map_or(0, |h| h.len())
    }

    /// Whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Signal worker `id` through its pidfd if it has one, else by `pid`. A worker with no
    /// handle has exited (or was never forked): its pid may belong to anyone now, so it is
    /// not signalled (`ESRCH`).
    pub fn signal(&self, id: WorkerId, pid: u32, signal: Signal) -> nix::Result<()> {
        let handles = self
            .handles
            .lock()
            .map_err(|_| nix::errno::Errno::EDEADLK)?;
        let Some(handle) = handles.get(&id) else {
            return Err(nix::errno::Errno::ESRCH);
        };
        #[cfg(target_os = "linux")]
        if let Some(fd) = handle {
            return pidfd_send_signal(fd, signal);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = handle;
        let raw = i32::try_from(pid).map_err(|_| nix::errno::Errno::ESRCH)?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal)
    }

    /// Whether worker `id`'s process has ended (exited and perhaps not reaped yet), through
    /// its pidfd where there is one, else by asking the kernel about child `pid` without
    /// reaping it.
    pub fn has_exited(&self, id: WorkerId, pid: u32) -> bool {
        #[cfg(not(target_os = "linux"))]
        let _ = id;
        #[cfg(target_os = "linux")]
        if let Ok(handles) = self.handles.lock() {
            if let Some(Some(fd)) = handles.get(&id) {
                return pidfd_has_exited(fd);
            }
        }
        child_has_exited(pid)
    }
}

/// `waitid(WNOHANG | WNOWAIT)`: a zombie or an already reaped child (ECHILD) has exited.
fn child_has_exited(pid: u32) -> bool {
    // SAFETY: waitid writes only into the zeroed siginfo we own; WNOWAIT leaves the child
    // for Node to reap.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc != 0 || info.si_pid() != 0
    }
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd (or -1); we own it.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: fd is a fresh descriptor returned by the kernel to us alone.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// A pidfd polls readable once its process has exited.
#[cfg(target_os = "linux")]
fn pidfd_has_exited(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let rc = unsafe { libc::poll(&mut poll, 1, 0) };
    rc > 0 && poll.revents & libc::POLLIN != 0
}

#[cfg(target_os = "linux")]
fn pidfd_send_signal(fd: &std::os::fd::OwnedFd, signal: Signal) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid pidfd, a valid signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    #[test]
    fn signals_a_child_through_its_handle_and_not_after_it_is_gone() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let handles = ProcessHandles::default();
        handles.open(7, child.id());
        handles.signal(7, child.id(), Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // Reaped: through the pidfd the kernel says the process is gone (ESRCH), whatever
        // process may hold that pid number now.
        #[cfg(target_os = "linux")]
        assert_eq!(
            handles.signal(7, child.id(), Signal::SIGTERM),
            Err(nix::errno::Errno::ESRCH)
        );
        handles.forget(7);
        assert!(handles.is_empty());
    }

    #[test]
    fn a_worker_without_a_handle_is_never_signalled_by_pid() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let handles = ProcessHandles::default();
        // Worker 9 exited and was forgotten; its pid number now belongs to this process.
        assert_eq!(
            handles.signal(9, child.id(), Signal::SIGKILL),
            Err(nix::errno::Errno::ESRCH)
        );
        assert_eq!(
            child.try_wait().unwrap(),
            None,
            "the bystander was signalled"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_reused_pid_does_not_close_another_workers_handle() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let handles = ProcessHandles::default();
        handles.open(1, child.id());
        // Worker 2 was given the same pid number (reused) and exits: only its handle goes.
        handles.open(2, child.id());
        handles.forget(2);
        assert_eq!(handles.len(), 1);
        handles.signal(1, child.id(), Signal::SIGKILL).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn tells_a_live_child_from_an_exited_one_before_and_after_it_is_reaped() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let handles = ProcessHandles::default();
        handles.open(3, child.id());
        assert!(!handles.has_exited(3, child.id()));
        assert!(!child_has_exited(child.id()));
        handles.signal(3, child.id(), Signal::SIGKILL).unwrap();
        // Wait for the zombie without reaping it, then ask both ways.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        assert_eq!(rc, 0);
        assert!(
            handles.has_exited(3, child.id()),
            "zombie, through the handle"
        );
        assert!(child_has_exited(child.id()), "zombie, by pid");
        child.wait().unwrap();
        assert!(
            handles.has_exited(3, child.id()),
            "reaped, through the handle"
        );
        assert!(child_has_exited(child.id()), "reaped, by pid");
    }
}
