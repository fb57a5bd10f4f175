//! master-process's own `package.json` version, read at start and checked before each fork.
//! The check runs between a SIGHUP and its forks, so it reads and parses the file only when
//! `stat` says it is another file or was written since the last read (its inode, size,
//! mtime or ctime differ; ctime changes on every write and cannot be set back, so a new
//! file with an old mtime, as npm extracts them, is still seen).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What `stat` says of the file: equal stamps mean it was not written in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// Watches one `package.json` for a version change.
#[derive(Debug)]
pub struct PackageWatch {
    path: PathBuf,
    version: Option<String>,
    /// The stamp of the file as it was when last read (and the version then read).
    last: Option<(Stamp, Option<String>)>,
}

impl PackageWatch {
    /// Remember the version in `path` now.
    pub fn new(path: &Path) -> Self {
        let stamp = stamp(path);
        let version = read_version(path);
        PackageWatch {
            path: path.to_path_buf(),
            last: stamp.map(|s| (s, version.clone())),
            version,
        }
    }

    /// The version read at start, if it could be read.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The new version when it differs from the one at start (an unreadable file is no change).
    pub fn changed(&mut self) -> Option<String> {
        let now = match (stamp(&self.path), &self.last) {
            (Some(stamp), Some((last, version))) if stamp == *last => version.clone(),
            (stamp, _) => {
                let version = read_version(&self.path);
                self.last = stamp.map(|s| (s, version.clone()));
                version
            }
        }?;
        (self.version.as_ref() != Some(&now)).then_some(now)
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = fs::metadata(path).ok()?;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
    })
}

fn read_version(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mp-package-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("package.json")
    }

    fn write(path: &Path, version: &str) {
        fs::write(
            path,
            format!(r#"{{"name":"master-process","version":"{version}"}}"#),
        )
        .unwrap();
    }

    #[test]
    fn a_new_version_is_seen_even_with_the_same_size_and_mtime() {
        let path = temp("same-size");
        write(&path, "5.0.0");
        let old = fs::metadata(&path).unwrap().modified().unwrap();
        let mut watch = PackageWatch::new(&path);
        assert_eq!(watch.changed(), None);
        write(&path, "5.0.1");
        // As npm extracts a package: the same fixed mtime on the new file.
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(watch.changed(), Some("5.0.1".into()));
        assert_eq!(watch.changed(), Some("5.0.1".into()), "and stays changed");
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_rewrite_with_the_same_version_or_an_unreadable_file_is_no_change() {
        let path = temp("same-version");
        write(&path, "5.0.0");
        let mut watch = PackageWatch::new(&path);
        write(&path, "5.0.0");
        assert_eq!(watch.changed(), None);
        fs::remove_file(&path).unwrap();
        assert_eq!(watch.changed(), None);
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }
}
