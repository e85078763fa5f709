//! `monstack uninstall`: the teardown, planned as plain data ([`plan`]) and then carried
//! out ([`run`]). It removes only what monstack put on the host: the services it runs
//! (stopped, and disabled under systemd), the files in the state's record of owned files
//! (units, configs, the stack's logrotate and rsyslog drop-ins), the releases it
//! installed; data dirs only with `purge`. System users, the download cache and what
//! monstack created in Grafana's database are left alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Context as _;

use crate::artifact::{Layout, Record};
use crate::atomic_fs;
use crate::config::{ComponentKind, Loaded};
use crate::hostfile::FileRole;
use crate::paths::Root;
use crate::plan::RSYSLOG;
use crate::report::{Action, Change, Report};
use crate::services::{self, ServiceManager, ServiceManagerKind};
use crate::state::StateDir;

/// What to tear down.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// These components only; empty: the whole stack (with its logrotate and rsyslog files).
    pub components: Vec<ComponentKind>,
    /// Remove the data dirs too.
    pub purge: bool,
}

/// One step of the teardown.
#[derive(Debug, Clone)]
enum Step {
    /// Stop the service (and disable it under systemd). `direct`: a process an earlier
    /// `direct` apply started while the recorded manager is now systemd.
    Service { kind: ComponentKind, direct: bool },
    /// Remove a file monstack wrote.
    File { host: PathBuf, role: FileRole },
    /// Remove the installed releases, `current` and the install record.
    Releases { kind: ComponentKind, versions: Vec<String> },
    /// Remove a data dir (`purge`), or keep it (`remove: false`).
    Data { kind: ComponentKind, host: PathBuf, remove: bool },
}

/// The teardown: every step in execution order (services first, data last).
#[derive(Debug, Clone)]
pub struct Teardown {
    steps: Vec<Step>,
    components: Vec<ComponentKind>,
}

impl Teardown {
    /// The plan as a report: one resource per step.
    pub fn report(&self) -> Report {
        Report::from_changes(self.steps.iter().map(step_change).collect(), Vec::new())
    }

    /// Nothing to remove (kept data dirs do not count).
    pub fn is_empty(&self) -> bool {
        !self.steps.iter().any(|s| !matches!(s, Step::Data { remove: false, .. }))
    }
}

fn step_change(step: &Step) -> Change {
    match step {
        Step::Service { kind, direct } => {
            let name = if *direct { format!("{kind} (direct)") } else { kind.name().to_string() };
            let mut c = Change::new("service", name, Action::Stop);
            c.detail = Some("stop and disable".to_string());
            c
        }
        Step::File { host, role } => {
            let kind = if matches!(role, FileRole::Unit(_)) { "unit" } else { "file" };
            Change::new(kind, host.display().to_string(), Action::Delete)
        }
        Step::Releases { kind, versions } => {
            let mut c = Change::new("release", kind.name(), Action::Delete);
            c.detail = Some(versions.join(", "));
            c
        }
        Step::Data { host, remove, .. } => {
            let action = if *remove { Action::Delete } else { Action::Unchanged };
            let mut c = Change::new("dir", host.display().to_string(), action);
            if !*remove {
                c.detail = Some("data kept; `--purge` removes it".to_string());
            }
            c
        }
    }
}

/// Where the teardown happens.
pub struct Target<'a> {
    pub root: &'a Root,
    pub loaded: &'a Loaded,
    pub state: &'a StateDir,
    pub mgr: &'a dyn ServiceManager,
}

/// What uninstall would remove (reads only).
pub fn plan(t: &Target, opts: &Options) -> crate::error::Result<Teardown> {
    let whole_stack = opts.components.is_empty();
    let components: Vec<ComponentKind> = ComponentKind::ALL
        .into_iter()
        .filter(|k| whole_stack || opts.components.contains(k))
        .collect();
    let owned = t.state.owned();
    let kept = t.state.kept_data();
    let ours = |kind: ComponentKind| {
        Layout::new(t.root, t.loaded, kind).record.exists()
            || owned.values().any(|r| r.component() == Some(kind))
    };
    let mut steps = Vec::new();
    // Reverse start order: exporters and Alertmanager before Prometheus.
    for &kind in components.iter().rev() {
        if ours(kind) && t.mgr.present(kind)? {
            steps.push(Step::Service { kind, direct: false });
        }
        if t.mgr.kind() == ServiceManagerKind::Systemd && direct(t)?.running(kind)?.is_some() {
            steps.push(Step::Service { kind, direct: true });
        }
    }
    for (host, role) in &owned {
        let selected = match role.component() {
            Some(k) => components.contains(&k),
            None => whole_stack,
        };
        if selected && crate::state::is_file(&t.root.host(host)) {
            steps.push(Step::File { host: host.clone(), role: *role });
        }
    }
    for &kind in &components {
        let layout = Layout::new(t.root, t.loaded, kind);
        if layout.record.exists() {
            steps.push(Step::Releases { kind, versions: versions(&layout) });
        }
        let data =
            kept.get(&kind).cloned().unwrap_or_else(|| t.loaded.config.component(kind).data_dir);
        if (ours(kind) || kept.contains_key(&kind)) && t.root.host(&data).is_dir() {
            // Never a whole top-level tree (`/`, `/var`), whatever `data_dir` says.
            let remove = opts.purge && data.components().count() > 2;
            steps.push(Step::Data { kind, host: data, remove });
        }
    }
    Ok(Teardown { steps, components })
}

