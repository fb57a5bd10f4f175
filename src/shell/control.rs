//! The control socket: a unix socket only the master's user may use (mode 0600, in a
//! directory only that user can enter by default, and the peer's uid checked on every
//! connection), one JSON request per line in, one JSON answer per line out.
//!
//! A thread accepts connections and gives each its own thread, which parses requests and
//! hands them to the driver thread over the channel events use; the driver answers from the
//! core's state (a reload or a scale once the core reports its outcome). A bad request gets
//! an error answer and the connection stays usable.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use serde_json::{json, Value};

use super::{Control, Input};
use crate::config::ControlSocket;
use crate::core::MAX_WORKERS;

/// The longest request line read; a longer one is answered with an error and the connection
/// closed (it cannot be told where the next request starts).
pub const MAX_LINE: usize = 64 * 1024;
/// Connections served at once; one more is answered with an error and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// How long the accept thread waits after a failed accept (such as no descriptor left).
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// What a client can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Status,
    Reload,
    Stop,
    Pause,
    Resume,
    Scale(u32),
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
    #[error("unknown request {0:?}: accepted are status, reload, stop, pause, resume and scale")]
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

/// The directory the master's socket goes in by default: `$XDG_RUNTIME_DIR/master-process`
/// when that names a directory, else `master-process-<uid>` in the temp directory.
pub fn default_dir(xdg_runtime_dir: Option<&Path>, temp: &Path, uid: u32) -> PathBuf {
    match xdg_runtime_dir.filter(|d| d.is_absolute() && d.is_dir()) {
        Some(dir) => dir.join("master-process"),
        None => temp.join(format!("master-process-{uid}")),
    }
}

/// Every directory a client looks in for masters, in order: the XDG one (when set) and the
/// temp one, since a master under a service manager may not have `XDG_RUNTIME_DIR`.
pub fn search_dirs(xdg_runtime_dir: Option<&Path>, temp: &Path, uid: u32) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = xdg_runtime_dir.filter(|d| d.is_absolute()) {
        dirs.push(dir.join("master-process"));
    }
    dirs.push(temp.join(format!("master-process-{uid}")));
    dirs
}

