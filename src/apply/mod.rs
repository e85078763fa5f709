//! plan / apply / stop: observe the host, diff against the desired state, converge.
//!
//! apply runs in dependency order: validate candidates -> install releases -> data
//! dirs -> files (atomic, previous content backed up) -> daemon-reload -> services
//! (start / restart / verified reload) -> readiness -> Grafana. Service actions owed
//! by files that landed are journaled first, so an apply killed in between is
//! finished by the next one. Any failure after files landed restores them.

mod candidates;
mod land;
pub mod lifecycle;

pub use land::land;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Context as _;

use crate::artifact::NetOptions;
use crate::atomic_fs;
use crate::config::{ComponentKind, GrafanaMode, Loaded};
use crate::paths::Root;
use crate::plan::{self, Plan, PlanInput};
use crate::printer::{Printer, Steps};
use crate::report::{Action, Change, Report};
use crate::services::{self, ServiceManager, ServiceManagerKind};
use crate::state::{ApplyLock, StateDir};

/// `--root` made absolute: `direct` starts processes whose paths must not depend on
/// their working directory.
pub fn absolute_root(root: &Root) -> crate::error::Result<Root> {
    if root.dir().is_absolute() {
        return Ok(root.clone());
    }
    let abs = std::path::absolute(root.dir())
        .with_context(|| format!("cannot resolve --root `{}`", root.dir().display()))?;
    Ok(Root::new(abs))
}

/// What plan and apply are asked for, besides the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--service-manager`; else what the last apply recorded, else auto.
    pub service_manager: Option<ServiceManagerKind>,
    /// Directory of templates overriding the embedded ones by name.
    pub templates: Option<PathBuf>,
    /// Go ahead with a release change across the TSDB format boundary.
    pub allow_unsafe_version_change: bool,
    /// `--ready-timeout`: how long a started or restarted service may take to be ready
    /// (default [`lifecycle::READY_TIMEOUT`]).
    pub ready_timeout: Option<std::time::Duration>,
    pub net: NetOptions,
}

/// What plan and apply share before they touch anything.
pub struct Session {
    root: Root,
    loaded: Loaded,
    state: StateDir,
    kind: ServiceManagerKind,
    mgr: Box<dyn ServiceManager>,
    opts: Options,
}

impl Session {
    /// The config this session plans for.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }
}

/// Check everything that can be checked without changing the host: Grafana's inputs
/// (a bad dashboard or missing credentials is exit 78) and the service manager (one
/// that cannot work here is a usage error) — all before the lock creates the state
/// dir. `root` must be absolute ([`absolute_root`]).
pub fn prepare(root: Root, loaded: Loaded, opts: Options) -> crate::error::Result<Session> {
    // grafana.com dashboards: fetched (or taken from the cache / local_dir) and
    // verified against monstack.lock before anything else.
    let loaded = crate::artifact::gnet::materialize(&root, loaded, &opts.net)?;
    // Releases: a pin contradicting the lock, or bytes nowhere without network, are
    // refused here, before anything is downloaded.
    crate::artifact::preflight(&root, &loaded, &opts.net)?;
    crate::grafana::preflight(&loaded)?;
    crate::host::check_log_owners(&root, &loaded)?;
    let state = StateDir::new(&root, &loaded);
    let kind = choose_manager(opts.service_manager, &root, &state);
    let mgr = services::manager(kind, &root, &state)?;
    Ok(Session { root, loaded, state, kind, mgr, opts })
}

/// What apply would change, as the plan itself (files with their content and the
/// paths on disk: the Ansible module's before/after diff); `errors` say what could not
/// be observed.
pub fn observe(s: &Session) -> crate::error::Result<Plan> {
    let plan = plan::plan(&PlanInput {
        root: &s.root,
        loaded: &s.loaded,
        state: &s.state,
        templates: s.opts.templates.as_deref(),
        manager: s.mgr.as_ref(),
        grafana: true,
    })?;
    Ok(plan)
}

