//! `monstack.lock`: the SHA-256 of each component's tarball, resolved once by
//! `monstack lock` and committed beside `monstack.yaml`. YAML, one entry per
//! component, sorted, so diffs are readable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ComponentKind, Loaded};

/// File name, beside the config file.
pub const FILE_NAME: &str = "monstack.lock";

const HEADER: &str = "# monstack.lock: tarball digests resolved by `monstack lock`.\n\
                      # Commit it with monstack.yaml; install and apply verify against it.\n";

/// The lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// Format version (1).
    pub version: u32,
    pub components: Vec<LockEntry>,
    /// grafana.com dashboard revisions (`grafana.dashboards` `{gnet_id, revision}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dashboards: Vec<GnetLockEntry>,
}

/// One locked grafana.com dashboard revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GnetLockEntry {
    pub gnet_id: u64,
    pub revision: u64,
    pub url: String,
    pub sha256: String,
}

/// One locked tarball.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub component: ComponentKind,
    pub version: String,
    pub arch: String,
    pub url: String,
    pub sha256: String,
}

/// Lock file failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a valid lock file: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("cannot write `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Where the lock file of this config lives.
pub fn path(loaded: &Loaded) -> PathBuf {
    loaded.path.parent().unwrap_or(Path::new(".")).join(FILE_NAME)
}

impl LockFile {
    /// Read the lock file; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<LockFile>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Read { path: path.into(), source }),
        };
        let lock: LockFile = serde_norway::from_str(&text)
            .map_err(|e| Error::Parse { path: path.into(), detail: e.to_string() })?;
        if lock.version != 1 {
            return Err(Error::Parse {
                path: path.into(),
                detail: format!("unsupported version {}", lock.version),
            });
        }
        Ok(Some(lock))
    }

    /// Write atomically ([`crate::atomic_fs::write_atomic`]).
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let mut sorted = self.clone();
        sorted.components.sort_by_key(|e| e.component);
        let body = serde_norway::to_string(&sorted).expect("lock file serialises");
        let text = format!("{HEADER}{body}");
        crate::atomic_fs::write_atomic(path, text.as_bytes(), 0o644, Default::default())
            .map_err(|e| Error::Write { path: path.into(), source: e.into_io() })
    }

    /// The entry for a component, whatever its version.
    pub fn entry(&self, kind: ComponentKind) -> Option<&LockEntry> {
        self.components.iter().find(|e| e.component == kind)
    }
}
