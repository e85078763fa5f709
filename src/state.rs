//! monstack's state dir (`state_dir`, /var/lib/monstack by default, under `--root`):
//! its layout, the exclusive apply lock, the service manager the last apply used and
//! the journal of service actions still owed after a file landed.
//!
//! Layout:
//! - `apply.lock`          flock'ed by a running apply; holds its pid
//! - `service-manager`     `systemd`, `direct` or `none` (what apply used)
//! - `pending`             service actions owed (survives a killed apply), a JSON [`Owed`] a line
//! - `owned`               every file monstack wrote and still owns, a JSON [`OwnedFile`] a line:
//!   the only files apply deletes (once the config no longer has them) and uninstall removes
//! - `kept-data`           data dirs an uninstall kept (a later `uninstall --purge` removes them)
//! - `backups/`            previous content of every file apply replaced
//! - `run/<name>.pid`      pids of processes `direct` started
//! - `log/<name>.log`      their stdout and stderr
//! - `staging/`            candidate configs being validated

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_fs::{self, Owner};
use crate::config::{ComponentKind, Loaded};
use crate::hostfile::FileRole;
use crate::paths::Root;
use crate::services::kind::ServiceManagerKind;

/// The state dir of one config under one root.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// Host path (e.g. `/var/lib/monstack`), for messages and interfaces that map it.
    pub host: PathBuf,
    /// Real path under the root.
    pub path: PathBuf,
}

impl StateDir {
    /// The state dir `loaded` configures, under `root`.
    pub fn new(root: &Root, loaded: &Loaded) -> Self {
        let host = loaded.config.state_dir.clone();
        Self { path: root.host(&host), host }
    }

    /// `backups/`.
    pub fn backups(&self) -> atomic_fs::Backups {
        atomic_fs::Backups::new(self.path.join("backups"))
    }

    /// `run/<name>.pid`.
    pub fn pid_file(&self, name: &str) -> PathBuf {
        self.path.join("run").join(format!("{name}.pid"))
    }

