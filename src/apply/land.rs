//! Steps 4 and 5 of apply: land the changed files and act on the services, under a
//! [`Landing`] guard that puts back what it did when the landing does not finish — an
//! error, an early return or a panic.

use crate::error::Context as _;

use super::checkpoint;
use super::lifecycle::{self, ReloadError};
use crate::atomic_fs::{self, Backups, Saved};
use crate::config::ComponentKind;
use crate::paths::Root;
use crate::plan::{owner_for, FilePlan, Plan, ServicePlan, RSYSLOG};
use crate::render::{FileRole, ServiceSpec};
use crate::report::{Action, Change};
use crate::services::ServiceManagerKind;
use crate::services::{self, Running, ServiceManager};
use crate::state::StateDir;

/// What one landing did so far. Dropped before [`Landing::commit`], it restores the
/// previous files (daemon-reloading for a restored unit) and brings every service it
/// touched back onto them, warning about what it could not.
struct Landing<'a> {
    root: &'a Root,
    state: &'a StateDir,
    mgr: &'a dyn ServiceManager,
    backups: Backups,
    /// Files written, with what they replaced, in write order.
    written: Vec<(&'a FilePlan, Saved)>,
    /// Services acted on, in the order they were.
    touched: Vec<Touched<'a>>,
    /// Services this landing started (not running before) and stopped again after a
    /// failure: plan index and outcome.
    stopped: Vec<(usize, Result<(), String>)>,
    /// Committed, or already rolled back.
    settled: bool,
}

/// A service this landing acted on.
struct Touched<'a> {
    /// Its position in the plan (rollback reports in plan order).
    index: usize,
    service: &'a ServicePlan,
    /// What ran before a restart, to relaunch it.
    previous: Option<Running>,
    /// Its action failed.
    failed: bool,
}

impl<'a> Landing<'a> {
    fn new(root: &'a Root, state: &'a StateDir, mgr: &'a dyn ServiceManager) -> Self {
        Self {
            root,
            state,
            mgr,
            backups: state.backups(),
            written: Vec::new(),
            touched: Vec::new(),
            stopped: Vec::new(),
            settled: false,
        }
    }

    /// Back up what `f` replaces, then write it atomically (or remove it, for a file
    /// the config no longer has).
    fn write(&mut self, f: &'a FilePlan) -> crate::error::Result<()> {
        let saved = self.backups.save(&f.file.path, &f.real)?;
        if f.action == Action::Delete {
            atomic_fs::remove_file(&f.real)?;
        } else {
            // Owners are looked up now: the users this run created exist only since.
            let owner = owner_for(self.root, f.file.owner.as_deref(), f.file.group.as_deref());
            atomic_fs::write_atomic(&f.real, &f.file.content, f.file.mode, owner)?;
        }
        self.written.push((f, saved));
        Ok(())
    }

    /// Everything landed: keep it.
    fn commit(mut self) {
        self.settled = true;
    }

    /// Stop every service this landing started (it was not running before) while its
    /// unit still exists; a unit this landing created is disabled too. So nothing keeps
    /// running from a unit file that is about to be removed.
    fn stop_started(&mut self) {
        for t in self.touched.iter().filter(|t| t.service.action == Action::Start) {
            let kind = t.service.spec.kind;
            let new_unit = self
                .written
                .iter()
                .any(|(f, _)| f.file.role == FileRole::Unit(kind) && f.action == Action::Create);
            let r = if new_unit { self.mgr.disable(kind) } else { self.mgr.stop(kind) };
            let r = r.map(|_| ()).map_err(|e| {
                crate::printer::warn(format!(
                    "`{kind}` could not be stopped after the failure: {e:#}"
                ));
                one_line(&e)
            });
            self.stopped.push((t.index, r));
        }
    }

    /// Put the previous files back, newest first; systemd must re-read a restored unit
    /// (`reload_units`, once it read the new one) before a service restarts on it.
    fn restore_files(&mut self, reload_units: bool) {
        for (f, saved) in self.written.iter().rev() {
            if let Err(e) = self.backups.restore(saved, &f.real, f.owner) {
                crate::printer::warn(format!("cannot restore `{}`: {e:#}", f.file.path.display()));
            }
        }
        if reload_units && self.written.iter().any(|(f, _)| f.is_unit()) {
            if let Err(de) = self.mgr.daemon_reload() {
                crate::printer::warn(format!(
                    "daemon-reload after restoring the units failed: {de:#}"
                ));
            }
        }
    }

