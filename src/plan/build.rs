//! Building a [`Plan`]: one planning function per resource kind, each reading the host
//! and returning plain data.

use std::path::{Path, PathBuf};

use super::{desired_specs, DirPlan, FilePlan, Plan, PlanInput, ReleasePlan, ServicePlan, RSYSLOG};
use crate::artifact;
use crate::atomic_fs::{self, Owner};
use crate::config::{ComponentKind, GrafanaMode, Loaded};
use crate::paths::Root;
use crate::render::{self, FileRole, RenderedFile, ServiceSpec};
use crate::report::{Action, Change};
use crate::secrets::mask;
use crate::services::ServiceManagerKind;
use crate::services::{self, ServiceManager};
use crate::state::{Owed, StateDir};

/// Observe the host and compute the plan.
pub fn plan(input: &PlanInput) -> crate::error::Result<Plan> {
    let PlanInput { root, loaded, state, templates, manager, .. } = *input;
    let mkind = manager.kind();
    let enabled: Vec<ComponentKind> =
        loaded.config.enabled_components().into_iter().map(|(k, _)| k).collect();
    let releases = releases(root, loaded, &enabled)?;
    let dirs = dirs(root, loaded, &enabled);
    let mut files = files(root, loaded, render::render_all(loaded, templates)?)?;
    files.extend(orphans(root, state, &files));
    let daemon_reload = mkind == ServiceManagerKind::Systemd
        && files.iter().any(|f| f.is_unit() && f.action.is_change());
    let services = if mkind == ServiceManagerKind::None {
        Vec::new()
    } else {
        let mut s = services(input, &enabled, &releases, &files)?;
        s.extend(disabled_services(input, &enabled)?);
        s.extend(direct_leftovers(input)?);
        s
    };
    let (grafana, errors) = grafana(input)?;
    let rsyslog_restart = rsyslog(mkind, manager, state, &mut files)?;
    Ok(Plan {
        manager: mkind,
        releases,
        dirs,
        files,
        daemon_reload,
        services,
        rsyslog_restart,
        grafana,
        errors,
    })
}

/// Each enabled component's release: installed as configured, or not.
fn releases(
    root: &Root,
    loaded: &Loaded,
    enabled: &[ComponentKind],
) -> crate::error::Result<Vec<ReleasePlan>> {
    let mut out = Vec::new();
    for &kind in enabled {
        let comp = loaded.config.component(kind);
        let obs = artifact::observe(root, loaded, kind)?;
        let (action, detail) = match (&obs.installed, obs.needs_install) {
            (_, false) => (Action::Unchanged, Some(comp.version.clone())),
            (None, true) => (Action::Create, Some(comp.version.clone())),
            (Some((v, _)), true) => (Action::Update, Some(format!("{v} -> {}", comp.version))),
        };
        out.push(ReleasePlan { kind, action, detail });
    }
    Ok(out)
}