    /// `log/<name>.log`.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.path.join("log").join(format!("{name}.log"))
    }

    /// `staging/`.
    pub fn staging(&self) -> PathBuf {
        self.path.join("staging")
    }

    fn manager_file(&self) -> PathBuf {
        self.path.join("service-manager")
    }

    fn pending_file(&self) -> PathBuf {
        self.path.join("pending")
    }

    fn owned_file(&self) -> PathBuf {
        self.path.join("owned")
    }

    /// The files monstack wrote (host path -> role). Empty when none are recorded;
    /// lines it cannot read are skipped (such a file is then never deleted).
    pub fn owned(&self) -> BTreeMap<PathBuf, FileRole> {
        fs::read_to_string(self.owned_file())
            .map(|s| {
                s.lines()
                    .filter_map(|l| serde_json::from_str::<OwnedFile>(l).ok())
                    .map(|o| (o.path, o.role))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn kept_data_file(&self) -> PathBuf {
        self.path.join("kept-data")
    }

    /// Data dirs an uninstall kept, per component.
    pub fn kept_data(&self) -> BTreeMap<ComponentKind, PathBuf> {
        fs::read(self.kept_data_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Replace the record of kept data dirs (removed when empty).
    pub fn set_kept_data(
        &self,
        dirs: &BTreeMap<ComponentKind, PathBuf>,
    ) -> crate::error::Result<()> {
        if &self.kept_data() == dirs {
            return Ok(());
        }
        if dirs.is_empty() {
            atomic_fs::remove_file(&self.kept_data_file())?;
            return Ok(());
        }
        let body = serde_json::to_vec_pretty(dirs)?;
        atomic_fs::write_atomic(&self.kept_data_file(), &body, 0o644, Owner::default())?;
        Ok(())
    }

    /// Replace the record of owned files (no write when it is unchanged).
    pub fn set_owned(&self, files: &BTreeMap<PathBuf, FileRole>) -> crate::error::Result<()> {
        if &self.owned() == files {
            return Ok(());
        }
        let mut s = String::new();
        for (path, role) in files {
            s.push_str(&serde_json::to_string(&OwnedFile { path: path.clone(), role: *role })?);
            s.push('\n');
        }
        atomic_fs::write_atomic(&self.owned_file(), s.as_bytes(), 0o644, Owner::default())?;
        Ok(())
    }

    /// The service manager the last apply recorded, if any.
    pub fn recorded_manager(&self) -> Option<ServiceManagerKind> {
        let s = fs::read_to_string(self.manager_file()).ok()?;
        match s.trim() {
            "systemd" => Some(ServiceManagerKind::Systemd),
            "direct" => Some(ServiceManagerKind::Direct),
            "none" => Some(ServiceManagerKind::None),
            _ => None,
        }
    }

    /// Record the service manager apply used (no write when it is already recorded).
    pub fn record_manager(&self, kind: ServiceManagerKind) -> crate::error::Result<()> {
        if self.recorded_manager() == Some(kind) {
            return Ok(());
        }
        let name = match kind {
            ServiceManagerKind::Systemd => "systemd",
            ServiceManagerKind::Direct => "direct",
            ServiceManagerKind::None | ServiceManagerKind::Auto => "none",
        };
        atomic_fs::write_atomic(
            &self.manager_file(),
            format!("{name}\n").as_bytes(),
            0o644,
            Owner::default(),
        )?;
        Ok(())
    }

    /// Service actions owed by an earlier apply that was interrupted. Empty when none.
    pub fn pending(&self) -> BTreeSet<Owed> {
        fs::read_to_string(self.pending_file())
            .map(|s| s.lines().filter_map(Owed::parse).collect())
            .unwrap_or_default()
    }

    /// Record service actions owed before the files that need them land.
    pub fn set_pending(&self, items: &BTreeSet<Owed>) -> crate::error::Result<()> {
        if items.is_empty() {
            return self.clear_pending();
        }
        if &self.pending() == items {
            return Ok(());
        }
        let mut s = String::new();
        for i in items {
            s.push_str(&serde_json::to_string(i)?);
            s.push('\n');
        }
        atomic_fs::write_atomic(&self.pending_file(), s.as_bytes(), 0o644, Owner::default())?;
        Ok(())
    }

    /// Every owed action was done.
    pub fn clear_pending(&self) -> crate::error::Result<()> {
        match fs::remove_file(self.pending_file()) {
            Ok(()) => Ok(atomic_fs::sync_dir(&self.path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(crate::error::Error::from(e).context("cannot remove the pending-actions file"))
            }
        }
    }
}

/// One file monstack wrote: its host path and what it is (which component it belongs
/// to, what to reload when it goes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedFile {
    pub path: PathBuf,
    pub role: FileRole,
}

/// Whether `path` names a file (not a directory) that exists, symlinks not followed.
pub fn is_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir())
}

/// A service action the journal says is owed: files it depends on landed, the action
/// itself may not have run yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owed {
    Restart(ComponentKind),
    Reload(ComponentKind),
    /// rsyslog re-reads its drop-ins only at start.
    RestartRsyslog,
}

impl Owed {
    /// One journal line: JSON (`{"restart":"prometheus"}`), or the words earlier
    /// versions wrote (`restart prometheus`). Anything else is skipped.
    fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        if let Ok(o) = serde_json::from_str(line) {
            return Some(o);
        }
        match line.split_once(' ')? {
            ("restart", "rsyslog") => Some(Self::RestartRsyslog),
            ("restart", k) => ComponentKind::from_name(k).map(Self::Restart),
            ("reload", k) => ComponentKind::from_name(k).map(Self::Reload),
            _ => None,
        }
    }
}