    /// Bring each touched service back onto the restored files, in plan order: a
    /// reloaded one reloads again, a restarted one is relaunched as it ran before.
    /// `None` where there was nothing to bring back.
    fn bring_back(&mut self) -> Vec<(&'a ServicePlan, bool, Option<crate::error::Result<()>>)> {
        self.settled = true;
        self.touched.sort_by_key(|t| t.index);
        let (state, mgr) = (self.state, self.mgr);
        self.touched
            .iter()
            .map(|t| {
                let s = t.service;
                let kind = s.spec.kind;
                let outcome = match s.action {
                    Action::Start => {
                        self.stopped.iter().find(|(i, _)| *i == t.index).map(|(_, r)| match r {
                            Ok(()) => Ok(()),
                            Err(e) => Err(crate::error::failure!("cannot stop it: {e}")),
                        })
                    }
                    Action::Reload => Some(
                        lifecycle::reload(kind, &s.spec.ready_address, &s.spec.web, mgr)
                            .map_err(crate::error::Error::from),
                    ),
                    Action::Restart => t.previous.as_ref().map(|prev| {
                        let address = previous_address(mgr, prev, &s.spec);
                        mgr.relaunch(&s.spec, prev)
                            .and_then(|_| wait_ready(state, mgr, &s.spec, &address))
                    }),
                    _ => None,
                };
                (s, t.failed, outcome)
            })
            .collect()
    }
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.stop_started();
        self.restore_files(true);
        for (s, _, outcome) in self.bring_back() {
            if let Some(Err(e)) = outcome {
                crate::printer::warn(format!("`{}` could not be brought back: {e:#}", s.spec.kind));
            }
        }
    }
}

/// Journal the service actions the files owe, land the changed files (previous
/// content backed up), daemon-reload, then start / restart / reload. On a failure the
/// previous files are put back (daemon-reloaded when a unit was among them), every
/// service this run touched is brought back onto them (a restarted one relaunched as
/// it ran before), and `done` tells what happened to each, the failed service and the
/// restored files included. `services_step` is called when the files have landed.
pub fn land(
    root: &Root,
    plan: &Plan,
    state: &StateDir,
    mgr: &dyn ServiceManager,
    info: &dyn Fn(String),
    services_step: &dyn Fn(),
    done: &mut Vec<Change>,
) -> crate::error::Result<()> {
    let mut owed = state.pending();
    owed.extend(plan.owed_actions());
    state.set_pending(&owed)?;
    let mut landing = Landing::new(root, state, mgr);
    // A unit that goes (its component disabled) goes after its service was stopped and
    // disabled: systemctl cannot disable a unit whose file is gone.
    let (units_gone, early): (Vec<&FilePlan>, Vec<&FilePlan>) =
        plan.changed_files().partition(|f| f.is_unit() && f.action == Action::Delete);
    // Files about to be created are recorded first, so a killed apply still owns what it
    // wrote (nobody else's content is at those paths). Replaced files become monstack's
    // only once the landing is kept.
    let owned_before = state.owned();
    let mut intent = owned_before.clone();
    intent.extend(
        early
            .iter()
            .filter(|f| f.action == Action::Create)
            .map(|f| (f.file.path.clone(), f.file.role)),
    );
    state.set_owned(&intent)?;
    let landed = early.into_iter().try_for_each(|f| {
        landing.write(f)?;
        checkpoint("file-written");
        Ok::<_, crate::error::Error>(())
    });
    done.extend(landing.written.iter().map(|(f, _)| f.change()));
    if let Err(e) = landed {
        landing.restore_files(false);
        landing.settled = true;
        mark_restored(done, &landing.written);
        state.set_owned(&owned_before)?;
        return Err(e);
    }

    checkpoint("files-landed");
    services_step();

    let failure = run_services(root, plan, &mut landing, info, done)
        .or_else(|| remove_units(&mut landing, &units_gone, done).err().map(ReloadError::from));
    match failure {
        None => {
            let owned = owned_after(root, state, &landing.written);
            landing.commit();
            if plan.rsyslog_restart {
                done.push(rsyslog_restart(mgr, info));
            }
            state.set_owned(&owned)?;
            state.clear_pending()?;
            Ok(())
        }
        Some(e) => {
            let e = roll_back(landing, e, done);
            state.set_owned(&owned_before)?;
            state.clear_pending()?;
            Err(e)
        }
    }
}

/// Remove the units of disabled components (their services are stopped by now), then
/// have systemd forget them.
fn remove_units<'a>(
    landing: &mut Landing<'a>,
    units: &[&'a FilePlan],
    done: &mut Vec<Change>,
) -> crate::error::Result<()> {
    for f in units {
        landing.write(f)?;
        done.push(f.change());
    }
    if !units.is_empty() && landing.mgr.kind() == ServiceManagerKind::Systemd {
        landing.mgr.daemon_reload()?;
    }
    Ok(())
}

