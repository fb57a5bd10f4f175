//! The unix socket in `PORT`: remove a stale one at start, chmod 664 when bound, remove on
//! exit. Never deletes anything but a socket nobody listens on or an empty regular file.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
#[cfg(any(target_os = "linux", test))]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::listen_probe::{probe, Listener};

/// Why the `PORT` path cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("PORT={path:?} {problem}; master-process never deletes it, so it will not start")]
pub struct SocketError {
    pub path: PathBuf,
    pub problem: String,
}

fn refuse(path: &Path, problem: impl Into<String>) -> SocketError {
    SocketError {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Clear the way for the first worker to bind `path`. Returns what was removed, if anything.
pub fn prepare(path: &Path) -> Result<Option<&'static str>, SocketError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse(path, format!("cannot be inspected ({e})"))),
    };
    let kind = meta.file_type();
    let what = if kind.is_socket() {
        match probe(path) {
            Listener::Listening => {
                return Err(refuse(path, "is a socket another process is listening on"))
            }
            Listener::Refused => {}
            Listener::Unknown(e) => {
                return Err(refuse(
                    path,
                    format!("is a socket that may be in use ({e})"),
                ))
            }
        }
        "stale socket"
    } else if kind.is_file() && meta.len() == 0 {
        "empty file"
    } else if kind.is_file() {
        return Err(refuse(path, "is a non-empty regular file"));
    } else if kind.is_dir() {
        return Err(refuse(path, "is a directory"));
    } else if kind.is_symlink() {
        return Err(refuse(path, "is a symbolic link"));
    } else {
        return Err(refuse(path, "is neither a socket nor an empty file"));
    };
    fs::remove_file(path).map_err(|e| refuse(path, format!("could not be removed ({e})")))?;
    Ok(Some(what))
}

/// Make the bound socket group-writable (`664`), as 4.x did. False if it is not a socket.
///
/// On Linux the path is opened once without following a symlink (`O_PATH | O_NOFOLLOW`),
/// checked through that descriptor and changed through it, so a symlink or file swapped in
/// between the check and the change is never touched.
#[cfg(target_os = "linux")]
pub fn chmod(path: &Path) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let file = match open_path(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.file_type().is_socket() {
        return Ok(false);
    }
    // An O_PATH descriptor cannot be fchmod()ed; its /proc link names exactly its inode.
    let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    fs::set_permissions(by_fd, fs::Permissions::from_mode(0o664))?;
    Ok(true)
}

