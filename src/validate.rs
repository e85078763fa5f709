//! Runs the real validators (promtool, amtool, systemd-analyze, logrotate) on
//! rendered files and reports their own messages.
//!
//! `systemd-analyze verify` and `logrotate -d` exit 0 on many real problems
//! (unknown key, unparsable value, unknown option), so their diagnostics are read
//! line by line. Host facts that are not defects of the file (a component binary
//! not installed yet, a log owner that does not exist on this host) become notes.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::paths::Root;
use crate::render::{self, FileRole, RenderedFile};

/// An external validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Promtool,
    Amtool,
    SystemdAnalyze,
    Logrotate,
    /// `blackbox_exporter --config.check` (Debian names it `prometheus-blackbox-exporter`).
    BlackboxExporter,
}

impl Tool {
    /// Every validator, in the order they are reported.
    pub const ALL: [Tool; 5] = [
        Tool::Promtool,
        Tool::Amtool,
        Tool::BlackboxExporter,
        Tool::SystemdAnalyze,
        Tool::Logrotate,
    ];

    /// Program name looked up on PATH.
    pub fn program(self) -> &'static str {
        match self {
            Self::Promtool => "promtool",
            Self::Amtool => "amtool",
            Self::SystemdAnalyze => "systemd-analyze",
            Self::Logrotate => "logrotate",
            Self::BlackboxExporter => "blackbox_exporter",
        }
    }

    /// Other names the host's copy goes by (Debian's package renames the binary).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::BlackboxExporter => &["prometheus-blackbox-exporter"],
            _ => &[],
        }
    }

    /// promtool, amtool and blackbox_exporter come with the release; the others are the host's.
    pub fn judged_per_release(self) -> bool {
        matches!(self, Self::Promtool | Self::Amtool | Self::BlackboxExporter)
    }

    /// The validator for a file role (`None`: checked by monstack itself, or not at all).
    pub fn for_role(role: FileRole) -> Option<Tool> {
        match role {
            FileRole::PrometheusConfig | FileRole::PrometheusRules | FileRole::WebConfig(_) => {
                Some(Self::Promtool)
            }
            FileRole::AlertmanagerConfig => Some(Self::Amtool),
            FileRole::BlackboxConfig => Some(Self::BlackboxExporter),
            FileRole::Unit(_) => Some(Self::SystemdAnalyze),
            FileRole::Logrotate => Some(Self::Logrotate),
            FileRole::Rsyslog
            | FileRole::GrafanaProvisioning
            | FileRole::GrafanaDashboard
            | FileRole::Secret(_)
            | FileRole::Template(_)
            | FileRole::GrafanaIni
            | FileRole::AptSource => None,
        }
    }
}

/// Whether files of `role` are checked at all (by a validator or by monstack itself).
pub fn has_check(role: FileRole) -> bool {
    Tool::for_role(role).is_some()
        || matches!(
            role,
            FileRole::GrafanaDashboard
                | FileRole::GrafanaProvisioning
                | FileRole::GrafanaIni
                | FileRole::AptSource
        )
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// Where each validator lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tools {
    paths: BTreeMap<Tool, PathBuf>,
    /// Where a tool came from when not the host: `release 3.5.0`.
    origins: BTreeMap<Tool, String>,
    /// Check prometheus.yml as an agent-mode config (`promtool check config --agent`).
    pub agent: bool,
    /// `alertmanager.route_tests`: each alert's labels and the receivers it must reach,
    /// run with `amtool config routes test` once alertmanager.yml passes check-config.
    pub route_tests: Vec<crate::config::RouteTest>,
}

impl Tools {
    /// The validators found on PATH (the `which` crate).
    pub fn from_path() -> Self {
        let mut t = Self::default();
        for tool in Tool::ALL {
            let names = std::iter::once(tool.program()).chain(tool.aliases().iter().copied());
            if let Some(p) = names.filter_map(|n| which::which(n).ok()).next() {
                t.paths.insert(tool, p);
            }
        }
        t
    }

