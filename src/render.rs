//! Renders every host file from Tera templates (embedded, overridable by name);
//! no I/O but reading templates, secrets and rule files, and writing the output
//! tree of `render` / the scaffold of `init`.
//!
//! Quoting is by construction: every user string reaches YAML through the `yaml`
//! filter ([`yaml_scalar`], a double-quoted scalar) and a unit's ExecStart through
//! `systemd_arg` ([`systemd_arg`]). Prometheus and Alertmanager templating
//! (`{{ $value }}`, `{{ .GroupLabels.alertname }}`) is data, never template text,
//! so Tera cannot touch it.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::config::{self, ComponentKind, GrafanaMode, Loaded};
use crate::error::{ConfigError, ConfigErrors};
use crate::paths::Root;
use crate::versions;

/// The embedded templates, by the file name `--templates DIR` overrides them with.
pub const TEMPLATES: [(&str, &str); 6] = [
    ("prometheus.yml.tera", include_str!("../templates/prometheus.yml.tera")),
    ("alertmanager.yml.tera", include_str!("../templates/alertmanager.yml.tera")),
    ("unit.service.tera", include_str!("../templates/unit.service.tera")),
    ("logrotate.tera", include_str!("../templates/logrotate.tera")),
    ("rsyslog.conf.tera", include_str!("../templates/rsyslog.conf.tera")),
    ("grafana.ini.tera", include_str!("../templates/grafana.ini.tera")),
];

/// The runbook's five alerts (fixed: ratios use humanizePercentage), installed verbatim.
pub const DEFAULT_RULES: &str = include_str!("../assets/rules/snowflake_mcp_rules.yml");

/// The commented monstack.yaml that `monstack init` writes; it parses to the defaults.
pub const INIT_CONFIG: &str = include_str!("../assets/monstack.yaml");

pub use crate::hostfile::{FileRole, RenderedFile};

/// How to run one component: the same argv feeds the systemd unit and `direct` mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub kind: ComponentKind,
    pub user: String,
    /// Absolute host path of the binary (`{install_dir}/current/{binary}`).
    pub binary: PathBuf,
    /// Flags, with host paths mapped through the root they were built for.
    pub args: Vec<String>,
    /// `host:port` to poll for readiness (`/-/ready`).
    pub ready_address: String,
    /// Scheme, CA and credentials to reach it with (`web`).
    pub web: crate::web::WebClient,
}

/// Problems with templates (the config's own problems are [`ConfigError`]s).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file in `--templates DIR` that overrides nothing.
    #[error("unknown template `{name}` in `{dir}` (known: {known})")]
    UnknownTemplate { name: String, dir: PathBuf, known: String },
    /// The override directory or a template in it cannot be read.
    #[error("cannot read template `{path}`")]
    Read { path: PathBuf, source: std::io::Error },
    /// Tera rejected a template or failed to render it.
    #[error("template `{name}` failed")]
    Template { name: String, source: tera::Error },
}

