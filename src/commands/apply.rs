//! `plan`, `apply` and `stop`.

use super::{Context, Outcome};
use crate::apply::{self, Options};
use crate::cli::{PlanArgs, StopArgs};
use crate::report::{self, Mode, Report};

fn session(ctx: &Context, args: &PlanArgs) -> crate::error::Result<apply::Session> {
    let root = apply::absolute_root(&ctx.root)?;
    let loaded = ctx.load_config()?;
    let opts = Options {
        service_manager: args.service_manager.map(Into::into),
        templates: args.templates.clone(),
        allow_unsafe_version_change: args.allow_unsafe_version_change,
        ready_timeout: Some(args.ready_timeout),
        net: (&args.net).into(),
    };
    apply::prepare(root, loaded, opts)
}

/// `--detailed-exitcode`: changes pending or made are an outcome of their own.
fn outcome(rep: &Report, detailed: bool) -> Outcome {
    if detailed && rep.changed > 0 {
        Outcome::Changes
    } else {
        Outcome::Done
    }
}

/// `monstack plan`.
pub fn plan(ctx: &Context, args: &PlanArgs) -> crate::error::Result<Outcome> {
    let s = session(ctx, args)?;
    let rep = apply::plan(&s)?;
    // A release change across a major version: warnings, the plan, then the refusal
    // of an unsafe one (exit 78) unless confirmed.
    let crossings = apply::crossings(&s)?;
    crate::upgrade::announce(&crossings, args.allow_unsafe_version_change, &ctx.out);
    report::print(&rep, &ctx.out, Mode::Plan);
    crate::upgrade::refuse(s.loaded(), &crossings, args.allow_unsafe_version_change)?;
    if !rep.errors.is_empty() {
        // Already reported with the plan (each error carries its advice).
        return Ok(Outcome::Failed);
    }
    Ok(outcome(&rep, args.detailed_exitcode))
}

/// `monstack apply`.
pub fn apply(ctx: &Context, args: &PlanArgs) -> crate::error::Result<Outcome> {
    let s = session(ctx, args)?;
    let (rep, failure) = apply::apply(&s, &ctx.out)?;
    report::print(&rep, &ctx.out, Mode::Apply);
    match failure {
        Some(err) => Err(err),
        None => Ok(outcome(&rep, args.detailed_exitcode)),
    }
}

/// `monstack stop`: works without a config (then the default state dir).
pub fn stop(ctx: &Context, _args: &StopArgs) -> crate::error::Result<Outcome> {
    let root = apply::absolute_root(&ctx.root)?;
    let loaded = match ctx.config_path.as_deref() {
        Some(p) if !p.exists() => None,
        _ => ctx.load_config().ok(),
    };
    let rep = apply::stop(&root, loaded)?;
    report::print(&rep, &ctx.out, Mode::Stop);
    Ok(Outcome::Done)
}