    /// The validators found in `dir` (e.g. a release's `current/` for promtool and amtool),
    /// falling back to PATH for the rest.
    pub fn in_dir_or_path(dir: &Path) -> Self {
        let mut t = Self::from_path();
        for tool in Tool::ALL {
            let p = dir.join(tool.program());
            if p.is_file() {
                t.paths.insert(tool, p);
            }
        }
        t
    }

    /// promtool and amtool of the release the config asks for when it is on disk
    /// (`{install_dir}/releases/{version}/`, installed or staged), so a 3.x config is
    /// judged by a 3.x promtool; the host's (PATH) when that release has none.
    pub fn for_release(root: &Root, loaded: &crate::config::Loaded) -> Self {
        use crate::config::ComponentKind;
        let mut t = Self::from_path();
        for (tool, kind) in [
            (Tool::Promtool, ComponentKind::Prometheus),
            (Tool::Amtool, ComponentKind::Alertmanager),
            (Tool::BlackboxExporter, ComponentKind::BlackboxExporter),
        ] {
            let comp = loaded.config.component(kind);
            let dir = root.host(comp.install_dir.join("releases").join(&comp.version));
            let p = dir.join(tool.program());
            if p.is_file() {
                t.paths.insert(tool, p);
                t.origins.insert(tool, format!("release {}", comp.version));
            }
        }
        t.agent = loaded.config.prometheus.mode == crate::config::PrometheusMode::Agent;
        t.route_tests = loaded.config.alertmanager.route_tests.clone();
        t
    }

    /// Which binary judges `tool`'s files, for the report: `promtool 2.42.0 (release
    /// 3.5.0)`, `amtool 0.25.0 (host)`; the version is what `--version` prints.
    pub fn judged_by(&self, tool: Tool) -> Option<String> {
        let bin = self.get(tool)?;
        let origin = self.origins.get(&tool).map(String::as_str).unwrap_or("host");
        Some(format!("{} {} ({origin})", tool.program(), tool_version(bin)))
    }

    /// Use this binary for `tool`.
    pub fn set(&mut self, tool: Tool, binary: impl Into<PathBuf>) -> &mut Self {
        self.paths.insert(tool, binary.into());
        self
    }

    /// The binary for `tool`, if known.
    pub fn get(&self, tool: Tool) -> Option<&Path> {
        self.paths.get(&tool).map(PathBuf::as_path)
    }
}

/// The version a validator reports (`promtool, version 2.42.0+ds (branch: …)` ->
/// `2.42.0+ds`), or `version unknown`.
pub fn tool_version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .env("LC_ALL", "C")
        .output()
        .ok()
        .and_then(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let first = text.lines().next()?.to_string();
            let v = first.split("version ").nth(1)?.split_whitespace().next()?.to_string();
            Some(v)
        })
        .unwrap_or_else(|| "version unknown".into())
}

/// A file the validator accepted, with facts about the host worth telling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// The validator that ran (`None`: checked by monstack, or nothing to run).
    pub tool: Option<Tool>,
    /// E.g. "binary `/opt/prometheus/current/prometheus` is not installed yet".
    pub notes: Vec<String>,
}

/// Why a file did not pass.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// The validator rejected the file; `message` is the tool's own output.
    #[error("`{tool}` rejected `{file}`:\n{message}")]
    Rejected { tool: Tool, file: PathBuf, message: String },
    /// A file monstack checks itself (JSON, YAML) does not parse.
    #[error("`{file}` is malformed: {message}")]
    Malformed { file: PathBuf, message: String },
    /// The validator is not installed.
    #[error("`{tool}` not found on PATH; `{file}` was not checked")]
    ToolMissing { tool: Tool, file: PathBuf },
    /// The validator could not be run.
    #[error("cannot run `{program}` on `{file}`")]
    Run { program: PathBuf, file: PathBuf, source: std::io::Error },
}

