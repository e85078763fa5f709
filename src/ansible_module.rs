//! monstack as an Ansible binary module (`monstack.stack.apply`).
//!
//! ansible-core copies a binary module to the target and runs it as
//! `<module> <args file>`: argv[1] is a JSON object holding the task's options plus
//! internal `_ansible_*` keys, and the module answers with one JSON object on stdout.
//! [`detect`] recognises that invocation (and nothing else, so `monstack FILE` stays a
//! CLI usage error for any other file); [`run`] maps it onto plan (check mode) and
//! apply (normal mode), with Ansible's `diff` list in diff mode.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::Context as _;
use serde_json::{json, Map, Value};

use crate::apply::Options;
use crate::artifact::NetOptions;
use crate::error::{self, exit};
use crate::paths::Root;
use crate::plan::Plan;
use crate::printer::{OutputFormat, Printer};
use crate::report::{Action, Report};
use crate::secrets::{mask, MASK};
use crate::services::ServiceManagerKind;

/// Where an inline `config` is written on the target (mode 0600).
pub const CONFIG_PATH: &str = "/etc/monstack/monstack.yaml";

/// The module's name in messages.
const MODULE: &str = "monstack.stack.apply";

/// The options the module accepts (documented in ansible/plugins/modules/apply.yml).
const OPTIONS: [&str; 10] = [
    "config",
    "config_file",
    "service_manager",
    "offline",
    "locked",
    "templates",
    "root",
    "env",
    "ready_timeout",
    "allow_unsafe_version_change",
];

/// `ready_timeout` when the task does not set it (as `--ready-timeout`).
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Args files larger than this are not Ansible's (it writes the task's options only).
const MAX_ARGS_BYTES: u64 = 64 << 20;

/// The args file when argv is exactly `monstack FILE`, FILE is not a subcommand or
/// flag, and it holds a JSON object with at least one `_ansible_*` key.
/// `is_subcommand` comes from the command layer (`cli::is_subcommand`), which alone knows
/// the clap tree: a lone argument naming a subcommand is never an args file.
pub fn detect(
    argv: impl IntoIterator<Item = OsString>,
    is_subcommand: impl Fn(&str) -> bool,
) -> Option<PathBuf> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let [_, arg] = argv.as_slice() else { return None };
    let text = arg.to_str()?;
    if text.starts_with('-') || !text.contains('/') && is_subcommand(text) {
        return None;
    }
    let path = PathBuf::from(arg);
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_ARGS_BYTES {
        return None;
    }
    let Ok(Value::Object(map)) = serde_json::from_slice(&std::fs::read(&path).ok()?) else {
        return None;
    };
    map.keys().any(|k| k.starts_with("_ansible_")).then_some(path)
}

/// Run as the module: print the result object on stdout; 0 when the task did not fail.
pub fn run(args_file: &Path) -> i32 {
    let capture = Capture::start();
    let mut result = match read_args(args_file) {
        Ok(args) => execute(&args),
        Err(msg) => Outcome::fail(msg, exit::USAGE),
    };
    let captured = capture.map(Capture::finish).unwrap_or_default();
    result.absorb_stderr(&captured);
    let (code, value) = result.into_json();
    crate::printer::json_line(&value);
    code
}

/// The task's options and the `_ansible_*` switches that matter here.
#[derive(Debug, Default)]
struct Args {
    config: Option<Map<String, Value>>,
    config_file: Option<PathBuf>,
    service_manager: Option<ServiceManagerKind>,
    offline: bool,
    locked: bool,
    templates: Option<PathBuf>,
    root: Option<PathBuf>,
    env: BTreeMap<String, String>,
    ready_timeout: Option<std::time::Duration>,
    allow_unsafe_version_change: bool,
    check_mode: bool,
    diff: bool,
    no_log: bool,
}

