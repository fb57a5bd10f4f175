//! The module compile cache of workers (`NODE_COMPILE_CACHE`, Node 22.1 and later): whether
//! workers get one from the master, in which folder, and which folders are fit to hold it.
//! Decided from the setting and from facts the shell reads (Node's version, the user, the
//! environment, what a folder is); no file system access here.
//!
//! The cache holds V8 code that workers load, so it must be writable by the master's user
//! alone: the folders master-process creates are made 0700, and a folder owned by another
//! user, a symlink, or one that others may write to is refused (then workers start without
//! the cache). The default folder is per user, outside the app's source tree.

use std::path::{Path, PathBuf};

/// `MASTER_PROCESS_COMPILE_CACHE`: `on` (a per-user folder), `off`, or a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheSetting {
    On,
    Off,
    Folder(PathBuf),
}

/// A Node release, as `process.versions.node` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// The first Node that reads `NODE_COMPILE_CACHE`.
pub const FIRST_NODE_WITH_CACHE: NodeVersion = NodeVersion {
    major: 22,
    minor: 1,
    patch: 0,
};

/// What the shell knows when the master starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFacts {
    /// The Node the master runs on; workers run on the same one.
    pub node: NodeVersion,
    /// The master's own `NODE_COMPILE_CACHE`, when set: workers inherit it.
    pub user_folder: Option<String>,
    /// `NODE_DISABLE_COMPILE_CACHE` is set: Node would ignore any folder.
    pub user_disabled: bool,
    /// `XDG_CACHE_HOME`, when set (relative values are ignored, as the XDG spec says).
    pub xdg_cache_home: Option<PathBuf>,
    /// The temp folder, as `os.tmpdir()` picks it.
    pub tmpdir: PathBuf,
    /// The master's effective user.
    pub uid: u32,
}

/// Whether workers get a folder from the master, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlan {
    /// No folder from the master, and why.
    Off(CacheOff),
    /// Workers get `NODE_COMPILE_CACHE=<folder>`. Every folder from `owned` down to
    /// `folder` is the master user's: created 0700 when missing, checked with `check_folder`
    /// before each fork. Folders above `owned` are only created when missing.
    Use { folder: PathBuf, owned: PathBuf },
}

/// Why workers get no folder from the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOff {
    /// `MASTER_PROCESS_COMPILE_CACHE=off`.
    Setting,
    /// This Node has no module compile cache.
    Unsupported(NodeVersion),
    /// The user's own `NODE_COMPILE_CACHE` is set, and wins: workers inherit it.
    UserFolder(String),
    /// `NODE_DISABLE_COMPILE_CACHE` is set.
    UserDisabled,
}

impl CachePlan {
    /// Whether workers compile with a cache folder: the master's, or the user's own that
    /// they inherit.
    pub fn workers_have_cache(&self) -> bool {
        matches!(
            self,
            CachePlan::Use { .. } | CachePlan::Off(CacheOff::UserFolder(_))
        )
    }
}

/// The per-user folder under a cache home (`<home>/master-process/compile-cache`) or the
/// temp folder (`<tmp>/master-process-<uid>/compile-cache`, since others share it).
pub fn plan(setting: &CacheSetting, facts: &CacheFacts) -> CachePlan {
    if *setting == CacheSetting::Off {
        return CachePlan::Off(CacheOff::Setting);
    }
    if facts.node < FIRST_NODE_WITH_CACHE {
        return CachePlan::Off(CacheOff::Unsupported(facts.node));
    }
    if let Some(folder) = &facts.user_folder {
        return CachePlan::Off(CacheOff::UserFolder(folder.clone()));
    }
    if facts.user_disabled {
        return CachePlan::Off(CacheOff::UserDisabled);
    }
    let owned = match setting {
        CacheSetting::Folder(folder) => {
            return CachePlan::Use {
                folder: folder.clone(),
                owned: folder.clone(),
            }
        }
        _ => match &facts.xdg_cache_home {
            Some(home) => home.join("master-process"),
            None => facts.tmpdir.join(format!("master-process-{}", facts.uid)),
        },
    };
    CachePlan::Use {
        folder: owned.join("compile-cache"),
        owned,
    }
}