/// Every file the host should receive for this config, in a stable order.
pub fn render_all(
    loaded: &Loaded,
    templates: Option<&Path>,
) -> crate::error::Result<Vec<RenderedFile>> {
    let c = &loaded.config;
    // Flags are checked (and refused) before any template runs.
    let specs = service_specs(loaded, &Root::default())?;
    let tera = engine(templates).map_err(|e| match e {
        // A `--templates DIR` that does not fit is a command-line mistake: exit 64.
        e @ RenderError::UnknownTemplate { .. } => crate::error::usage(e),
        e => e.into(),
    })?;
    let mut files = Vec::new();

    if c.prometheus.enabled {
        files.extend(prometheus_files(loaded, &tera)?);
    }
    if c.alertmanager.enabled {
        files.push(alertmanager_file(loaded, &tera)?);
        let a = &c.alertmanager;
        for (i, t) in a.templates.iter().enumerate() {
            let content = fs::read(t).map_err(|e| {
                loaded.error_at(
                    &format!("alertmanager.templates[{i}]"),
                    format!("cannot read template `{}`: {e}", t.display()),
                )
            })?;
            let name = t.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            files.push(RenderedFile::plain(
                a.install_dir.join("templates").join(name),
                content,
                FileRole::Template(ComponentKind::Alertmanager),
            ));
        }
    }
    for (kind, comp) in c.enabled_components() {
        if let Some((content, secrets)) = crate::web::render(loaded, kind)? {
            files.push(RenderedFile {
                path: comp.install_dir.join(crate::web::WEB_CONFIG),
                content,
                // bcrypt hashes: readable by root and the service's group only.
                mode: 0o640,
                owner: Some("root".into()),
                group: Some(comp.user.clone()),
                role: FileRole::WebConfig(kind),
                secrets,
            });
        }
    }
    if c.blackbox_exporter.enabled {
        files.push(crate::blackbox::config_file(loaded)?);
    }
    if c.grafana_server.enabled {
        files.extend(grafana_server_files(loaded, &tera)?);
    }
    files.extend(unit_files(loaded, &tera, &specs)?);

    if c.logrotate.enabled {
        for e in &c.logrotate.entries {
            let mut ctx = serde_json::to_value(e)?;
            let lines: Vec<&str> = e.postrotate.as_deref().unwrap_or("").lines().collect();
            ctx["postrotate"] = json!(lines);
            files.push(RenderedFile::plain(
                Path::new("/etc/logrotate.d").join(&e.name),
                render(&tera, "logrotate.tera", &ctx)?,
                FileRole::Logrotate,
            ));
        }
    }

    if c.rsyslog.enabled && !c.rsyslog.rules.is_empty() {
        files.push(RenderedFile::plain(
            Path::new("/etc/rsyslog.d").join(&c.rsyslog.file),
            render(&tera, "rsyslog.conf.tera", &json!({ "rules": c.rsyslog.rules }))?,
            FileRole::Rsyslog,
        ));
    }

    if c.grafana.enabled && c.grafana.mode == GrafanaMode::Files {
        files.extend(crate::grafana::provisioning_files(loaded)?);
    }
    Ok(files)
}

/// prometheus.yml and the rule files (the default rules, then the configured ones).
fn prometheus_files(loaded: &Loaded, tera: &tera::Tera) -> crate::error::Result<Vec<RenderedFile>> {
    let c = &loaded.config;
    let mut out = Vec::new();
    let p = &c.prometheus;
    let mut rules = Vec::new();
    if p.default_rules {
        rules.push((config::DEFAULT_RULES_FILE.to_string(), DEFAULT_RULES.as_bytes().to_vec()));
    }
    for (i, rf) in p.rule_files.iter().enumerate() {
        let path = loaded.resolve(rf);
        let content = fs::read(&path).map_err(|e| {
            loaded.error_at(
                &format!("prometheus.rule_files[{i}]"),
                format!("cannot read rule file `{}`: {e}", path.display()),
            )
        })?;
        let name = rf.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        rules.push((name, content));
    }
    let alertmanagers: Vec<String> = if !p.alertmanagers.is_empty() {
        p.alertmanagers.clone()
    } else if c.alertmanager.enabled {
        vec![loaded.local_address(ComponentKind::Alertmanager)]
    } else {
        Vec::new()
    };
    let agent = p.mode == config::PrometheusMode::Agent;
    if agent {
        // Agent mode has no rules and no alerting.
        rules.clear();
    }
    let alertmanagers = if agent { Vec::new() } else { alertmanagers };
    // The local endpoints with a `web` section are reached with its TLS and auth.
    let mut reached = std::collections::BTreeSet::new();
    let mut client_of = |targets: &[String]| -> crate::error::Result<Value> {
        let kinds: std::collections::BTreeSet<_> =
            targets.iter().map(|t| crate::web::local_component(loaded, t)).collect();
        match kinds.into_iter().collect::<Vec<_>>()[..] {
            [Some(kind)] => {
                reached.insert(kind);
                Ok(crate::web::WebClient::of(loaded, kind)?.prometheus_client(kind))
            }
            _ => Ok(Value::Null),
        }
    };
    let alerting_client = client_of(&alertmanagers)?;
    let mut ctx = json!({
        "global": p.global,
        "rule_files": rules.iter().map(|(n, _)| format!("rules/{n}")).collect::<Vec<_>>(),
        "alertmanagers": alertmanagers,
        "alerting_client": alerting_client,
    });
    if let (Some(ctx), Value::Object(extra)) = (ctx.as_object_mut(), prometheus_yml_context(c)) {
        ctx.extend(extra);
    }
    let blackbox = [loaded.local_address(ComponentKind::BlackboxExporter)];
    let blackbox_client =
        if c.blackbox_exporter.enabled { client_of(&blackbox)? } else { Value::Null };
    if let Some(Value::Array(jobs)) = ctx.get_mut("scrape_configs") {
        for (job, conf) in jobs.iter_mut().zip(&p.scrape_configs) {
            job["client"] = client_of(&conf.targets)?;
        }
        jobs.extend(crate::blackbox::scrape_jobs(loaded, &blackbox_client));
    }
    for kind in reached {
        let Some((_, password)) = crate::web::users(loaded, kind)?.into_iter().next() else {
            continue;
        };
        out.push(RenderedFile {
            path: p.install_dir.join(crate::web::prometheus_password_file(kind)),
            content: password.clone().into_bytes(),
            mode: 0o640,
            owner: Some("root".into()),
            group: Some(p.user.clone()),
            role: FileRole::Secret(ComponentKind::Prometheus),
            secrets: vec![password],
        });
    }
    out.push(RenderedFile::plain(
        p.install_dir.join("prometheus.yml"),
        render(tera, "prometheus.yml.tera", &ctx)?,
        FileRole::PrometheusConfig,
    ));
    for (name, content) in rules {
        out.push(RenderedFile::plain(
            p.install_dir.join("rules").join(name),
            content,
            FileRole::PrometheusRules,
        ));
    }
    Ok(out)
}