/// `monstack plan`: what apply would change (the report's `errors` say what it could
/// not plan).
pub fn plan(s: &Session) -> crate::error::Result<Report> {
    let plan = observe(s)?;
    check_candidates(s, &plan)?;
    let mut changes = plan.changes();
    changes.extend(crate::grafana_server::apt::planned(&s.root, &s.loaded));
    mark_crossings(&mut changes, &crossings(s)?);
    Ok(Report::from_changes(changes, plan.errors.clone()))
}

/// What apply checks before it changes anything, checked for plan: the candidate files
/// (the validator runner apply uses, in a temporary staging dir: plan writes nothing on
/// the host). promtool/amtool of a release still to be downloaded cannot be run yet:
/// the host's judge those files here ([`candidates::Scope::Plan`]).
pub fn check_candidates(s: &Session, plan: &Plan) -> crate::error::Result<()> {
    let tmp = tempfile::Builder::new().prefix("monstack-plan-").tempdir()?;
    let staging = tmp.path().join("staging");
    let undownloaded = undownloaded(&s.root, &s.loaded, plan);
    let scope = candidates::Scope::Plan(&undownloaded);
    candidates::validate_candidates(&s.root, &s.loaded, &staging, plan, scope, &|_| {})
}

/// The components whose planned release is not on disk yet (apply downloads it first).
fn undownloaded(root: &Root, loaded: &Loaded, plan: &Plan) -> Vec<ComponentKind> {
    plan.releases
        .iter()
        .filter(|r| r.action.is_change() && !candidates::release_on_disk(root, loaded, r.kind))
        .map(|r| r.kind)
        .collect()
}

/// The release changes a converge would make across a major version (with what the
/// user should know), from the active releases on this host.
pub fn crossings(s: &Session) -> crate::error::Result<Vec<crate::versions::Crossing>> {
    crate::upgrade::planned_crossings(&s.root, &s.loaded)
}

/// `monstack apply`: converge the host. The report tells what was done even when the
/// apply failed (then its `errors` hold the failure, returned as well). A release
/// change across a major version is said first, and an unsafe one refused before
/// anything is touched (exit 78) unless `--allow-unsafe-version-change`.
pub fn apply(
    s: &Session,
    out: &Printer,
) -> crate::error::Result<(Report, Option<crate::error::Error>)> {
    let crossings = crossings(s)?;
    crate::upgrade::announce(&crossings, s.opts.allow_unsafe_version_change, out);
    crate::upgrade::refuse(&s.loaded, &crossings, s.opts.allow_unsafe_version_change)?;
    crate::host::require_root(&s.root, "apply")?;
    lifecycle::set_ready_timeout(s.opts.ready_timeout.unwrap_or(lifecycle::READY_TIMEOUT));
    let _lock = ApplyLock::acquire(&s.state)?;
    s.state.record_manager(s.kind)?;
    let mut done = Vec::new();
    let mut all = Vec::new();
    Ok(match converge(s, out, &mut done, &mut all) {
        Ok(()) => (Report::from_changes(merge(all, done, false), Vec::new()), None),
        Err(err) => {
            let rep = Report::from_changes(merge(all, done, true), err.entries());
            (rep, Some(err))
        }
    })
}

/// `monstack stop`: end what `direct` started (and wait for the processes to exit);
/// with systemd, stop the units. `loaded` is None without a config (the default
/// state dir is used). `root` must be absolute.
pub fn stop(root: &Root, loaded: Option<Loaded>) -> crate::error::Result<Report> {
    let loaded = match loaded {
        Some(l) => l,
        None => crate::config::parse(Path::new("monstack.yaml"), "")
            .map_err(|e| crate::error::failure!("{e}"))?,
    };
    let state = StateDir::new(root, &loaded);
    let kind = state.recorded_manager().unwrap_or(ServiceManagerKind::Direct);
    let mgr = services::manager(kind, root, &state)?;
    // Processes an earlier `direct` apply started are ended too when the recorded
    // manager has since changed (their pid files are still in the state dir).
    let direct = (kind != ServiceManagerKind::Direct)
        .then(|| services::manager(ServiceManagerKind::Direct, root, &state))
        .transpose()?;
    let mut changes = Vec::new();
    // Reverse start order: exporters and Alertmanager before Prometheus.
    for k in ComponentKind::ALL.into_iter().rev() {
        let mut was = mgr.stop(k).with_context(|| format!("cannot stop `{k}`"))?;
        if let Some(d) = &direct {
            was |= d.stop(k).with_context(|| format!("cannot stop `{k}` (started by `direct`)"))?;
        }
        changes.push(Change::new(
            "service",
            k.name(),
            if was { Action::Delete } else { Action::Unchanged },
        ));
    }
    Ok(Report::from_changes(changes, Vec::new()))
}

