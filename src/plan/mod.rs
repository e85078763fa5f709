//! The plan: every managed resource observed on the host and diffed against the
//! desired state, as plain data — what each resource is, what will happen to it and
//! why. [`plan`] builds it (reads the host only: files, install records, /proc,
//! systemctl queries; it never writes and never uses the network); `apply` lands it.

mod build;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::atomic_fs::Owner;
use crate::config::{ComponentKind, Loaded};
use crate::paths::Root;
use crate::render::{self, FileRole, RenderedFile, ServiceSpec};
use crate::report::{Action, Change};
use crate::services::ServiceManager;
use crate::services::ServiceManagerKind;
use crate::state::{Owed, StateDir};

pub use build::{file_diff, owner_for, plan};

/// The host's syslog daemon, whose drop-in monstack writes (its service name in
/// reports; the systemd unit is `rsyslog.service`).
pub const RSYSLOG: &str = "rsyslog";

/// A release to install (or not).
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    pub kind: ComponentKind,
    pub action: Action,
    pub detail: Option<String>,
}

impl ReleasePlan {
    /// This resource in a report.
    pub fn change(&self) -> Change {
        Change {
            detail: self.detail.clone(),
            ..Change::new("release", self.kind.name(), self.action)
        }
    }
}

/// A system user or a directory the services need (data dirs).
#[derive(Debug, Clone)]
pub struct DirPlan {
    pub host: PathBuf,
    pub real: PathBuf,
    pub owner: Owner,
    pub action: Action,
    /// A system user (named by `host`) rather than a directory.
    pub user: bool,
}

impl DirPlan {
    /// This resource in a report.
    pub fn change(&self) -> Change {
        let kind = if self.user { "user" } else { "dir" };
        Change::new(kind, self.host.display().to_string(), self.action)
    }
}

/// One rendered file against what is on disk.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub file: RenderedFile,
    pub real: PathBuf,
    pub owner: Owner,
    pub action: Action,
    /// Unified diff with secrets masked (for a change).
    pub diff: Option<String>,
    pub detail: Option<String>,
}

impl FilePlan {
    /// This resource in a report.
    pub fn change(&self) -> Change {
        let kind = if self.is_unit() { "unit" } else { "file" };
        Change {
            diff: self.diff.clone(),
            detail: self.detail.clone(),
            ..Change::new(kind, self.file.path.display().to_string(), self.action)
        }
    }

    /// A systemd unit (systemd must re-read it).
    pub fn is_unit(&self) -> bool {
        matches!(self.file.role, FileRole::Unit(_))
    }
}

/// What happens to one service.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub spec: ServiceSpec,
    pub action: Action,
    pub reason: Option<String>,
    pub pid: Option<u32>,
    /// A process an earlier `direct` apply started, to stop before systemd starts the
    /// unit (it would hold the unit's port). Listed after the component's own entry
    /// and stopped before any other service action.
    pub leftover: bool,
}

impl ServicePlan {
    /// The resource name: the component, `<component> (direct)` for a leftover.
    pub fn name(&self) -> String {
        if self.leftover {
            format!("{} (direct)", self.spec.kind.name())
        } else {
            self.spec.kind.name().to_string()
        }
    }

    /// This resource in a report.
    pub fn change(&self) -> Change {
        Change { detail: self.reason.clone(), ..Change::new("service", self.name(), self.action) }
    }
}

/// Everything apply would do, in execution order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub manager: ServiceManagerKind,
    pub releases: Vec<ReleasePlan>,
    pub dirs: Vec<DirPlan>,
    pub files: Vec<FilePlan>,
    pub daemon_reload: bool,
    pub services: Vec<ServicePlan>,
    /// Restart rsyslog (systemd, rsyslog active) because its drop-in changed: it reads
    /// drop-ins only at start.
    pub rsyslog_restart: bool,
    pub grafana: Vec<Change>,
    /// What could not be observed (an unreachable Grafana); plan reports these and
    /// exits 1.
    pub errors: Vec<String>,
}

impl Plan {
    /// One [`Change`] per resource, in execution order.
    pub fn changes(&self) -> Vec<Change> {
        let mut out: Vec<Change> = self.releases.iter().map(ReleasePlan::change).collect();
        out.extend(self.dirs.iter().map(DirPlan::change));
        out.extend(self.files.iter().map(FilePlan::change));
        out.extend(self.services.iter().map(ServicePlan::change));
        if self.rsyslog_restart {
            let mut c = Change::new("service", RSYSLOG, Action::Restart);
            c.detail = Some("its drop-in changed".into());
            out.push(c);
        }
        out.extend(self.grafana.iter().cloned());
        out
    }

    /// Files that will be written.
    pub fn changed_files(&self) -> impl Iterator<Item = &FilePlan> {
        self.files.iter().filter(|f| f.action.is_change())
    }

    /// Journal entries for the service actions this plan owes once its files land.
    pub fn owed_actions(&self) -> BTreeSet<Owed> {
        self.services
            .iter()
            .filter_map(|s| match s.action {
                Action::Restart => Some(Owed::Restart(s.spec.kind)),
                Action::Reload => Some(Owed::Reload(s.spec.kind)),
                _ => None,
            })
            .chain(self.rsyslog_restart.then_some(Owed::RestartRsyslog))
            .collect()
    }
}

/// Inputs to planning.
pub struct PlanInput<'a> {
    pub root: &'a Root,
    pub loaded: &'a Loaded,
    pub state: &'a StateDir,
    pub templates: Option<&'a Path>,
    pub manager: &'a dyn ServiceManager,
    /// Ask Grafana what would change (reads only).
    pub grafana: bool,
}

/// The argv of each enabled component as the chosen manager runs it: host paths for
/// systemd units, paths under `--root` for `direct`.
pub fn desired_specs(
    loaded: &Loaded,
    root: &Root,
    manager: ServiceManagerKind,
) -> crate::error::Result<Vec<ServiceSpec>> {
    match manager {
        ServiceManagerKind::Direct => render::service_specs(loaded, root),
        _ => render::service_specs(loaded, &Root::default()),
    }
}