/// alertmanager.yml: mode 0640 (it can hold the SMTP password, listed for masking).
fn alertmanager_file(loaded: &Loaded, tera: &tera::Tera) -> crate::error::Result<RenderedFile> {
    let c = &loaded.config;
    let a = &c.alertmanager;
    let mut secrets = Vec::new();
    let smtp = match &a.smtp {
        Some(s) => {
            let password = smtp_password(loaded)?;
            if let Some(pw) = &password {
                secrets.push(pw.clone());
            }
            json!({
                "smarthost": s.smarthost,
                "from": s.from,
                "auth_username": s.auth_username,
                "password": password,
                "require_tls": s.require_tls,
            })
        }
        None => Value::Null,
    };
    // The route tree, inhibit rules and time intervals as JSON flow collections (valid
    // YAML, every string quoted by construction).
    let flow = |v: serde_json::Value| match &v {
        Value::Array(items) if items.is_empty() => Ok(Value::Null),
        _ => serde_json::to_string(&v).map(Value::String),
    };
    let templates: Vec<String> = a
        .templates
        .iter()
        .filter_map(|t| Some(format!("templates/{}", t.file_name()?.to_string_lossy())))
        .collect();
    let ctx = json!({
        "smtp": smtp,
        "route": a.route,
        "routes_json": flow(serde_json::to_value(&a.route.routes)?)?,
        "inhibit_json": flow(serde_json::to_value(&a.inhibit_rules)?)?,
        "time_intervals_json": flow(serde_json::to_value(&a.time_intervals)?)?,
        "templates": templates,
        "receivers": a.receivers,
    });
    Ok(RenderedFile {
        path: a.install_dir.join("alertmanager.yml"),
        content: render(tera, "alertmanager.yml.tera", &ctx)?.into_bytes(),
        // Can hold the SMTP password: readable by root and the service's group only.
        mode: 0o640,
        owner: Some("root".into()),
        group: Some(a.user.clone()),
        role: FileRole::AlertmanagerConfig,
        secrets,
    })
}