/// After `rollback` switched `current`: restart the component's service (under the
/// manager the last apply recorded) onto that release and wait until it is ready.
/// `Ok(Some(manager))` when it was restarted, `Ok(None)` when it was not running.
/// `units_changed`: the rollback rewrote unit files (systemd re-reads them first).
pub fn restart_onto_current(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
    units_changed: bool,
) -> crate::error::Result<Option<&'static str>> {
    let root = if root.dir().is_absolute() {
        root.clone()
    } else {
        Root::new(std::path::absolute(root.dir())?)
    };
    let state = StateDir::new(&root, loaded);
    let mkind = choose_manager(None, &root, &state);
    if !matches!(mkind, ServiceManagerKind::Systemd | ServiceManagerKind::Direct) {
        return Ok(None);
    }
    let mgr = services::manager(mkind, &root, &state)?;
    if mgr.running(kind)?.is_none() {
        return Ok(None);
    }
    let spec = plan::desired_specs(loaded, &root, mkind)?
        .into_iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| crate::error::failure!("`{kind}` is not enabled in the config"))?;
    if units_changed {
        mgr.daemon_reload()?;
    }
    mgr.restart(&spec)
        .and_then(|_| land::wait_ready(&state, mgr.as_ref(), &spec, &spec.ready_address))
        .with_context(|| format!("`{kind}` did not come back after the restart"))?;
    Ok(Some(if mkind == ServiceManagerKind::Systemd { "systemd" } else { "direct" }))
}

/// After Prometheus was started, restarted or reloaded: wait (bounded) until it lists
/// the Alertmanagers its prometheus.yml names, as `status` checks right after apply.
/// Not finding them in time is a warning: the stack is converged, discovery is late.
fn wait_alertmanagers(loaded: &Loaded, done: &[Change], info: &dyn Fn(String)) {
    let acted = done.iter().any(|c| {
        c.kind == "service" && c.name == ComponentKind::Prometheus.name() && c.action.is_change()
    });
    let wanted = loaded.alertmanagers();
    if !acted || wanted.is_empty() {
        return;
    }
    info("waiting for Prometheus to discover its Alertmanagers".to_string());
    let address = loaded.local_address(ComponentKind::Prometheus);
    let limit = lifecycle::ready_timeout().min(std::time::Duration::from_secs(60));
    let web = match crate::web::WebClient::of(loaded, ComponentKind::Prometheus) {
        Ok(w) => w,
        Err(e) => return info(format!("warning: cannot reach Prometheus: {e:#}")),
    };
    if let Err(e) = lifecycle::wait_alertmanagers(&address, &web, &wanted, limit) {
        crate::printer::warn(format!("{e:#}"));
    }
}

/// Say on each release that crosses a major version that it does.
fn mark_crossings(changes: &mut [Change], crossings: &[crate::versions::Crossing]) {
    for c in crossings {
        let major = if crate::versions::Version::of(&c.from) < crate::versions::Version::of(&c.to) {
            "major upgrade"
        } else {
            "major downgrade"
        };
        for ch in changes.iter_mut().filter(|ch| ch.kind == "release" && ch.name == c.kind.name()) {
            let d = ch.detail.take().unwrap_or_default();
            ch.detail = Some(format!("{d} ({major}; see the warnings)"));
        }
    }
}

