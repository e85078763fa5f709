//! The `host logrotate` check: `logrotate -d` over what the host's daily run reads.
//! Each file apply lands is accepted by `logrotate -d` alone, yet the run can still fail: an
//! owner that went away, a log path another file also names (`duplicate log entry`),
//! a file changed by hand. logrotate stops the whole run on such an error, so status
//! says so. On the real host it reads the host's real `/etc/logrotate.conf` (which
//! includes `/etc/logrotate.d`); under `--root`, the landed monstack files together.
//! Debug mode rotates nothing; the state file is a temporary one.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Check, Level};
use crate::paths::Root;
use crate::plan::FilePlan;
use crate::render::FileRole;
use crate::report::Action;

/// The host's logrotate configuration (the daily run's argument).
const HOST_CONFIG: &str = "/etc/logrotate.conf";

/// The check, or `None` when monstack manages no logrotate file. A file not landed yet
/// is the files check's finding, not this one's.
pub fn check(root: &Root, files: &[FilePlan]) -> Option<Check> {
    let landed: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.file.role == FileRole::Logrotate && f.action != Action::Create)
        .map(|f| f.real.clone())
        .collect();
    if !files.iter().any(|f| f.file.role == FileRole::Logrotate) {
        return None;
    }
    let new = |level, reason: String| Some(Check::new("host", "logrotate", level, reason));
    if landed.is_empty() {
        return new(Level::Skip, "no logrotate file landed yet".into());
    }
    let Ok(bin) = which::which("logrotate") else {
        return new(Level::Skip, "`logrotate` is not installed: not checked".into());
    };
    let args: Vec<PathBuf> =
        if root.is_host() { vec![PathBuf::from(HOST_CONFIG)] } else { landed.clone() };
    let what = if root.is_host() {
        format!("the host's run (`{HOST_CONFIG}`)")
    } else {
        format!("{} landed file{}", landed.len(), if landed.len() == 1 { "" } else { "s" })
    };
    match run(&bin, &args) {
        Err(e) => new(Level::Fail, format!("cannot run `{}`: {e}", bin.display())),
        Ok(errors) if errors.is_empty() => {
            new(Level::Ok, format!("`logrotate -d` finds no error in {what}"))
        }
        Ok(errors) => {
            let shown = errors.iter().map(|e| strip_root(root, e)).collect::<Vec<_>>();
            new(
                Level::Fail,
                format!(
                    "`logrotate -d` fails on {what}, and logrotate stops its run there: {}; run `logrotate -d {}`",
                    shown.join("; "),
                    args.iter().map(|a| a.display().to_string()).collect::<Vec<_>>().join(" ")
                ),
            )
        }
    }
}

/// `logrotate -d` on `args`: its `error:` lines (and its output if it failed without
/// one).
fn run(bin: &Path, args: &[PathBuf]) -> std::io::Result<Vec<String>> {
    let state = tempfile::tempdir()?;
    let out = Command::new(bin)
        .arg("-d")
        .arg("--state")
        .arg(state.path().join("status"))
        .args(args)
        .env("LC_ALL", "C")
        .output()?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut errors: Vec<String> =
        text.lines().filter_map(|l| l.trim().strip_prefix("error: ")).map(str::to_string).collect();
    if errors.is_empty() && !out.status.success() {
        errors.push(format!("exit status {}", out.status.code().unwrap_or(-1)));
    }
    Ok(errors)
}

/// Host paths in a message about files under `--root`.
fn strip_root(root: &Root, msg: &str) -> String {
    if root.is_host() {
        return msg.to_string();
    }
    msg.replace(&root.dir().display().to_string(), "")
}
