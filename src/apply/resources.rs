//! The resource model: every managed thing observed on the host and diffed against
//! the desired state. Building a [`Plan`] reads the host only (files, install records,
//! /proc, systemctl queries); it never writes and never uses the network.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::artifact;
use crate::artifact::NetOptions;
use crate::atomic_fs::{self, Owner};
use crate::config::{ComponentKind, GrafanaMode, Loaded};
use crate::paths::Root;
use crate::render::{self, FileRole, RenderedFile, ServiceSpec};
use crate::report::{Action, Change};
use crate::services::ServiceManagerKind;
use crate::services::{self, ServiceManager};
use crate::state::StateDir;

/// The host's syslog daemon, whose drop-in monstack writes (its service name in
/// reports; the systemd unit is `rsyslog.service`).
pub const RSYSLOG: &str = "rsyslog";

/// Mask that replaces secret values in diffs and plans.
pub const MASK: &str = "********";

/// A release to install (or not).
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    pub kind: ComponentKind,
    pub action: Action,
    pub detail: Option<String>,
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
}

/// A spec for a component that is only to be stopped (no argv needed).
fn stop_spec(loaded: &Loaded, kind: ComponentKind) -> ServiceSpec {
    let comp = loaded.config.component(kind);
    ServiceSpec {
        kind,
        user: comp.user.clone(),
        binary: comp.install_dir.join("current").join(kind.binaries()[0]),
        args: Vec::new(),
        ready_address: comp.listen_address.clone(),
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
        let mut out = Vec::new();
        for r in &self.releases {
            let mut c = Change::new("release", r.kind.name(), r.action);
            c.detail = r.detail.clone();
            out.push(c);
        }
        for d in &self.dirs {
            let kind = if d.user { "user" } else { "dir" };
            out.push(Change::new(kind, d.host.display().to_string(), d.action));
        }
        for f in &self.files {
            let kind = if matches!(f.file.role, FileRole::Unit(_)) { "unit" } else { "file" };
            let mut c = Change::new(kind, f.file.path.display().to_string(), f.action);
            c.diff = f.diff.clone();
            c.detail = f.detail.clone();
            out.push(c);
        }
        for s in &self.services {
            let mut c = Change::new("service", s.name(), s.action);
            c.detail = s.reason.clone();
            out.push(c);
        }
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

    /// Journal entries (`restart prometheus`, `reload alertmanager`) for the service
    /// actions this plan owes once its files land.
    pub fn owed_actions(&self) -> BTreeSet<String> {
        self.services
            .iter()
            .filter_map(|s| match s.action {
                Action::Restart => Some(format!("restart {}", s.spec.kind.name())),
                Action::Reload => Some(format!("reload {}", s.spec.kind.name())),
                _ => None,
            })
            .chain(self.rsyslog_restart.then(|| format!("restart {RSYSLOG}")))
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
    pub net: &'a NetOptions,
    /// Ask Grafana what would change (reads only).
    pub grafana: bool,
}

/// The argv of each enabled component as the chosen manager runs it: host paths for
/// systemd units, paths under `--root` for `direct`.
pub fn desired_specs(
    loaded: &Loaded,
    root: &Root,
    manager: ServiceManagerKind,
) -> anyhow::Result<Vec<ServiceSpec>> {
    match manager {
        ServiceManagerKind::Direct => render::service_specs(loaded, root),
        _ => render::service_specs(loaded, &Root::default()),
    }
}

/// Numeric owner of a file or dir, only on the real host (under `--root` the tree
/// belongs to whoever runs monstack and users are not created).
pub fn owner_for(root: &Root, user: Option<&str>, group: Option<&str>) -> Owner {
    if !root.is_host() || unsafe { libc::geteuid() } != 0 {
        return Owner::default();
    }
    let uid = user.and_then(crate::host::lookup_user).map(|(u, _)| u);
    let gid = group
        .and_then(crate::host::lookup_group)
        .or_else(|| user.and_then(crate::host::lookup_user).map(|(_, g)| g));
    Owner { uid, gid }
}

/// Replace every secret value in `text` with [`MASK`]: the known values, and the value
/// of any key that names a secret (so the *previous* secret on disk, which monstack no
/// longer knows, is not shown either).
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), MASK);
    }
    let mut masked = String::with_capacity(out.len());
    for line in out.split_inclusive('\n') {
        masked.push_str(&mask_secret_key(line));
    }
    masked
}

