//! master-process's own `package.json` version, read at start and before each fork.

use std::fs;
use std::path::{Path, PathBuf};

/// Watches one `package.json` for a version change.
#[derive(Debug)]
pub struct PackageWatch {
    path: PathBuf,
    version: Option<String>,
}

impl PackageWatch {
    /// Remember the version in `path` now.
    pub fn new(path: &Path) -> Self {
        PackageWatch {
            path: path.to_path_buf(),
            version: read_version(path),
        }
    }

    /// The version read at start, if it could be read.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The new version when it differs from the one at start (an unreadable file is no change).
    pub fn changed(&self) -> Option<String> {
        let now = read_version(&self.path)?;
        (self.version.as_ref() != Some(&now)).then_some(now)
    }
}

fn read_version(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}
