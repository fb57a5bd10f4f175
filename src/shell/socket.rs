//! The unix socket in `PORT`: remove a stale one at start, chmod 664 when bound, remove on
//! exit. Never deletes anything but a socket nobody listens on or an empty regular file.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

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
        match UnixStream::connect(path) {
            Ok(_) => return Err(refuse(path, "is a socket another process is listening on")),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
            Err(e) => {
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
pub fn chmod(path: &Path) -> std::io::Result<bool> {
    if !is_socket(path) {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o664))?;
    Ok(true)
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
    matches!(UnixStream::connect(path), Err(e) if e.kind() == ErrorKind::ConnectionRefused)
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
