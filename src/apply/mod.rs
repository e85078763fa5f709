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

use anyhow::Context as _;

use crate::atomic_fs;
use crate::cli::{Context, PlanArgs, ServiceManagerKind, StopArgs};
use crate::config::{ComponentKind, GrafanaMode, Loaded};
use crate::error::exit;
use crate::paths::Root;
use crate::plan::{self, Plan, PlanInput};
use crate::report::{self, Action, Change, Report};
use crate::services::{self, ServiceManager};
use crate::state::{ApplyLock, StateDir};

/// `--root` made absolute: `direct` starts processes whose paths must not depend on
/// their working directory.
fn absolute_root(ctx: &Context) -> anyhow::Result<Context> {
    let mut ctx = ctx.clone();
    if !ctx.root.dir().is_absolute() {
        let abs = std::path::absolute(ctx.root.dir())
            .with_context(|| format!("cannot resolve --root `{}`", ctx.root.dir().display()))?;
        ctx.root = Root::new(abs);
    }
    Ok(ctx)
}

/// What plan and apply share before they touch anything.
struct Prepared {
    ctx: Context,
    loaded: Loaded,
    state: StateDir,
    kind: ServiceManagerKind,
    mgr: Box<dyn ServiceManager>,
}

/// Load the config and check everything that can be checked without changing the
/// host: Grafana's inputs (a bad dashboard or missing credentials is exit 78) and
/// the service manager (one that cannot work here is a usage error) — all before
/// the lock creates the state dir.
fn prepare(ctx: &Context, args: &PlanArgs) -> anyhow::Result<Prepared> {
    let ctx = absolute_root(ctx)?;
    let loaded = ctx.load_config()?;
    crate::grafana::preflight(&loaded)?;
    let state = StateDir::new(&ctx.root, &loaded);
    let kind = choose_manager(args.service_manager, &ctx.root, &state);
    let mgr = services::manager(kind, &ctx.root, &state)?;
    Ok(Prepared { ctx, loaded, state, kind, mgr })
}

/// `monstack plan`.
pub fn cmd_plan(ctx: &Context, args: &PlanArgs) -> anyhow::Result<i32> {
    let Prepared { ctx, loaded, state, mgr, .. } = prepare(ctx, args)?;
    let ctx = &ctx;
    let plan = plan::plan(&PlanInput {
        root: &ctx.root,
        loaded: &loaded,
        state: &state,
        templates: args.templates.as_deref(),
        manager: mgr.as_ref(),
        grafana: true,
    })?;
    let crossings = crate::upgrade::planned_crossings(&ctx.root, &loaded)?;
    let mut changes = plan.changes();
    mark_crossings(&mut changes, &crossings);
    let rep = Report::from_changes(changes, plan.errors.clone());
    report::print(&rep, ctx.output, report::Mode::Plan, ctx.quiet, ctx.verbose > 0);
    check_crossings(ctx, &loaded, args, &crossings)?;
    if !rep.errors.is_empty() {
        // Already reported with the plan (each error carries its advice).
        return Err(crate::error::ExitWith(exit::FAILURE).into());
    }
    Ok(exit_code(&rep, args.detailed_exitcode))
}

/// `monstack apply`.
pub fn cmd_apply(ctx: &Context, args: &PlanArgs) -> anyhow::Result<i32> {
    let Prepared { ctx, loaded, state, kind, mgr } = prepare(ctx, args)?;
    let ctx = &ctx;
    // A release change across a major version is said, and an unsafe one refused
    // before anything is touched.
    check_crossings(ctx, &loaded, args, &crate::upgrade::planned_crossings(&ctx.root, &loaded)?)?;
    let _lock = ApplyLock::acquire(&state)?;
    state.record_manager(kind)?;
    let mut done = Vec::new();
    let mut all = Vec::new();
    match converge(ctx, args, &loaded, &state, mgr.as_ref(), &mut done, &mut all) {
        Ok(()) => {
            let rep = Report::from_changes(merge(all, done, false), Vec::new());
            report::print(&rep, ctx.output, report::Mode::Apply, ctx.quiet, ctx.verbose > 0);
            Ok(exit_code(&rep, args.detailed_exitcode))
        }
        Err(err) => {
            let rep = Report::from_changes(merge(all, done, true), vec![format!("{err:#}")]);
            report::print(&rep, ctx.output, report::Mode::Apply, ctx.quiet, ctx.verbose > 0);
            Err(err)
        }
    }
}

