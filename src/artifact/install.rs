//! The install layout and the install record.
//!
//! `{install_dir}/releases/{version}/` holds a release; `{install_dir}/current` is a
//! relative symlink to `releases/{version}`, switched atomically (new symlink beside
//! it, then rename). Staging dirs are `releases/.staging-*`, on the same filesystem as
//! their destination. `{state_dir}/releases/{component}.json` records the active and
//! the previous release (version, digest, arch, time) so re-runs need no network.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ComponentKind, Loaded};
use crate::paths::Root;

const STAGING_PREFIX: &str = ".staging-";

/// Host paths of one component's installation (already under the root).
#[derive(Debug, Clone)]
pub struct Layout {
    pub releases: PathBuf,
    pub current: PathBuf,
    pub record: PathBuf,
}

impl Layout {
    pub fn new(root: &Root, loaded: &Loaded, kind: ComponentKind) -> Layout {
        let install_dir = root.host(&loaded.config.component(kind).install_dir);
        Layout {
            releases: install_dir.join("releases"),
            current: install_dir.join("current"),
            record: root
                .host(&loaded.config.state_dir)
                .join("releases")
                .join(format!("{}.json", kind.name())),
        }
    }

    pub fn release_dir(&self, version: &str) -> PathBuf {
        self.releases.join(version)
    }

    /// The version `current` points at, if it points at an existing release dir.
    pub fn current_version(&self) -> Option<String> {
        let target = fs::read_link(&self.current).ok()?;
        let version = target.file_name()?.to_str()?.to_string();
        self.release_dir(&version).is_dir().then_some(version)
    }

    /// A fresh, empty staging dir beside the release dirs.
    pub fn new_staging(&self, version: &str) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.releases)?;
        let dir = self.releases.join(format!("{STAGING_PREFIX}{version}-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// Remove staging dirs left by an interrupted run.
    pub fn clean_stale_staging(&self) {
        let Ok(rd) = fs::read_dir(&self.releases) else { return };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    /// Move a verified staging dir into place as `releases/{version}`.
    pub fn promote(&self, staging: &Path, version: &str) -> io::Result<()> {
        let dest = self.release_dir(version);
        if fs::symlink_metadata(&dest).is_ok() {
            let old =
                self.releases.join(format!("{STAGING_PREFIX}old-{version}-{}", std::process::id()));
            fs::rename(&dest, &old)?;
            fs::rename(staging, &dest)?;
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(staging, &dest)?;
        }
        Ok(())
    }

    /// Point `current` at `releases/{version}` atomically.
    pub fn switch_current(&self, version: &str) -> io::Result<()> {
        let tmp = self.current.with_file_name(format!(".current.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(Path::new("releases").join(version), &tmp)?;
        fs::rename(&tmp, &self.current).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// Remove release dirs other than the ones named.
    pub fn prune(&self, keep: &[&str]) {
        let Ok(rd) = fs::read_dir(&self.releases) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !keep.contains(&name.as_str()) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

/// One installed release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    pub version: String,
    pub sha256: String,
    pub arch: String,
    /// RFC 3339, UTC.
    pub installed_at: String,
}

/// `{state_dir}/releases/{component}.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub current: Option<Installed>,
    pub previous: Option<Installed>,
}

impl Record {
    /// Read the record; a missing or unreadable one counts as empty (the layout on
    /// disk is then the truth and the next install rewrites it).
    pub fn read(path: &Path) -> Record {
        fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Write atomically ([`crate::atomic_fs::write_atomic`]).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut body = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        body.push(b'\n');
        crate::atomic_fs::write_atomic(path, &body, 0o644, Default::default())
            .map_err(crate::atomic_fs::Error::into_io)
    }
}

/// Now, as RFC 3339 (seconds, UTC).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
