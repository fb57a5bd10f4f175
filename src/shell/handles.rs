//! Handles on worker processes, so that a signal can never reach another process that
//! reused a worker's pid (between Node reaping a worker and the core hearing of its exit).
//! On Linux a pidfd per worker; elsewhere, and on kernels without pidfds, plain kill(2).

use std::collections::HashMap;
use std::sync::Mutex;

use nix::sys::signal::Signal;

/// The pidfds of live workers, by pid.
#[derive(Default)]
pub struct ProcessHandles {
    #[cfg(target_os = "linux")]
    fds: Mutex<HashMap<u32, std::os::fd::OwnedFd>>,
    #[cfg(not(target_os = "linux"))]
    fds: Mutex<HashMap<u32, ()>>,
}

impl ProcessHandles {
    /// Take a handle on a just-forked child. Call it on Node's main thread, which is the one
    /// that reaps children: the pid cannot have been reused before this returns.
    pub fn open(&self, pid: u32) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = pidfd_open(pid) {
            if let Ok(mut fds) = self.fds.lock() {
                fds.insert(pid, fd);
            }
        }
    }

    /// The worker exited: its handle goes.
    pub fn forget(&self, pid: u32) {
        if let Ok(mut fds) = self.fds.lock() {
            fds.remove(&pid);
        }
    }

    /// Signal the worker through its handle if it has one, else by pid.
    pub fn signal(&self, pid: u32, signal: Signal) -> nix::Result<()> {
        #[cfg(target_os = "linux")]
        if let Ok(fds) = self.fds.lock() {
            if let Some(fd) = fds.get(&pid) {
                return pidfd_send_signal(fd, signal);
            }
        }
        let raw = i32::try_from(pid).map_err(|_| nix::errno::Errno::ESRCH)?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal)
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
    use std::process::Command;

    #[test]
    fn signals_a_child_through_its_handle_and_not_after_it_is_gone() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let handles = ProcessHandles::default();
        handles.open(child.id());
        handles.signal(child.id(), Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // Reaped: through the pidfd the kernel says the process is gone (ESRCH), whatever
        // process may hold that pid number now.
        #[cfg(target_os = "linux")]
        assert_eq!(
            handles.signal(child.id(), Signal::SIGTERM),
            Err(nix::errno::Errno::ESRCH)
        );
        handles.forget(child.id());
    }
}