/// `monstack stop`: end what `direct` started (and wait for the processes to exit);
/// with systemd, stop the units.
pub fn cmd_stop(ctx: &Context, _args: &StopArgs) -> anyhow::Result<i32> {
    let ctx = &absolute_root(ctx)?;
    let loaded = match ctx.config_path.as_deref() {
        Some(p) if !p.exists() => None,
        _ => ctx.load_config().ok(),
    };
    let loaded = match loaded {
        Some(l) => l,
        None => crate::config::parse(Path::new("monstack.yaml"), "")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let state = StateDir::new(&ctx.root, &loaded);
    let kind = state.recorded_manager().unwrap_or(ServiceManagerKind::Direct);
    let mgr = services::manager(kind, &ctx.root, &state)?;
    // Processes an earlier `direct` apply started are ended too when the recorded
    // manager has since changed (their pid files are still in the state dir).
    let direct = (kind != ServiceManagerKind::Direct)
        .then(|| services::manager(ServiceManagerKind::Direct, &ctx.root, &state))
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
    let rep = Report::from_changes(changes, Vec::new());
    report::print(&rep, ctx.output, report::Mode::Stop, ctx.quiet, ctx.verbose > 0);
    Ok(exit::OK)
}

/// Warn about release changes across a major version; refuse an unsafe one unless
/// `--allow-unsafe-version-change` was given.
fn check_crossings(
    ctx: &Context,
    loaded: &Loaded,
    args: &PlanArgs,
    crossings: &[crate::versions::Crossing],
) -> anyhow::Result<()> {
    crate::upgrade::check_crossings(loaded, crossings, args.allow_unsafe_version_change, ctx.quiet)
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

/// Every planned resource, with what was done in place of the planned action
/// (resources not done are unchanged; after a failure their detail says so).
fn merge(planned: Vec<Change>, done: Vec<Change>, failed: bool) -> Vec<Change> {
    let mut out: Vec<Change> =
        planned
            .into_iter()
            .map(|p| {
                let detail = match (p.action.is_change(), failed) {
                    (false, _) => p.detail.clone(),
                    (true, true) => Some(format!("{} not done: apply failed", p.action.as_str())),
                    (true, false) => None,
                };
                done.iter()
                    .find(|d| d.kind == p.kind && d.name == p.name)
                    .cloned()
                    .unwrap_or(Change { action: Action::Unchanged, diff: None, detail, ..p })
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

fn exit_code(rep: &Report, detailed: bool) -> i32 {
    if detailed && rep.changed > 0 {
        exit::CHANGES
    } else {
        exit::OK
    }
}

/// `--service-manager`, else what the last apply recorded, else auto; resolved.
fn choose_manager(
    flag: Option<ServiceManagerKind>,
    root: &Root,
    state: &StateDir,
) -> ServiceManagerKind {
    let k = flag.or_else(|| state.recorded_manager()).unwrap_or(ServiceManagerKind::Auto);
    services::resolve_kind(k, root)
}

/// The whole apply; pushes to `done` what it changed, as it goes, so a failure still
/// reports what landed.
fn converge(
    ctx: &Context,
    args: &PlanArgs,
    loaded: &Loaded,
    state: &StateDir,
    mgr: &dyn ServiceManager,
    done: &mut Vec<Change>,
    all: &mut Vec<Change>,
) -> anyhow::Result<()> {
    let root = &ctx.root;
    let plan = plan::plan(&PlanInput {
        root,
        loaded,
        state,
        templates: args.templates.as_deref(),
        manager: mgr,
        grafana: false,
    })?;
    // Checked (and said) in cmd_apply before the lock; here each crossing release is marked.
    let crossings = crate::upgrade::planned_crossings(root, loaded)?;
    *all = plan.changes();
    mark_crossings(all, &crossings);
    remove_stray_temps(&plan, state);

    // 1. Candidates are checked before anything changes, with the tools of the release
    //    they are for when it is on disk (else the installed release's, else the host's);
    //    a release still to be downloaded judges its own files once it is staged (below).
    let deferred: Vec<ComponentKind> = plan
        .releases
        .iter()
        .filter(|r| r.action.is_change() && !release_on_disk(root, loaded, r.kind))
        .map(|r| r.kind)
        .collect();
    candidates::validate_candidates(root, loaded, state, &plan, &deferred, &|m| ctx.info(m))?;

    // 2. Releases.
    let mut installed_any = false;
    let mut switched: Vec<(ComponentKind, Option<String>)> = Vec::new();
    for r in plan.releases.iter().filter(|r| r.action.is_change()) {
        let before = crate::artifact::observe(root, loaded, r.kind)?.installed.map(|(v, _)| v);
        ctx.info(format!("installing {} {}", r.kind, r.detail.as_deref().unwrap_or("")));
        crate::artifact::install_with(
            root,
            loaded,
            r.kind,
            &args.net,
            &crate::artifact::Reporter::from_ctx(ctx),
        )
        .with_context(|| format!("cannot install `{}`", r.kind))?;
        switched.push((r.kind, before));
        installed_any = true;
        done.push(r.change());
    }
    if installed_any {
        // The new release's promtool/amtool judge the files written for it; when they
        // refuse one, `current` goes back to what it was and nothing lands.
        if let Err(e) =
            candidates::validate_candidates(root, loaded, state, &plan, &[], &|m| ctx.info(m))
        {
            for (kind, before) in switched.iter().rev() {
                if before.is_some() {
                    if let Ok((to, _)) = crate::artifact::rollback(root, loaded, *kind) {
                        ctx.info(format!("{kind}: switched back to {to}"));
                    }
                }
            }
            done.retain(|c| c.kind != "release");
            return Err(e);
        }
    }

    // 3. Users and data dirs (a release install already sees to its own).
    if plan.dirs.iter().any(|d| d.action.is_change()) {
        for (kind, _) in loaded.config.enabled_components() {
            crate::host::ensure_component(root, loaded, kind)?;
        }
        done.extend(plan.dirs.iter().filter(|d| d.action.is_change()).map(|d| d.change()));
    }

    // 4. Files, 5. services.
    land(root, &plan, state, mgr, &|m| ctx.info(m), done)?;

    // 6. Grafana.
    let g = &loaded.config.grafana;
    if g.enabled && g.mode == GrafanaMode::Api {
        let changes = crate::grafana::apply(loaded, &state.path)?;
        done.extend(changes.into_iter().filter(|c| c.action.is_change()));
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

/// Whether the configured release of `kind` is already unpacked on this host.
fn release_on_disk(root: &Root, loaded: &Loaded, kind: ComponentKind) -> bool {
    let comp = loaded.config.component(kind);
    root.host(comp.install_dir.join("releases").join(&comp.version))
        .join(kind.binaries()[0])
        .is_file()
}
