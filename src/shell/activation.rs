//! Socket activation: listening sockets a service manager (systemd, or any launcher doing
//! the same) passed to the master as `LISTEN_FDS` descriptors from fd 3 on, for the master
//! only (`LISTEN_PID`). The master keeps them open (close-on-exec, so no other child gets
//! them by accident) and hands them to each worker explicitly; a worker's listen on the
//! same address is served from the inherited socket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{
    getsockname, getsockopt, sockopt, AddressFamily, SockaddrLike, SockaddrStorage,
};

use crate::config::ConfigError;

/// The first descriptor a service manager passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// What an inherited socket listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp {
        ip: IpAddr,
        port: u16,
    },
    Unix {
        path: PathBuf,
    },
    /// Another kind (an abstract unix socket, a datagram socket, ...): kept, never mapped.
    Other,
}

/// One inherited listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherited {
    pub fd: RawFd,
    /// Its name in `LISTEN_FDNAMES`, if any.
    pub name: Option<String>,
    pub address: Address,
}

/// The variables of socket activation, meant for the master alone.
pub const ACTIVATION_VARS: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

fn bad(name: &str, value: &str, accepted: &str) -> ConfigError {
    ConfigError {
        name: name.to_string(),
        value: value.to_string(),
        accepted: accepted.to_string(),
    }
}

/// The sockets passed to process `pid`: none without `LISTEN_PID`, or when it names
/// another process (the variables were meant for a parent or a sibling).
pub fn inherited(env: &HashMap<String, String>, pid: u32) -> Result<Vec<Inherited>, ConfigError> {
    let Some(listen_pid) = env.get("LISTEN_PID").filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    if listen_pid.trim() != pid.to_string() {
        return Ok(Vec::new());
    }
    let raw = env.get("LISTEN_FDS").map(String::as_str).unwrap_or("");
    let count: RawFd = raw
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=1024).contains(n))
        .ok_or_else(|| {
            bad(
                "LISTEN_FDS",
                raw,
                "a number of descriptors from 0 to 1024, passed from fd 3 on",
            )
        })?;
    // 0 is what sd_listen_fds(3) reads as "no sockets passed": the master binds PORT itself.
    let names: Vec<&str> = env
        .get("LISTEN_FDNAMES")
        .map_or_else(Vec::new, |n| n.split(':').collect());
    (0..count)
        .map(|i| {
            let fd = FIRST_FD + i;
            let name = names.get(i as usize).map(|n| n.to_string());
            take(fd).map(|address| Inherited { fd, name, address })
        })
        .collect()
}

/// The listening sockets an upgraded master's previous image kept open for it (`fd`, and
/// the name it had in `LISTEN_FDNAMES`): served as inherited sockets from now on.
pub fn kept(sockets: &[(RawFd, Option<String>)]) -> Result<Vec<Inherited>, ConfigError> {
    sockets
        .iter()
        .map(|(fd, name)| {
            let address = check(
                *fd,
                "MASTER_PROCESS_UPGRADE",
                "the listening sockets it names",
            )?;
            Ok(Inherited {
                fd: *fd,
                name: name.clone(),
                address,
            })
        })
        .collect()
}

/// Check `fd` is a listening socket, make it close-on-exec, and read its address.
fn take(fd: RawFd) -> Result<Address, ConfigError> {
    check(fd, "LISTEN_FDS", "listening sockets from fd 3 on")
}

/// `take`, with errors naming `variable` and what it must hold.
fn check(fd: RawFd, variable: &str, accepted: &str) -> Result<Address, ConfigError> {
    let not_listening = |why: String| {
        bad(
            variable,
            &format!("fd {fd}"),
            &format!("{accepted} ({why})"),
        )
    };
    // SAFETY: the service manager passed `fd` to this process; it stays open (we never close it).
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    match getsockopt(&borrowed, sockopt::AcceptConn) {
        Ok(true) => {}
        Ok(false) => return Err(not_listening("it is not listening".into())),
        Err(e) => return Err(not_listening(format!("it is not a socket: {e}"))),
    }
    fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|e| not_listening(format!("cannot set close-on-exec: {e}")))?;
    let addr: SockaddrStorage =
        getsockname(fd).map_err(|e| not_listening(format!("no address: {e}")))?;
    Ok(address_of(&addr))
}

fn address_of(addr: &SockaddrStorage) -> Address {
    match addr.family() {
        Some(AddressFamily::Inet) => {
            addr.as_sockaddr_in()
                .map_or(Address::Other, |a| Address::Tcp {
                    ip: IpAddr::V4(a.ip()),
                    port: a.port(),
                })
        }
        Some(AddressFamily::Inet6) => {
            addr.as_sockaddr_in6()
                .map_or(Address::Other, |a| Address::Tcp {
                    ip: IpAddr::V6(a.ip()),
                    port: a.port(),
                })
        }
        Some(AddressFamily::Unix) => {
            addr.as_unix_addr()
                .and_then(|u| u.path())
                .map_or(Address::Other, |p| Address::Unix {
                    path: p.to_path_buf(),
                })
        }
        _ => Address::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nothing_is_inherited_without_listen_pid_or_for_another_pid() {
        assert_eq!(inherited(&env(&[("LISTEN_FDS", "1")]), 42).unwrap(), []);
        let other = env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "1")]);
        assert_eq!(inherited(&other, 42).unwrap(), []);
    }

    #[test]
    fn a_bad_listen_fds_names_the_variable_and_the_accepted_forms() {
        let e = inherited(&env(&[("LISTEN_PID", "42"), ("LISTEN_FDS", "two")]), 42).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid LISTEN_FDS="two": expected a number of descriptors from 0 to 1024, passed from fd 3 on"#
        );
    }

    #[test]
    fn listen_fds_0_means_no_sockets_passed_as_sd_listen_fds_reads_it() {
        let none = env(&[("LISTEN_PID", "42"), ("LISTEN_FDS", "0")]);
        assert_eq!(inherited(&none, 42).unwrap(), []);
        let e = inherited(&env(&[("LISTEN_PID", "42"), ("LISTEN_FDS", "-1")]), 42).unwrap_err();
        assert!(
            e.to_string().starts_with(r#"invalid LISTEN_FDS="-1""#),
            "{e}"
        );
    }
}
