//! `uninstall`: plan the teardown, show it, have it confirmed (`--yes` in pipelines),
//! carry it out.

use serde::Serialize;

use super::{Context, Outcome};
use crate::cli::UninstallArgs;
use crate::config::ComponentKind;
use crate::error;
use crate::report::{self, Mode, Report};
use crate::services::{self, ServiceManagerKind};
use crate::state::{ApplyLock, StateDir};
use crate::uninstall::{self, Options, Target};

/// The JSON document of `uninstall` (after `format_version`).
#[derive(Debug, Serialize)]
struct UninstallOutput<'a> {
    /// Only planned (`--dry-run`, or nothing to remove): nothing was changed.
    dry_run: bool,
    purge: bool,
    #[serde(flatten)]
    report: &'a Report,
}

/// `monstack uninstall`.
pub fn uninstall(ctx: &Context, args: &UninstallArgs) -> crate::error::Result<Outcome> {
    let components: Vec<ComponentKind> = args
        .components
        .iter()
        .map(|n| super::releases::component(n))
        .collect::<crate::error::Result<_>>()?;
    let root = crate::apply::absolute_root(&ctx.root)?;
    let loaded = ctx.load_config()?;
    let state = StateDir::new(&root, &loaded);
    let flag = args.service_manager.map(ServiceManagerKind::from);
    let kind = flag.or_else(|| state.recorded_manager()).unwrap_or(ServiceManagerKind::Auto);
    let mgr = services::manager(services::resolve_kind(kind, &root), &root, &state)?;
    let t = Target { root: &root, loaded: &loaded, state: &state, mgr: mgr.as_ref() };
    let opts = Options { components, purge: args.purge };
    let teardown = uninstall::plan(&t, &opts)?;
    let planned = teardown.report();
    let print = |rep: &Report, mode: Mode| {
        let doc = UninstallOutput {
            dry_run: mode == Mode::UninstallPlan,
            purge: args.purge,
            report: rep,
        };
        ctx.out.result(&doc, || {
            report::render_human(rep, mode, crate::printer::use_color(), ctx.out.verbose > 0)
        });
    };
    if teardown.is_empty() || args.dry_run {
        print(&planned, Mode::UninstallPlan);
        return Ok(Outcome::Done);
    }
    if !args.yes {
        if !crate::printer::stdin_is_terminal() {
            return Err(error::with_hint(
                error::usage(crate::error::failure!(
                    "`monstack uninstall` asks for confirmation and stdin is not a terminal"
                )),
                "pass `--yes` to uninstall without asking, or `--dry-run` to see what it would remove",
            ));
        }
        if ctx.out.json_output() {
            // stdout keeps one JSON document (the outcome): the plan to confirm goes to stderr.
            ctx.out.info(report::render_human(&planned, Mode::UninstallPlan, false, false));
        } else {
            print(&planned, Mode::UninstallPlan);
        }
        if !ctx.out.confirm("remove all of the above?")? {
            ctx.out.info("uninstall: cancelled, nothing changed");
            return Ok(Outcome::Done);
        }
    }
    crate::host::require_root(&root, "uninstall")?;
    let _lock = ApplyLock::acquire(&state)?;
    let (rep, failure) = uninstall::run(&t, &teardown, &|m| ctx.out.info(m));
    print(&rep, Mode::Uninstall);
    match failure {
        Some(e) => Err(e),
        None => Ok(Outcome::Done),
    }
}
