//! plan / apply / stop: observe the host, diff against the desired state, converge.
//!
//! apply runs in dependency order: validate candidates -> install releases -> data
//! dirs -> files (atomic, previous content backed up) -> daemon-reload -> services
//! (start / restart / verified reload) -> readiness -> Grafana. Service actions owed
//! by files that landed are journaled first, so an apply killed in between is
//! finished by the next one. Any failure after files landed restores them.

pub mod lifecycle;
pub mod resources;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::atomic_fs::{self, Saved};
use crate::cli::{Context, PlanArgs, ServiceManagerKind, StopArgs};
use crate::config::{ComponentKind, GrafanaMode, Loaded};
use crate::error::{exit, ConfigError};
use crate::paths::Root;
use crate::render::{FileRole, ServiceSpec};
use crate::report::{self, Action, Change, Report};
use crate::services::{self, Running, ServiceManager};
use crate::state::{ApplyLock, StateDir};

use resources::{FilePlan, Plan, PlanInput};

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
    let plan = resources::plan(&PlanInput {
        root: &ctx.root,
        loaded: &loaded,
        state: &state,
        templates: args.templates.as_deref(),
        manager: mgr.as_ref(),
        net: &args.net,
        grafana: true,
    })?;
    let rep = Report::from_changes(plan.changes(), plan.errors.clone());
    report::print(&rep, ctx.output, report::Mode::Plan, ctx.quiet, ctx.verbose > 0);
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
    let plan = resources::plan(&PlanInput {
        root,
        loaded,
        state,
        templates: args.templates.as_deref(),
        manager: mgr,
        net: &args.net,
        grafana: false,
    })?;
    *all = plan.changes();
    remove_stray_temps(&plan, state);

    // 1. Candidates are checked before anything changes (with the installed release's
    //    own tools when present, else those on PATH).
    validate_candidates(root, loaded, state, &plan)?;

    // 2. Releases.
    let mut installed_any = false;
    for r in plan.releases.iter().filter(|r| r.action.is_change()) {
        ctx.info(format!("installing {} {}", r.kind, r.detail.as_deref().unwrap_or("")));
        crate::artifact::install_with(
            root,
            loaded,
            r.kind,
            &args.net,
            &crate::artifact::Reporter::from_ctx(ctx),
        )
        .with_context(|| format!("cannot install `{}`", r.kind))?;
        installed_any = true;
        let mut c = Change::new("release", r.kind.name(), r.action);
        c.detail = r.detail.clone();
        done.push(c);
    }
    if installed_any {
        // A new release's promtool/amtool may be stricter: check again before landing.
        validate_candidates(root, loaded, state, &plan)?;
    }

    // 3. Users and data dirs (a release install already sees to its own).
    if plan.dirs.iter().any(|d| d.action.is_change()) {
        for (kind, _) in loaded.config.enabled_components() {
            crate::host::ensure_component(root, loaded, kind)?;
        }
        for d in plan.dirs.iter().filter(|d| d.action.is_change()) {
            let kind = if d.user { "user" } else { "dir" };
            done.push(Change::new(kind, d.host.display().to_string(), d.action));
        }
    }

    // 4. Files, 5. services.
    land(root, &plan, state, mgr, &|m| ctx.info(m), done)?;

    // 6. Grafana.
    let g = &loaded.config.grafana;
    if g.enabled && g.mode == GrafanaMode::Api {
        let changes = match crate::grafana::apply(loaded, &state.path) {
            Ok(c) => c,
            Err(e) => {
                // What landed before the failure (or the deadline) is in the report.
                if let Some(p) = e.downcast_ref::<crate::grafana::PartialFailure>() {
                    done.extend(p.landed.iter().filter(|c| c.action.is_change()).cloned());
                }
                return Err(e);
            }
        };
        done.extend(changes.into_iter().filter(|c| c.action.is_change()));
    }
    Ok(())
}

