//! Reading a config file: find it, parse it strictly, reword serde's messages in the
//! words of the YAML file, then run every check (see `check`).

use std::path::{Path, PathBuf};

use super::check;
use super::locate::{error_in, Index};
use super::resolve::{absolutize, Resolved};
use super::schema::{ComponentKind, Config};
use super::values::resolve_against;
use crate::error::{ConfigError, ConfigErrors};

/// Default config locations, in search order (after `--config` and `MONSTACK_CONFIG`).
pub const DEFAULT_PATHS: [&str; 2] = ["./monstack.yaml", "/etc/monstack/monstack.yaml"];

/// A loaded config with the file it came from (relative paths resolve against its dir).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// The raw text, kept to locate later errors.
    pub source: String,
    /// Durations, addresses in their own types.
    pub resolved: Resolved,
}

impl Loaded {
    /// Resolve a path from the config relative to the config file's directory.
    /// Loading made the documented config-relative paths absolute already; this is the
    /// identity for them.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        resolve_against(&self.path, p)
    }

    /// `host:port` to reach component `kind` from this host.
    pub fn local_address(&self, kind: ComponentKind) -> String {
        self.resolved.listen[&kind].local()
    }

    /// A config error located at `field` in this file.
    pub fn error_at(&self, field: &str, message: impl Into<String>) -> ConfigError {
        error_in(&self.path, &Index::of(&self.source), field, message)
    }
}

/// Find the config file: explicit path, then the defaults.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    for p in DEFAULT_PATHS {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    Err(ConfigError::new(
        DEFAULT_PATHS[0],
        None,
        "no config file found (looked at ./monstack.yaml and /etc/monstack/monstack.yaml); run `monstack init` or pass --config",
    ))
}

/// Read, parse and validate a config file.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::new(path, None, format!("cannot read config file: {e}"))])
    })?;
    parse(path, &source)
}

/// Parse and validate config text (`path` is used for messages and relative paths).
pub fn parse(path: &Path, source: &str) -> Result<Loaded, ConfigErrors> {
    let mut config: Config = if source.trim().is_empty() {
        Config::default()
    } else {
        let de = serde_norway::Deserializer::from_str(source);
        serde_path_to_error::deserialize(de)
            .map_err(|err| ConfigErrors(vec![serde_error(path, source, err)]))?
    };
    // It parsed as a Config, so it parses as a YAML value.
    let value: serde_norway::Value = serde_norway::from_str(source).unwrap_or_default();
    config.default_data_dirs(|section| {
        value.get(section).and_then(|s| s.get("data_dir")).is_some_and(|v| !v.is_null())
    });
    let errors = check::check(path, source, &config);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let resolved = Resolved::of(&config).map_err(|(field, message)| {
        ConfigErrors(vec![error_in(path, &Index::of(source), &field, message)])
    })?;
    absolutize(&mut config, &config_dir(path));
    default_grafana_url(&mut config, &resolved, source);
    Ok(Loaded { config, path: path.to_path_buf(), source: source.to_string(), resolved })
}

/// `grafana.url` unset while monstack runs Grafana itself: the installed Grafana's
/// local address (from `grafana_server.listen_address`), not the generic default.
fn default_grafana_url(config: &mut Config, resolved: &Resolved, source: &str) {
    if !config.grafana_server.enabled || Index::of(source).has("grafana.url") {
        return;
    }
    if let Some(listen) = resolved.listen.get(&ComponentKind::GrafanaServer) {
        config.grafana.url = format!("http://{}", listen.local());
    }
}

/// The absolute directory of the config file (relative paths in it resolve there).
fn config_dir(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// serde's error in the file's words, at the line and column of the mistake.
fn serde_error(
    path: &Path,
    source: &str,
    err: serde_path_to_error::Error<serde_norway::Error>,
) -> ConfigError {
    let field = err.path().to_string();
    let inner = err.into_inner();
    let mut message = user_words(&clean_serde_message(&inner.to_string(), &field));
    if ["secure_json_data", "password", "token"].iter().any(|s| field.contains(s)) {
        // A secret pasted where its env/file reference belongs: do not echo it.
        message = hide_value(&message);
    }
    let index = Index::of(source);
    let duplicate = message
        .strip_prefix("duplicate key `")
        .and_then(|k| k.strip_suffix('`'))
        .and_then(|key| index.duplicate(&field, key));
    let mut e = ConfigError::new(path, (field != ".").then(|| field.clone()), message);
    // serde_norway points at the enclosing mapping of a duplicate; the second key is the mistake.
    let at = duplicate
        .or_else(|| inner.location().map(|loc| (loc.line(), loc.column())))
        .or_else(|| index.locate(&field));
    if let Some((l, c)) = at {
        e.line = Some(l);
        e.column = Some(c);
    }
    e
}

/// serde_norway prefixes messages with the field path and appends " at line L column C";
/// both are printed by [`ConfigError`] already.
fn clean_serde_message(msg: &str, field: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') && field.starts_with(head) => rest.to_string(),
        _ => msg.to_string(),
    }
}

/// serde's messages in the words of the YAML file rather than of the Rust types behind it
/// (`expected u32` -> `expected a whole number (0 or more)`).
fn user_words(msg: &str) -> String {
    let msg = msg
        .replacen("invalid type: map,", "invalid type: mapping,", 1)
        .replacen("floating point `", "number `", 1)
        .replacen("duplicate field `", "duplicate key `", 1);
    let Some(i) = msg.rfind(", expected ") else { return msg };
    let (head, expected) = (&msg[..i], &msg[i + ", expected ".len()..]);
    let words = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a borrowed string" | "a string" | "string" => "a string".into(),
        "a boolean" => "true or false".into(),
        "a map" => "a mapping".into(),
        "a character" | "char" => "a single character".into(),
        _ => match expected.strip_prefix("struct ") {
            Some(name) => struct_words(name),
            None => return msg,
        },
    };
    format!("{head}, expected {words}")
}

/// `invalid type: string "VALUE", expected ...` without the value.
fn hide_value(msg: &str) -> String {
    let Some(end) = msg.rfind(", expected ") else { return msg.to_string() };
    let head = &msg[..end];
    match head.find(" \"").or_else(|| head.find(" `")) {
        Some(start) => format!("{}{}", &msg[..start], &msg[end..]),
        None => msg.to_string(),
    }
}

/// What the file should hold where a config struct goes: `ScrapeConfig` -> `a mapping
/// of scrape job settings`.
fn struct_words(name: &str) -> String {
    let known = match name {
        "SecretRef" => return "a mapping with `env` or `file`".into(),
        "LogCreate" => return "a mapping with `mode`, `owner` and `group`".into(),
        "Config" => "monstack",
        "NodeExporter" => "node_exporter",
        "BlackboxExporter" => "blackbox_exporter",
        "GrafanaServer" => "grafana_server",
        "ScrapeConfig" => "scrape job",
        "GrafanaAuth" => "grafana.auth",
        "EmailConfig" => "email",
        "WebhookConfig" => "webhook",
        _ => "",
    };
    if !known.is_empty() {
        return format!("a mapping of {known} settings");
    }
    let mut out = String::from("a mapping of ");
    for ch in name.chars() {
        if ch.is_uppercase() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.extend(ch.to_lowercase());
    }
    out.push_str(" settings");
    out
}