/// `open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)`, by the syscall itself. Not through std's
/// `OpenOptions::custom_flags`: std masks the access mode (`O_ACCMODE`) out of custom flags,
/// and musl's `O_ACCMODE` includes `O_PATH`, so there the open ran without it and a socket
/// answered `ENXIO`.
#[cfg(target_os = "linux")]
fn open_path(path: &Path) -> std::io::Result<fs::File> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path we own and flags; the descriptor returned is ours alone.
    let fd = unsafe { libc::open(c_path.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor, owned by nobody else.
    Ok(unsafe { fs::File::from_raw_fd(fd) })
}

/// Make the bound socket group-writable (`664`), as 4.x did. False if it is not a socket.
/// Never follows a symlink (`AT_SYMLINK_NOFOLLOW`).
#[cfg(not(target_os = "linux"))]
pub fn chmod(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    if !is_socket(path) {
        return Ok(false);
    }
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path we own, a mode, and a flag; no pointer is kept.
    let rc = unsafe {
        libc::fchmodat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            0o664,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(true)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Remove the socket on exit, only if nobody listens on it: another master may have
/// bound the path since ours let it go. Returns whether it removed it.
pub fn remove(path: &Path) -> std::io::Result<bool> {
    if !is_socket(path) || !refuses_connections(path) {
        return Ok(false);
    }
    fs::remove_file(path)?;
    Ok(true)
}

fn is_socket(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn refuses_connections(path: &Path) -> bool {
    matches!(probe(path), Listener::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mp-socket-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn removes_a_stale_socket_and_an_empty_file() {
        let dir = temp("stale");
        let sock = dir.join("a.sock");
        drop(UnixListener::bind(&sock).unwrap());
        assert_eq!(prepare(&sock).unwrap(), Some("stale socket"));
        assert!(!sock.exists());
        fs::write(&sock, "").unwrap();
        assert_eq!(prepare(&sock).unwrap(), Some("empty file"));
        assert_eq!(prepare(&sock).unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_listener_with_a_full_backlog_is_refused_at_once_and_kept_at_exit() {
        let dir = temp("full");
        let sock = dir.join("a.sock");
        let _held = crate::shell::listen_probe::full_backlog(&sock);
        // On a thread, so a probe that waits for room in the backlog fails the test (a hang
        // guard, not a measure) instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        let probed = sock.clone();
        std::thread::spawn(move || tx.send(prepare(&probed).map_err(|e| e.problem)));
        let answer = rx.recv_timeout(std::time::Duration::from_secs(20));
        let e = answer
            .expect("prepare waited on a full backlog")
            .unwrap_err();
        assert!(e.contains("another process is listening"), "{e}");
        assert!(!remove(&sock).unwrap());
        assert!(sock.exists());
        fs::remove_dir_all(dir).unwrap();
    }

    /// The musl bug: through std's custom flags the open lost `O_PATH` there (`ENXIO`).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_opens_as_a_path_and_a_symlink_is_not_followed() {
        let dir = temp("o-path");
        let sock = dir.join("a.sock");
        let _listener = UnixListener::bind(&sock).unwrap();
        let opened = open_path(&sock).unwrap();
        assert!(opened.metadata().unwrap().file_type().is_socket());
        let link = dir.join("link");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        let meta = open_path(&link).unwrap().metadata().unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "the link itself, not its target"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn removes_at_exit_only_a_socket_nobody_listens_on() {
        let dir = temp("exit");
        let sock = dir.join("a.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        assert!(chmod(&sock).unwrap());
        assert_eq!(
            fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
            0o664
        );
        assert!(!remove(&sock).unwrap(), "someone listens: kept");
        drop(listener);
        assert!(remove(&sock).unwrap());
        assert!(!sock.exists());
        assert!(!chmod(&sock).unwrap());
        fs::remove_dir_all(dir).unwrap();
    }

    /// A thread swaps the path between the socket and a symlink to a victim file as fast as
    /// it can while chmod runs: the victim's mode must never change.
    #[test]
    fn chmod_never_follows_a_symlink_swapped_in_under_it() {
        let dir = temp("swap");
        let (path, sock, victim) = (dir.join("p"), dir.join("s.sock"), dir.join("victim"));
        let _listener = UnixListener::bind(&sock).unwrap();
        fs::write(&victim, "secret").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (dir, path, sock, victim, stop) = (
                dir.clone(),
                path.clone(),
                sock.clone(),
                victim.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering;
                let (tmp_sock, tmp_link) = (dir.join("t.sock"), dir.join("t.link"));
                while !stop.load(Ordering::Relaxed) {
                    let _ = fs::remove_file(&tmp_sock);
                    fs::hard_link(&sock, &tmp_sock).unwrap();
                    fs::rename(&tmp_sock, &path).unwrap();
                    let _ = fs::remove_file(&tmp_link);
                    std::os::unix::fs::symlink(&victim, &tmp_link).unwrap();
                    fs::rename(&tmp_link, &path).unwrap();
                }
            })
        };
        let mut changed = 0;
        for _ in 0..100_000 {
            if chmod(&path).unwrap_or(false) {
                changed += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        let mode = fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "chmod followed a symlink to the victim");
        assert!(changed > 0, "the socket itself was never changed");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keeps_files_directories_links_and_live_sockets() {
        let dir = temp("keep");
        let file = dir.join("data");
        fs::write(&file, "precious").unwrap();
        assert!(prepare(&file)
            .unwrap_err()
            .to_string()
            .contains("non-empty regular file"));
        assert!(prepare(&dir).unwrap_err().to_string().contains("directory"));
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(prepare(&link)
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        let live = dir.join("live.sock");
        let _listener = UnixListener::bind(&live).unwrap();
        assert!(prepare(&live)
            .unwrap_err()
            .to_string()
            .contains("listening"));
        assert_eq!(fs::read_to_string(&file).unwrap(), "precious");
        assert!(link.exists() && live.exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