/// Steps 4 and 5 of apply: journal the service actions the files owe, land the
/// changed files (previous content backed up), daemon-reload, then start / restart /
/// reload. On a failure the previous files are put back (daemon-reloaded when a unit
/// was among them), every service this run touched is brought back onto them (a
/// restarted one relaunched as it ran before), and `done` tells what happened to each,
/// the failed service and the restored files included.
pub fn land(
    root: &Root,
    plan: &Plan,
    state: &StateDir,
    mgr: &dyn ServiceManager,
    info: &dyn Fn(String),
    done: &mut Vec<Change>,
) -> anyhow::Result<()> {
    let mut owed: BTreeSet<String> = state.pending();
    owed.extend(plan.owed_actions());
    state.set_pending(&owed)?;
    let backups = state.backups();
    let mut written: Vec<(&FilePlan, Saved)> = Vec::new();
    let landed = (|| -> anyhow::Result<()> {
        for f in plan.changed_files() {
            let saved = backups.save(&f.file.path, &f.real)?;
            atomic_fs::write_atomic(&f.real, &f.file.content, f.file.mode, f.owner)?;
            written.push((f, saved));
            checkpoint("file-written");
        }
        Ok(())
    })();
    let files_at = done.len();
    for (f, _) in &written {
        let kind = if matches!(f.file.role, FileRole::Unit(_)) { "unit" } else { "file" };
        let mut c = Change::new(kind, f.file.path.display().to_string(), f.action);
        c.diff = f.diff.clone();
        c.detail = f.detail.clone();
        done.push(c);
    }
    if let Err(e) = landed {
        restore(&backups, &written);
        mark_restored(&mut done[files_at..]);
        return Err(e);
    }

    checkpoint("files-landed");

    // What ran before each restart, to bring it back if this run fails.
    let mut previous: Vec<(usize, Running)> = Vec::new();
    let mut served: Vec<usize> = Vec::new();
    let mut failure: Option<(Option<usize>, anyhow::Error)> = None;
    if plan.daemon_reload {
        if let Err(e) = mgr.daemon_reload() {
            failure = Some((None, e));
        }
    }
    // Leftovers of an earlier `direct` apply go first: they hold the units' ports.
    let leftovers = plan.services.iter().enumerate().filter(|(_, s)| s.leftover);
    for (i, s) in leftovers.chain(plan.services.iter().enumerate().filter(|(_, s)| !s.leftover)) {
        if failure.is_some() {
            break;
        }
        let kind = s.spec.kind;
        let r = match s.action {
            Action::Stop if s.leftover => {
                info(format!("stopping {kind} started by `direct`"));
                services::manager(ServiceManagerKind::Direct, root, state).and_then(|direct| {
                    direct
                        .stop(kind)
                        .map(|_| ())
                        .with_context(|| format!("cannot stop `{}`", s.name()))
                })
            }
            Action::Start => {
                info(format!("starting {kind}"));
                mgr.start(&s.spec).and_then(|_| wait_ready(state, mgr, kind, &s.spec.ready_address))
            }
            Action::Restart => {
                info(format!("restarting {kind}"));
                if let Ok(Some(r)) = mgr.running(kind) {
                    previous.push((i, r));
                }
                mgr.restart(&s.spec)
                    .and_then(|_| wait_ready(state, mgr, kind, &s.spec.ready_address))
            }
            Action::Reload => {
                info(format!("reloading {kind}"));
                lifecycle::reload(kind, &s.spec.ready_address, mgr)
            }
            Action::Stop => {
                info(format!("stopping {kind} (disabled)"));
                mgr.disable(kind).map(|_| ()).with_context(|| format!("cannot stop `{kind}`"))
            }
            _ => continue,
        };
        match r {
            Ok(()) => {
                served.push(i);
                let mut c = Change::new("service", s.name(), s.action);
                c.detail = s.reason.clone();
                done.push(c);
            }
            Err(e) => failure = Some((Some(i), e)),
        }
    }
    let Some((failed, mut e)) = failure else {
        if plan.rsyslog_restart {
            done.push(rsyslog_restart(mgr, info));
        }
        state.clear_pending()?;
        return Ok(());
    };

    // Put the previous files back; systemd must re-read a restored unit before the
    // service is restarted on it.
    restore(&backups, &written);
    mark_restored(&mut done[files_at..files_at + written.len()]);
    if written.iter().any(|(f, _)| matches!(f.file.role, FileRole::Unit(_))) {
        if let Err(de) = mgr.daemon_reload() {
            eprintln!("warning: daemon-reload after restoring the units failed: {de:#}");
        }
    }
    if let Some(r) = e.downcast_ref::<lifecycle::Rejected>() {
        // The API gives a summary; the service's log says which setting failed.
        let lines = error_lines(state, mgr, r.component);
        if !lines.is_empty() {
            e = lifecycle::Rejected {
                component: r.component,
                message: format!("{}; its log says:\n{lines}", r.message),
            }
            .into();
        }
    }

    // Bring the services back onto the restored files.
    let mut back = Vec::new();
    for (i, s) in plan.services.iter().enumerate() {
        let kind = s.spec.kind;
        let tried = served.contains(&i) || failed == Some(i);
        let outcome = match s.action {
            Action::Reload if tried => Some(lifecycle::reload(kind, &s.spec.ready_address, mgr)),
            Action::Restart if tried => previous.iter().find(|(j, _)| *j == i).map(|(_, prev)| {
                let address = previous_address(mgr, prev, &s.spec);
                mgr.relaunch(&s.spec, prev).and_then(|_| wait_ready(state, mgr, kind, &address))
            }),
            _ => None,
        };
        let after = match (&outcome, failed == Some(i)) {
            (Some(Ok(())), _) => {
                if s.action == Action::Restart {
                    back.push(format!("`{kind}`"));
                }
                "previous restored".to_string()
            }
            (Some(Err(re)), _) => {
                eprintln!("warning: `{kind}` could not be brought back: {re:#}");
                format!("the previous could not be brought back: {}", one_line(re))
            }
            (None, true) if s.action == Action::Start => "it was not running before".to_string(),
            (None, true) => "nothing to bring back".to_string(),
            (None, false) => continue,
        };
        if failed == Some(i) {
            let mut c = Change::new("service", s.name(), s.action);
            c.detail = Some(format!("{} failed: {}; {after}", s.action.as_str(), one_line(&e)));
            done.push(c);
        } else if let Some(c) = done.iter_mut().find(|c| c.kind == "service" && c.name == s.name())
        {
            c.detail = Some(format!("{}, then {after} after the failure", s.action.as_str()));
        }
    }
    let rejected = e.downcast_ref::<lifecycle::Rejected>().is_some();
    let mut note = if written.is_empty() {
        String::new()
    } else if rejected {
        "; the previous configuration was restored and reloaded".to_string()
    } else {
        "; the previous files were restored".to_string()
    };
    if !back.is_empty() {
        note.push_str(&format!(" and {} brought back", back.join(", ")));
    }
    state.clear_pending()?;
    Err(e.context(format!("apply failed{note}")))
}