/// The folders `check_folder` must pass, outermost first: `owned` and each one below it
/// down to `folder`.
pub fn owned_folders(folder: &Path, owned: &Path) -> Vec<PathBuf> {
    let mut chain: Vec<PathBuf> = folder
        .ancestors()
        .take_while(|f| f.starts_with(owned))
        .map(Path::to_path_buf)
        .collect();
    chain.reverse();
    chain
}

/// What a path is, as `lstat` tells (symlinks not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    Folder,
    Symlink,
    Other,
}

/// A path's `lstat`: its kind, owner and permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderFacts {
    pub kind: FolderKind,
    pub owner: u32,
    pub mode: u32,
}

/// Why a folder may not hold the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotAFolder,
    Symlink,
    /// Owned by this other user.
    OwnedBy(u32),
    /// Group or others may write to it (these permission bits).
    OpenToOthers(u32),
}

/// Whether a folder may hold (or lead to) the cache of a master running as `uid`.
pub fn check_folder(facts: &FolderFacts, uid: u32) -> Result<(), Refusal> {
    match facts.kind {
        FolderKind::Symlink => Err(Refusal::Symlink),
        FolderKind::Other => Err(Refusal::NotAFolder),
        FolderKind::Folder if facts.owner != uid => Err(Refusal::OwnedBy(facts.owner)),
        FolderKind::Folder if facts.mode & 0o022 != 0 => Err(Refusal::OpenToOthers(facts.mode)),
        FolderKind::Folder => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_26: NodeVersion = NodeVersion {
        major: 26,
        minor: 0,
        patch: 0,
    };

    fn facts() -> CacheFacts {
        CacheFacts {
            node: NODE_26,
            user_folder: None,
            user_disabled: false,
            xdg_cache_home: None,
            tmpdir: PathBuf::from("/tmp"),
            uid: 1000,
        }
    }

    fn uses(plan: CachePlan) -> (String, String) {
        match plan {
            CachePlan::Use { folder, owned } => {
                (folder.display().to_string(), owned.display().to_string())
            }
            other => panic!("no folder: {other:?}"),
        }
    }

    #[test]
    fn on_uses_a_per_user_folder_in_the_temp_folder() {
        assert_eq!(
            uses(plan(&CacheSetting::On, &facts())),
            (
                "/tmp/master-process-1000/compile-cache".into(),
                "/tmp/master-process-1000".into()
            )
        );
    }

    #[test]
    fn on_uses_the_cache_home_when_there_is_one() {
        let f = CacheFacts {
            xdg_cache_home: Some(PathBuf::from("/home/u/.cache")),
            ..facts()
        };
        assert_eq!(
            uses(plan(&CacheSetting::On, &f)),
            (
                "/home/u/.cache/master-process/compile-cache".into(),
                "/home/u/.cache/master-process".into()
            )
        );
    }

    #[test]
    fn a_folder_setting_is_used_as_it_is_and_only_it_is_owned() {
        let setting = CacheSetting::Folder(PathBuf::from("/srv/cache/app"));
        assert_eq!(
            uses(plan(&setting, &facts())),
            ("/srv/cache/app".into(), "/srv/cache/app".into())
        );
    }

    #[test]
    fn off_and_node_before_22_1_give_no_folder() {
        assert_eq!(
            plan(&CacheSetting::Off, &facts()),
            CachePlan::Off(CacheOff::Setting)
        );
        for (major, minor) in [(20, 20), (22, 0)] {
            let node = NodeVersion {
                major,
                minor,
                patch: 9,
            };
            let f = CacheFacts { node, ..facts() };
            assert_eq!(
                plan(&CacheSetting::On, &f),
                CachePlan::Off(CacheOff::Unsupported(node))
            );
        }
        let node = NodeVersion {
            major: 22,
            minor: 1,
            patch: 0,
        };
        assert!(matches!(
            plan(&CacheSetting::On, &CacheFacts { node, ..facts() }),
            CachePlan::Use { .. }
        ));
    }

    #[test]
    fn the_users_own_node_compile_cache_wins_even_over_a_folder_setting() {
        let f = CacheFacts {
            user_folder: Some("/mine".into()),
            ..facts()
        };
        for setting in [CacheSetting::On, CacheSetting::Folder("/x".into())] {
            assert_eq!(
                plan(&setting, &f),
                CachePlan::Off(CacheOff::UserFolder("/mine".into()))
            );
        }
        let f = CacheFacts {
            user_disabled: true,
            ..facts()
        };
        assert_eq!(
            plan(&CacheSetting::On, &f),
            CachePlan::Off(CacheOff::UserDisabled)
        );
    }

    #[test]
    fn workers_have_a_cache_with_the_masters_folder_or_the_users_own() {
        let user = CacheFacts {
            user_folder: Some("/mine".into()),
            ..facts()
        };
        let old = CacheFacts {
            node: NodeVersion {
                major: 20,
                minor: 20,
                patch: 0,
            },
            ..facts()
        };
        let disabled = CacheFacts {
            user_disabled: true,
            ..facts()
        };
        assert!(plan(&CacheSetting::On, &facts()).workers_have_cache());
        assert!(plan(&CacheSetting::On, &user).workers_have_cache());
        assert!(!plan(&CacheSetting::Off, &facts()).workers_have_cache());
        assert!(!plan(&CacheSetting::On, &old).workers_have_cache());
        assert!(!plan(&CacheSetting::On, &disabled).workers_have_cache());
    }

    #[test]
    fn owned_folders_run_from_the_owned_one_down() {
        let chain = owned_folders(
            Path::new("/tmp/master-process-0/compile-cache"),
            Path::new("/tmp/master-process-0"),
        );
        assert_eq!(
            chain,
            [
                PathBuf::from("/tmp/master-process-0"),
                PathBuf::from("/tmp/master-process-0/compile-cache")
            ]
        );
        assert_eq!(
            owned_folders(Path::new("/srv/c"), Path::new("/srv/c")),
            [PathBuf::from("/srv/c")]
        );
    }

    #[test]
    fn only_a_real_folder_of_ours_closed_to_others_passes() {
        let ours = FolderFacts {
            kind: FolderKind::Folder,
            owner: 1000,
            mode: 0o700,
        };
        assert_eq!(check_folder(&ours, 1000), Ok(()));
        assert_eq!(
            check_folder(
                &FolderFacts {
                    mode: 0o755,
                    ..ours
                },
                1000
            ),
            Ok(())
        );
        assert_eq!(
            check_folder(&ours, 0),
            Err(Refusal::OwnedBy(1000)),
            "root does not use another user's folder"
        );
        assert_eq!(
            check_folder(
                &FolderFacts {
                    mode: 0o770,
                    ..ours
                },
                1000
            ),
            Err(Refusal::OpenToOthers(0o770))
        );
        assert_eq!(
            check_folder(
                &FolderFacts {
                    mode: 0o1777,
                    ..ours
                },
                1000
            ),
            Err(Refusal::OpenToOthers(0o1777))
        );
        assert_eq!(
            check_folder(
                &FolderFacts {
                    kind: FolderKind::Symlink,
                    ..ours
                },
                1000
            ),
            Err(Refusal::Symlink)
        );
        assert_eq!(
            check_folder(
                &FolderFacts {
                    kind: FolderKind::Other,
                    ..ours
                },
                1000
            ),
            Err(Refusal::NotAFolder)
        );
    }
}
