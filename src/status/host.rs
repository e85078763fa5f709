//! Host-side checks: releases (install record against the config), file drift and
//! services, read from the same plan `monstack plan` computes, so "drifted" means
//! exactly "apply would write this file". No network.

use std::collections::BTreeMap;

use super::{Check, Inputs, Level};
use crate::artifact;
use crate::config::ComponentKind;
use crate::plan::{self, FilePlan, PlanInput};
use crate::render::FileRole;
use crate::report::Action;
use crate::services::ServiceManagerKind;
use crate::state::Owed;

/// Release, service and files checks of every enabled component, plus `host` files
/// (logrotate, rsyslog) and `grafana` files in files mode.
pub fn checks(inputs: &Inputs) -> crate::error::Result<Vec<Check>> {
    let Inputs { root, loaded, state, manager, templates, .. } = *inputs;
    let plan = plan::plan(&PlanInput { root, loaded, state, templates, manager, grafana: false })?;
    let pending = state.pending();
    let mut out = Vec::new();
    for (kind, _) in loaded.config.enabled_components() {
        out.push(release(inputs, kind)?);
        let owed_reload = pending.contains(&Owed::Reload(kind));
        out.push(service(&plan, manager.kind(), kind, owed_reload));
    }
    let mut by_component: BTreeMap<&str, Vec<&FilePlan>> = BTreeMap::new();
    for f in &plan.files {
        by_component.entry(file_component(f.file.role)).or_default().push(f);
    }
    for (component, files) in by_component {
        out.push(files_check(component, &files));
    }
    out.extend(super::logrotate::check(root, &plan.files));
    Ok(out)
}

/// The component a rendered file belongs to (`grafana` and `host` for the stack's own).
fn file_component(role: FileRole) -> &'static str {
    match (role.component(), role) {
        (Some(kind), _) => kind.name(),
        (None, FileRole::GrafanaProvisioning | FileRole::GrafanaDashboard) => "grafana",
        (None, _) => "host",
    }
}

/// The active release against the desired version and digest (install record).
fn release(inputs: &Inputs, kind: ComponentKind) -> crate::error::Result<Check> {
    let want = inputs.loaded.config.component(kind).version;
    let obs = artifact::observe(inputs.root, inputs.loaded, kind)?;
    let short = |d: &str| {
        if d.is_empty() {
            "unrecorded".to_string()
        } else {
            d[..d.len().min(12)].to_string()
        }
    };
    Ok(match (&obs.installed, obs.needs_install) {
        (Some((v, d)), false) => {
            Check::new(kind.name(), "release", Level::Ok, format!("{v} (sha256 {})", short(d)))
        }
        (None, _) => Check::new(
            kind.name(),
            "release",
            Level::Fail,
            format!("not installed ({want} wanted); run `monstack apply`"),
        ),
        (Some((v, d)), true) if *v == want => Check::new(
            kind.name(),
            "release",
            Level::Fail,
            format!(
                "{v} is active but its digest (sha256 {}) or files are not the ones wanted; run `monstack apply`",
                short(d)
            ),
        ),
        (Some((v, _)), true) => Check::new(
            kind.name(),
            "release",
            Level::Fail,
            format!("{v} is active, {want} wanted; run `monstack apply`"),
        ),
    })
}