/// System users (on the real host) and data dirs with their owners.
fn dirs(root: &Root, loaded: &Loaded, enabled: &[ComponentKind]) -> Vec<DirPlan> {
    let mut out = Vec::new();
    for &kind in enabled {
        let comp = loaded.config.component(kind);
        if root.is_host() && crate::host::lookup_user(&comp.user).is_none() {
            out.push(DirPlan {
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
        out.push(DirPlan { host: comp.data_dir.clone(), real, owner, action, user: false });
    }
    out
}

/// Every rendered file against its content, mode and owner on disk.
fn files(
    root: &Root,
    loaded: &Loaded,
    rendered: Vec<RenderedFile>,
) -> crate::error::Result<Vec<FilePlan>> {
    rendered.into_iter().map(|f| file(root, loaded, f)).collect()
}

fn file(root: &Root, loaded: &Loaded, mut f: RenderedFile) -> crate::error::Result<FilePlan> {
    let real = root.host(&f.path);
    let owner = owner_for(root, f.owner.as_deref(), f.group.as_deref());
    let current = atomic_fs::read_optional("read", &real)?;
    if let (FileRole::WebConfig(kind), Some(cur)) = (f.role, &current) {
        // A password that did not change keeps its hash: no change to land.
        crate::web::keep_hashes(loaded, kind, cur, &mut f.content)?;
    }
    if let (FileRole::Secret(_), Some(cur)) = (f.role, &current) {
        // The whole file is a secret: the one on disk is never shown either.
        f.secrets.push(String::from_utf8_lossy(cur).into_owned());
    }
    let Some(cur) = current else {
        let diff = Some(file_diff(&f.path, None, &f.content, &f.secrets));
        return Ok(FilePlan { file: f, real, owner, action: Action::Create, diff, detail: None });
    };
    let (mode, uid, gid) = atomic_fs::stat(&real).unwrap_or((0, 0, 0));
    let content_differs = cur != f.content;
    let mode_differs = mode != f.mode;
    let owner_differs = owner.uid.is_some_and(|u| u != uid) || owner.gid.is_some_and(|g| g != gid);
    if !content_differs && !mode_differs && !owner_differs {
        return Ok(FilePlan {
            file: f,
            real,
            owner,
            action: Action::Unchanged,
            diff: None,
            detail: None,
        });
    }
    let diff = content_differs.then(|| file_diff(&f.path, Some(&cur), &f.content, &f.secrets));
    let mut notes = Vec::new();
    if mode_differs {
        notes.push(format!("mode {:04o} -> {:04o}", mode, f.mode));
    }
    if owner_differs {
        notes.push("owner".to_string());
    }
    let detail = (!notes.is_empty()).then(|| notes.join(", "));
    Ok(FilePlan { file: f, real, owner, action: Action::Update, diff, detail })
}

/// Files monstack wrote (the state's record) that the config no longer has: apply
/// deletes them. A file already gone, or one monstack never wrote, is left alone.
fn orphans(root: &Root, state: &StateDir, desired: &[FilePlan]) -> Vec<FilePlan> {
    state
        .owned()
        .into_iter()
        .filter(|(path, _)| !desired.iter().any(|f| &f.file.path == path))
        .filter_map(|(path, role)| {
            let real = root.host(&path);
            if !crate::state::is_file(&real) {
                return None;
            }
            // Put back as it was (mode and owner) if the apply fails after the delete.
            let (_, uid, gid) = atomic_fs::stat(&real).unwrap_or_default();
            let file = RenderedFile { mode: 0, ..RenderedFile::plain(path, Vec::new(), role) };
            Some(FilePlan {
                file,
                real,
                owner: Owner { uid: Some(uid), gid: Some(gid) },
                action: Action::Delete,
                diff: None,
                detail: Some("written by monstack, no longer in the config".to_string()),
            })
        })
        .collect()
}

/// A changed file that `kind` reads as its configuration (a reload suffices).
fn config_changed(files: &[FilePlan], kind: ComponentKind) -> bool {
    files.iter().any(|f| {
        f.action.is_change()
            && match kind {
                ComponentKind::Prometheus => matches!(
                    f.file.role,
                    FileRole::PrometheusConfig
                        | FileRole::PrometheusRules
                        | FileRole::WebConfig(ComponentKind::Prometheus)
                        | FileRole::Secret(ComponentKind::Prometheus)
                ),
                ComponentKind::Alertmanager => matches!(
                    f.file.role,
                    FileRole::AlertmanagerConfig
                        | FileRole::WebConfig(ComponentKind::Alertmanager)
                        | FileRole::Template(ComponentKind::Alertmanager)
                ),
                // node_exporter reads its web config on every request.
                ComponentKind::NodeExporter => false,
                // Its web config, like node_exporter's, is read on every request.
                ComponentKind::BlackboxExporter => f.file.role == FileRole::BlackboxConfig,
                ComponentKind::GrafanaServer => f.file.role == FileRole::GrafanaIni,
            }
    })
}

/// The enabled components' services: start, restart (and why) or reload.
fn services(
    input: &PlanInput,
    enabled: &[ComponentKind],
    releases: &[ReleasePlan],
    files: &[FilePlan],
) -> crate::error::Result<Vec<ServicePlan>> {
    let PlanInput { root, loaded, state, manager, .. } = *input;
    let mkind = manager.kind();
    let pending = state.pending();
    let mut out = Vec::new();
    let specs: Vec<ServiceSpec> = desired_specs(loaded, root, mkind)?
        .into_iter()
        .filter(|s| enabled.contains(&s.kind))
        .collect();
    // Observed in one go (systemd: one `systemctl show` for every unit).
    let kinds: Vec<ComponentKind> = specs.iter().map(|s| s.kind).collect();
    let observed = manager.running_all(&kinds)?;
    for (spec, running) in specs.into_iter().zip(observed) {
        let kind = spec.kind;
        let pid = running.as_ref().map(|r| r.pid);
        let (action, reason) = match &running {
            None => (Action::Start, Some("not running")),
            Some(r) => {
                let release_changed =
                    releases.iter().any(|r| r.kind == kind && r.action.is_change());
                let unit_changed = files
                    .iter()
                    .any(|f| f.file.role == FileRole::Unit(kind) && f.action.is_change());
                if release_changed {
                    (Action::Restart, Some("new release"))
                } else if unit_changed && mkind == ServiceManagerKind::Systemd {
                    (Action::Restart, Some("unit changed"))
                } else if stale(root, mkind, r, &spec) {
                    (Action::Restart, Some("running binary or flags differ"))
                } else if pending.contains(&Owed::Restart(kind)) {
                    (Action::Restart, Some("owed by an interrupted apply"))
                } else if config_changed(files, kind) && kind == ComponentKind::GrafanaServer {
                    // Grafana reads grafana.ini only at start.
                    (Action::Restart, Some("grafana.ini changed"))
                } else if config_changed(files, kind) {
                    (Action::Reload, Some("configuration changed"))
                } else if pending.contains(&Owed::Reload(kind)) {
                    (Action::Reload, Some("owed by an interrupted apply"))
                } else {
                    (Action::Unchanged, None)
                }
            }
        };
        let reason = reason.map(str::to_string);
        out.push(ServicePlan { spec, action, reason, pid, leftover: false });
    }
    Ok(out)
}

/// The running process is not what `spec` starts. systemd runs the unit's ExecStart:
/// compare the executable only; `direct` must also match the argv it would start.
fn stale(
    root: &Root,
    mkind: ServiceManagerKind,
    r: &services::Running,
    spec: &ServiceSpec,
) -> bool {
    if mkind == ServiceManagerKind::Direct {
        !r.matches(spec, &spec.binary)
    } else {
        let r = services::Running { argv: vec![], ..r.clone() };
        !r.matches(spec, &root.host(&spec.binary))
    }
}

/// Disabled components still running (or enabled at boot) are stopped; the files
/// monstack wrote for them go ([`orphans`]), their releases and data stay.
fn disabled_services(
    input: &PlanInput,
    enabled: &[ComponentKind],
) -> crate::error::Result<Vec<ServicePlan>> {
    let mut out = Vec::new();
    for kind in ComponentKind::ALL.into_iter().rev().filter(|k| !enabled.contains(k)) {
        if !input.manager.present(kind)? {
            continue;
        }
        // Grafana and blackbox_exporter are opt-in: only one monstack installed is
        // stopped, never one a package or the operator runs.
        let opt_in = matches!(kind, ComponentKind::GrafanaServer | ComponentKind::BlackboxExporter);
        if opt_in && !installed_by_monstack(input, kind) {
            continue;
        }
        out.push(ServicePlan {
            spec: stop_spec(input.loaded, kind),
            action: Action::Stop,
            reason: Some("disabled in the config".to_string()),
            pid: input.manager.running(kind)?.map(|r| r.pid),
            leftover: false,
        });
    }
    Ok(out)
}

/// A release of `kind` is on record as installed by monstack.
fn installed_by_monstack(input: &PlanInput, kind: ComponentKind) -> bool {
    let layout = crate::artifact::Layout::new(input.root, input.loaded, kind);
    crate::artifact::Record::read(&layout.record).current.is_some()
}

/// Switched from `direct` to systemd: what `direct` started still runs from its pid
/// files and would hold the units' ports.
fn direct_leftovers(input: &PlanInput) -> crate::error::Result<Vec<ServicePlan>> {
    let mut out = Vec::new();
    if input.manager.kind() != ServiceManagerKind::Systemd {
        return Ok(out);
    }
    let direct = services::Direct { state: input.state.clone(), root: input.root.clone() };
    for kind in ComponentKind::ALL.into_iter().rev() {
        if let Some(r) = direct.running(kind)? {
            out.push(ServicePlan {
                spec: stop_spec(input.loaded, kind),
                action: Action::Stop,
                reason: Some("started by an earlier `direct` apply".to_string()),
                pid: Some(r.pid),
                leftover: true,
            });
        }
    }
    Ok(out)
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
        web: crate::web::WebClient::default(),
    }
}

/// What Grafana would change, and what could not be observed (an unreachable
/// Grafana is reported with the rest of the plan instead of failing it).
fn grafana(input: &PlanInput) -> crate::error::Result<(Vec<Change>, Vec<String>)> {
    let g = &input.loaded.config.grafana;
    if !(input.grafana && g.enabled && g.mode == GrafanaMode::Api) {
        return Ok((Vec::new(), Vec::new()));
    }
    // One quick probe instead of holding the plan for `wait_timeout`.
    let wait = crate::grafana::Wait::Probe(crate::grafana::PLAN_PROBE_TIMEOUT);
    match crate::grafana::plan_with(input.loaded, &input.state.path, wait) {
        Ok(changes) => Ok((changes, Vec::new())),
        Err(e) if !e.is_config() => Ok((Vec::new(), vec![format!("{e:#}")])),
        Err(e) => Err(e),
    }
}

/// rsyslog reads its drop-ins only at start. Under systemd an active rsyslog is
/// restarted (the returned flag); otherwise the drop-in's detail tells the operator.
fn rsyslog(
    mkind: ServiceManagerKind,
    manager: &dyn ServiceManager,
    state: &StateDir,
    files: &mut [FilePlan],
) -> crate::error::Result<bool> {
    let owed = state.pending().contains(&Owed::RestartRsyslog);
    let changed = files.iter().any(|f| f.file.role == FileRole::Rsyslog && f.action.is_change());
    let restart = (changed || owed)
        && mkind == ServiceManagerKind::Systemd
        && manager.unit_active(&format!("{RSYSLOG}.service"))?;
    if changed && !restart {
        let note = if mkind == ServiceManagerKind::Systemd {
            "rsyslog is not running; it reads this drop-in when it starts"
        } else {
            "rsyslog reads it only at start: restart rsyslog to apply it (monstack does so only under systemd)"
        };
        for f in files.iter_mut().filter(|f| f.file.role == FileRole::Rsyslog) {
            f.detail = Some(match f.detail.take() {
                Some(d) => format!("{d}; {note}"),
                None => note.to_string(),
            });
        }
    }
    Ok(restart)
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