impl ValidationError {
    /// Mask every secret in the tool's message ([`crate::secrets::mask`]).
    pub fn mask(self, secrets: &[String]) -> Self {
        let hide = |m: String| crate::secrets::mask(&m, secrets);
        match self {
            Self::Rejected { tool, file, message } => {
                Self::Rejected { tool, file, message: hide(message) }
            }
            Self::Malformed { file, message } => Self::Malformed { file, message: hide(message) },
            other => other,
        }
    }

    fn map_paths(self, from: &str, to: &Path) -> Self {
        let fix = |s: String| s.replace(from, "");
        match self {
            Self::Rejected { tool, message, .. } => {
                Self::Rejected { tool, file: to.into(), message: fix(message) }
            }
            Self::Malformed { message, .. } => {
                Self::Malformed { file: to.into(), message: fix(message) }
            }
            Self::ToolMissing { tool, .. } => Self::ToolMissing { tool, file: to.into() },
            Self::Run { program, source, .. } => Self::Run { program, file: to.into(), source },
        }
    }
}

/// Validate one file of `role` at `path` with the validators in `tools`.
///
/// A Prometheus config is checked with the rule files it names, relative to its own
/// directory (`rules/*.yml`), so validate it inside a tree laid out as on the host
/// (see [`validate_rendered`]).
pub fn validate_file(
    role: FileRole,
    path: &Path,
    tools: &Tools,
) -> Result<Checked, ValidationError> {
    check_file(role, path, tools, true)
}

/// [`validate_file`] for a candidate about to replace a live file: a Prometheus config
/// is checked with `--syntax-only`, as its rule files are checked on their own (its
/// `rule_files` point at the live paths).
pub fn validate_candidate(
    role: FileRole,
    path: &Path,
    tools: &Tools,
) -> Result<Checked, ValidationError> {
    check_file(role, path, tools, false)
}

/// The one validator runner behind [`validate_file`] and [`validate_candidate`].
fn check_file(
    role: FileRole,
    path: &Path,
    tools: &Tools,
    with_rules: bool,
) -> Result<Checked, ValidationError> {
    let Some(tool) = Tool::for_role(role) else {
        return check_builtin(role, path);
    };
    let Some(bin) = tools.get(tool) else {
        return Err(ValidationError::ToolMissing { tool, file: path.into() });
    };
    match tool {
        Tool::Promtool => {
            let mut args: Vec<&str> = match role {
                FileRole::PrometheusConfig if with_rules => vec!["check", "config"],
                FileRole::PrometheusConfig => vec!["check", "config", "--syntax-only"],
                FileRole::WebConfig(_) => vec!["check", "web-config"],
                _ => vec!["check", "rules"],
            };
            // An agent's config is checked as one (no rules, alerting or TSDB keys).
            if role == FileRole::PrometheusConfig && tools.agent {
                args.push("--agent");
            }
            run_exit_code(tool, bin, &args, path)
        }
        Tool::Amtool => {
            let checked = run_exit_code(tool, bin, &["check-config"], path)?;
            route_tests(bin, path, &tools.route_tests)?;
            Ok(checked)
        }
        Tool::BlackboxExporter => {
            let mut flag = std::ffi::OsString::from("--config.file=");
            flag.push(path);
            let out = run_argv(bin, &[flag, "--config.check".into()], path)?;
            if out.success {
                Ok(Checked { tool: Some(tool), notes: Vec::new() })
            } else {
                Err(ValidationError::Rejected {
                    tool,
                    file: path.into(),
                    message: log_errors(&out.text),
                })
            }
        }
        Tool::SystemdAnalyze => systemd_verify(bin, path),
        Tool::Logrotate => logrotate_debug(bin, path),
    }
}

/// One file's outcome in [`validate_rendered`].
#[derive(Debug)]
pub struct FileCheck {
    /// Host path (as in [`RenderedFile::path`]).
    pub path: PathBuf,
    pub role: FileRole,
    pub result: Result<Checked, ValidationError>,
}

