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
use crate::error::{self, exit};
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
            if code == exit::USAGE && json_requested(std::env::args_os()) {
                crate::printer::usage_document(clap_entry(&e));
            }
            return code;
        }
    };
    let ctx = Context::from_global(&cli.global);
    let result = dispatch(&ctx, cli.command);
    ctx.out.finish(result.as_ref().err());
    exit_code(&result)
}

/// `--output json` on a command line clap refused (it did not get to parse it).
fn json_requested(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    let args = args.iter().take_while(|a| *a != "--");
    let mut prev = "";
    let mut json = false;
    for a in args {
        if a == "--output=json" || (prev == "--output" && a == "json") {
            json = true;
        }
        prev = a;
    }
    json
}

/// clap's usage error as an `errors[]` entry: its message, the argument at fault and
/// its tip.
fn clap_entry(e: &clap::Error) -> error::Entry {
    use clap::error::{ContextKind, ContextValue};
    let text = e.render().to_string();
    let message = text.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
    let mut tips: Vec<&str> = text.lines().filter_map(|l| l.trim().strip_prefix("tip: ")).collect();
    if tips.is_empty() {
        tips.extend(text.lines().filter(|l| l.starts_with("For more information")));
    }
    let key = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    error::Entry {
        code: exit::USAGE,
        message,
        key,
        hint: (!tips.is_empty()).then(|| tips.join("; ")),
        ..error::Entry::failure("")
    }
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
    fn json_output_is_seen_on_a_refused_command_line() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(json_requested(
            args(&["monstack", "plan", "--output", "json", "--bad"]).into_iter()
        ));
        assert!(json_requested(args(&["monstack", "--output=json", "x"]).into_iter()));
        assert!(!json_requested(args(&["monstack", "plan", "--", "--output=json"]).into_iter()));
        assert!(!json_requested(args(&["monstack", "plan", "--bad"]).into_iter()));
        let e = Cli::try_parse_from(["monstack", "plan", "--bogus"]).unwrap_err();
        let entry = clap_entry(&e);
        assert_eq!((entry.code, entry.key.as_deref()), (64, Some("--bogus")));
        assert!(entry.message.contains("unexpected argument '--bogus'"), "{}", entry.message);
    }

    #[test]
    fn outcomes_map_to_documented_codes() {
        assert_eq!(exit_code(&Ok(Outcome::Done)), 0);
        assert_eq!(exit_code(&Ok(Outcome::Changes)), 2);
        assert_eq!(exit_code(&Ok(Outcome::Unhealthy)), 1);
        assert_eq!(exit_code(&Ok(Outcome::Failed)), 1);
        assert_eq!(exit_code(&Err(crate::error::usage(crate::error::failure!("bad flag")))), 64);
        let cfg = crate::error::ConfigError::new("m.yaml", None, "bad");
        assert_eq!(exit_code(&Err(crate::error::Error::from(cfg).context("loading"))), 78);
        assert_eq!(exit_code(&Err(crate::error::failure!("boom"))), 1);
    }
}