/// An apply refused because another one holds the lock.
#[derive(Debug, thiserror::Error)]
#[error("another `monstack apply` is running (pid {pid}) on this host; lock `{}`", path.display())]
pub struct Locked {
    /// The holder's pid, as it recorded it (`unknown` if unreadable).
    pub pid: String,
    pub path: PathBuf,
}

/// The exclusive apply lock: an flock on `apply.lock`, released when dropped or when
/// the process dies (so a killed apply never leaves a stale lock behind).
#[derive(Debug)]
pub struct ApplyLock {
    _file: File,
}

impl ApplyLock {
    /// Take the lock or fail at once, naming the holder's pid.
    pub fn acquire(state: &StateDir) -> crate::error::Result<ApplyLock> {
        fs::create_dir_all(&state.path).map_err(|e| {
            crate::failure!("cannot create state dir `{}`: {e}", state.path.display())
        })?;
        let path = state.path.join("apply.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| crate::failure!("cannot open lock `{}`: {e}", path.display()))?;
        // SAFETY: flock on a valid, owned descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                let pid = s.trim().to_string();
                let pid = if pid.is_empty() { "unknown".to_string() } else { pid };
                return Err(crate::error::with_hint(
                    Locked { pid, path },
                    "wait for it to finish; the lock is released as soon as that process exits",
                ));
            }
            crate::bail!("cannot lock `{}`: {err}", path.display());
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(ApplyLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn state(dir: &Path) -> StateDir {
        StateDir { host: PathBuf::from("/var/lib/monstack"), path: dir.to_path_buf() }
    }

    #[test]
    fn second_lock_is_refused_with_the_holder_pid() {
        let d = tempfile::tempdir().unwrap();
        let s = state(d.path());
        let held = ApplyLock::acquire(&s).unwrap();
        let err = ApplyLock::acquire(&s).unwrap_err();
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
        drop(held);
        ApplyLock::acquire(&s).expect("free again after release");
    }

    #[test]
    fn manager_and_pending_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = state(d.path());
        assert_eq!(s.recorded_manager(), None);
        s.record_manager(ServiceManagerKind::Direct).unwrap();
        assert_eq!(s.recorded_manager(), Some(ServiceManagerKind::Direct));
        let items: BTreeSet<Owed> =
            [Owed::Reload(ComponentKind::Prometheus), Owed::RestartRsyslog].into();
        s.set_pending(&items).unwrap();
        assert_eq!(s.pending(), items);
        let text = fs::read_to_string(s.pending_file()).unwrap();
        assert_eq!(text, "{\"reload\":\"prometheus\"}\n\"restart_rsyslog\"\n");
        fs::write(s.pending_file(), "restart node_exporter\nrestart rsyslog\nnonsense\n").unwrap();
        let legacy: BTreeSet<Owed> =
            [Owed::Restart(ComponentKind::NodeExporter), Owed::RestartRsyslog].into();
        assert_eq!(s.pending(), legacy, "lines of earlier versions are read");
        s.clear_pending().unwrap();
        assert!(s.pending().is_empty());
    }

    #[test]
    fn owned_files_round_trip_and_bad_lines_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let s = state(d.path());
        assert!(s.owned().is_empty());
        let files: BTreeMap<PathBuf, FileRole> = [
            (PathBuf::from("/opt/prometheus/rules/a.yml"), FileRole::PrometheusRules),
            (
                PathBuf::from("/etc/systemd/system/alertmanager.service"),
                FileRole::Unit(ComponentKind::Alertmanager),
            ),
        ]
        .into();
        s.set_owned(&files).unwrap();
        assert_eq!(s.owned(), files);
        let mut text = fs::read_to_string(s.owned_file()).unwrap();
        assert!(text.contains(r#"{"unit":"alertmanager"}"#), "{text}");
        text.push_str("not json\n");
        fs::write(s.owned_file(), text).unwrap();
        assert_eq!(s.owned(), files, "an unreadable line owns nothing");
    }
}