fn read_args(path: &Path) -> Result<Args, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read the module args file `{}`: {e}", path.display()))?;
    let map: Map<String, Value> = serde_json::from_slice(&text).map_err(|e| {
        format!("the module args file `{}` is not a JSON object: {e}", path.display())
    })?;
    parse_args(map)
}

fn parse_args(map: Map<String, Value>) -> Result<Args, String> {
    let mut a = Args::default();
    let mut unknown = Vec::new();
    for (key, value) in map {
        if let Some(internal) = key.strip_prefix("_ansible_") {
            // Unknown internal keys are ignored: their set grows between releases.
            match internal {
                "check_mode" => a.check_mode = boolean(&key, &value)?,
                "diff" => a.diff = boolean(&key, &value)?,
                "no_log" => a.no_log = boolean(&key, &value)?,
                _ => {}
            }
            continue;
        }
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "config" => match value {
                Value::Object(m) => a.config = Some(m),
                other => {
                    return Err(wrong_type("config", "a dict (the monstack.yaml document)", &other))
                }
            },
            "config_file" => a.config_file = Some(path(&key, &value)?),
            "service_manager" => {
                let s = value.as_str().unwrap_or_default();
                a.service_manager = Some(match s {
                    "auto" => ServiceManagerKind::Auto,
                    "systemd" => ServiceManagerKind::Systemd,
                    "direct" => ServiceManagerKind::Direct,
                    "none" => ServiceManagerKind::None,
                    _ => {
                        return Err(format!(
                            "value of service_manager must be one of: auto, systemd, direct, none, got: {}",
                            shown(&value)
                        ))
                    }
                });
            }
            "offline" => a.offline = boolean(&key, &value)?,
            "locked" => a.locked = boolean(&key, &value)?,
            "allow_unsafe_version_change" => a.allow_unsafe_version_change = boolean(&key, &value)?,
            "templates" => a.templates = Some(path(&key, &value)?),
            "root" => a.root = Some(path(&key, &value)?),
            "ready_timeout" => {
                let d = value.as_str().and_then(|s| humantime::parse_duration(s).ok());
                match d {
                    Some(d) => a.ready_timeout = Some(d),
                    None => return Err(wrong_type(&key, "a duration such as 90s or 5m", &value)),
                }
            }
            "env" => {
                let Value::Object(m) = value else {
                    return Err(wrong_type("env", "a dict of strings", &Value::Null));
                };
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        // The value may be a secret: never echo it.
                        _ => return Err(format!("env.{k} must be a string")),
                    };
                    a.env.insert(k, v);
                }
            }
            _ => unknown.push(key),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "Unsupported parameters for ({MODULE}) module: {}. Supported parameters include: {}.",
            unknown.join(", "),
            OPTIONS.join(", ")
        ));
    }
    if a.config.is_some() && a.config_file.is_some() {
        return Err("parameters are mutually exclusive: config|config_file".into());
    }
    Ok(a)
}

fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" | "t" => Ok(true),
            "no" | "false" | "off" | "0" | "n" | "f" => Ok(false),
            _ => Err(wrong_type(key, "a boolean", v)),
        },
        Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
            Ok(n.as_u64() == Some(1))
        }
        _ => Err(wrong_type(key, "a boolean", v)),
    }
}

fn path(key: &str, v: &Value) -> Result<PathBuf, String> {
    match v.as_str() {
        Some(s) if !s.is_empty() => Ok(PathBuf::from(s)),
        _ => Err(wrong_type(key, "a non-empty path", v)),
    }
}

fn wrong_type(key: &str, want: &str, got: &Value) -> String {
    format!("argument '{key}' must be {want}, got: {}", shown(got))
}

fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s
    }
}

/// What the module reports.
#[derive(Debug, Default)]
struct Outcome {
    changed: bool,
    failed: bool,
    msg: String,
    rc: i32,
    report: Option<Report>,
    diff: Option<Vec<Value>>,
    warnings: Vec<String>,
    stderr: String,
    /// Values never to appear in the output (the `env` option's).
    secrets: Vec<String>,
    no_log: bool,
    config_changed: bool,
}

