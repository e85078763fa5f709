//! `monstack status`: end-to-end health of the stack.

use super::{Context, Outcome};
use crate::cli::StatusArgs;
use crate::status;

/// `monstack status`: exit 0 healthy, 1 unhealthy, 78 config error.
pub fn status(ctx: &Context, args: &StatusArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    let opts = status::Options {
        wait: args.wait,
        timeout: args.timeout,
        service_manager: args.service_manager.map(Into::into),
        templates: args.templates.clone(),
    };
    let (report, took) = status::run(&ctx.root, &loaded, &opts, &ctx.out)?;
    status::output::print(&report, &ctx.out, took);
    Ok(if report.healthy { Outcome::Done } else { Outcome::Unhealthy })
}