/// Every planned resource, with what was done in place of the planned action: a
/// planned change that was not done is `skipped` after a failure (else unchanged).
fn merge(planned: Vec<Change>, done: Vec<Change>, failed: bool) -> Vec<Change> {
    let mut out: Vec<Change> = planned
        .into_iter()
        .map(|p| match done.iter().find(|d| d.kind == p.kind && d.name == p.name) {
            Some(d) => d.clone(),
            None if !p.action.is_change() => p,
            None if failed => {
                let detail = format!("{} not done: apply failed", p.action.as_str());
                p.into_skipped(detail)
            }
            None => Change { action: Action::Unchanged, diff: None, detail: None, ..p },
        })
        .collect();
    for d in done {
        if !out.iter().any(|o| o.kind == d.kind && o.name == d.name) {
            out.push(d);
        }
    }
    out
}

/// Test hook: `MONSTACK_CRASH_AT=<checkpoint>` makes apply SIGKILL itself there, so
/// tests can prove that a re-run after a crash at that point converges. Debug builds
/// only (the tests run the debug binary): a release build ignores the variable.
#[cfg(debug_assertions)]
fn checkpoint(name: &str) {
    if std::env::var_os("MONSTACK_CRASH_AT").is_some_and(|v| v == name) {
        // SAFETY: raising a signal at ourselves.
        unsafe { libc::raise(libc::SIGKILL) };
    }
}

#[cfg(not(debug_assertions))]
fn checkpoint(_name: &str) {}

/// `--service-manager`, else what the last apply recorded, else auto; resolved.
fn choose_manager(
    flag: Option<ServiceManagerKind>,
    root: &Root,
    state: &StateDir,
) -> ServiceManagerKind {
    let k = flag.or_else(|| state.recorded_manager()).unwrap_or(ServiceManagerKind::Auto);
    services::resolve_kind(k, root)
}

/// The phases of an apply, in order, as the progress lines number them.
const PHASES: usize = 6;