/// grafana.ini (mode 0640, root:grafana) and, for `source: apt`, the apt sources file.
/// The admin password stays in its file: the ini names it through `$__file{...}`.
fn grafana_server_files(
    loaded: &Loaded,
    tera: &tera::Tera,
) -> crate::error::Result<Vec<RenderedFile>> {
    let g = &loaded.config.grafana_server;
    let listen = loaded.resolved.listen.get(&ComponentKind::GrafanaServer);
    let (addr, port) = match listen {
        Some(l) => (l.host.clone(), l.port),
        None => ("0.0.0.0".to_string(), 3000),
    };
    let extra: Vec<Value> = g
        .settings
        .iter()
        .map(|(name, keys)| json!({ "name": name, "keys": keys.iter().collect::<Vec<_>>() }))
        .collect();
    let ctx = json!({
        "data_dir": g.data_dir,
        "http_addr": addr,
        "http_port": port,
        "admin_user": g.admin_user,
        "admin_password_file": g.admin_password_file,
        "extra": extra,
    });
    let mut out = vec![RenderedFile {
        path: config::grafana_ini_path(&loaded.config),
        content: render(tera, "grafana.ini.tera", &ctx)?.into_bytes(),
        mode: 0o640,
        owner: Some("root".into()),
        group: Some(g.user.clone()),
        role: FileRole::GrafanaIni,
        secrets: Vec::new(),
    }];
    if g.source == config::GrafanaSource::Apt {
        out.extend(crate::grafana_server::apt_files(loaded));
    }
    Ok(out)
}

/// One systemd unit per enabled component, running the spec's argv.
fn unit_files(
    loaded: &Loaded,
    tera: &tera::Tera,
    specs: &[ServiceSpec],
) -> crate::error::Result<Vec<RenderedFile>> {
    let c = &loaded.config;
    let mut out = Vec::new();
    for spec in specs {
        let comp = c.component(spec.kind);
        let mut argv = vec![spec.binary.to_string_lossy().into_owned()];
        argv.extend(spec.args.iter().cloned());
        let ctx = json!({
            "component": spec.kind.name(),
            "description": description(spec.kind),
            "documentation": documentation(spec.kind),
            "user": spec.user,
            "argv": argv,
            "data_dir": comp.data_dir,
            // node_exporter exits on SIGHUP; Grafana re-reads only its logging config.
            "reloadable": !matches!(spec.kind, ComponentKind::NodeExporter | ComponentKind::GrafanaServer),
        });
        out.push(RenderedFile::plain(
            Path::new("/etc/systemd/system").join(spec.kind.unit()),
            render(tera, "unit.service.tera", &ctx)?,
            FileRole::Unit(spec.kind),
        ));
    }
    Ok(out)
}

/// The argv of each enabled component with host paths mapped into `root`
/// (`Root::default()` for units; the real `--root` for `direct` mode).
pub fn service_specs(loaded: &Loaded, root: &Root) -> crate::error::Result<Vec<ServiceSpec>> {
    let c = &loaded.config;
    let host = |p: &Path| root.host(p).to_string_lossy().into_owned();
    let mut specs = Vec::new();
    for (kind, comp) in c.enabled_components() {
        // Refused again here (config validation already does) so no caller can build
        // a unit the target release would refuse to start with.
        for (i, f) in comp.extra_flags.iter().enumerate() {
            if let Some(msg) = config::removed_flag(c, kind, &comp.version, f) {
                return Err(ConfigErrors(vec![
                    loaded.error_at(&format!("{}.extra_flags[{i}]", kind.name()), msg)
                ])
                .into());
            }
        }
        let current = comp.install_dir.join("current");
        let mut args = Vec::new();
        match kind {
            ComponentKind::Prometheus => {
                args.extend(prometheus_args(c, &|p| host(p)));
            }
            ComponentKind::Alertmanager => {
                args.push(format!(
                    "--config.file={}",
                    host(&comp.install_dir.join("alertmanager.yml"))
                ));
                args.push(format!("--storage.path={}", host(&comp.data_dir)));
                args.push(format!("--web.listen-address={}", comp.listen_address));
                // Empty: no gossip cluster on a single host (and no fight over :9094).
                args.push("--cluster.listen-address=".into());
            }
            ComponentKind::NodeExporter => {
                args.push(format!("--web.listen-address={}", comp.listen_address));
            }
            ComponentKind::BlackboxExporter => {
                args.push(format!(
                    "--config.file={}",
                    host(&comp.install_dir.join(crate::blackbox::CONFIG))
                ));
                args.push(format!("--web.listen-address={}", comp.listen_address));
            }
            ComponentKind::GrafanaServer => {
                // The official standalone start: `bin/grafana server --config --homepath`.
                args.push("server".into());
                args.push(format!("--config={}", host(&config::grafana_ini_path(c))));
                args.push(format!("--homepath={}", host(&current)));
            }
        }
        if comp.web.is_some() {
            args.push(format!(
                "--web.config.file={}",
                host(&comp.install_dir.join(crate::web::WEB_CONFIG))
            ));
        }
        // Aliases (node_exporter's old collector flag names) under their current names.
        args.extend(comp.extra_flags.iter().map(|f| crate::versions::current_flag(kind, f)));
        specs.push(ServiceSpec {
            kind,
            user: comp.user.clone(),
            binary: root.host(current.join(kind.binaries()[0])),
            args,
            ready_address: loaded.local_address(kind),
            web: crate::web::WebClient::of(loaded, kind)?,
        });
    }
    Ok(specs)
}