/// The state's record of owned files once a landing is kept: what it wrote is
/// monstack's, what it removed no longer is, and neither is a file someone else removed
/// (a file later put at that path would be theirs).
fn owned_after(
    root: &Root,
    state: &StateDir,
    written: &[(&FilePlan, Saved)],
) -> std::collections::BTreeMap<std::path::PathBuf, FileRole> {
    let mut owned = state.owned();
    owned.retain(|path, _| crate::state::is_file(&root.host(path)));
    for (f, _) in written {
        if f.action == Action::Delete {
            owned.remove(&f.file.path);
        } else {
            owned.insert(f.file.path.clone(), f.file.role);
        }
    }
    owned
}

/// daemon-reload, then each service action (leftovers of an earlier `direct` apply
/// first: they hold the units' ports). The first failure stops the run and is returned.
fn run_services<'a>(
    root: &Root,
    plan: &'a Plan,
    landing: &mut Landing<'a>,
    info: &dyn Fn(String),
    done: &mut Vec<Change>,
) -> Option<ReloadError> {
    let (state, mgr) = (landing.state, landing.mgr);
    if plan.daemon_reload {
        if let Err(e) = mgr.daemon_reload() {
            return Some(e.into());
        }
    }
    let (leftovers, rest): (Vec<_>, Vec<_>) =
        plan.services.iter().enumerate().partition(|(_, s)| s.leftover);
    for (index, s) in leftovers.into_iter().chain(rest) {
        let kind = s.spec.kind;
        let mut previous = None;
        let r: Result<(), ReloadError> = match s.action {
            Action::Stop if s.leftover => {
                info(format!("stopping {kind} started by `direct`"));
                services::manager(ServiceManagerKind::Direct, root, state)
                    .and_then(|direct| {
                        direct
                            .stop(kind)
                            .map(|_| ())
                            .with_context(|| format!("cannot stop `{}`", s.name()))
                    })
                    .map_err(ReloadError::from)
            }
            Action::Start => {
                info(format!("starting {kind}"));
                mgr.start(&s.spec)
                    .and_then(|_| wait_ready(state, mgr, &s.spec, &s.spec.ready_address))
                    .map_err(ReloadError::from)
            }
            Action::Restart => {
                info(format!("restarting {kind}"));
                previous = mgr.running(kind).ok().flatten();
                mgr.restart(&s.spec)
                    .and_then(|_| wait_ready(state, mgr, &s.spec, &s.spec.ready_address))
                    .map_err(ReloadError::from)
            }
            Action::Reload => {
                info(format!("reloading {kind}"));
                lifecycle::reload(kind, &s.spec.ready_address, &s.spec.web, mgr)
            }
            Action::Stop => {
                info(format!("stopping {kind} (disabled)"));
                mgr.disable(kind)
                    .map(|_| ())
                    .with_context(|| format!("cannot stop `{kind}`"))
                    .map_err(ReloadError::from)
            }
            _ => continue,
        };
        landing.touched.push(Touched { index, service: s, previous, failed: r.is_err() });
        match r {
            Ok(()) => done.push(s.change()),
            Err(e) => return Some(e),
        }
    }
    None
}

/// Undo a landing whose services failed with `failure`, and say in `done` what happened
/// to each file and service; the error to return.
fn roll_back(
    mut landing: Landing,
    failure: ReloadError,
    done: &mut Vec<Change>,
) -> crate::error::Error {
    let (state, mgr) = (landing.state, landing.mgr);
    let written = landing.written.len();
    landing.stop_started();
    landing.restore_files(true);
    mark_restored(done, &landing.written);
    let rejected = matches!(failure, ReloadError::Rejected(_));
    let e = match failure {
        ReloadError::Rejected(mut r) => {
            // The API gives a summary; the service's log says which setting failed.
            let lines = error_lines(state, mgr, r.component);
            if !lines.is_empty() {
                r.message = format!("{}; its log says:\n{lines}", r.message);
            }
            crate::error::Error::from(r)
        }
        ReloadError::Failed(e) => e,
    };

    let mut back = Vec::new();
    for (s, failed, outcome) in landing.bring_back() {
        let kind = s.spec.kind;
        let after = match (&outcome, failed) {
            (Some(Ok(())), _) if s.action == Action::Start => {
                "stopped again: it was not running before".to_string()
            }
            (Some(Err(re)), _) if s.action == Action::Start => {
                format!("it was not running before, and {}", one_line(re))
            }
            (Some(Ok(())), _) => {
                if s.action == Action::Restart {
                    back.push(format!("`{kind}`"));
                }
                "previous restored".to_string()
            }
            (Some(Err(re)), _) => {
                crate::printer::warn(format!("`{kind}` could not be brought back: {re:#}"));
                format!("the previous could not be brought back: {}", one_line(re))
            }
            (None, true) if s.action == Action::Start => "it was not running before".to_string(),
            (None, true) => "nothing to bring back".to_string(),
            (None, false) => continue,
        };
        if failed {
            let detail = format!("{} failed: {}; {after}", s.action.as_str(), one_line(&e));
            done.push(Change::new("service", s.name(), s.action).into_failed(detail));
        } else if let Some(c) = done.iter_mut().find(|c| c.kind == "service" && c.name == s.name())
        {
            let detail = format!("{}, then {after} after the failure", s.action.as_str());
            *c = c.clone().into_failed(detail);
        }
    }
    let mut note = if written == 0 {
        String::new()
    } else if rejected {
        "; the previous configuration was restored and reloaded".to_string()
    } else {
        "; the previous files were restored".to_string()
    };
    if !back.is_empty() {
        note.push_str(&format!(" and {} brought back", back.join(", ")));
    }
    e.context(format!("apply failed{note}"))
}

