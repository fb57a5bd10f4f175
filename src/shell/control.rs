//! The control socket: a unix socket only the master's user may use (mode 0600, in a
//! directory only that user can enter by default, and the peer's uid checked on every
//! connection), one JSON request per line in, one JSON answer per line out.
//!
//! `serve` runs the connections (each bounded in time: see there); requests go to the
//! driver thread over the channel events use, and the driver answers from the core's state
//! (a reload or a scale once the core reports its outcome). A bad request gets an error
//! answer and the connection stays usable. `place` says where sockets go, `trust` what a
//! client checks before it believes one.

mod place;
mod serve;
pub mod trust;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::listen_probe::{probe, Listener};
use super::Control;
use crate::config::ControlSocket;
use crate::core::MAX_WORKERS;

pub use place::{choose_dir, default_dir, euid, prepare_dir, private_dirs, search_dirs};
pub use serve::{
    ask, outcome_bound, serve, Answer, AskError, Later, Limits, Replier, ANSWER_TIMEOUT,
    IDLE_TIMEOUT, MAX_CONNECTIONS,
};

/// The longest request line read; a longer one is answered with an error and the connection
/// closed (it cannot be told where the next request starts).
pub const MAX_LINE: usize = 64 * 1024;
/// How long a connect waits for room in a listener's full backlog.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a client can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Status,
    Reload,
    Stop,
    Pause,
    Resume,
    Scale(u32),
    /// Upgrade the master in place; answered once the upgrade has begun (or was refused).
    Upgrade,
    /// What a new image takes over (Node's thread asks, just before it replaces the
    /// image); never read from the socket.
    Handover,
}

/// Why a request line was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("not JSON ({0}): send one JSON object per line, such as {{\"request\":\"status\"}}")]
    NotJson(String),
    #[error(
        "a request is a JSON object with a \"request\" field, such as {{\"request\":\"status\"}}"
    )]
    NoRequest,
    #[error("unknown request {0:?}: accepted are status, reload, stop, pause, resume, scale and upgrade")]
    Unknown(String),
    #[error("invalid workers={0}: expected a whole number from 1 to {MAX_WORKERS}")]
    BadCount(String),
    #[error("request longer than {MAX_LINE} bytes")]
    TooLong,
}

/// Why the control socket cannot listen.
#[derive(Debug, thiserror::Error)]
#[error("control socket {path:?} {problem}")]
pub struct ControlError {
    /// The path (of the socket, or of its directory).
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

fn refuse(path: &Path, problem: impl Into<String>) -> ControlError {
    ControlError {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Parse one request line: `{"request":"status"}`, `{"request":"scale","workers":3}`.
pub fn parse_request(line: &str) -> Result<Request, RequestError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| RequestError::NotJson(e.to_string()))?;
    let name = value
        .get("request")
        .and_then(Value::as_str)
        .ok_or(RequestError::NoRequest)?;
    match name {
        "status" => Ok(Request::Status),
        "reload" => Ok(Request::Reload),
        "stop" => Ok(Request::Stop),
        "pause" => Ok(Request::Pause),
        "resume" => Ok(Request::Resume),
        "upgrade" => Ok(Request::Upgrade),
        "scale" => {
            let count = value.get("workers").unwrap_or(&Value::Null);
            count
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Request::Scale)
                .ok_or_else(|| RequestError::BadCount(count.to_string()))
        }
        other => Err(RequestError::Unknown(other.to_string())),
    }
}

/// An error answer.
pub fn error_answer(message: impl std::fmt::Display) -> Value {
    json!({ "ok": false, "error": message.to_string() })
}

/// Clear `path` for binding: nothing there, or a socket nobody listens on (a master that
/// died without cleaning up), which is removed. Anything else is never deleted.
fn clear(path: &Path) -> Result<(), ControlError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(path, format!("cannot be inspected ({e})"))),
    };
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_socket() {
        return Err(refuse(
            path,
            "exists and is not a socket; it is never deleted",
        ));
    }
    // Without waiting: a listener whose backlog is full (one that never accepts) would hold
    // a plain connect, and the master's start with it, for as long as it likes.
    match probe(path) {
        Listener::Listening => Err(refuse(path, "is a socket another process is listening on")),
        Listener::Refused => fs::remove_file(path)
            .map_err(|e| refuse(path, format!("is stale but cannot be removed ({e})"))),
        Listener::Unknown(e) => Err(refuse(
            path,
            format!("is a socket that may be in use ({e})"),
        )),
    }
}

/// The bound control socket: removed at exit if it is still the one this master made.
#[derive(Debug)]
pub struct BoundControl {
    path: PathBuf,
    /// Device and inode of the socket file this master bound.
    identity: (u64, u64),
}

impl BoundControl {
    /// Bind `path` (clearing a stale socket first) with mode 0600.
    pub fn bind(path: &Path) -> Result<(BoundControl, UnixListener), ControlError> {
        clear(path)?;
        let listener =
            UnixListener::bind(path).map_err(|e| refuse(path, format!("cannot be bound ({e})")))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| refuse(path, format!("cannot be made 0600 ({e})")))?;
        let meta =
            fs::symlink_metadata(path).map_err(|e| refuse(path, format!("vanished ({e})")))?;
        let socket = BoundControl {
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino()),
        };
        Ok((socket, listener))
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the socket file if it is still the one bound here. Whether it did.
    pub fn remove(&self) -> bool {
        let ours =
            fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        ours && fs::remove_file(&self.path).is_ok()
    }
}

/// The control socket `open` made, if any, and what to warn about.
#[derive(Default)]
pub struct Opened {
    /// The bound socket, `None` when off or when the default place cannot be used.
    pub control: Option<Control>,
    /// Why it is not where it would go by default (or, with `control` `None`, why there is
    /// none): for the log, as the master goes on.
    pub warning: Option<String>,
}

/// Bind the control socket `setting` asks for. A path given that cannot be used is an
/// error (the master does not start). By default, a folder another user holds (or anything
/// else in the way) is replaced by a private one (see `place`); when even that fails, the
/// master goes on without a control socket, with the reason as the warning.
pub fn open(setting: &ControlSocket) -> Result<Opened, ControlError> {
    match setting {
        ControlSocket::Off => Ok(Opened::default()),
        ControlSocket::Path(path) => {
            let (bound, listener) = BoundControl::bind(path)?;
            let control = Some(Control { bound, listener });
            Ok(Opened {
                control,
                warning: None,
            })
        }
        ControlSocket::Default => Ok(open_default()),
    }
}

fn open_default() -> Opened {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let opened =
        choose_dir(xdg.as_deref(), &std::env::temp_dir(), euid()).and_then(|(dir, why)| {
            let path = dir.join(format!("{}.sock", std::process::id()));
            let (bound, listener) = BoundControl::bind(&path)?;
            let warning =
                why.map(|why| format!("{why}: the control socket is {} instead", path.display()));
            Ok((Control { bound, listener }, warning))
        });
    match opened {
        Ok((control, warning)) => Opened { control: Some(control), warning },
        Err(e) => Opened {
            control: None,
            warning: Some(format!(
                "{e}: running without a control socket (MASTER_PROCESS_CONTROL_SOCKET can name another path, or off)"
            )),
        },
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_serve;
#[cfg(test)]
mod tests_trust;