/// Prometheus's command line (before the user's extra flags), chosen from the table:
/// console flags only where the release ships consoles, retention as flags only
/// before prometheus.yml can hold it, agent mode as its release spells it.
/// `host` maps a host path into the root the argv is built for.
pub fn prometheus_args(c: &config::Config, host: &dyn Fn(&Path) -> String) -> Vec<String> {
    let p = &c.prometheus;
    let version = p.version.as_str();
    let current = p.install_dir.join("current");
    let mut args = vec![format!("--config.file={}", host(&p.install_dir.join("prometheus.yml")))];
    if p.mode == config::PrometheusMode::Agent {
        if versions::has(ComponentKind::Prometheus, versions::Item::Flag("--agent"), version) {
            args.push("--agent".into());
        } else {
            args.push("--enable-feature=agent".into());
        }
        args.push(format!("--storage.agent.path={}", host(&p.data_dir)));
    } else {
        args.push(format!("--storage.tsdb.path={}", host(&p.data_dir)));
        if versions::has(ComponentKind::Prometheus, versions::Item::File("consoles"), version) {
            args.push(format!("--web.console.templates={}", host(&current.join("consoles"))));
            args.push(format!(
                "--web.console.libraries={}",
                host(&current.join("console_libraries"))
            ));
        }
    }
    args.push(format!("--web.listen-address={}", p.listen_address));
    // monstack reloads through POST /-/reload.
    args.push("--web.enable-lifecycle".into());
    if p.mode == config::PrometheusMode::Server && !versions::retention_in_config(version) {
        if let Some(t) = &p.retention_time {
            args.push(format!("--storage.tsdb.retention.time={t}"));
        }
        if let Some(s) = &p.retention_size {
            args.push(format!("--storage.tsdb.retention.size={s}"));
        }
    }
    args
}

/// The version- and mode-dependent parts of the prometheus.yml template context:
/// `agent`, `retention` (`{time, size}` or null), `remote_write`, and each scrape
/// job's `classic_histograms` (`{key, value}` with the key name this release uses).
pub fn prometheus_yml_context(c: &config::Config) -> serde_json::Value {
    let p = &c.prometheus;
    let agent = p.mode == config::PrometheusMode::Agent;
    let retention = (!agent
        && versions::retention_in_config(&p.version)
        && (p.retention_time.is_some() || p.retention_size.is_some()))
    .then(|| serde_json::json!({ "time": p.retention_time, "size": p.retention_size }));
    let names = ["always_scrape_classic_histograms", "scrape_classic_histograms"];
    let key = versions::key_name(ComponentKind::Prometheus, &names, &p.version);
    let jobs: Vec<serde_json::Value> = p
        .scrape_configs
        .iter()
        .map(|j| {
            let mut v = serde_json::to_value(j).unwrap_or_default();
            if let (Some(key), Some(value)) = (key, j.always_scrape_classic_histograms) {
                v["classic_histograms"] = serde_json::json!({ "key": key, "value": value });
            }
            v
        })
        .collect();
    serde_json::json!({
        "agent": agent,
        "retention": retention,
        "remote_write": p.remote_write,
        "scrape_configs": jobs,
    })
}

