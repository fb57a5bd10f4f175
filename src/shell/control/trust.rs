//! Whether a control socket is a master's: what a client checks before it believes what a
//! socket answers. The folder (in the default places) is a real directory of this user that
//! nobody else may enter, the socket file is this user's, and the process listening on it is
//! this user's (or root's) and, for a `<pid>.sock`, has that pid. Anything else is refused,
//! never followed, with a message naming the path, its owner and mode.

use std::fs::{self, Metadata};
use std::io::{self, ErrorKind};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};

/// Why a path is not to be believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused {}: {problem}", path.display())]
pub struct Refusal {
    /// The folder or socket refused.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

fn refusal(path: &Path, problem: String) -> Refusal {
    Refusal {
        path: path.to_path_buf(),
        problem,
    }
}

/// What a path is, for a message: `a directory owned by uid 0 with mode 0755`.
pub fn describe(meta: &Metadata) -> String {
    let file_type = meta.file_type();
    let kind = if file_type.is_symlink() {
        "a symlink"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_file() {
        "a file"
    } else {
        "a special file"
    };
    format!(
        "{kind} owned by uid {} with mode {:04o}",
        meta.uid(),
        meta.mode() & 0o7777
    )
}

/// Whether `dir` (its `lstat`) may hold sockets of `me`'s masters: a directory, not a
/// symlink, owned by `me`, that group and others cannot enter.
pub fn check_dir(dir: &Path, meta: &Metadata, me: u32) -> Result<(), Refusal> {
    let what = describe(meta);
    if meta.file_type().is_symlink() {
        return Err(refusal(dir, format!("{what}: never followed")));
    }
    if !meta.is_dir() {
        return Err(refusal(dir, format!("{what}, not a directory")));
    }
    if meta.uid() != me {
        return Err(refusal(dir, format!("{what}, not a directory of uid {me}")));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refusal(
            dir,
            format!("{what}: group or others may enter it (a master's folder is 0700)"),
        ));
    }
    Ok(())
}

/// Whether the file at `path` (its `lstat`) may be `me`'s master's socket: a socket, not a
/// symlink, owned by `me`.
pub fn check_socket_file(path: &Path, meta: &Metadata, me: u32) -> Result<(), Refusal> {
    let what = describe(meta);
    if meta.file_type().is_symlink() {
        return Err(refusal(path, format!("{what}: never followed")));
    }
    if !meta.file_type().is_socket() {
        return Err(refusal(path, format!("{what}, not a socket")));
    }
    if meta.uid() != me {
        return Err(refusal(path, format!("{what}, not by uid {me}")));
    }
    Ok(())
}

/// Who listens at the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    pub uid: u32,
    /// `None` where the system does not say.
    pub pid: Option<u32>,
}

/// Whether the process listening at `path`, `peer`, may be `me`'s master: `me` or root, and
/// the process `pid` when the file is named after one.
pub fn check_peer(
    path: &Path,
    peer: PeerCredentials,
    me: u32,
    pid: Option<u32>,
) -> Result<(), Refusal> {
    let shown = peer.pid.map_or("unknown".to_string(), |p| p.to_string());
    if peer.uid != me && peer.uid != 0 {
        let wanted = if me == 0 {
            "uid 0".to_string()
        } else {
            format!("uid {me} or root")
        };
        return Err(refusal(
            path,
            format!(
                "the process listening there is uid {} (pid {shown}), not {wanted}",
                peer.uid
            ),
        ));
    }
    match pid {
        Some(pid) if peer.pid != Some(pid) => Err(refusal(
            path,
            format!("the process listening there is pid {shown}, not {pid} as its name says"),
        )),
        _ => Ok(()),
    }
}

/// The credentials of the peer of `stream` (`SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_credentials(stream: &UnixStream) -> io::Result<PeerCredentials> {
    let creds = socket::getsockopt(stream, sockopt::PeerCredentials)?;
    Ok(PeerCredentials {
        uid: creds.uid(),
        pid: u32::try_from(creds.pid()).ok().filter(|&p| p > 0),
    })
}

/// The credentials of the peer of `stream` (`getpeereid`, and `LOCAL_PEERPID` on macOS).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn peer_credentials(stream: &UnixStream) -> io::Result<PeerCredentials> {
    use std::os::fd::AsRawFd;
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: a valid socket fd and two out-parameters we own.
    if unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        uid,
        pid: peer_pid(stream),
    })
}