/// Write `files` into a temporary tree laid out as on the host and validate each;
/// messages name the host path, not the temporary one, and never show a secret.
pub fn validate_rendered(
    files: &[RenderedFile],
    tools: &Tools,
) -> crate::error::Result<Vec<FileCheck>> {
    let tmp = tempfile::Builder::new().prefix("monstack-validate-").tempdir()?;
    render::write_tree(tmp.path(), files)?;
    let root = Root::new(tmp.path());
    let prefix = tmp.path().to_string_lossy().into_owned();
    Ok(files
        .iter()
        .map(|f| {
            let result = validate_file(f.role, &root.host(&f.path), tools)
                .map(|mut c| {
                    c.notes = c.notes.into_iter().map(|n| n.replace(&prefix, "")).collect();
                    c
                })
                .map_err(|e| e.map_paths(&prefix, &f.path).mask(&f.secrets));
            FileCheck { path: f.path.clone(), role: f.role, result }
        })
        .collect())
}

struct Output {
    success: bool,
    text: String,
}

fn run(bin: &Path, args: &[&str], file: &Path) -> Result<Output, ValidationError> {
    let mut argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    argv.push(file.into());
    run_argv(bin, &argv, file)
}

/// `bin argv...` about `file`: its combined output and whether it succeeded.
fn run_argv(
    bin: &Path,
    argv: &[std::ffi::OsString],
    file: &Path,
) -> Result<Output, ValidationError> {
    let out = Command::new(bin)
        .args(argv)
        // Plain, stable diagnostics.
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "")
        .env("LC_ALL", "C")
        .output()
        .map_err(|source| ValidationError::Run {
            program: bin.into(),
            file: file.into(),
            source,
        })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(Output { success: out.status.success(), text })
}