impl Outcome {
    fn fail(msg: impl Into<String>, rc: i32) -> Self {
        Self { failed: true, msg: msg.into(), rc, ..Self::default() }
    }

    /// `warning: ...` lines become Ansible warnings; the rest is kept as `stderr`.
    fn absorb_stderr(&mut self, text: &str) {
        let mut rest = String::new();
        for line in text.lines() {
            match line.strip_prefix("warning: ") {
                Some(w) => self.warnings.push(w.to_string()),
                None => {
                    rest.push_str(line);
                    rest.push('\n');
                }
            }
        }
        self.stderr.push_str(&rest);
    }

    fn into_json(self) -> (i32, Value) {
        let mut out = Map::new();
        out.insert("changed".into(), json!(self.changed));
        out.insert("failed".into(), json!(self.failed));
        out.insert("msg".into(), json!(self.msg));
        out.insert("rc".into(), json!(self.rc));
        if let Some(rep) = &self.report {
            let mut resources = serde_json::to_value(&rep.resources).unwrap_or(Value::Null);
            if self.no_log {
                if let Some(list) = resources.as_array_mut() {
                    for r in list.iter_mut().filter_map(Value::as_object_mut) {
                        r.remove("diff");
                    }
                }
            }
            out.insert("resources".into(), resources);
            out.insert("changed_count".into(), json!(rep.changed));
            let errors: Vec<&str> = rep.errors.iter().map(|e| e.message.as_str()).collect();
            out.insert("errors".into(), json!(errors));
        }
        out.insert("config_changed".into(), json!(self.config_changed));
        if let Some(diff) = self.diff.filter(|_| !self.no_log) {
            out.insert("diff".into(), Value::Array(diff));
        }
        out.insert("warnings".into(), json!(self.warnings));
        if !self.stderr.trim().is_empty() {
            out.insert("stderr".into(), json!(self.stderr));
        }
        let mut value = Value::Object(out);
        scrub(&mut value, &self.secrets);
        (if self.failed { exit::FAILURE } else { exit::OK }, value)
    }
}

/// Replace every secret value in every string of `v` with the mask.
fn scrub(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            for secret in secrets.iter().filter(|x| !x.is_empty()) {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), MASK);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, secrets)),
        Value::Object(m) => m.values_mut().for_each(|i| scrub(i, secrets)),
        _ => {}
    }
}

/// The task: load the config (inline or a file on the target), then plan (check
/// mode) or apply.
fn execute(args: &Args) -> Outcome {
    let secrets: Vec<String> = args.env.values().filter(|v| !v.is_empty()).cloned().collect();
    for (k, v) in &args.env {
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var(k, v);
    }
    let mut out = match converge(args) {
        Ok(o) => o,
        Err(e) => Outcome::fail(error::render(&e).trim_end(), e.exit_code()),
    };
    out.secrets = secrets;
    out.no_log = args.no_log;
    out
}