/// Restart rsyslog for its changed drop-in. A failure does not fail the apply (the
/// stack itself is converged); the report and a warning say so.
fn rsyslog_restart(mgr: &dyn ServiceManager, info: &dyn Fn(String)) -> Change {
    info(format!("restarting {}", resources::RSYSLOG));
    let mut c = Change::new("service", resources::RSYSLOG, Action::Restart);
    match mgr.restart_unit(&format!("{}.service", resources::RSYSLOG)) {
        Ok(()) => c.detail = Some("its drop-in changed".into()),
        Err(e) => {
            eprintln!("warning: {e:#}");
            c.detail = Some(format!("restart failed: {}", one_line(&e)));
        }
    }
    c
}

/// Files written by a failed apply and then put back.
fn mark_restored(changes: &mut [Change]) {
    for c in changes {
        c.detail = Some(match c.action {
            Action::Create => "written, then removed again: apply failed".to_string(),
            _ => "written, then restored to the previous content: apply failed".to_string(),
        });
        c.diff = None;
    }
}

/// An error on one line, for a report's detail: its first line, and the last line of
/// a multi-line message (the end of a service's log).
fn one_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, .., last] => format!("{first} {last}"),
    }
}

/// Where a relaunched process answers: its own `--web.listen-address` (`direct`),
/// else the configured one.
fn previous_address(mgr: &dyn ServiceManager, prev: &Running, spec: &ServiceSpec) -> String {
    if mgr.kind() == ServiceManagerKind::Direct {
        if let Some(a) = prev.argv.iter().find_map(|a| a.strip_prefix("--web.listen-address=")) {
            return a.to_string();
        }
    }
    spec.ready_address.clone()
}

