//! The workers' module compile cache on disk: the facts the core's plan is made from, and
//! the folder made ready before each fork (created 0700 when missing, then every folder the
//! master must own checked with `lstat`, so a folder swapped or removed meanwhile, say by a
//! temp cleaner, is caught). A folder that cannot be used is logged once, and workers start
//! without the cache: never a failed start.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::core::compile_cache::{
    check_folder, owned_folders, CacheFacts, CachePlan, FolderFacts, FolderKind, NodeVersion,
    Refusal,
};

/// The facts `core::compile_cache::plan` needs, from the master's environment.
pub fn facts(env: &HashMap<String, String>, node: NodeVersion) -> CacheFacts {
    let set = |name: &str| env.get(name).filter(|v| !v.is_empty());
    let absolute = |name: &str| set(name).map(PathBuf::from).filter(|p| p.is_absolute());
    // os.tmpdir() reads TMPDIR, TMP, TEMP, else /tmp; only an absolute one is used here.
    let tmpdir = ["TMPDIR", "TMP", "TEMP"]
        .iter()
        .find_map(|name| absolute(name))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    CacheFacts {
        node,
        user_folder: set("NODE_COMPILE_CACHE").cloned(),
        user_disabled: set("NODE_DISABLE_COMPILE_CACHE").is_some(),
        xdg_cache_home: absolute("XDG_CACHE_HOME"),
        tmpdir,
        uid: nix::unistd::geteuid().as_raw(),
    }
}

/// Why a folder could not hold the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("could not create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("could not read {}: {source}", path.display())]
    Stat { path: PathBuf, source: io::Error },
    #[error("{} {refusal}", path.display())]
    Refused { path: PathBuf, refusal: Refusal },
}

/// The plan, and what was logged of it.
#[derive(Debug)]
pub struct CompileCache {
    plan: CachePlan,
    uid: u32,
    failed: bool,
    used: bool,
}

impl CompileCache {
    pub fn new(plan: CachePlan, uid: u32) -> Self {
        CompileCache {
            plan,
            uid,
            failed: false,
            used: false,
        }
    }

    /// Workers get no folder from the master.
    pub fn off() -> Self {
        CompileCache::new(
            CachePlan::Off(crate::core::compile_cache::CacheOff::Setting),
            0,
        )
    }

    /// Right before a fork: the folder for the worker's `NODE_COMPILE_CACHE`, ready now, or
    /// None. The first failure is logged as an error, the first use as a debug line.
    pub fn before_fork(&mut self) -> Option<PathBuf> {
        let CachePlan::Use { folder, owned } = &self.plan else {
            return None;
        };
        match prepare(folder, owned, self.uid) {
            Ok(()) => {
                if !self.used {
                    self.used = true;
                    tracing::debug!("workers use the compile cache in {}", folder.display());
                }
                Some(folder.clone())
            }
            Err(error) => {
                if !self.failed {
                    self.failed = true;
                    tracing::error!(
                        "cannot use {} for the compile cache: {error}; workers start without it \
                         (MASTER_PROCESS_COMPILE_CACHE may name another folder, or be off)",
                        folder.display()
                    );
                }
                None
            }
        }
    }
}