#[cfg(target_vendor = "apple")]
fn peer_pid(stream: &UnixStream) -> Option<u32> {
    let pid = socket::getsockopt(stream, sockopt::LocalPeerPid).ok()?;
    u32::try_from(pid).ok().filter(|&p| p > 0)
}

/// Unknown here: a `<pid>.sock` is then refused, a named `--socket` still works.
#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn peer_pid(_stream: &UnixStream) -> Option<u32> {
    None
}

/// Connect to the unix socket at `path`, waiting at most `timeout` for room in a full
/// backlog (a plain connect would wait for as long as the listener never accepts).
pub fn connect_within(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )?;
    nix::fcntl::fcntl(
        fd.as_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    let micros = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
    let limit = nix::sys::time::TimeVal::new((micros / 1_000_000) as _, (micros % 1_000_000) as _);
    socket::setsockopt(&fd, sockopt::SendTimeout, &limit)?;
    let address = UnixAddr::new(path)?;
    use std::os::fd::AsRawFd;
    match socket::connect(fd.as_raw_fd(), &address) {
        Ok(()) => Ok(UnixStream::from(fd)),
        Err(Errno::EAGAIN | Errno::EINPROGRESS) => Err(io::Error::new(
            ErrorKind::TimedOut,
            format!("its backlog stayed full for {timeout:?}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Why a client does not talk to a socket.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// It is not to be believed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Nothing answers there (no file, nobody listening, no room).
    #[error("cannot reach the master at {}: {reason}", path.display())]
    Unreachable { path: PathBuf, reason: String },
}

fn unreachable(path: &Path, e: &io::Error) -> ConnectError {
    let reason = match e.raw_os_error() {
        Some(code) => format!("{:?}", Errno::from_raw(code)),
        None => e.to_string(),
    };
    ConnectError::Unreachable {
        path: path.to_path_buf(),
        reason,
    }
}

/// A connection to `me`'s master at `path`, once the socket file and the peer pass the
/// checks (`pid`: the pid the peer must have, for a `<pid>.sock`).
pub fn connect_checked(
    path: &Path,
    pid: Option<u32>,
    me: u32,
    timeout: Duration,
) -> Result<(UnixStream, PeerCredentials), ConnectError> {
    let meta = fs::symlink_metadata(path).map_err(|e| unreachable(path, &e))?;
    check_socket_file(path, &meta, me)?;
    let stream = connect_within(path, timeout).map_err(|e| unreachable(path, &e))?;
    let peer = peer_credentials(&stream).map_err(|e| {
        refusal(
            path,
            format!("the credentials of the process listening there cannot be read ({e})"),
        )
    })?;
    check_peer(path, peer, me, pid)?;
    Ok((stream, peer))
}

/// What a client finds in the folders it searches.
#[derive(Debug, Default)]
pub struct Found {
    /// Every folder searched, in order.
    pub dirs: Vec<PathBuf>,
    /// Each `<pid>.sock` in a folder that passes the checks, with its pid.
    pub sockets: Vec<(PathBuf, u32)>,
    /// The folders that exist and do not pass.
    pub refused: Vec<Refusal>,
}

/// Look through `dirs` for `me`'s masters' sockets: a folder that is missing is skipped, one
/// that fails the checks is refused and not read.
pub fn search(dirs: Vec<PathBuf>, me: u32) -> Found {
    let mut found = Found::default();
    for dir in &dirs {
        let meta = match fs::symlink_metadata(dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                let problem = format!("cannot be inspected ({e})");
                found.refused.push(refusal(dir, problem));
                continue;
            }
        };
        if let Err(refused) = check_dir(dir, &meta, me) {
            found.refused.push(refused);
            continue;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut sockets: Vec<(PathBuf, u32)> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let pid = socket_pid(&entry.file_name().to_string_lossy())?;
                Some((entry.path(), pid))
            })
            .collect();
        sockets.sort();
        found.sockets.extend(sockets);
    }
    found.dirs = dirs;
    found
}

/// The pid a control socket's file name says (`4242.sock`).
pub fn socket_pid(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".sock")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&pid| pid > 0)
}