/// The release dirs on disk, by name; the recorded ones when the dir is gone.
fn versions(layout: &Layout) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(&layout.releases)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    if v.is_empty() {
        let r = Record::read(&layout.record);
        v.extend(r.current.into_iter().chain(r.previous).map(|i| i.version));
    }
    v.sort();
    v
}

fn direct(t: &Target) -> crate::error::Result<Box<dyn ServiceManager>> {
    services::manager(ServiceManagerKind::Direct, t.root, t.state)
}

/// Carry the teardown out. Each step is independent: a failed one is reported (and
/// the error returned) while the others still run. The record of owned files and kept
/// data dirs is updated to what is left.
pub fn run(
    t: &Target,
    teardown: &Teardown,
    info: &dyn Fn(String),
) -> (Report, Option<crate::error::Error>) {
    let mut changes = Vec::new();
    let mut errors: Vec<crate::error::Error> = Vec::new();
    let mut units_gone = false;
    let mut rsyslog_gone = false;
    for step in &teardown.steps {
        let mut c = step_change(step);
        if !c.action.is_change() {
            changes.push(c);
            continue;
        }
        info(format!("{} {} {}", c.action.as_str(), c.kind, c.name));
        match run_step(t, step) {
            Ok(()) => {
                units_gone |= matches!(step, Step::File { role: FileRole::Unit(_), .. });
                rsyslog_gone |= matches!(step, Step::File { role: FileRole::Rsyslog, .. });
            }
            Err(e) => {
                c = c.into_failed(format!("{e:#}"));
                errors.push(e);
            }
        }
        changes.push(c);
    }
    if t.mgr.kind() == ServiceManagerKind::Systemd {
        if units_gone {
            if let Err(e) = t.mgr.daemon_reload() {
                errors.push(e);
            }
        }
        if rsyslog_gone && t.mgr.unit_active(&format!("{RSYSLOG}.service")).unwrap_or(false) {
            // rsyslog reads its drop-ins only at start.
            info(format!("restarting {RSYSLOG}"));
            match t.mgr.restart_unit(&format!("{RSYSLOG}.service")) {
                Ok(()) => {
                    let mut c = Change::new("service", RSYSLOG, Action::Restart);
                    c.detail = Some("its drop-in was removed".to_string());
                    changes.push(c);
                }
                Err(e) => crate::printer::warn(format!("{e:#}")),
            }
        }
    }
    if let Err(e) = forget(t, teardown, &changes) {
        errors.push(e);
    }
    remove_empty_dirs(t, teardown);
    let mut errors = errors.into_iter();
    let first = errors.next().map(|e| e.context("uninstall did not finish"));
    let rest: Vec<crate::error::Error> = errors.collect();
    // The first is also the command's error: the same entry, listed once.
    let entries: Vec<crate::error::Entry> =
        first.iter().chain(&rest).flat_map(|e| e.entries()).collect();
    (Report::from_changes(changes, entries), first)
}

fn run_step(t: &Target, step: &Step) -> crate::error::Result<()> {
    match step {
        Step::Service { kind, direct: false } => {
            t.mgr.disable(*kind).map(|_| ()).with_context(|| format!("cannot stop `{kind}`"))
        }
        Step::Service { kind, direct: true } => direct(t)?
            .stop(*kind)
            .map(|_| ())
            .with_context(|| format!("cannot stop `{kind}` (started by `direct`)")),
        Step::File { host, .. } => Ok(atomic_fs::remove_file(&t.root.host(host))?),
        Step::Releases { kind, .. } => {
            let layout = Layout::new(t.root, t.loaded, *kind);
            remove_path(&layout.current)?;
            remove_path(&layout.releases)?;
            remove_path(&layout.record)
        }
        Step::Data { host, .. } => remove_path(&t.root.host(host)),
    }
}

/// Remove a file, symlink or directory tree; one already gone is fine.
fn remove_path(path: &Path) -> crate::error::Result<()> {
    let r = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    r.with_context(|| format!("cannot remove `{}`", path.display()))
}

/// Update the state: removed files are no longer owned; a kept data dir is remembered
/// (so a later `--purge` finds it), a removed one forgotten.
fn forget(t: &Target, teardown: &Teardown, changes: &[Change]) -> crate::error::Result<()> {
    let removed = |name: &str| changes.iter().any(|c| c.name == name && c.action != Action::Failed);
    let mut owned = t.state.owned();
    owned.retain(|host, _| !removed(&host.display().to_string()) && t.root.host(host).exists());
    t.state.set_owned(&owned)?;
    let mut kept: BTreeMap<ComponentKind, PathBuf> = t.state.kept_data();
    for step in &teardown.steps {
        if let Step::Data { kind, host, remove } = step {
            if *remove && removed(&host.display().to_string()) {
                kept.remove(kind);
            } else if !*remove {
                kept.insert(*kind, host.clone());
            }
        }
    }
    t.state.set_kept_data(&kept)
}

/// Directories monstack made that are empty now (`rules/`, `templates/`, `secrets/`,
/// the install dir itself): removed. A directory with anything left in it stays.
fn remove_empty_dirs(t: &Target, teardown: &Teardown) {
    for &kind in &teardown.components {
        let install = t.root.host(&t.loaded.config.component(kind).install_dir);
        for sub in ["rules", "templates", "secrets"] {
            let _ = fs::remove_dir(install.join(sub));
        }
        let _ = fs::remove_dir(&install);
    }
}
