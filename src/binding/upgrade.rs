//! The binding's side of an upgrade in place: what the old image hands over (its state and
//! listening sockets, through `MASTER_PROCESS_UPGRADE` and descriptors kept open across the
//! exec), the exec itself where Node has no `process.execve`, and the new image's take-over.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{BorrowedFd, RawFd};

type Result<T> = napi::Result<T, String>;
use napi_derive::napi;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use serde_json::{json, Value};

use super::Master;
use crate::config::ConfigError;
use crate::core::{Event, Resumed};
use crate::error::Error;
use crate::shell::activation::{self, Inherited};
use crate::shell::control::Request;

/// What the old image hands the new one: a JSON object, for the new image alone.
pub const UPGRADE_VAR: &str = "MASTER_PROCESS_UPGRADE";

/// What a new image found in `MASTER_PROCESS_UPGRADE`.
#[derive(Debug, Default)]
pub struct TakeOver {
    pub sockets: Vec<Inherited>,
    pub resumed: Resumed,
}

fn bad(value: &str, accepted: &str) -> ConfigError {
    ConfigError {
        name: UPGRADE_VAR.to_string(),
        value: value.chars().take(200).collect(),
        accepted: accepted.to_string(),
    }
}

/// The hand-over of the image this one replaced, if it was one.
pub fn take_over(
    env: &HashMap<String, String>,
) -> std::result::Result<Option<TakeOver>, ConfigError> {
    let Some(raw) = env.get(UPGRADE_VAR).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let shape = "the JSON object an upgrading master writes for its new image";
    let value: Value = serde_json::from_str(raw).map_err(|_| bad(raw, shape))?;
    if value.get("pid").and_then(Value::as_u64) != Some(u64::from(std::process::id())) {
        return Ok(None); // meant for another process (a master that ran this one)
    }
    let number = |key: &str| value.get(key).and_then(Value::as_u64).map(|n| n as u32);
    let state = value.get("state").unwrap_or(&Value::Null);
    let field = |key: &str| state.get(key).and_then(Value::as_u64).map(|n| n as u32);
    let sockets: Vec<(RawFd, Option<String>)> = value
        .get("sockets")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|s| {
                    let fd = s.get("fd")?.as_i64()? as RawFd;
                    let name = s.get("name").and_then(Value::as_str).map(str::to_string);
                    Some((fd, name))
                })
                .collect()
        })
        .unwrap_or_default();
    let resumed = Resumed {
        generation: field("generation").ok_or_else(|| bad(raw, shape))?,
        slots: field("slots").unwrap_or(1),
        paused: state
            .get("paused")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        upgrades: field("upgrades").or(number("upgrades")).unwrap_or(1),
        workers: state
            .get("workers")
            .and_then(Value::as_array)
            .map(|w| {
                w.iter()
                    .filter_map(|p| p.as_u64().map(|p| p as u32))
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok(Some(TakeOver {
        sockets: activation::kept(&sockets)?,
        resumed,
    }))
}

/// Keep `fd` open across the exec: a copy of it when the caller closes its own (`dup`),
/// else `fd` itself with close-on-exec cleared.
fn keep(fd: RawFd, dup: bool) -> nix::Result<RawFd> {
    // SAFETY: the caller owns `fd` (a listening socket of this process) and keeps it open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let kept = if dup {
        fcntl(borrowed, FcntlArg::F_DUPFD(3))?
    } else {
        fd
    };
    // SAFETY: `kept` was just opened (or is `fd`), and stays open until the exec.
    let borrowed = unsafe { BorrowedFd::borrow_raw(kept) };
    fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::empty()))?;
    Ok(kept)
}

fn cstring(what: &str, value: String) -> Result<CString> {
    CString::new(value).map_err(|_| Error::Exec(format!("{what} holds a NUL byte")).into())
}

#[napi]
impl Master {
    /// Upgrade in place, as the control socket's `upgrade`: the outcome comes as the
    /// `upgrade-refused` event, or the image is replaced.
    #[napi]
    pub fn upgrade(&self) {
        self.send(Event::UpgradeRequested);
    }

    /// The answer to the `checkupgrade` command: `error` when the new image cannot start.
    #[napi]
    pub fn upgrade_checked(&self, error: Option<String>) {
        self.send(Event::UpgradeChecked { error });
    }

    /// Replacing the image failed (the `exec` command).
    #[napi]
    pub fn exec_failed(&self, error: String) {
        self.send(Event::ExecFailed { error });
    }

    /// The value of `MASTER_PROCESS_UPGRADE` for the new image, with the descriptors it
    /// keeps: `closing` are the listening sockets Node will close before the exec (cluster's
    /// own, kept as copies); the inherited ones are kept as they are.
    #[napi]
    pub fn handover(&self, closing: Vec<i32>) -> Result<String> {
        let shell = self.shell.as_ref().ok_or(Error::NotRunning)?;
        let answer = shell.ask(Request::Handover).map_err(Error::from)?;
        let state = answer.get("handover").cloned().ok_or(Error::NotRunning)?;
        let mut sockets = Vec::new();
        for socket in &self.inherited {
            let fd = keep(socket.fd, false)
                .map_err(|e| Error::Exec(format!("fd {}: {e}", socket.fd)))?;
            sockets.push(json!({ "fd": fd, "name": socket.name }));
        }
        for fd in closing {
            let kept = keep(fd, true).map_err(|e| Error::Exec(format!("fd {fd}: {e}")))?;
            sockets.push(json!({ "fd": kept, "name": Value::Null }));
        }
        let value = json!({ "pid": std::process::id(), "state": state, "sockets": sockets });
        Ok(value.to_string())
    }

    /// Just before the exec: the log lines written so far reach stderr (bounded).
    #[napi]
    pub fn prepare_exec(&self) {
        crate::shell::log_writer::flush(std::time::Duration::from_millis(200));
    }

    /// Replace this process's image with `file` (`args` with `argv[0]`, `env` as
    /// `NAME=value` strings): for a Node without `process.execve`. Returns only on failure.
    #[napi]
    pub fn execve(&self, file: String, args: Vec<String>, env: Vec<String>) -> Result<()> {
        let file = cstring("the file", file)?;
        let args = args
            .into_iter()
            .map(|a| cstring("an argument", a))
            .collect::<Result<Vec<_>>>()?;
        let env = env
            .into_iter()
            .map(|e| cstring("the environment", e))
            .collect::<Result<Vec<_>>>()?;
        for fd in 0..=2 {
            // SAFETY: stdio stays open; only its close-on-exec flag changes.
            let _ = fcntl(
                unsafe { BorrowedFd::borrow_raw(fd) },
                FcntlArg::F_SETFD(FdFlag::empty()),
            );
        }
        let error = nix::unistd::execve(&file, &args, &env).err();
        Err(Error::Exec(error.map_or_else(|| "exec returned".into(), |e| e.to_string())).into())
    }
}

/// Throw `ERR_INVALID_CONFIG` unless `options` (camelCase settings as strings, `cli` when
/// they came from flags) and the environment make valid settings: an upgrade's check that
/// the new image accepts the running master's settings.
#[napi]
pub fn check_settings(options: HashMap<String, String>, cli: bool) -> Result<()> {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let caller = if cli {
        crate::config::Caller::Cli
    } else {
        crate::config::Caller::Init
    };
    crate::config::Config::load_for(caller, &env, &options, &crate::shell::host::read_host())
        .map(|_| ())
        .map_err(|e| Error::from(e).into())
}