/// The whole apply; pushes to `done` what it changed, as it goes, so a failure still
/// reports what landed.
fn converge(
    s: &Session,
    out: &Printer,
    done: &mut Vec<Change>,
    all: &mut Vec<Change>,
) -> crate::error::Result<()> {
    let (root, loaded, state, mgr) = (&s.root, &s.loaded, &s.state, s.mgr.as_ref());
    let steps = Steps::new(out, PHASES);
    steps.step("render", "observe the host and render every file");
    let plan = plan::plan(&PlanInput {
        root,
        loaded,
        state,
        templates: s.opts.templates.as_deref(),
        manager: mgr,
        grafana: false,
    })?;
    // Checked (and said) in `apply` before the lock; here each crossing release is marked.
    *all = plan.changes();
    let apt = crate::grafana_server::apt_managed(loaded);
    if apt {
        crate::grafana_server::apt::preflight(root, s.kind)?;
        all.extend(crate::grafana_server::apt::planned(root, loaded));
    }
    mark_crossings(all, &crossings(s)?);
    remove_stray_temps(&plan, state);

    // 1. Candidates are checked before anything changes, with the tools of the release
    //    they are for when it is on disk (else the host's); a release still to be
    //    downloaded judges its own files once it is staged (below).
    let deferred = undownloaded(root, loaded, &plan);
    let staging = state.staging();
    let scope = candidates::Scope::Before(&deferred);
    let changed = plan.changed_files().count();
    steps.step("validate", format!("{changed} changed file{}", plural(changed)));
    candidates::validate_candidates(root, loaded, &staging, &plan, scope, &|m| out.info(m))?;

    // 2. Releases.
    install_releases(s, &plan, out, &steps, done)?;

    // 3. Users and data dirs (a release install already sees to its own).
    steps.step("land", format!("users, data dirs and {changed} file{}", plural(changed)));
    if plan.dirs.iter().any(|d| d.action.is_change()) {
        for (kind, _) in loaded.config.enabled_components() {
            crate::host::ensure_component(root, loaded, kind)?;
        }
        done.extend(plan.dirs.iter().filter(|d| d.action.is_change()).map(|d| d.change()));
    }

    // 4. Files, 5. services.
    let services = plan.services.iter().filter(|s| s.action.is_change()).count();
    let services_step = || steps.step("services", format!("{services} action{}", plural(services)));
    land(root, &plan, state, mgr, &|m| out.info(m), &services_step, done)?;
    wait_alertmanagers(loaded, done, &|m| out.info(m));
    if apt {
        // 5b. Grafana's package and the package's unit (its sources and pin just landed).
        let ini_changed = plan
            .files
            .iter()
            .any(|f| f.file.role == crate::render::FileRole::GrafanaIni && f.action.is_change());
        done.extend(crate::grafana_server::apt::converge(loaded, ini_changed, &|m| out.info(m))?);
    }

    // 6. Grafana.
    let g = &loaded.config.grafana;
    if !(g.enabled && g.mode == GrafanaMode::Api) {
        steps.step("grafana", "nothing to do (not managed through the API)");
        return Ok(());
    }
    steps.step("grafana", "datasource, folder and dashboards");
    let changes = match crate::grafana::apply(loaded, &state.path) {
        Ok(c) => c,
        Err(e) => {
            // What landed before the failure (or the deadline) is in the report.
            done.extend(e.landed().iter().filter(|c| c.action.is_change()).cloned());
            return Err(e.into());
        }
    };
    done.extend(changes.into_iter().filter(|c| c.action.is_change()));
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Download, verify and switch each release that changes; then the new releases'
/// promtool/amtool judge the files written for them, and when they refuse one,
/// `current` goes back to what it was and nothing lands.
fn install_releases(
    s: &Session,
    plan: &Plan,
    out: &Printer,
    steps: &Steps,
    done: &mut Vec<Change>,
) -> crate::error::Result<()> {
    let (root, loaded, state) = (&s.root, &s.loaded, &s.state);
    let changing: Vec<_> = plan.releases.iter().filter(|r| r.action.is_change()).collect();
    let names: Vec<String> = changing.iter().map(|r| r.kind.to_string()).collect();
    // The digest is computed while the tarball streams in: one phase, not two.
    steps.step(
        "download + verify",
        if names.is_empty() { "nothing to download".to_string() } else { names.join(", ") },
    );
    let mut switched: Vec<(ComponentKind, Option<String>)> = Vec::new();
    for r in changing {
        let before = crate::artifact::observe(root, loaded, r.kind)?.installed.map(|(v, _)| v);
        out.info(format!("installing {} {}", r.kind, r.detail.as_deref().unwrap_or("")));
        let reporter = crate::artifact::Reporter { quiet: out.quiet };
        if let Err(e) = crate::artifact::install_with(root, loaded, r.kind, &s.opts.net, &reporter)
        {
            let e = e.context(format!("cannot install `{}`", r.kind));
            let first = format!("{e:#}").lines().next().unwrap_or_default().to_string();
            done.push(r.change().into_failed(format!("install failed: {first}")));
            return Err(e);
        }
        switched.push((r.kind, before));
        done.push(r.change());
    }
    if switched.is_empty() {
        return Ok(());
    }
    // The new release's promtool/amtool judge the files written for it.
    let scope = candidates::Scope::ReleaseJudged;
    if let Err(e) =
        candidates::validate_candidates(root, loaded, &state.staging(), plan, scope, &|m| {
            out.info(m)
        })
    {
        for (kind, before) in switched.iter().rev() {
            if before.is_some() {
                if let Ok((to, _)) = crate::artifact::rollback(root, loaded, *kind) {
                    out.info(format!("{kind}: switched back to {to}"));
                }
            }
        }
        done.retain(|c| c.kind != "release");
        return Err(e);
    }
    Ok(())
}

fn remove_stray_temps(plan: &Plan, state: &StateDir) {
    let mut dirs: BTreeSet<PathBuf> =
        plan.files.iter().filter_map(|f| f.real.parent().map(Path::to_path_buf)).collect();
    dirs.insert(state.path.clone());
    dirs.insert(state.path.join("backups"));
    dirs.insert(state.path.join("run"));
    for d in dirs {
        atomic_fs::remove_stray_temps(&d);
    }
    let _ = std::fs::remove_dir_all(state.staging());
}