/// Write rendered files under `out` (laid out relative to /) with their modes.
/// Ownership is not applied: the tree is for inspection and validation.
pub fn write_tree(out: &Path, files: &[RenderedFile]) -> crate::error::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let root = Root::new(out);
    for f in files {
        let dest = root.host(&f.path);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| crate::failure!("cannot create `{}`: {e}", dir.display()))?;
        }
        fs::write(&dest, &f.content)
            .map_err(|e| crate::failure!("cannot write `{}`: {e}", dest.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(f.mode))
            .map_err(|e| crate::failure!("cannot chmod `{}`: {e}", dest.display()))?;
    }
    Ok(())
}

/// A YAML scalar that parses back to exactly `s`: a double-quoted string with
/// escapes for everything YAML would fold, strip or reject (line breaks including
/// NEL/LS/PS, control characters, BOM, non-characters).
pub fn yaml_scalar(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(ch),
            // YAML's printable set minus the characters it treats as line breaks.
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}'
                if !matches!(ch, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(ch)
            }
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// One word of a systemd command line: quoted when it has whitespace or quotes,
/// `%` and `$` doubled so systemd expands neither specifiers nor variables.
pub fn systemd_arg(s: &str) -> String {
    systemd_quote(&s.replace('%', "%%").replace('$', "$$"))
}

/// One path of a systemd path list (`ReadWritePaths=`): specifiers are expanded
/// there, environment variables are not.
pub fn systemd_path(s: &str) -> String {
    systemd_quote(&s.replace('%', "%%"))
}

fn systemd_quote(escaped: &str) -> String {
    let needs_quotes = escaped.is_empty()
        || escaped.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if !needs_quotes {
        return escaped.to_string();
    }
    let mut out = String::from("\"");
    for ch in escaped.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Tera with the embedded templates, overridden by `*.tera` files in `dir`.
fn engine(dir: Option<&Path>) -> Result<tera::Tera, RenderError> {
    let mut sources: BTreeMap<String, String> =
        TEMPLATES.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
    if let Some(dir) = dir {
        let entries =
            fs::read_dir(dir).map_err(|source| RenderError::Read { path: dir.into(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| RenderError::Read { path: dir.into(), source })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".tera") {
                continue;
            }
            if !sources.contains_key(&name) {
                return Err(RenderError::UnknownTemplate {
                    name,
                    dir: dir.into(),
                    known: TEMPLATES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                });
            }
            let text = fs::read_to_string(entry.path())
                .map_err(|source| RenderError::Read { path: entry.path(), source })?;
            sources.insert(name, text);
        }
    }
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.register_filter("yaml", |v: &Value, _: &HashMap<String, Value>| {
        scalar_text(v, "yaml").map(|s| Value::String(yaml_scalar(&s)))
    });
    tera.register_filter("systemd_arg", |v: &Value, _: &HashMap<String, Value>| {
        scalar_text(v, "systemd_arg").map(|s| Value::String(systemd_arg(&s)))
    });
    tera.register_filter("systemd_path", |v: &Value, _: &HashMap<String, Value>| {
        scalar_text(v, "systemd_path").map(|s| Value::String(systemd_path(&s)))
    });
    for (name, text) in &sources {
        tera.add_raw_template(name, text)
            .map_err(|source| RenderError::Template { name: name.clone(), source })?;
    }
    Ok(tera)
}

fn scalar_text(v: &Value, filter: &str) -> tera::Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(tera::Error::msg(format!("filter `{filter}` takes a scalar, got {other}"))),
    }
}