/// This process's effective uid.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Make `dir` a directory only this user can enter: created with mode 0700, or, when it
/// exists, a real directory (not a symlink) owned by this user, tightened to 0700.
pub fn prepare_dir(dir: &Path) -> Result<(), ControlError> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(refuse(dir, format!("directory cannot be created ({e})"))),
    }
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| refuse(dir, format!("directory cannot be inspected ({e})")))?;
    if !meta.file_type().is_dir() {
        return Err(refuse(dir, "is in the way: not a directory"));
    }
    if meta.uid() != euid() {
        return Err(refuse(
            dir,
            format!("directory belongs to uid {}, not {}", meta.uid(), euid()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(dir, format!("directory cannot be made 0700 ({e})")))?;
    }
    Ok(())
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
    match UnixStream::connect(path) {
        Ok(_) => Err(refuse(path, "is a socket another process is listening on")),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => fs::remove_file(path)
            .map_err(|e| refuse(path, format!("is stale but cannot be removed ({e})"))),
        Err(e) => Err(refuse(
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

/// Bind the control socket `setting` asks for. A path given that cannot be used is an
/// error (the master does not start); the default location that cannot be used leaves the
/// master without a control socket, with the reason as the `Err` of the inner result.
pub fn open(setting: &ControlSocket) -> Result<Result<Option<Control>, String>, ControlError> {
    let path = match setting {
        ControlSocket::Off => return Ok(Ok(None)),
        ControlSocket::Path(path) => {
            let (bound, listener) = BoundControl::bind(path)?;
            return Ok(Ok(Some(Control { bound, listener })));
        }
        ControlSocket::Default => {
            let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
            let dir = default_dir(xdg.as_deref(), &std::env::temp_dir(), euid());
            dir.join(format!("{}.sock", std::process::id()))
        }
    };
    let opened = path
        .parent()
        .map_or(Ok(()), prepare_dir)
        .and_then(|()| BoundControl::bind(&path));
    Ok(match opened {
        Ok((bound, listener)) => Ok(Some(Control { bound, listener })),
        Err(e) => Err(format!(
            "{e}: running without a control socket (MASTER_PROCESS_CONTROL_SOCKET can name another path, or off)"
        )),
    })
}

/// Accept connections on `listener` on a thread of its own; requests go to `tx`.
pub fn serve(listener: UnixListener, tx: Sender<Input>) -> std::io::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("master-process-control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => admit(stream, &tx, &open),
                    Err(e) => {
                        // Out of descriptors, say: wait a little rather than spin.
                        tracing::debug!("control socket: accept failed: {e}");
                        std::thread::sleep(ACCEPT_BACKOFF);
                    }
                }
            }
        })?;
    Ok(())
}

/// Check the peer and give the connection a thread, or answer why not and close it.
fn admit(mut stream: UnixStream, tx: &Sender<Input>, open: &Arc<AtomicUsize>) {
    let me = euid();
    match peer_uid(&stream) {
        Ok(uid) if uid == me => {}
        Ok(uid) => {
            tracing::debug!("control socket: refused a peer of uid {uid}");
            let answer = error_answer(format!(
                "permission denied: uid {uid} is not the master's user (uid {me})"
            ));
            return write_answer(&mut stream, &answer);
        }
        Err(e) => {
            tracing::debug!("control socket: peer credentials unreadable: {e}");
            return write_answer(&mut stream, &error_answer("peer credentials unreadable"));
        }
    }
    if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        open.fetch_sub(1, Ordering::SeqCst);
        let answer = error_answer(format!("busy: {MAX_CONNECTIONS} connections already open"));
        return write_answer(&mut stream, &answer);
    }
    let (tx, held) = (tx.clone(), open.clone());
    let spawned = std::thread::Builder::new()
        .name("master-process-control-conn".into())
        .spawn(move || {
            converse(stream, &tx);
            held.fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        // The closure never ran: give its place back, or failed spawns would use up every
        // place for good and the socket would answer "busy" from then on.
        open.fetch_sub(1, Ordering::SeqCst);
        tracing::error!("control socket: no thread for a connection: {e}");
    }
}

/// Serve one connection: a request per line, an answer per line, until the peer hangs up.
fn converse(stream: UnixStream, tx: &Sender<Input>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => return write_answer(&mut writer, &error_answer(e)),
        };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match parse_request(&line) {
            Ok(request) => ask(tx, request),
            Err(e) => error_answer(e),
        };
        write_answer(&mut writer, &answer);
    }
}

/// Hand `request` to the driver and wait for its answer.
pub fn ask(tx: &Sender<Input>, request: Request) -> Value {
    let (reply, answer) = channel();
    if tx.send(Input::Ask(request, reply)).is_err() {
        return error_answer("the master is exiting");
    }
    answer
        .recv()
        .unwrap_or_else(|_| error_answer("the master is exiting"))
}

/// One line (without its end), `None` at the end of the stream; a line over `MAX_LINE` is
/// an error. Invalid UTF-8 is replaced, so it fails as JSON rather than here.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, RequestError> {
    let mut bytes = Vec::new();
    let limit = MAX_LINE as u64 + 1;
    match reader.take(limit).read_until(b'\n', &mut bytes) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(_) => return Ok(None),
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() as u64 >= limit {
        return Err(RequestError::TooLong);
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn write_answer(stream: &mut UnixStream, answer: &Value) {
    let mut line = answer.to_string();
    line.push('\n');
    if let Err(e) = stream.write_all(line.as_bytes()) {
        tracing::debug!("control socket: answer not delivered: {e}");
    }
}

#[cfg(target_os = "linux")]
fn peer_uid(stream: &UnixStream) -> nix::Result<u32> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    Ok(getsockopt(stream, PeerCredentials)?.uid())
}

#[cfg(not(target_os = "linux"))]
fn peer_uid(stream: &UnixStream) -> nix::Result<u32> {
    use std::os::fd::AsRawFd;
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: a valid socket fd and two out-parameters we own.
    let rc = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
    if rc == 0 {
        Ok(uid)
    } else {
        Err(nix::errno::Errno::last())
    }
}

#[cfg(test)]
mod tests;