/// The service as the recorded manager sees it. `owed_reload`: an interrupted apply
/// journaled a reload it never did, so the running config may be older than the file.
fn service(
    plan: &plan::Plan,
    manager: ServiceManagerKind,
    kind: ComponentKind,
    owed_reload: bool,
) -> Check {
    let name = kind.name();
    if manager == ServiceManagerKind::None {
        return Check::new(
            name,
            "service",
            Level::Skip,
            "not managed (service manager `none`): checked over HTTP only",
        );
    }
    let Some(s) = plan.services.iter().find(|s| s.spec.kind == kind) else {
        return Check::new(name, "service", Level::Skip, "no service to check");
    };
    let how = match manager {
        ServiceManagerKind::Systemd => "systemd",
        _ => "direct",
    };
    let pid = s.pid.map(|p| format!("pid {p}, ")).unwrap_or_default();
    let reason = s.reason.as_deref().unwrap_or("");
    match s.action {
        Action::Start => match manager {
            // Not active, or active but not enabled at boot (apply would enable it).
            ServiceManagerKind::Systemd => Check::new(
                name,
                "service",
                Level::Fail,
                format!(
                    "`{}` is not active and enabled (`systemctl status {}`)",
                    kind.unit(),
                    kind.unit()
                ),
            ),
            _ => Check::new(name, "service", Level::Fail, "not running (direct; no live pid)"),
        },
        Action::Restart => Check::new(
            name,
            "service",
            Level::Fail,
            format!("running ({pid}{how}) but apply would restart it: {reason}"),
        ),
        Action::Reload if owed_reload => Check::new(
            name,
            "service",
            Level::Fail,
            format!("running ({pid}{how}) but a reload is owed by an interrupted apply"),
        ),
        // A reload for changed files: the drift is reported by the files check.
        _ => Check::new(name, "service", Level::Ok, format!("running ({pid}{how})")),
    }
}

/// Drift of one component's files: paths only, never contents (they may hold secrets).
fn files_check(component: &str, files: &[&FilePlan]) -> Check {
    let mut problems = Vec::new();
    for f in files {
        let path = f.file.path.display();
        match f.action {
            Action::Unchanged => {}
            Action::Create => problems.push(format!("{path} missing")),
            Action::Delete => {
                problems.push(format!("{path} no longer in the config (apply removes it)"))
            }
            _ => {
                let mut what = Vec::new();
                if f.diff.is_some() {
                    what.push("content".to_string());
                }
                if let Some(d) = &f.detail {
                    what.push(d.clone());
                }
                problems.push(format!("{path} differs ({})", what.join(", ")));
            }
        }
    }
    if problems.is_empty() {
        let n = files.len();
        Check::new(
            component,
            "files",
            Level::Ok,
            format!(
                "{n} file{} as apply writes {}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" }
            ),
        )
    } else {
        Check::new(
            component,
            "files",
            Level::Fail,
            format!("{}; run `monstack plan` to see the diff", problems.join("; ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic_fs::Owner;
    use crate::render::RenderedFile;

    fn plan(path: &str, action: Action, diff: Option<&str>, detail: Option<&str>) -> FilePlan {
        FilePlan {
            file: RenderedFile {
                path: path.into(),
                content: b"smtp_auth_password: hunter2\n".to_vec(),
                mode: 0o640,
                owner: None,
                group: None,
                role: FileRole::AlertmanagerConfig,
                secrets: vec!["hunter2".into()],
            },
            real: format!("/tmp/root{path}").into(),
            owner: Owner::default(),
            action,
            diff: diff.map(str::to_string),
            detail: detail.map(str::to_string),
        }
    }

    #[test]
    fn drift_names_paths_and_kinds_of_difference_never_contents() {
        let a = plan("/opt/a.yml", Action::Update, Some("-x: hunter2\n+x: ********\n"), None);
        let b = plan("/opt/b.yml", Action::Update, None, Some("mode 0644 -> 0640"));
        let c = plan("/opt/c.yml", Action::Create, None, None);
        let d = plan("/opt/d.yml", Action::Unchanged, None, None);
        let check = files_check("alertmanager", &[&a, &b, &c, &d]);
        assert_eq!(check.level, Level::Fail);
        assert_eq!(
            check.reason,
            "/opt/a.yml differs (content); /opt/b.yml differs (mode 0644 -> 0640); /opt/c.yml missing; run `monstack plan` to see the diff"
        );
        assert!(!check.reason.contains("hunter2"));
        let ok = files_check("alertmanager", &[&d]);
        assert_eq!((ok.level, ok.reason.as_str()), (Level::Ok, "1 file as apply writes it"));
    }
}