/// `amtool config routes test --verify.receivers=R,... LABEL="VALUE"...` per case; a
/// case whose alert reaches other receivers rejects the file.
fn route_tests(
    bin: &Path,
    file: &Path,
    tests: &[crate::config::RouteTest],
) -> Result<(), ValidationError> {
    for (i, t) in tests.iter().enumerate() {
        let labels: Vec<String> = t
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        let mut argv: Vec<std::ffi::OsString> =
            vec!["config".into(), "routes".into(), "test".into()];
        let mut config_flag = std::ffi::OsString::from("--config.file=");
        config_flag.push(file);
        argv.push(config_flag);
        argv.push(format!("--verify.receivers={}", t.expect_receivers.join(",")).into());
        argv.extend(labels.iter().map(Into::into));
        let out = run_argv(bin, &argv, file)?;
        if !out.success {
            let text = out.text;
            return Err(ValidationError::Rejected {
                tool: Tool::Amtool,
                file: file.into(),
                message: format!(
                    "alertmanager.route_tests[{i}]: an alert with {{{}}} should reach [{}]; amtool routes it to: {}",
                    labels.join(", "),
                    t.expect_receivers.join(", "),
                    tidy(&text)
                        .lines()
                        .filter(|l| !l.starts_with("Warning: --config.file flag overrides"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            });
        }
    }
    Ok(())
}

/// promtool and amtool: the exit code is authoritative.
fn run_exit_code(
    tool: Tool,
    bin: &Path,
    args: &[&str],
    file: &Path,
) -> Result<Checked, ValidationError> {
    let out = run(bin, args, file)?;
    if out.success {
        Ok(Checked { tool: Some(tool), notes: Vec::new() })
    } else {
        Err(ValidationError::Rejected { tool, file: file.into(), message: tidy(&out.text) })
    }
}

/// `systemd-analyze verify`: every diagnostic about this unit is a problem, except
/// that its ExecStart binary does not exist yet.
fn systemd_verify(bin: &Path, file: &Path) -> Result<Checked, ValidationError> {
    let out = run(bin, &["verify"], file)?;
    let unit = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let full = file.to_string_lossy();
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    for line in out.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(binary) = missing_binary(line) {
            notes.push(format!("binary `{binary}` is not installed yet"));
        } else if line.contains(full.as_ref()) || line.contains(&unit) {
            problems.push(line.to_string());
        } else {
            // About another unit on this host (a dependency), not this file.
            notes.push(format!("systemd-analyze: {line}"));
        }
    }
    if problems.is_empty() && !out.success && notes.iter().all(|n| n.starts_with("systemd-analyze"))
    {
        problems.push(tidy(&out.text));
    }
    if problems.is_empty() {
        Ok(Checked { tool: Some(Tool::SystemdAnalyze), notes })
    } else {
        Err(ValidationError::Rejected {
            tool: Tool::SystemdAnalyze,
            file: file.into(),
            message: problems.join("\n"),
        })
    }
}

/// `<unit>: Command /x/y is not executable: No such file or directory` -> `/x/y`.
fn missing_binary(line: &str) -> Option<&str> {
    let rest = &line[line.find("Command ")? + "Command ".len()..];
    let (path, tail) = rest.split_once(" is not executable: ")?;
    tail.starts_with("No such file or directory").then_some(path)
}

/// `logrotate -d`: every `error:` line is a problem, except an owner or group that
/// does not exist on this host; the file is then re-checked with those names
/// replaced, so the rest of its block is still validated.
fn logrotate_debug(bin: &Path, file: &Path) -> Result<Checked, ValidationError> {
    let io_err = |source| ValidationError::Run { program: bin.into(), file: file.into(), source };
    let state = tempfile::tempdir().map_err(io_err)?;
    let state_arg = state.path().join("status").to_string_lossy().into_owned();
    let text = fs::read_to_string(file).map_err(io_err)?;
    let copy = state.path().join(file.file_name().unwrap_or_default());
    let (copy_s, file_s) =
        (copy.to_string_lossy().into_owned(), file.to_string_lossy().into_owned());

    let mut unknown: Vec<(usize, String)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut pass = logrotate_pass(bin, &state_arg, file)?;
    // logrotate stops at the first unknown name of a block (user, then group): patch
    // and re-check until no new one turns up, so the rest of the block is validated.
    for _ in 0..4 {
        for n in pass.notes.drain(..) {
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
        if pass.unknown.is_empty() {
            break;
        }
        unknown.append(&mut pass.unknown);
        fs::write(&copy, patch_names(&text, &unknown)).map_err(io_err)?;
        pass = logrotate_pass(bin, &state_arg, &copy)?;
        pass.problems = pass.problems.iter().map(|p| p.replace(&copy_s, &file_s)).collect();
    }
    if pass.problems.is_empty() {
        Ok(Checked { tool: Some(Tool::Logrotate), notes })
    } else {
        Err(ValidationError::Rejected {
            tool: Tool::Logrotate,
            file: file.into(),
            message: pass.problems.join("\n"),
        })
    }
}

/// `text` with each (line, name) replaced by `root` on that 1-based line.
fn patch_names(text: &str, unknown: &[(usize, String)]) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let names: Vec<&str> =
            unknown.iter().filter(|(l, _)| *l == i + 1).map(|(_, n)| n.as_str()).collect();
        if names.is_empty() {
            out.push_str(line);
        } else {
            let indent = &line[..line.len() - line.trim_start().len()];
            let words: Vec<&str> = line
                .split_whitespace()
                .map(|w| if names.contains(&w) { "root" } else { w })
                .collect();
            out.push_str(indent);
            out.push_str(&words.join(" "));
        }
        out.push('\n');
    }
    out
}

struct LogrotatePass {
    problems: Vec<String>,
    notes: Vec<String>,
    /// (line, name) of owners/groups unknown on this host.
    unknown: Vec<(usize, String)>,
}

fn logrotate_pass(bin: &Path, state: &str, file: &Path) -> Result<LogrotatePass, ValidationError> {
    let out = run(bin, &["-d", "--state", state], file)?;
    let mut pass = LogrotatePass { problems: Vec::new(), notes: Vec::new(), unknown: Vec::new() };
    for line in out.text.lines().map(str::trim) {
        if let Some(msg) = line.strip_prefix("error: ") {
            if let Some((lineno, what, name)) = unknown_owner(msg) {
                pass.notes.push(format!("{what} `{name}` does not exist on this host"));
                pass.unknown.push((lineno, name.to_string()));
            } else if msg.starts_with("found error in ") && !pass.unknown.is_empty() {
                // The block was skipped because of the unknown owner: re-checked below.
            } else if msg.starts_with("stat of ") {
                pass.notes.push(format!("log file does not exist on this host: {msg}"));
            } else {
                pass.problems.push(line.to_string());
            }
        } else if line.starts_with("Ignoring ") || line.starts_with("error ") {
            pass.problems.push(line.to_string());
        }
    }
    if !out.success && pass.problems.is_empty() && pass.unknown.is_empty() {
        pass.problems.push(tidy(&out.text));
    }
    Ok(pass)
}

/// `FILE:LINE unknown user 'NAME'` -> (LINE, "user", NAME).
fn unknown_owner(msg: &str) -> Option<(usize, &'static str, &str)> {
    let (loc, rest) = msg.split_once(' ')?;
    let lineno = loc.rsplit_once(':')?.1.parse().ok()?;
    let (what, rest) = if let Some(r) = rest.strip_prefix("unknown user '") {
        ("user", r)
    } else {
        ("group", rest.strip_prefix("unknown group '")?)
    };
    Some((lineno, what, rest.strip_suffix('\'')?))
}

/// Files monstack checks itself: Grafana JSON and provisioning YAML parse.
fn check_builtin(role: FileRole, path: &Path) -> Result<Checked, ValidationError> {
    let malformed = |message: String| ValidationError::Malformed { file: path.into(), message };
    match role {
        FileRole::GrafanaDashboard => {
            let text = fs::read(path).map_err(|e| malformed(e.to_string()))?;
            serde_json::from_slice::<serde_json::Value>(&text)
                .map_err(|e| malformed(e.to_string()))?;
        }
        FileRole::GrafanaProvisioning => {
            let text = fs::read(path).map_err(|e| malformed(e.to_string()))?;
            serde_norway::from_slice::<serde_norway::Value>(&text)
                .map_err(|e| malformed(e.to_string()))?;
        }
        FileRole::GrafanaIni => {
            let text = fs::read_to_string(path).map_err(|e| malformed(e.to_string()))?;
            crate::grafana_server::check_ini(&text).map_err(malformed)?;
        }
        FileRole::AptSource => {
            let text = fs::read_to_string(path).map_err(|e| malformed(e.to_string()))?;
            crate::grafana_server::check_apt_source(&text).map_err(malformed)?;
        }
        _ => {}
    }
    Ok(Checked::default())
}

/// A tool's output without blank lines or logrotate's debug-mode banner.
/// blackbox_exporter logs its verdict in logfmt among start-up lines: keep the
/// `level=error` lines (all of the output when there are none).
fn log_errors(text: &str) -> String {
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("level=error")).collect();
    if errors.is_empty() {
        tidy(text)
    } else {
        errors.join("\n")
    }
}

fn tidy(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with("warning: logrotate in debug mode"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tool_diagnostics() {
        assert_eq!(
            missing_binary("p.service: Command /opt/p/current/prometheus is not executable: No such file or directory"),
            Some("/opt/p/current/prometheus")
        );
        assert_eq!(
            missing_binary("p.service:3: Unknown key 'Bogus' in section [Service], ignoring."),
            None
        );
        assert_eq!(
            unknown_owner("/etc/logrotate.d/x:9 unknown user 'snowflake-mcp'"),
            Some((9, "user", "snowflake-mcp"))
        );
        assert_eq!(
            unknown_owner("/etc/logrotate.d/x:9 unknown group 'g'"),
            Some((9, "group", "g"))
        );
        assert_eq!(
            unknown_owner("/etc/logrotate.d/x:9 unknown option 'bogus' -- ignoring line"),
            None
        );
    }
}