/// Restart rsyslog for its changed drop-in. A failure does not fail the apply (the
/// stack itself is converged); the report and a warning say so.
fn rsyslog_restart(mgr: &dyn ServiceManager, info: &dyn Fn(String)) -> Change {
    info(format!("restarting {RSYSLOG}"));
    let mut c = Change::new("service", RSYSLOG, Action::Restart);
    match mgr.restart_unit(&format!("{RSYSLOG}.service")) {
        Ok(()) => c.detail = Some("its drop-in changed".into()),
        Err(e) => {
            crate::printer::warn(format!("{e:#}"));
            return c.into_failed(format!("restart failed: {}", one_line(&e)));
        }
    }
    c
}

/// Files written (or removed) by a failed apply and then put back.
fn mark_restored(done: &mut [Change], written: &[(&FilePlan, Saved)]) {
    let restored = |c: &Change| {
        matches!(c.kind.as_str(), "file" | "unit")
            && written.iter().any(|(f, _)| f.file.path.display().to_string() == c.name)
    };
    for c in done.iter_mut().filter(|c| restored(c)) {
        let detail = match c.action {
            Action::Create => "written, then removed again: apply failed",
            Action::Delete => "removed, then put back: apply failed",
            _ => "written, then restored to the previous content: apply failed",
        };
        *c = c.clone().into_failed(detail.to_string());
    }
}

/// An error on one line, for a report's detail: its first line, and the last line of
/// a multi-line message (the end of a service's log).
fn one_line(e: &crate::error::Error) -> String {
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

pub(super) fn wait_ready(
    state: &StateDir,
    mgr: &dyn ServiceManager,
    spec: &ServiceSpec,
    address: &str,
) -> crate::error::Result<()> {
    let kind = spec.kind;
    let alive = || matches!(mgr.running(kind), Ok(Some(_)));
    // The answer must come from the service's own process, not one holding its port.
    let port = address.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
    let serves = || match (mgr.running(kind), port) {
        (Ok(Some(r)), Some(port)) => services::listens_on(r.pid, port).unwrap_or(true),
        _ => true,
    };
    let tail = || services::log_tail(state, kind, 15);
    let limit = lifecycle::ready_timeout();
    lifecycle::wait_ready_serving(kind, address, &spec.web, limit, &alive, &serves, &tail)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::RenderedFile;
    use std::path::{Path, PathBuf};

    fn file_plan(root: &Root, path: &str, content: &str, action: Action) -> FilePlan {
        let file = RenderedFile {
            path: PathBuf::from(path),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
            owner: None,
            group: None,
            role: FileRole::Logrotate,
            secrets: Vec::new(),
        };
        let real = root.host(Path::new(path));
        FilePlan { file, real, owner: Default::default(), action, diff: None, detail: None }
    }

    #[test]
    fn an_unfinished_landing_puts_the_files_back_even_on_panic() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path().join("root"));
        let state = StateDir { host: "/var/lib/monstack".into(), path: d.path().join("state") };
        let mgr = services::manager(ServiceManagerKind::None, &root, &state).unwrap();
        let old = file_plan(&root, "/etc/logrotate.d/a", "new a\n", Action::Update);
        let fresh = file_plan(&root, "/etc/logrotate.d/b", "new b\n", Action::Create);
        std::fs::create_dir_all(old.real.parent().unwrap()).unwrap();
        std::fs::write(&old.real, "old a\n").unwrap();

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut l = Landing::new(&root, &state, mgr.as_ref());
            l.write(&old).unwrap();
            l.write(&fresh).unwrap();
            assert_eq!(std::fs::read_to_string(&old.real).unwrap(), "new a\n");
            panic!("between two steps");
        }));
        assert!(panicked.is_err());
        assert_eq!(std::fs::read_to_string(&old.real).unwrap(), "old a\n", "restored");
        assert!(!fresh.real.exists(), "a file that was not there is removed again");

        let mut l = Landing::new(&root, &state, mgr.as_ref());
        l.write(&old).unwrap();
        l.commit();
        assert_eq!(std::fs::read_to_string(&old.real).unwrap(), "new a\n", "kept once committed");
    }
}