/// `  smtp_auth_password: xyz` -> `  smtp_auth_password: ********`.
fn mask_secret_key(line: &str) -> String {
    const KEYS: [&str; 5] = ["password", "secret", "token", "api_key", "credentials"];
    let Some((key, value)) = line.split_once(':') else { return line.to_string() };
    let k = key.trim().trim_start_matches("- ").trim_matches(['"', '\'']).to_ascii_lowercase();
    let v = value.trim();
    if v.is_empty() || v == MASK || !KEYS.iter().any(|s| k.ends_with(s)) || k.ends_with("_file") {
        return line.to_string();
    }
    let nl = if line.ends_with('\n') { "\n" } else { "" };
    format!("{key}: {MASK}{nl}")
}

/// Unified diff of two file contents with secrets masked.
pub fn file_diff(path: &Path, old: Option<&[u8]>, new: &[u8], secrets: &[String]) -> String {
    let old = mask(&String::from_utf8_lossy(old.unwrap_or_default()), secrets);
    let new = mask(&String::from_utf8_lossy(new), secrets);
    let p = path.display().to_string();
    if old == new {
        return format!("(only secret values differ in {p}; not shown)\n");
    }
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a{p}"), &format!("b{p}"))
        .to_string()
}

/// Observe the host and compute the plan.
pub fn plan(input: &PlanInput) -> anyhow::Result<Plan> {
    let PlanInput { root, loaded, state, templates, manager, .. } = *input;
    let mkind = manager.kind();
    let files = render::render_all(loaded, templates)?;
    let enabled: Vec<ComponentKind> =
        loaded.config.enabled_components().into_iter().map(|(k, _)| k).collect();

    // Releases.
    let mut releases = Vec::new();
    for &kind in &enabled {
        let comp = loaded.config.component(kind);
        let obs = artifact::observe(root, loaded, kind)?;
        let (action, detail) = match (&obs.installed, obs.needs_install) {
            (_, false) => (Action::Unchanged, Some(comp.version.clone())),
            (None, true) => (Action::Create, Some(comp.version.clone())),
            (Some((v, _)), true) => (Action::Update, Some(format!("{v} -> {}", comp.version))),
        };
        releases.push(ReleasePlan { kind, action, detail });
    }

    // Users and data dirs.
    let mut dirs = Vec::new();
    for &kind in &enabled {
        let comp = loaded.config.component(kind);
        if root.is_host() && crate::host::lookup_user(&comp.user).is_none() {
            dirs.push(DirPlan {
                host: PathBuf::from(&comp.user),
                real: PathBuf::new(),
                owner: Owner::default(),
                action: Action::Create,
                user: true,
            });
        }
        let real = root.host(&comp.data_dir);
        let owner = owner_for(root, Some(&comp.user), Some(&comp.user));
        let action = match std::fs::metadata(&real) {
            Err(_) => Action::Create,
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                let wrong = owner.uid.is_some_and(|u| u != m.uid())
                    || owner.gid.is_some_and(|g| g != m.gid());
                if wrong {
                    Action::Update
                } else {
                    Action::Unchanged
                }
            }
        };
        dirs.push(DirPlan { host: comp.data_dir.clone(), real, owner, action, user: false });
    }

    // Files.
    let mut fplans = Vec::new();
    for f in files {
        let real = root.host(&f.path);
        let owner = owner_for(root, f.owner.as_deref(), f.group.as_deref());
        let current = atomic_fs::read_optional("read", &real)?;
        let (action, diff, detail) = match &current {
            None => (Action::Create, Some(file_diff(&f.path, None, &f.content, &f.secrets)), None),
            Some(cur) => {
                let (mode, uid, gid) = atomic_fs::stat(&real).unwrap_or((0, 0, 0));
                let content_differs = cur != &f.content;
                let mode_differs = mode != f.mode;
                let owner_differs =
                    owner.uid.is_some_and(|u| u != uid) || owner.gid.is_some_and(|g| g != gid);
                if !content_differs && !mode_differs && !owner_differs {
                    (Action::Unchanged, None, None)
                } else {
                    let diff = content_differs
                        .then(|| file_diff(&f.path, Some(cur), &f.content, &f.secrets));
                    let mut notes = Vec::new();
                    if mode_differs {
                        notes.push(format!("mode {:04o} -> {:04o}", mode, f.mode));
                    }
                    if owner_differs {
                        notes.push("owner".to_string());
                    }
                    (Action::Update, diff, (!notes.is_empty()).then(|| notes.join(", ")))
                }
            }
        };
        fplans.push(FilePlan { file: f, real, owner, action, diff, detail });
    }

    let unit_changed = |kind: ComponentKind| {
        fplans.iter().any(|f| f.file.role == FileRole::Unit(kind) && f.action.is_change())
    };
    let config_changed = |kind: ComponentKind| {
        fplans.iter().any(|f| {
            f.action.is_change()
                && match kind {
                    ComponentKind::Prometheus => {
                        matches!(
                            f.file.role,
                            FileRole::PrometheusConfig | FileRole::PrometheusRules
                        )
                    }
                    ComponentKind::Alertmanager => f.file.role == FileRole::AlertmanagerConfig,
                    ComponentKind::NodeExporter => false,
                }
        })
    };
    let daemon_reload = mkind == ServiceManagerKind::Systemd
        && fplans.iter().any(|f| matches!(f.file.role, FileRole::Unit(_)) && f.action.is_change());

    // Services.
    let mut services = Vec::new();
    if mkind != ServiceManagerKind::None {
        let pending = state.pending();
        let specs = desired_specs(loaded, root, mkind)?;
        for spec in specs.into_iter().filter(|s| enabled.contains(&s.kind)) {
            let kind = spec.kind;
            let release_changed = releases.iter().any(|r| r.kind == kind && r.action.is_change());
            let running = manager.running(kind)?;
            let pid = running.as_ref().map(|r| r.pid);
            let (action, reason) = match &running {
                None => (Action::Start, Some("not running".to_string())),
                Some(r) => {
                    let on_disk = if mkind == ServiceManagerKind::Direct {
                        spec.binary.clone()
                    } else {
                        root.host(&spec.binary)
                    };
                    // systemd runs the unit's ExecStart: compare the executable only;
                    // `direct` must also match the argv it would start.
                    let stale = if mkind == ServiceManagerKind::Direct {
                        !r.matches(&spec, &on_disk)
                    } else {
                        let r = services::Running { argv: vec![], ..r.clone() };
                        !r.matches(&spec, &on_disk)
                    };
                    if release_changed {
                        (Action::Restart, Some("new release".to_string()))
                    } else if unit_changed(kind) && mkind == ServiceManagerKind::Systemd {
                        (Action::Restart, Some("unit changed".to_string()))
                    } else if stale {
                        (Action::Restart, Some("running binary or flags differ".to_string()))
                    } else if pending.contains(&format!("restart {}", kind.name())) {
                        (Action::Restart, Some("owed by an interrupted apply".to_string()))
                    } else if config_changed(kind) {
                        (Action::Reload, Some("configuration changed".to_string()))
                    } else if pending.contains(&format!("reload {}", kind.name())) {
                        (Action::Reload, Some("owed by an interrupted apply".to_string()))
                    } else {
                        (Action::Unchanged, None)
                    }
                }
            };
            services.push(ServicePlan { spec, action, reason, pid, leftover: false });
        }
        // Disabled components still running (or enabled at boot) are stopped; their
        // files, unit and releases stay on disk.
        for kind in ComponentKind::ALL.into_iter().rev().filter(|k| !enabled.contains(k)) {
            if !manager.present(kind)? {
                continue;
            }
            let pid = manager.running(kind)?.map(|r| r.pid);
            services.push(ServicePlan {
                spec: stop_spec(loaded, kind),
                action: Action::Stop,
                reason: Some("disabled in the config".to_string()),
                pid,
                leftover: false,
            });
        }
        // Switched from `direct` to systemd: what `direct` started still runs from its
        // pid files and would hold the units' ports.
        if mkind == ServiceManagerKind::Systemd {
            let direct = services::Direct { state: state.clone(), root: (*root).clone() };
            for kind in ComponentKind::ALL.into_iter().rev() {
                if let Some(r) = direct.running(kind)? {
                    services.push(ServicePlan {
                        spec: stop_spec(loaded, kind),
                        action: Action::Stop,
                        reason: Some("started by an earlier `direct` apply".to_string()),
                        pid: Some(r.pid),
                        leftover: true,
                    });
                }
            }
        }
    }

    let g = &loaded.config.grafana;
    let mut errors = Vec::new();
    let grafana = if input.grafana && g.enabled && g.mode == GrafanaMode::Api {
        // One quick probe: an absent Grafana is reported with the rest of the plan
        // instead of holding it for `wait_timeout`.
        let wait = crate::grafana::Wait::Probe(crate::grafana::PLAN_PROBE_TIMEOUT);
        match crate::grafana::plan_with(loaded, &state.path, wait) {
            Ok(changes) => changes,
            Err(e) if crate::error::exit_code(&e) != crate::error::exit::CONFIG => {
                errors.push(format!("{e:#}"));
                Vec::new()
            }
            Err(e) => return Err(e),
        }
    } else {
        Vec::new()
    };

    // rsyslog reads its drop-ins only at start. Under systemd an active rsyslog is
    // restarted; otherwise the operator is told to do it.
    let rsyslog_owed = state.pending().contains(&format!("restart {RSYSLOG}"));
    let rsyslog_changed =
        fplans.iter().any(|f| f.file.role == FileRole::Rsyslog && f.action.is_change());
    let rsyslog_restart = (rsyslog_changed || rsyslog_owed)
        && mkind == ServiceManagerKind::Systemd
        && manager.unit_active(&format!("{RSYSLOG}.service"))?;
    if rsyslog_changed && !rsyslog_restart {
        let note = if mkind == ServiceManagerKind::Systemd {
            "rsyslog is not running; it reads this drop-in when it starts"
        } else {
            "rsyslog reads it only at start: restart rsyslog to apply it (monstack does so only under systemd)"
        };
        for f in fplans.iter_mut().filter(|f| f.file.role == FileRole::Rsyslog) {
            f.detail = Some(match f.detail.take() {
                Some(d) => format!("{d}; {note}"),
                None => note.to_string(),
            });
        }
    }

    Ok(Plan {
        manager: mkind,
        releases,
        dirs,
        files: fplans,
        daemon_reload,
        services,
        rsyslog_restart,
        grafana,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_diffs() {
        let secrets = vec!["hunter2".to_string()];
        let d = file_diff(
            Path::new("/opt/alertmanager/alertmanager.yml"),
            Some(b"smtp_auth_password: old\nfrom: a@b\n"),
            b"smtp_auth_password: hunter2\nfrom: c@d\n",
            &secrets,
        );
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("+from: c@d"), "{d}");
        assert!(!d.contains("old"), "the previous secret is masked too: {d}");
        let only = file_diff(Path::new("/x"), Some(b"token: a\n"), b"token: b\n", &[]);
        assert!(only.contains("only secret values differ"), "{only}");
        assert!(mask("password_file: /x\n", &[]).contains("/x"));
    }
}