/// Create what is missing (the master's own folders 0700), then check each folder from
/// `owned` down to `folder`.
pub fn prepare(folder: &Path, owned: &Path, uid: u32) -> Result<(), CacheError> {
    if let Some(parent) = owned.parent().filter(|p| !p.is_dir()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => CacheError::Refused {
                    path: parent.to_path_buf(),
                    refusal: Refusal::NotAFolder,
                },
                _ => CacheError::Create {
                    path: parent.to_path_buf(),
                    source,
                },
            })?;
    }
    for path in owned_folders(folder, owned) {
        match DirBuilder::new().mode(0o700).create(&path) {
            // Exactly 0700 whatever the umask: a folder we created is ours alone.
            Ok(()) => {
                fs::set_permissions(&path, Permissions::from_mode(0o700)).map_err(|source| {
                    CacheError::Create {
                        path: path.clone(),
                        source,
                    }
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(CacheError::Create { path, source }),
        }
        let meta = fs::symlink_metadata(&path).map_err(|source| CacheError::Stat {
            path: path.clone(),
            source,
        })?;
        check_folder(&folder_facts(&meta), uid)
            .map_err(|refusal| CacheError::Refused { path, refusal })?;
    }
    Ok(())
}

fn folder_facts(meta: &fs::Metadata) -> FolderFacts {
    let kind = if meta.file_type().is_symlink() {
        FolderKind::Symlink
    } else if meta.is_dir() {
        FolderKind::Folder
    } else {
        FolderKind::Other
    };
    FolderFacts {
        kind,
        owner: meta.uid(),
        mode: meta.mode() & 0o7777,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Temp {
            let dir = std::env::temp_dir().join(format!("mp-cache-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            fs::set_permissions(&dir, Permissions::from_mode(0o700)).unwrap();
            Temp(dir)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn uid() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn facts_read_the_environment_as_node_would() {
        let node = NodeVersion {
            major: 26,
            minor: 1,
            patch: 0,
        };
        let env: HashMap<String, String> = [
            ("TMPDIR", "relative"),
            ("TMP", "/var/tmp"),
            ("XDG_CACHE_HOME", "cache"),
            ("NODE_COMPILE_CACHE", ""),
            ("NODE_DISABLE_COMPILE_CACHE", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let f = facts(&env, node);
        assert_eq!(f.tmpdir, PathBuf::from("/var/tmp"));
        assert_eq!(
            f.xdg_cache_home, None,
            "a relative XDG_CACHE_HOME is ignored"
        );
        assert_eq!(f.user_folder, None, "an empty NODE_COMPILE_CACHE is unset");
        assert!(f.user_disabled);
        assert_eq!(facts(&HashMap::new(), node).tmpdir, PathBuf::from("/tmp"));
    }

    #[test]
    fn prepare_creates_the_owned_folders_0700_and_accepts_them_again() {
        let t = Temp::new("create");
        let owned = t.0.join("home/master-process");
        let folder = owned.join("compile-cache");
        prepare(&folder, &owned, uid()).unwrap();
        assert_eq!(mode(&owned), 0o700);
        assert_eq!(mode(&folder), 0o700);
        prepare(&folder, &owned, uid()).unwrap();
    }

    #[test]
    fn prepare_refuses_a_symlink_a_file_and_a_folder_others_may_write() {
        let t = Temp::new("refuse");
        let elsewhere = t.0.join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = t.0.join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let err = prepare(&link.join("c"), &link, uid()).unwrap_err();
        assert!(
            matches!(
                &err,
                CacheError::Refused {
                    refusal: Refusal::Symlink,
                    ..
                }
            ),
            "{err}"
        );

        let file = t.0.join("file");
        fs::write(&file, "x").unwrap();
        let err = prepare(&file, &file, uid()).unwrap_err();
        assert!(
            matches!(
                &err,
                CacheError::Refused {
                    refusal: Refusal::NotAFolder,
                    ..
                }
            ),
            "{err}"
        );
        let err = prepare(&file.join("sub"), &file.join("sub"), uid()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} is not a folder", file.display())
        );

        let open = t.0.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, Permissions::from_mode(0o777)).unwrap();
        let err = prepare(&open, &open, uid()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} can be written by other users (mode 777)",
                open.display()
            )
        );
    }

    #[test]
    fn prepare_refuses_a_folder_of_another_user() {
        if uid() != 0 {
            eprintln!("skipped: only root can make a folder owned by another user");
            return;
        }
        let t = Temp::new("owner");
        let theirs = t.0.join("master-process-0");
        fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        let err = prepare(&theirs.join("compile-cache"), &theirs, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} is owned by uid 65534", theirs.display())
        );
        assert!(
            !theirs.join("compile-cache").exists(),
            "nothing is made inside another user's folder"
        );
    }

    #[test]
    fn before_fork_gives_the_folder_or_none_without_failing() {
        let t = Temp::new("fork");
        let folder = t.0.join("c");
        let mut ok = CompileCache::new(
            CachePlan::Use {
                folder: folder.clone(),
                owned: folder.clone(),
            },
            uid(),
        );
        assert_eq!(ok.before_fork(), Some(folder.clone()));
        fs::remove_dir(&folder).unwrap();
        assert_eq!(
            ok.before_fork(),
            Some(folder.clone()),
            "made again when gone"
        );

        let file = t.0.join("file");
        fs::write(&file, "x").unwrap();
        let mut bad = CompileCache::new(
            CachePlan::Use {
                folder: file.join("c"),
                owned: file.join("c"),
            },
            uid(),
        );
        assert_eq!(bad.before_fork(), None);
        assert_eq!(bad.before_fork(), None);
        assert_eq!(CompileCache::off().before_fork(), None);
    }
}
