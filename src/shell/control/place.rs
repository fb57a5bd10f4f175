//! Where control sockets go by default, and where a client looks for them.
//!
//! A master's socket goes in `$XDG_RUNTIME_DIR/master-process` (when that names a
//! directory), else in `master-process-<uid>` in the temp directory. The temp directory is
//! shared, so another user may have made that folder first: then the master takes a private
//! folder `master-process-<uid>-<hex>` there instead (one of this user's, reused, or a new
//! one whose name nobody can make first), and clients search those too.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{refuse, ControlError};

/// How many new private folder names are tried before giving up.
const PRIVATE_ATTEMPTS: u32 = 16;

/// This process's effective uid.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The directory the master's socket goes in by default: `$XDG_RUNTIME_DIR/master-process`
/// when that names a directory, else `master-process-<uid>` in the temp directory.
pub fn default_dir(xdg_runtime_dir: Option<&Path>, temp: &Path, uid: u32) -> PathBuf {
    match xdg_runtime_dir.filter(|d| d.is_absolute() && d.is_dir()) {
        Some(dir) => dir.join("master-process"),
        None => temp.join(format!("master-process-{uid}")),
    }
}

/// Every directory a client looks in for masters, in order: the XDG one (when set), the temp
/// one (a master under a service manager may not have `XDG_RUNTIME_DIR`), and the private
/// ones in the temp directory. Whether each can be trusted is for the client to check.
pub fn search_dirs(xdg_runtime_dir: Option<&Path>, temp: &Path, uid: u32) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = xdg_runtime_dir.filter(|d| d.is_absolute()) {
        dirs.push(dir.join("master-process"));
    }
    dirs.push(temp.join(format!("master-process-{uid}")));
    dirs.extend(private_dirs(temp, uid));
    dirs
}

/// The entries of `temp` named like `uid`'s private folders (`master-process-<uid>-<hex>`),
/// sorted, whoever made them.
pub fn private_dirs(temp: &Path, uid: u32) -> Vec<PathBuf> {
    let prefix = format!("master-process-{uid}-");
    let Ok(entries) = fs::read_dir(temp) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name();
            let suffix = name.to_string_lossy();
            let suffix = suffix.strip_prefix(&prefix).unwrap_or("");
            !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|entry| entry.path())
        .collect();
    dirs.sort();
    dirs
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
    let what = super::trust::describe(&meta);
    if !meta.file_type().is_dir() {
        return Err(refuse(
            dir,
            format!("is in the way: {what}, not a directory"),
        ));
    }
    if meta.uid() != euid() {
        return Err(refuse(
            dir,
            format!(
                "directory belongs to another user: {what}, not uid {}",
                euid()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(dir, format!("directory cannot be made 0700 ({e})")))?;
    }
    Ok(())
}

/// The folder a master with the default setting binds in, and, when it is not the default
/// one, why not (for a warning).
pub fn choose_dir(
    xdg_runtime_dir: Option<&Path>,
    temp: &Path,
    uid: u32,
) -> Result<(PathBuf, Option<ControlError>), ControlError> {
    let primary = default_dir(xdg_runtime_dir, temp, uid);
    let why = match prepare_dir(&primary) {
        Ok(()) => return Ok((primary, None)),
        Err(e) => e,
    };
    let ours = private_dirs(temp, uid).into_iter().find(|dir| {
        let mine = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        mine && prepare_dir(dir).is_ok()
    });
    if let Some(dir) = ours {
        return Ok((dir, Some(why)));
    }
    for attempt in 0..PRIVATE_ATTEMPTS {
        let dir = temp.join(format!("master-process-{uid}-{}", unique(attempt)));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok((dir, Some(why))),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let problem =
                    format!("is unusable ({why}), and no private folder can be made ({e})");
                return Err(refuse(&primary, problem));
            }
        }
    }
    Err(refuse(
        &primary,
        format!("is unusable ({why}), and every private folder name tried was taken"),
    ))
}

/// A name part another user cannot guess in advance: this pid, the time in nanoseconds and
/// the attempt.
fn unique(attempt: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{nanos:x}{attempt:x}", std::process::id())
}