fn converge(args: &Args) -> crate::error::Result<Outcome> {
    let root = args.root.clone().map(Root::new).unwrap_or_default();
    let (real, candidate) = match (&args.config, &args.config_file) {
        (Some(doc), _) => (root.host(CONFIG_PATH), Some(inline_text(doc)?)),
        (None, Some(file)) => (file.clone(), None),
        (None, None) => (root.host(CONFIG_PATH), None),
    };
    let before = crate::atomic_fs::read_optional("read", &real)?;
    let loaded = match &candidate {
        Some(text) => crate::config::parse(&real, text)?,
        None => crate::config::load(&real)?,
    };
    let config_changed =
        candidate.as_ref().is_some_and(|t| before.as_deref() != Some(t.as_bytes()));
    let opts = Options {
        service_manager: args.service_manager,
        templates: args.templates.clone(),
        net: NetOptions { offline: args.offline, locked: args.locked, arch: None },
        ready_timeout: Some(args.ready_timeout.unwrap_or(READY_TIMEOUT)),
        allow_unsafe_version_change: args.allow_unsafe_version_change,
    };
    // What apply would refuse before changing anything (Grafana's inputs, the service
    // manager) is refused here, before the config file lands too.
    let session = crate::apply::prepare(crate::apply::absolute_root(&root)?, loaded, opts)?;
    let printer = Printer { format: OutputFormat::Json, quiet: true, verbose: 0 };
    let mut out = Outcome { config_changed, ..Outcome::default() };
    if args.check_mode || args.diff {
        let rep = crate::apply::plan(&session)?;
        if args.diff {
            let plan = crate::apply::observe(&session)?;
            let mut diff = Vec::new();
            if config_changed {
                let text = candidate.as_deref().unwrap_or_default();
                let shown =
                    if args.root.is_some() { real.clone() } else { PathBuf::from(CONFIG_PATH) };
                diff.push(file_diff(&shown, before.as_deref(), text.as_bytes(), &[]));
            }
            diff.extend(plan_diff(&plan));
            out.diff = Some(diff);
        }
        if args.check_mode {
            out.changed = rep.changed > 0 || config_changed;
            if !rep.errors.is_empty() {
                out.failed = true;
                out.rc = exit::FAILURE;
                let errors: Vec<&str> = rep.errors.iter().map(|e| e.message.as_str()).collect();
                out.msg = format!("check mode: cannot plan: {}", errors.join("; "));
            } else {
                out.msg = summary("check mode", &rep, config_changed, true);
            }
            out.report = Some(rep);
            return Ok(out);
        }
    }
    if let Some(text) = candidate.as_deref().filter(|_| config_changed) {
        crate::atomic_fs::write_atomic(&real, text.as_bytes(), 0o600, Default::default())
            .with_context(|| format!("cannot write the config to `{}`", real.display()))?;
    }
    let restore_config = |e: &crate::error::Error| {
        // A config-class failure (a candidate promtool refused): the host keeps
        // its previous config file too.
        if config_changed && e.is_config() {
            let _ = match &before {
                Some(b) => crate::atomic_fs::write_atomic(&real, b, 0o600, Default::default())
                    .map_err(crate::error::Error::from),
                None => std::fs::remove_file(&real).map_err(crate::error::Error::from),
            };
        }
    };
    let (rep, failure) = match crate::apply::apply(&session, &printer) {
        Ok(r) => r,
        Err(e) => {
            restore_config(&e);
            return Err(e);
        }
    };
    out.changed = rep.changed > 0 || config_changed;
    match failure {
        None => out.msg = summary("apply", &rep, config_changed, false),
        Some(e) => {
            restore_config(&e);
            out.failed = true;
            out.rc = e.exit_code();
            out.msg = error::render(&e).trim_end().to_string();
        }
    }
    out.report = Some(rep);
    Ok(out)
}

/// The inline config as the YAML file written on the target.
fn inline_text(doc: &Map<String, Value>) -> crate::error::Result<String> {
    let yaml = if doc.is_empty() {
        String::new()
    } else {
        serde_norway::to_string(doc).context("cannot render the `config` option as YAML")?
    };
    Ok(format!("# Written by the {MODULE} Ansible module from its `config` option.\n{yaml}"))
}

fn summary(what: &str, rep: &Report, config_changed: bool, plan: bool) -> String {
    let unchanged = rep.unchanged();
    let verb = if plan { "to change" } else { "changed" };
    let config = match (config_changed, plan) {
        (true, true) => format!("; {CONFIG_PATH} would be updated"),
        (true, false) => format!("; {CONFIG_PATH} updated"),
        _ => String::new(),
    };
    format!("{what}: {} {verb} ({unchanged} unchanged){config}", rep.changed)
}

