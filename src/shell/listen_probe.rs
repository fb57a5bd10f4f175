//! Whether a process listens on a unix socket path, asked without ever waiting. A plain
//! connect to a listener whose backlog is full waits until it accepts, which may be never
//! (a stuck process); `init()` and the exit would hang behind it. A non-blocking connect
//! answers at once: connected or `EAGAIN` (full backlog) both mean someone listens.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

/// What a connect to the path found.
#[derive(Debug)]
pub enum Listener {
    /// A process listens there (it took the connection, or its backlog is full).
    Listening,
    /// The socket exists and nobody listens (`ECONNREFUSED`): a stale socket.
    Refused,
    /// Something else: no such file, not a socket, no permission.
    Unknown(io::Error),
}

/// Connect to `path` without waiting, and close the connection at once.
pub fn probe(path: &Path) -> Listener {
    let fd = match nonblocking_socket() {
        Ok(fd) => fd,
        Err(e) => return Listener::Unknown(e.into()),
    };
    let address = match UnixAddr::new(path) {
        Ok(address) => address,
        Err(e) => return Listener::Unknown(e.into()),
    };
    match socket::connect(fd.as_raw_fd(), &address) {
        Ok(()) | Err(Errno::EAGAIN | Errno::EINPROGRESS) => Listener::Listening,
        Err(Errno::ECONNREFUSED) => Listener::Refused,
        Err(e) => Listener::Unknown(e.into()),
    }
}

/// A unix stream socket, non-blocking and close-on-exec.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn nonblocking_socket() -> nix::Result<OwnedFd> {
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    socket::socket(AddressFamily::Unix, SockType::Stream, flags, None)
}

/// A unix stream socket, non-blocking and close-on-exec (macOS has no such socket flags).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn nonblocking_socket() -> nix::Result<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )?;
    fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok(fd)
}

/// A listener with a backlog of one that never accepts, filled until a connect would wait
/// (for tests): the address and the descriptors that hold it so. Linux only: there a
/// non-blocking connect to a full backlog fails with `EAGAIN`; macOS answers otherwise.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn full_backlog(path: &Path) -> (socket::UnixAddr, Vec<std::os::fd::OwnedFd>) {
    let listener = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    let address = UnixAddr::new(path).unwrap();
    socket::bind(listener.as_raw_fd(), &address).unwrap();
    socket::listen(&listener, socket::Backlog::new(1).unwrap()).unwrap();
    let mut held = vec![listener];
    loop {
        let flags = SockFlag::SOCK_NONBLOCK;
        let client = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None).unwrap();
        match socket::connect(client.as_raw_fd(), &address) {
            Ok(()) => held.push(client),
            Err(Errno::EAGAIN) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(held.len() < 100, "the backlog never filled");
    }
    (address, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mp-probe-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn tells_a_listener_a_stale_socket_and_no_socket_apart() {
        let dir = dir("kinds");
        let path = dir.join("a.sock");
        assert!(matches!(probe(&path), Listener::Unknown(_)));
        let listener = UnixListener::bind(&path).unwrap();
        assert!(matches!(probe(&path), Listener::Listening));
        drop(listener);
        assert!(matches!(probe(&path), Listener::Refused));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_listener_whose_backlog_is_full_is_listening_and_answers_at_once() {
        let dir = dir("full");
        let path = dir.join("a.sock");
        let _held = full_backlog(&path);
        assert!(matches!(probe(&path), Listener::Listening));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