fn wait_ready(
    state: &StateDir,
    mgr: &dyn ServiceManager,
    kind: ComponentKind,
    address: &str,
) -> anyhow::Result<()> {
    let alive = || matches!(mgr.running(kind), Ok(Some(_)));
    let tail = || services::log_tail(state, kind, 15);
    lifecycle::wait_ready(kind, address, lifecycle::READY_TIMEOUT, &alive, &tail)?;
    Ok(())
}

/// Recent error lines from a `direct` service's log.
fn error_lines(state: &StateDir, mgr: &dyn ServiceManager, kind: ComponentKind) -> String {
    if mgr.kind() != ServiceManagerKind::Direct {
        return String::new();
    }
    let tail = services::log_tail(state, kind, 40);
    let errs: Vec<&str> = tail.lines().filter(|l| l.contains("level=error")).collect();
    errs[errs.len().saturating_sub(3)..].join("\n")
}

fn restore(backups: &atomic_fs::Backups, written: &[(&FilePlan, Saved)]) {
    for (f, saved) in written.iter().rev() {
        if let Err(e) = backups.restore(saved, &f.real, f.owner) {
            eprintln!("warning: cannot restore `{}`: {e:#}", f.file.path.display());
        }
    }
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

/// Check every changed prometheus.yml, rule file and alertmanager.yml with promtool /
/// amtool before it can replace the live one. The config is checked with
/// `--syntax-only` because its rule_files point at the live paths; each rule file is
/// checked on its own.
fn validate_candidates(
    root: &Root,
    loaded: &Loaded,
    state: &StateDir,
    plan: &Plan,
) -> anyhow::Result<()> {
    let candidates: Vec<&FilePlan> = plan
        .changed_files()
        .filter(|f| {
            matches!(
                f.file.role,
                FileRole::PrometheusConfig
                    | FileRole::PrometheusRules
                    | FileRole::AlertmanagerConfig
            )
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let staging = state.staging();
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| -> anyhow::Result<()> {
        for (i, f) in candidates.iter().enumerate() {
            let (component, tool, sub): (ComponentKind, &str, &[&str]) = match f.file.role {
                FileRole::PrometheusConfig => {
                    (ComponentKind::Prometheus, "promtool", &["check", "config", "--syntax-only"])
                }
                FileRole::PrometheusRules => {
                    (ComponentKind::Prometheus, "promtool", &["check", "rules"])
                }
                _ => (ComponentKind::Alertmanager, "amtool", &["check-config"]),
            };
            let Some(bin) = find_tool(root, loaded, component, tool) else {
                eprintln!(
                    "warning: no `{tool}` installed or on PATH; `{}` is not validated before it lands",
                    f.file.path.display()
                );
                continue;
            };
            let name = f.file.path.file_name().unwrap_or_default();
            let cand = staging.join(i.to_string()).join(name);
            atomic_fs::write_atomic(&cand, &f.file.content, 0o600, atomic_fs::Owner::default())?;
            let out = Command::new(&bin)
                .args(sub)
                .arg(&cand)
                .output()
                .with_context(|| format!("cannot run `{}`", bin.display()))?;
            if !out.status.success() {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                let text =
                    text.replace(&cand.display().to_string(), &f.file.path.display().to_string());
                let text = resources::mask(text.trim(), &f.file.secrets);
                // A config problem (exit 78): the candidate never lands.
                return Err(crate::error::with_hint(
                    ConfigError::new(
                        &f.file.path,
                        None,
                        format!("rejected by `{}`:\n{text}", bin.display()),
                    ),
                    "fix the config or the --templates override; nothing on the host was changed",
                ));
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// `{install_dir}/current/<tool>` under the root, else the tool on PATH.
fn find_tool(root: &Root, loaded: &Loaded, kind: ComponentKind, tool: &str) -> Option<PathBuf> {
    let installed = root.host(crate::artifact::current_dir(loaded, kind).join(tool));
    if installed.is_file() {
        return Some(installed);
    }
    which::which(tool).ok()
}