/// One Ansible diff entry per changed file (content before and after, secrets
/// masked), and the prepared JSON diff of each changed Grafana object.
fn plan_diff(plan: &Plan) -> Vec<Value> {
    let mut out = Vec::new();
    for f in plan.changed_files() {
        if f.action == Action::Delete {
            // Its secrets are not known any more: the removed content is not shown.
            let header = f.file.path.display().to_string();
            out.push(json!({
                "before_header": header.clone(),
                "after_header": format!("{header} (absent)"),
                "before": "(written by monstack; content not shown)\n",
                "after": "",
            }));
            continue;
        }
        let before = std::fs::read(&f.real).ok();
        out.push(file_diff(&f.file.path, before.as_deref(), &f.file.content, &f.file.secrets));
    }
    for g in plan.grafana.iter().filter(|g| g.action.is_change()) {
        let text = match &g.diff {
            Some(d) => format!("{} {} ({}):\n{d}\n", g.kind, g.name, g.action.as_str()),
            None => format!("{} {} ({})\n", g.kind, g.name, g.action.as_str()),
        };
        out.push(json!({ "prepared": text }));
    }
    out
}

fn file_diff(path: &Path, before: Option<&[u8]>, after: &[u8], secrets: &[String]) -> Value {
    let text = |b: &[u8]| mask(&String::from_utf8_lossy(b), secrets);
    let header = path.display().to_string();
    json!({
        "before_header": if before.is_some() { header.clone() } else { format!("{header} (absent)") },
        "after_header": header,
        "before": before.map(text).unwrap_or_default(),
        "after": text(after),
    })
}

/// stdout and stderr redirected into a temp file while the module works, so stray
/// output (warnings, a tool's chatter) cannot corrupt the one JSON object and
/// warnings can be returned as such.
struct Capture {
    file: std::fs::File,
    saved: [libc::c_int; 2],
}

impl Capture {
    fn start() -> Option<Capture> {
        let file = tempfile::tempfile().ok()?;
        let _ = std::io::stdout().flush();
        let mut saved = [-1; 2];
        for (i, fd) in [libc::STDOUT_FILENO, libc::STDERR_FILENO].into_iter().enumerate() {
            // SAFETY: plain fd duplication; close-on-exec keeps the saved copies
            // (Ansible's pipes) out of the services `direct` starts.
            saved[i] = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            if saved[i] < 0 || unsafe { libc::dup2(file.as_raw_fd(), fd) } < 0 {
                return None;
            }
        }
        Some(Capture { file, saved })
    }