fn render(tera: &tera::Tera, name: &str, ctx: &Value) -> Result<String, RenderError> {
    let ctx = tera::Context::from_value(ctx.clone())
        .map_err(|source| RenderError::Template { name: name.into(), source })?;
    let mut text = tera
        .render(name, &ctx)
        .map_err(|source| RenderError::Template { name: name.into(), source })?;
    // Tera drops the template's final newline; files end with one.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The SMTP password from `password_env` or `password_file`, read at render time.
fn smtp_password(loaded: &Loaded) -> Result<Option<String>, ConfigError> {
    let Some(smtp) = &loaded.config.alertmanager.smtp else { return Ok(None) };
    if let Some(var) = &smtp.password_env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            _ => Err(loaded.error_at(
                "alertmanager.smtp.password_env",
                format!("environment variable `{var}` is not set"),
            )),
        };
    }
    if let Some(file) = &smtp.password_file {
        let path = loaded.resolve(file);
        let text = fs::read_to_string(&path).map_err(|e| {
            loaded.error_at(
                "alertmanager.smtp.password_file",
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?;
        // Secret files conventionally end with a newline that is not part of the value.
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
    }
    Ok(None)
}

fn description(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Prometheus => "Prometheus",
        ComponentKind::Alertmanager => "Prometheus Alertmanager",
        ComponentKind::NodeExporter => "Prometheus node_exporter",
        ComponentKind::BlackboxExporter => "Prometheus blackbox_exporter",
        ComponentKind::GrafanaServer => "Grafana",
    }
}

fn documentation(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Prometheus => "https://prometheus.io/docs/prometheus/latest/",
        ComponentKind::Alertmanager => "https://prometheus.io/docs/alerting/latest/alertmanager/",
        ComponentKind::NodeExporter => "https://github.com/prometheus/node_exporter",
        ComponentKind::BlackboxExporter => "https://github.com/prometheus/blackbox_exporter",
        ComponentKind::GrafanaServer => "https://grafana.com/docs/grafana/latest/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_args_are_quoted_only_when_needed() {
        assert_eq!(
            systemd_arg("--web.listen-address=0.0.0.0:9090"),
            "--web.listen-address=0.0.0.0:9090"
        );
        assert_eq!(systemd_arg("--cluster.listen-address="), "--cluster.listen-address=");
        assert_eq!(systemd_arg("--x=a b"), "\"--x=a b\"");
        assert_eq!(systemd_arg("50%$HOME"), "50%%$$HOME");
        assert_eq!(systemd_path("/srv/a b/50%$x"), "\"/srv/a b/50%%$x\"");
        assert_eq!(systemd_arg("say \"hi\""), "\"say \\\"hi\\\"\"");
    }

    /// Property: any string, emitted by the `yaml` filter as a mapping value or a
    /// sequence item at any indent, parses back to itself.
    #[test]
    fn yaml_scalar_round_trips_arbitrary_strings() {
        const TRICKY: &[char] = &[
            '"', '\'', '\\', ':', ' ', '#', '\n', '\r', '\t', '*', '&', '!', '|', '>', '-', '?',
            '%', '@', '`', '{', '}', '[', ']', ',', '~', '\u{0}', '\u{7f}', '\u{85}', '\u{a0}',
            '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffe}', 'é', '✓', '🚀', 'a', '0', '.',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 {
                        // Any scalar value, surrogates excluded by from_u32.
                        char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('x')
                    } else {
                        TRICKY[(r >> 8) as usize % TRICKY.len()]
                    }
                })
                .collect();
            let q = yaml_scalar(&s);
            let doc = format!("a:\n  b: {q}\n  c:\n    - {q}\n");
            let v: serde_norway::Value =
                serde_norway::from_str(&doc).unwrap_or_else(|e| panic!("{s:?} -> {q}: {e}"));
            assert_eq!(v["a"]["b"].as_str(), Some(s.as_str()), "{q}");
            assert_eq!(v["a"]["c"][0].as_str(), Some(s.as_str()), "{q}");
        }
    }

    #[test]
    fn init_config_parses_to_the_defaults() {
        let loaded = config::parse(Path::new("monstack.yaml"), INIT_CONFIG).expect("valid");
        assert_eq!(loaded.config, config::Config::default());
    }
}
