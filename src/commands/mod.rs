//! One function per subcommand: the only code (with [`crate::cli`]) that sees clap's
//! records. Each turns its flags into plain values, calls the domain modules, hands
//! the result to the [`Printer`] and returns an [`Outcome`]; [`exit_code`] is the one
//! place outcomes and errors become exit codes.

mod apply;
mod docs;
mod init;
mod releases;
mod render;
mod status;
mod uninstall;
mod validate;

use std::path::PathBuf;

use clap::Parser as _;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config;
use crate::error::exit;
use crate::paths::Root;
use crate::printer::Printer;

/// How a command that did not fail came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (for plan/apply: nothing to change, or `--detailed-exitcode` not given).
    Done,
    /// plan/apply with `--detailed-exitcode`: changes pending (plan) or made (apply).
    Changes,
    /// `status`: some check failed.
    Unhealthy,
    /// The command finished but some of its work failed and was already reported
    /// (install of several components, validate, a plan with errors).
    Failed,
}

/// What every command gets: the global flags, resolved.
#[derive(Debug, Clone)]
pub struct Context {
    pub config_path: Option<PathBuf>,
    pub root: Root,
    pub out: Printer,
}

impl Context {
    fn from_global(g: &GlobalArgs) -> Self {
        Self {
            config_path: g.config.clone(),
            root: g.root.clone().map(Root::new).unwrap_or_default(),
            out: Printer { format: g.format().into(), quiet: g.quiet, verbose: g.verbose },
        }
    }

    /// Find and load the config (exit 78 on any problem).
    pub fn load_config(&self) -> crate::error::Result<config::Loaded> {
        let path = config::find(self.config_path.as_deref())?;
        Ok(config::load(&path)?)
    }

    /// The progress reporter of the commands that download.
    fn reporter(&self) -> crate::artifact::Reporter {
        crate::artifact::Reporter { quiet: self.out.quiet }
    }
}

/// Entry point: parse argv, run the command, map the outcome to an exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
            // clap writes help to stdout and usage errors to stderr, in its own format.
            let _ = e.print();
            return code;
        }
    };
    let ctx = Context::from_global(&cli.global);
    let result = dispatch(&ctx, cli.command);
    if let Err(err) = &result {
        ctx.out.error(err);
    }
    exit_code(&result)
}

fn dispatch(ctx: &Context, command: Command) -> crate::error::Result<Outcome> {
    match command {
        Command::Init(a) => init::init(ctx, &a),
        Command::Render(a) => render::render(ctx, &a),
        Command::Validate(a) => validate::validate(ctx, &a),
        Command::Lock(a) => releases::lock(ctx, &a),
        Command::Bundle(a) => releases::bundle(ctx, &a),
        Command::Install(a) => releases::install(ctx, &a),
        Command::Rollback(a) => releases::rollback(ctx, &a),
        Command::Plan(a) => apply::plan(ctx, &a),
        Command::Apply(a) => apply::apply(ctx, &a),
        Command::Status(a) => status::status(ctx, &a),
        Command::Stop(a) => apply::stop(ctx, &a),
        Command::Completions(a) => docs::completions(ctx, &a),
        Command::Man(a) => docs::man(ctx, &a),
        Command::Uninstall(a) => uninstall::uninstall(ctx, &a),
    }
}

/// The exit code of a command's result: the one mapping of outcomes and errors.
pub fn exit_code(result: &crate::error::Result<Outcome>) -> i32 {
    match result {
        Ok(Outcome::Done) => exit::OK,
        Ok(Outcome::Changes) => exit::CHANGES,
        Ok(Outcome::Unhealthy | Outcome::Failed) => exit::FAILURE,
        Err(err) => err.exit_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_documented_codes() {
        assert_eq!(exit_code(&Ok(Outcome::Done)), 0);
        assert_eq!(exit_code(&Ok(Outcome::Changes)), 2);
        assert_eq!(exit_code(&Ok(Outcome::Unhealthy)), 1);
        assert_eq!(exit_code(&Ok(Outcome::Failed)), 1);
        assert_eq!(exit_code(&Err(crate::error::usage(crate::failure!("bad flag")))), 64);
        let cfg = crate::error::ConfigError::new("m.yaml", None, "bad");
        assert_eq!(exit_code(&Err(crate::error::Error::from(cfg).context("loading"))), 78);
        assert_eq!(exit_code(&Err(crate::failure!("boom"))), 1);
    }
}
