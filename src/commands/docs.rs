//! `completions` and `man`: both generated from the clap definition in [`crate::cli`],
//! so they cannot drift from what the binary accepts.

use std::path::{Path, PathBuf};

use crate::error::Context as _;
use clap::CommandFactory as _;
use serde::Serialize;

use super::{Context, Outcome};
use crate::cli::{examples, Cli, CompletionsArgs, ManArgs, Shell};

/// The command tree as clap builds it (global flags propagated to each subcommand).
fn tree() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

#[derive(Serialize)]
struct Completions {
    shell: &'static str,
    script: String,
}

/// `monstack completions SHELL`: the script on stdout.
pub fn completions(ctx: &Context, args: &CompletionsArgs) -> crate::error::Result<Outcome> {
    let (shell, name) = match args.shell {
        Shell::Bash => (clap_complete::Shell::Bash, "bash"),
        Shell::Zsh => (clap_complete::Shell::Zsh, "zsh"),
        Shell::Fish => (clap_complete::Shell::Fish, "fish"),
        Shell::Powershell => (clap_complete::Shell::PowerShell, "powershell"),
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "monstack", &mut script);
    let doc = Completions { shell: name, script: String::from_utf8(script)? };
    ctx.out.product(&doc, || doc.script.clone());
    Ok(Outcome::Done)
}

#[derive(Serialize)]
struct ManPages {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

#[derive(Serialize)]
struct ManPage {
    page: String,
}

/// `monstack man`: the top page on stdout, or every page into `--dir`.
pub fn man(ctx: &Context, args: &ManArgs) -> crate::error::Result<Outcome> {
    let cmd = tree();
    let Some(dir) = &args.dir else {
        let doc = ManPage { page: render(&cmd)? };
        ctx.out.product(&doc, || doc.page.clone());
        return Ok(Outcome::Done);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create man page directory `{}`", dir.display()))?;
    let mut files = vec![write_page(&cmd, dir)?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        files.push(write_page(sub, dir)?);
    }
    let doc = ManPages { dir: dir.clone(), files };
    ctx.out.result(&doc, || {
        doc.files.iter().map(|f| format!("{}\n", f.display())).collect::<String>()
    });
    Ok(Outcome::Done)
}

/// `monstack.1` or `monstack-COMMAND.1` in `dir`.
fn write_page(cmd: &clap::Command, dir: &Path) -> crate::error::Result<PathBuf> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    let owner = crate::atomic_fs::Owner { uid: None, gid: None };
    crate::atomic_fs::write_atomic(&path, render(cmd)?.as_bytes(), 0o644, owner)
        .with_context(|| format!("cannot write man page `{}`", path.display()))?;
    Ok(path)
}

/// One man page: clap_mangen's sections, with the `--help` examples as EXAMPLES
/// (clap_mangen would title them EXTRA and keep the `Examples:` line).
fn render(cmd: &clap::Command) -> crate::error::Result<String> {
    let examples = cmd.get_after_help().map(|h| h.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone().after_help(None)).render(&mut out)?;
    if let Some(text) = examples {
        let mut roff = roff::Roff::new();
        roff.control("SH", ["EXAMPLES"]).control("nf", []);
        for line in text.lines().filter(|l| *l != examples::HEADING) {
            roff.text([roff::roman(line)]);
        }
        roff.control("fi", []);
        out.extend(roff.render().into_bytes());
    }
    Ok(String::from_utf8(out)?)
}