    fn finish(mut self) -> String {
        let _ = std::io::stdout().flush();
        for (i, fd) in [libc::STDOUT_FILENO, libc::STDERR_FILENO].into_iter().enumerate() {
            // SAFETY: restoring the descriptors saved in `start`.
            unsafe {
                libc::dup2(self.saved[i], fd);
                libc::close(self.saved[i]);
            }
        }
        let mut text = String::new();
        let _ = self.file.rewind();
        let _ = self.file.read_to_string(&mut text);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Result<Args, String> {
        match v {
            Value::Object(m) => parse_args(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_deleted_file_diffs_without_its_content() {
        use crate::hostfile::{FileRole, RenderedFile};
        use crate::plan::FilePlan;
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("alertmanager.yml");
        std::fs::write(&real, "smtp_auth_password: hunter2\n").unwrap();
        let gone = FilePlan {
            file: RenderedFile::plain(
                "/opt/alertmanager/alertmanager.yml",
                Vec::new(),
                FileRole::AlertmanagerConfig,
            ),
            real,
            owner: Default::default(),
            action: Action::Delete,
            diff: None,
            detail: None,
        };
        let plan = Plan {
            manager: ServiceManagerKind::None,
            releases: vec![],
            dirs: vec![],
            files: vec![gone],
            daemon_reload: false,
            services: vec![],
            rsyslog_restart: false,
            grafana: vec![],
            errors: vec![],
        };
        let diff = plan_diff(&plan);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0]["after_header"], "/opt/alertmanager/alertmanager.yml (absent)");
        assert!(!diff[0].to_string().contains("hunter2"), "{}", diff[0]);
    }

    #[test]
    fn options_and_internal_keys() {
        let a = args(json!({
            "config": {"prometheus": {"version": "2.45.0"}},
            "service_manager": "direct",
            "offline": "yes",
            "_ansible_check_mode": true,
            "_ansible_diff": true,
            "_ansible_no_log": false,
            "_ansible_some_future_key": {"x": 1},
            "locked": null,
        }))
        .unwrap();
        assert!(a.check_mode && a.diff && a.offline && !a.locked);
        assert_eq!(a.service_manager, Some(ServiceManagerKind::Direct));
        assert!(a.config.is_some());
    }

    #[test]
    fn bad_options_are_refused_in_ansible_words() {
        let e = args(json!({"conifg": {}, "_ansible_diff": false})).unwrap_err();
        assert!(
            e.starts_with("Unsupported parameters for (monstack.stack.apply) module: conifg."),
            "{e}"
        );
        let e = args(json!({"config": {}, "config_file": "/x"})).unwrap_err();
        assert_eq!(e, "parameters are mutually exclusive: config|config_file");
        let e = args(json!({"service_manager": "upstart"})).unwrap_err();
        assert!(e.contains("auto, systemd, direct, none"), "{e}");
        let e = args(json!({"offline": "maybe"})).unwrap_err();
        assert!(e.contains("'offline' must be a boolean"), "{e}");
        let e = args(json!({"config": "prometheus: {}"})).unwrap_err();
        assert!(e.contains("'config' must be a dict"), "{e}");
        let e = args(json!({"env": {"GRAFANA_TOKEN": ["s3cret"]}})).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn detection_needs_a_json_object_with_ansible_keys() {
        let dir = tempfile::tempdir().unwrap();
        let argv = |p: &Path| vec![OsString::from("monstack"), p.as_os_str().to_owned()];
        // main.rs passes cli::is_subcommand; the library does not see the clap tree.
        let is_sub = |name: &str| name == "plan";
        let good = dir.path().join("args");
        std::fs::write(&good, r#"{"config": {}, "_ansible_check_mode": false}"#).unwrap();
        assert_eq!(detect(argv(&good), is_sub), Some(good.clone()));
        let plain = dir.path().join("plain.json");
        std::fs::write(&plain, r#"{"config": {}}"#).unwrap();
        assert_eq!(detect(argv(&plain), is_sub), None, "no _ansible_ key: not a module call");
        let yaml = dir.path().join("monstack.yaml");
        std::fs::write(&yaml, "prometheus: {}\n").unwrap();
        assert_eq!(detect(argv(&yaml), is_sub), None);
        assert_eq!(detect(argv(Path::new("plan")), is_sub), None);
        assert_eq!(detect(argv(&dir.path().join("missing")), is_sub), None);
        let mut three = argv(&good);
        three.push("extra".into());
        assert_eq!(detect(three, is_sub), None, "exactly one argument");
    }

    #[test]
    fn diff_entries_mask_secrets_and_mark_new_files() {
        let d = file_diff(
            Path::new("/opt/alertmanager/alertmanager.yml"),
            None,
            b"smtp_auth_password: hunter2\nx: 1\n",
            &["hunter2".to_string()],
        );
        assert_eq!(d["before"], "");
        assert_eq!(d["before_header"], "/opt/alertmanager/alertmanager.yml (absent)");
        assert!(!d["after"].as_str().unwrap().contains("hunter2"));
        assert!(d["after"].as_str().unwrap().contains("x: 1"));
    }

    #[test]
    fn output_never_carries_env_secrets() {
        let mut o = Outcome::fail("token s3cr3t-value rejected", 1);
        o.secrets = vec!["s3cr3t-value".into()];
        o.absorb_stderr("warning: s3cr3t-value seen\nnote: other\n");
        let (code, v) = o.into_json();
        assert_eq!(code, 1);
        let text = v.to_string();
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert_eq!(v["warnings"][0], "******** seen");
        assert_eq!(v["failed"], true);
    }
}
