//! The stack configuration (`monstack.yaml`): schema, defaults that reproduce the
//! runbook, and validation that names file, line, column and field path.
//!
//! Parsing is strict (`deny_unknown_fields`); semantic checks run after parsing and
//! report every problem found, each located through [`locate`]. This module does no
//! I/O beyond reading the config and checking that referenced files exist.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ConfigErrors};

/// Default config locations, in search order (after `--config` and `MONSTACK_CONFIG`).
pub const DEFAULT_PATHS: [&str; 2] = ["./monstack.yaml", "/etc/monstack/monstack.yaml"];

/// The whole stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub downloads: Downloads,
    pub prometheus: Prometheus,
    pub alertmanager: Alertmanager,
    pub node_exporter: NodeExporter,
    pub grafana: Grafana,
    pub logrotate: Logrotate,
    pub rsyslog: Rsyslog,
    /// Where monstack keeps its state (install records, backups, pid files, lock).
    pub state_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            downloads: Downloads::default(),
            prometheus: Prometheus::default(),
            alertmanager: Alertmanager::default(),
            node_exporter: NodeExporter::default(),
            grafana: Grafana::default(),
            logrotate: Logrotate::default(),
            rsyslog: Rsyslog::default(),
            state_dir: PathBuf::from("/var/lib/monstack"),
        }
    }
}

impl Config {
    /// The common settings of one component.
    pub fn component(&self, kind: ComponentKind) -> Component {
        match kind {
            ComponentKind::Prometheus => self.prometheus.component(),
            ComponentKind::Alertmanager => self.alertmanager.component(),
            ComponentKind::NodeExporter => self.node_exporter.component(),
        }
    }

    /// Enabled components, in install order.
    pub fn enabled_components(&self) -> Vec<(ComponentKind, Component)> {
        ComponentKind::ALL
            .into_iter()
            .map(|k| (k, self.component(k)))
            .filter(|(_, c)| c.enabled)
            .collect()
    }
}

/// Where release tarballs come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Downloads {
    /// GitHub-releases-layout base URL: `{base_url}/prometheus/prometheus/releases/download/v{version}/...`.
    pub base_url: String,
    /// A local tarball directory (air-gapped hosts); when set, no network is used.
    pub local_dir: Option<PathBuf>,
    /// Target architecture (`amd64`, `arm64`, `armv7`, ...); `auto` reads the host.
    pub arch: String,
    /// Verified tarballs are kept here for re-installs and rollbacks.
    pub cache_dir: PathBuf,
    /// Connect timeout, seconds.
    pub connect_timeout: u64,
    /// Read timeout, seconds.
    pub read_timeout: u64,
    /// Attempts for a transient failure (connection error, 429, 5xx).
    pub retries: u32,
    /// Refuse a tarball that expands to more than this many bytes (tar bomb).
    pub max_extract_bytes: u64,
}

impl Default for Downloads {
    fn default() -> Self {
        Self {
            base_url: "https://github.com".into(),
            local_dir: None,
            arch: "auto".into(),
            cache_dir: PathBuf::from("/var/cache/monstack"),
            connect_timeout: 10,
            read_timeout: 30,
            retries: 4,
            max_extract_bytes: 4 << 30,
        }
    }
}

/// The settings every component section (`prometheus`, `alertmanager`,
/// `node_exporter`) has, as one value; see [`Config::component`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Component {
    pub enabled: bool,
    pub version: String,
    /// Pinned SHA-256 of the tarball (overrides the lock and sha256sums.txt).
    pub sha256: Option<String>,
    /// Per-component mirror base URL (overrides `downloads.base_url`).
    pub base_url: Option<String>,
    /// This exact release tarball (relative to the config file); no network is used.
    pub tarball: Option<PathBuf>,
    /// Install root: releases under `{install_dir}/releases/{version}`, `current` symlink.
    pub install_dir: PathBuf,
    /// Data directory owned by the service user.
    pub data_dir: PathBuf,
    /// System user (and group) the service runs as.
    pub user: String,
    /// `host:port` the component listens on.
    pub listen_address: String,
    /// Extra command-line flags appended to the unit's ExecStart.
    pub extra_flags: Vec<String>,
}

impl Component {
    fn new(version: &str, dir: &str, data: &str, user: &str, listen: &str) -> Self {
        Self {
            enabled: true,
            version: version.into(),
            sha256: None,
            base_url: None,
            tarball: None,
            install_dir: PathBuf::from(dir),
            data_dir: PathBuf::from(data),
            user: user.into(),
            listen_address: listen.into(),
            extra_flags: Vec::new(),
        }
    }

    /// `host:port` to reach the component from this host (0.0.0.0 / :: become 127.0.0.1).
    pub fn local_address(&self) -> String {
        let (host, port) = split_host_port(&self.listen_address).unwrap_or(("", "0"));
        let host = match host {
            "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
            h => h,
        };
        format!("{host}:{port}")
    }
}

/// The three release components monstack installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Prometheus,
    Alertmanager,
    NodeExporter,
}

impl ComponentKind {
    /// All kinds, in install order.
    pub const ALL: [ComponentKind; 3] =
        [ComponentKind::Prometheus, ComponentKind::Alertmanager, ComponentKind::NodeExporter];

    /// Config section and CLI name: `prometheus`, `alertmanager`, `node_exporter`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Alertmanager => "alertmanager",
            Self::NodeExporter => "node_exporter",
        }
    }

    /// Parse a CLI name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "node-exporter" && *k == Self::NodeExporter))
    }

    /// GitHub project under `prometheus/` and tarball prefix.
    pub fn project(self) -> &'static str {
        self.name()
    }

    /// Binaries shipped in the release tarball.
    pub fn binaries(self) -> &'static [&'static str] {
        match self {
            Self::Prometheus => &["prometheus", "promtool"],
            Self::Alertmanager => &["alertmanager", "amtool"],
            Self::NodeExporter => &["node_exporter"],
        }
    }

    /// systemd unit name.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus.service",
            Self::Alertmanager => "alertmanager.service",
            Self::NodeExporter => "node_exporter.service",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Declares a component section: the common [`Component`] keys flat at the section's
/// top level (as the YAML has them) plus the section's own keys. serde's `flatten`
/// cannot be used: it disables `deny_unknown_fields` and per-section defaults.
macro_rules! component_section {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Install and run this component.
            pub enabled: bool,
            /// Release version, e.g. 2.45.0.
            pub version: String,
            /// Pinned SHA-256 of the tarball (overrides the lock and sha256sums.txt).
            pub sha256: Option<String>,
            /// Per-component mirror base URL (overrides `downloads.base_url`).
            pub base_url: Option<String>,
            /// This exact release tarball (relative to the config file); no network is used.
            pub tarball: Option<PathBuf>,
            /// Install root: releases under `{install_dir}/releases/{version}`.
            pub install_dir: PathBuf,
            /// Data directory owned by the service user.
            pub data_dir: PathBuf,
            /// System user (and group) the service runs as.
            pub user: String,
            /// `host:port` the component listens on.
            pub listen_address: String,
            /// Extra command-line flags appended to ExecStart.
            pub extra_flags: Vec<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The common component settings as one value.
            pub fn component(&self) -> Component {
                Component {
                    enabled: self.enabled,
                    version: self.version.clone(),
                    sha256: self.sha256.clone(),
                    base_url: self.base_url.clone(),
                    tarball: self.tarball.clone(),
                    install_dir: self.install_dir.clone(),
                    data_dir: self.data_dir.clone(),
                    user: self.user.clone(),
                    listen_address: self.listen_address.clone(),
                    extra_flags: self.extra_flags.clone(),
                }
            }

            #[allow(clippy::too_many_arguments)]
            fn from_parts(c: Component, $($field: $ty),*) -> Self {
                Self {
                    enabled: c.enabled,
                    version: c.version,
                    sha256: c.sha256,
                    base_url: c.base_url,
                    tarball: c.tarball,
                    install_dir: c.install_dir,
                    data_dir: c.data_dir,
                    user: c.user,
                    listen_address: c.listen_address,
                    extra_flags: c.extra_flags,
                    $($field),*
                }
            }
        }
    };
}

component_section! {
/// Prometheus server: component settings plus prometheus.yml content.
pub struct Prometheus {
    pub global: Global,
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Install the runbook's five alerts (assets/rules/snowflake_mcp_rules.yml).
    pub default_rules: bool,
    /// Extra rule files (paths relative to the config file), installed beside prometheus.yml.
    pub rule_files: Vec<PathBuf>,
    /// Alertmanager targets; empty means the local Alertmanager when it is enabled.
    pub alertmanagers: Vec<String>,
    /// `--storage.tsdb.retention.time`, e.g. `15d`.
    pub retention_time: Option<String>,
    /// `--storage.tsdb.retention.size`, e.g. `50GB`.
    pub retention_size: Option<String>,
}
}

impl Default for Prometheus {
    fn default() -> Self {
        Self::from_parts(
            Component::new(
                "2.45.0",
                "/opt/prometheus",
                "/opt/prometheus/data",
                "prometheus",
                "0.0.0.0:9090",
            ),
            Global::default(),
            vec![
                ScrapeConfig {
                    job_name: "snowflake-mcp".into(),
                    targets: vec!["localhost:8000".into()],
                    metrics_path: Some("/metrics".into()),
                    scrape_interval: Some("30s".into()),
                    labels: BTreeMap::new(),
                },
                ScrapeConfig::simple("prometheus", "localhost:9090"),
                ScrapeConfig::simple("node", "localhost:9100"),
            ],
            true,
            Vec::new(),
            Vec::new(),
            None,
            None,
        )
    }
}

/// prometheus.yml `global`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    pub scrape_interval: String,
    pub evaluation_interval: String,
    pub external_labels: BTreeMap<String, String>,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            scrape_interval: "15s".into(),
            evaluation_interval: "15s".into(),
            external_labels: BTreeMap::new(),
        }
    }
}

/// One scrape job, named as in Prometheus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub targets: Vec<String>,
    #[serde(default)]
    pub metrics_path: Option<String>,
    #[serde(default)]
    pub scrape_interval: Option<String>,
    /// Labels added to every target of the job.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ScrapeConfig {
    fn simple(job: &str, target: &str) -> Self {
        Self {
            job_name: job.into(),
            targets: vec![target.into()],
            metrics_path: None,
            scrape_interval: None,
            labels: BTreeMap::new(),
        }
    }
}

component_section! {
/// Alertmanager: component settings plus alertmanager.yml content.
pub struct Alertmanager {
    /// Global SMTP settings for email receivers.
    pub smtp: Option<Smtp>,
    /// Top-level route.
    pub route: Route,
    /// Receivers the route can name.
    pub receivers: Vec<Receiver>,
}
}

impl Default for Alertmanager {
    fn default() -> Self {
        Self::from_parts(
            Component::new(
                "0.26.0",
                "/opt/alertmanager",
                "/opt/alertmanager/data",
                "alertmanager",
                "0.0.0.0:9093",
            ),
            Some(Smtp::default()),
            Route::default(),
            vec![Receiver {
                name: "web.hook".into(),
                email_configs: vec![EmailConfig {
                    to: "admin@company.com".into(),
                    subject: Some("Snowflake MCP Alert: {{ .GroupLabels.alertname }}".into()),
                    body: Some("{{ range .Alerts }}{{ .Annotations.description }}{{ end }}".into()),
                }],
                webhook_configs: Vec::new(),
            }],
        )
    }
}

/// Global SMTP settings for email receivers. The password is never in this file:
/// it is read from `password_env` or `password_file` at render time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub smarthost: String,
    pub from: String,
    pub auth_username: Option<String>,
    /// Environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// File holding the SMTP password (a systemd credential or a mounted secret).
    pub password_file: Option<PathBuf>,
    pub require_tls: bool,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            smarthost: "localhost:587".into(),
            from: "alerts@company.com".into(),
            auth_username: None,
            password_env: None,
            password_file: None,
            require_tls: true,
        }
    }
}

/// Alertmanager top-level route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    pub receiver: String,
    pub group_by: Vec<String>,
    pub group_wait: String,
    pub group_interval: String,
    pub repeat_interval: String,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            receiver: "web.hook".into(),
            group_by: vec!["alertname".into()],
            group_wait: "10s".into(),
            group_interval: "10s".into(),
            repeat_interval: "1h".into(),
        }
    }
}

/// An Alertmanager receiver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    pub name: String,
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
}

/// Email notification; subject and body are Alertmanager templates, kept verbatim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub to: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

/// Webhook notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

fn yes() -> bool {
    true
}

component_section! {
/// node_exporter.
pub struct NodeExporter {}
}

impl Default for NodeExporter {
    fn default() -> Self {
        Self::from_parts(Component::new(
            "1.6.1",
            "/opt/node_exporter",
            "/opt/node_exporter/data",
            "node_exporter",
            "0.0.0.0:9100",
        ))
    }
}

/// How monstack talks to Grafana.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GrafanaMode {
    /// Upsert through the HTTP API.
    #[default]
    Api,
    /// Render Grafana's own provisioning files instead.
    Files,
}

/// Grafana datasource, folder and dashboards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Grafana {
    pub enabled: bool,
    pub url: String,
    pub mode: GrafanaMode,
    /// Sent as `X-Grafana-Org-Id`; the user's active org is never switched.
    pub org_id: Option<u64>,
    pub auth: GrafanaAuth,
    /// PEM CA bundle to verify Grafana's TLS certificate.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification (explicit opt-in only).
    pub insecure_skip_verify: bool,
    /// How long to wait for /api/health, e.g. `60s`.
    pub wait_timeout: String,
    pub datasource: Datasource,
    pub folder: Folder,
    /// Push the built-in runbook dashboard.
    pub builtin_dashboard: bool,
    /// Dashboard JSON files or directories (relative to the config file); each needs a uid.
    pub dashboards: Vec<PathBuf>,
    /// Delete dashboards in the managed folder that the config no longer lists.
    pub prune: bool,
    /// `mode: files`: Grafana's provisioning directory.
    pub provisioning_dir: PathBuf,
    /// `mode: files`: where dashboard JSON files are written.
    pub dashboards_dir: PathBuf,
    /// Dashboards pushed in parallel (1-32).
    pub concurrency: usize,
    /// Attempts for a transient failure (connection error, 429, 5xx).
    pub retries: u32,
    /// Timeout of one HTTP request, e.g. `30s`.
    pub request_timeout: String,
    /// One deadline for the whole Grafana phase of plan or apply, e.g. `5m`.
    pub timeout: String,
    /// The longest `Retry-After` honoured; a server asking for more waits this long.
    pub max_retry_after: String,
}

impl Default for Grafana {
    fn default() -> Self {
        Self {
            enabled: true,
            url: "http://localhost:3000".into(),
            mode: GrafanaMode::Api,
            org_id: None,
            auth: GrafanaAuth::default(),
            ca_file: None,
            insecure_skip_verify: false,
            wait_timeout: "60s".into(),
            datasource: Datasource::default(),
            folder: Folder::default(),
            builtin_dashboard: true,
            dashboards: Vec::new(),
            prune: false,
            provisioning_dir: PathBuf::from("/etc/grafana/provisioning"),
            dashboards_dir: PathBuf::from("/var/lib/grafana/dashboards/monstack"),
            concurrency: 4,
            retries: 4,
            request_timeout: "30s".into(),
            timeout: "5m".into(),
            max_retry_after: "30s".into(),
        }
    }
}

/// Where Grafana credentials come from. Values never live in the config itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GrafanaAuth {
    /// Env var with a service account token (Bearer).
    pub token_env: String,
    /// File with a service account token.
    pub token_file: Option<PathBuf>,
    /// Env var with the basic-auth user name.
    pub user_env: String,
    /// Basic-auth user name given directly (not a secret).
    pub user: Option<String>,
    /// Env var with the basic-auth password.
    pub password_env: String,
    /// File with the basic-auth password.
    pub password_file: Option<PathBuf>,
}

impl Default for GrafanaAuth {
    fn default() -> Self {
        Self {
            token_env: "GRAFANA_TOKEN".into(),
            token_file: None,
            user_env: "GRAFANA_USER".into(),
            user: None,
            password_env: "GRAFANA_PASSWORD".into(),
            password_file: None,
        }
    }
}

/// The Prometheus datasource in Grafana.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Datasource {
    pub name: String,
    pub uid: String,
    /// Prometheus URL as Grafana reaches it; empty means the local Prometheus.
    pub url: String,
    pub access: String,
    pub is_default: bool,
    pub json_data: BTreeMap<String, serde_json::Value>,
    /// Write-only datasource secrets (`secureJsonData`), each read from an env var or a file.
    pub secure_json_data: BTreeMap<String, SecretRef>,
    /// Basic auth from Grafana to Prometheus (`basicAuth`, `basicAuthUser`,
    /// `secureJsonData.basicAuthPassword`).
    pub basic_auth: Option<DatasourceBasicAuth>,
    /// TLS from Grafana to Prometheus: a CA to trust, or skip verification.
    pub tls: DatasourceTls,
    /// Extra HTTP headers Grafana sends to Prometheus; values are secret (env or file).
    pub http_headers: BTreeMap<String, SecretRef>,
}

/// Basic auth from Grafana to the datasource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatasourceBasicAuth {
    /// The user (not a secret).
    pub user: String,
    /// Where the password comes from (`env` or `file`).
    pub password: SecretRef,
}

/// TLS settings of the datasource's own connection to Prometheus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatasourceTls {
    /// PEM CA bundle Grafana trusts for Prometheus (`tlsAuthWithCACert`, `tlsCACert`).
    pub ca_file: Option<PathBuf>,
    /// Skip verification of Prometheus's certificate (`tlsSkipVerify`), explicit opt-in.
    pub skip_verify: bool,
}

/// Where one secret value comes from; exactly one of `env` or `file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecretRef {
    /// Environment variable holding the value.
    pub env: Option<String>,
    /// File holding the value (trailing newline stripped).
    pub file: Option<PathBuf>,
}

impl Default for Datasource {
    fn default() -> Self {
        Self {
            name: "Prometheus".into(),
            uid: "monstack-prometheus".into(),
            url: "http://localhost:9090".into(),
            access: "proxy".into(),
            is_default: true,
            json_data: BTreeMap::new(),
            secure_json_data: BTreeMap::new(),
            basic_auth: None,
            tls: DatasourceTls::default(),
            http_headers: BTreeMap::new(),
        }
    }
}

/// The Grafana folder monstack manages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Folder {
    pub uid: String,
    pub title: String,
    /// Nested folders: the uid of an existing folder to create this one in.
    pub parent_uid: Option<String>,
    /// Nested folders: the parent folders by title, outermost first (`Platform/Observability`);
    /// each is found by title under its parent or created. Not with `parent_uid`.
    pub path: Option<String>,
}

impl Default for Folder {
    fn default() -> Self {
        Self { uid: "monstack".into(), title: "Monitoring".into(), parent_uid: None, path: None }
    }
}

/// logrotate policies (one file in /etc/logrotate.d per entry).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Logrotate {
    pub enabled: bool,
    pub entries: Vec<LogrotateEntry>,
}

impl Default for Logrotate {
    fn default() -> Self {
        Self { enabled: true, entries: vec![LogrotateEntry::default()] }
    }
}

/// One logrotate policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogrotateEntry {
    /// File name under /etc/logrotate.d.
    pub name: String,
    pub paths: Vec<String>,
    /// daily, weekly, monthly or yearly.
    pub frequency: String,
    pub rotate: u32,
    pub compress: bool,
    pub delaycompress: bool,
    pub missingok: bool,
    pub notifempty: bool,
    /// `create MODE OWNER GROUP`.
    pub create: Option<LogCreate>,
    /// Commands run after rotation.
    pub postrotate: Option<String>,
}

impl Default for LogrotateEntry {
    fn default() -> Self {
        Self {
            name: "snowflake-mcp".into(),
            paths: vec!["/var/log/snowflake-mcp/*.log".into()],
            frequency: "daily".into(),
            rotate: 52,
            compress: true,
            delaycompress: true,
            missingok: true,
            notifempty: true,
            create: Some(LogCreate::default()),
            postrotate: Some("systemctl reload snowflake-mcp".into()),
        }
    }
}

/// logrotate `create` directive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogCreate {
    /// Octal mode as a string, e.g. "0644".
    pub mode: String,
    pub owner: String,
    pub group: String,
}

impl Default for LogCreate {
    fn default() -> Self {
        Self { mode: "0644".into(), owner: "snowflake-mcp".into(), group: "snowflake-mcp".into() }
    }
}

/// The rsyslog drop-in (its own file in /etc/rsyslog.d, never appended to rsyslog.conf).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Rsyslog {
    pub enabled: bool,
    /// File name under /etc/rsyslog.d.
    pub file: String,
    pub rules: Vec<RsyslogRule>,
}

impl Default for Rsyslog {
    fn default() -> Self {
        Self {
            enabled: true,
            file: "30-snowflake-mcp.conf".into(),
            rules: vec![RsyslogRule {
                selector: "local0.*".into(),
                action: "/var/log/snowflake-mcp/application.log".into(),
            }],
        }
    }
}

/// `selector action`, e.g. `local0.* /var/log/x.log`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RsyslogRule {
    pub selector: String,
    pub action: String,
}

/// A loaded config with the file it came from (relative paths resolve against its dir).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// The raw text, kept to locate later errors.
    pub source: String,
}

impl Loaded {
    /// Resolve a path from the config relative to the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    /// A config error located at `field` in this file.
    pub fn error_at(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let mut e = ConfigError::new(&self.path, Some(field.to_string()), message);
        if let Some((l, c)) = locate(&self.source, field) {
            e.line = Some(l);
            e.column = Some(c);
        }
        e
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
    let config: Config = if source.trim().is_empty() {
        Config::default()
    } else {
        let de = serde_yaml::Deserializer::from_str(source);
        match serde_path_to_error::deserialize(de) {
            Ok(c) => c,
            Err(err) => {
                let field = err.path().to_string();
                let inner = err.into_inner();
                let mut message = user_words(&clean_serde_message(&inner.to_string(), &field));
                if ["secure_json_data", "password", "token"].iter().any(|s| field.contains(s)) {
                    // A secret pasted where its env/file reference belongs: do not echo it.
                    message = hide_value(&message);
                }
                let duplicate = message
                    .strip_prefix("duplicate key `")
                    .and_then(|k| k.strip_suffix('`'))
                    .and_then(|key| locate_duplicate(source, &field, key));
                let mut e = ConfigError::new(path, (field != ".").then(|| field.clone()), message);
                if let Some((l, c)) = duplicate {
                    // serde_yaml points at the enclosing mapping; the second key is the mistake.
                    e.line = Some(l);
                    e.column = Some(c);
                } else if let Some(loc) = inner.location() {
                    e.line = Some(loc.line());
                    e.column = Some(loc.column());
                } else if let Some((l, c)) = locate(source, &field) {
                    e.line = Some(l);
                    e.column = Some(c);
                }
                return Err(ConfigErrors(vec![e]));
            }
        }
    };
    let loaded = Loaded { config, path: path.to_path_buf(), source: source.to_string() };
    let errors = validate(&loaded);
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// serde_yaml prefixes messages with the field path and appends " at line L column C";
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

/// 1-based line and column of the second `key` in the mapping at `parent` (a field
/// path, `.` for the top level).
fn locate_duplicate(source: &str, parent: &str, key: &str) -> Option<(usize, usize)> {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::Marker;

    /// Per open node: for a mapping, whether the next scalar is a key, and the key path.
    struct Walker<'a> {
        // (is_map, expecting_key, segment of this node)
        stack: Vec<(bool, bool, String)>,
        pending_key: Option<String>,
        target: Vec<String>,
        key: &'a str,
        seen: usize,
        found: Option<(usize, usize)>,
        index: Vec<usize>,
    }
    impl Walker<'_> {
        fn path(&self) -> Vec<String> {
            self.stack.iter().skip(1).map(|(_, _, s)| s.clone()).collect()
        }
        /// The segment the next value gets, and flip the parent's key/value state.
        fn next_segment(&mut self) -> String {
            match self.stack.last_mut() {
                Some((true, expecting, _)) => {
                    *expecting = true;
                    self.pending_key.take().unwrap_or_default()
                }
                Some((false, _, _)) => {
                    let i = self.index.last_mut().expect("sequence index");
                    *i += 1;
                    format!("[{}]", *i - 1)
                }
                None => String::new(),
            }
        }
    }
    impl MarkedEventReceiver for Walker<'_> {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            match ev {
                Event::Scalar(v, ..) => {
                    if let Some((true, expecting @ true, _)) = self.stack.last_mut() {
                        *expecting = false;
                        if self.found.is_none() && v == self.key && self.path() == self.target {
                            self.seen += 1;
                            if self.seen == 2 {
                                self.found = Some((mark.line(), mark.col() + 1));
                            }
                        }
                        self.pending_key = Some(v);
                    } else {
                        self.next_segment();
                    }
                }
                Event::Alias(_) => {
                    self.next_segment();
                }
                Event::MappingStart(..) => {
                    let seg = self.next_segment();
                    self.stack.push((true, true, seg));
                }
                Event::SequenceStart(..) => {
                    let seg = self.next_segment();
                    self.stack.push((false, false, seg));
                    self.index.push(0);
                }
                Event::MappingEnd => {
                    self.stack.pop();
                }
                Event::SequenceEnd => {
                    self.stack.pop();
                    self.index.pop();
                }
                _ => {}
            }
        }
    }

    let mut w = Walker {
        stack: Vec::new(),
        pending_key: None,
        target: split_field_path(parent),
        key,
        seen: 0,
        found: None,
        index: Vec::new(),
    };
    let _ = Parser::new_from_str(source).load(&mut w, false);
    w.found
}

/// All semantic checks; returns every problem found.
fn validate(l: &Loaded) -> Vec<ConfigError> {
    let c = &l.config;
    let mut errs = Vec::new();
    let mut check = |ok: bool, field: &str, msg: String| {
        if !ok {
            errs.push(l.error_at(field, msg));
        }
    };

    // downloads
    if let Some(m) = url_problem(&c.downloads.base_url, MIRROR_AUTH) {
        check(false, "downloads.base_url", m);
    }
    const ARCHES: [&str; 13] = [
        "auto", "amd64", "arm64", "armv5", "armv6", "armv7", "386", "ppc64le", "ppc64", "s390x",
        "riscv64", "mips64", "mips64le",
    ];
    check(
        ARCHES.contains(&c.downloads.arch.as_str()),
        "downloads.arch",
        format!("unknown arch `{}` (one of {})", c.downloads.arch, ARCHES.join(", ")),
    );
    if let Some(d) = &c.downloads.local_dir {
        let p = l.resolve(d);
        check(p.exists(), "downloads.local_dir", format!("`{}` does not exist", p.display()));
    }

    // components
    for kind in ComponentKind::ALL {
        let name = kind.name();
        let comp = &c.component(kind);
        check(
            valid_version(&comp.version),
            &format!("{name}.version"),
            format!("`{}` is not a release version like 2.45.0", comp.version),
        );
        if let Some(sha) = &comp.sha256 {
            check(
                sha.len() == 64 && sha.chars().all(|ch| ch.is_ascii_hexdigit()),
                &format!("{name}.sha256"),
                "must be 64 hex characters".into(),
            );
        }
        if let Some(m) = comp.base_url.as_deref().and_then(|u| url_problem(u, MIRROR_AUTH)) {
            check(false, &format!("{name}.base_url"), m);
        }
        if let Some(t) = &comp.tarball {
            let p = l.resolve(t);
            let problem = if !p.exists() { "does not exist" } else { "is not a file" };
            check(
                p.is_file(),
                &format!("{name}.tarball"),
                format!("tarball `{}` {problem}", t.display()),
            );
        }
        check(
            valid_listen_address(&comp.listen_address),
            &format!("{name}.listen_address"),
            format!("`{}` is not a host:port listen address", comp.listen_address),
        );
        check(
            valid_user(&comp.user),
            &format!("{name}.user"),
            format!("`{}` is not a valid system user name", comp.user),
        );
        check(
            comp.install_dir.is_absolute(),
            &format!("{name}.install_dir"),
            "must be an absolute path".into(),
        );
        check(
            comp.data_dir.is_absolute(),
            &format!("{name}.data_dir"),
            "must be an absolute path".into(),
        );
        let managed = managed_flags(c, kind);
        for (i, f) in comp.extra_flags.iter().enumerate() {
            let field = format!("{name}.extra_flags[{i}]");
            if !f.starts_with("--") || f.contains('\n') {
                check(false, &field, format!("`{f}` is not a --flag"));
                continue;
            }
            let flag = flag_name(f);
            if let Some(msg) = removed_flag(kind, &comp.version, flag) {
                check(false, &field, msg);
            } else if managed.contains(&flag) {
                check(
                    false,
                    &field,
                    format!("`{flag}` is set by monstack from the `{name}` section; remove it from extra_flags"),
                );
            }
        }
    }

    // prometheus
    let p = &c.prometheus;
    check(
        valid_duration(&p.global.scrape_interval),
        "prometheus.global.scrape_interval",
        format!("`{}` is not a Prometheus duration like 15s", p.global.scrape_interval),
    );
    check(
        valid_duration(&p.global.evaluation_interval),
        "prometheus.global.evaluation_interval",
        format!("`{}` is not a Prometheus duration like 15s", p.global.evaluation_interval),
    );
    if let Some(r) = &p.retention_time {
        check(
            valid_duration(r),
            "prometheus.retention_time",
            format!("`{r}` is not a Prometheus duration like 15d"),
        );
    }
    let mut seen = HashSet::new();
    for (i, job) in p.scrape_configs.iter().enumerate() {
        let f = format!("prometheus.scrape_configs[{i}]");
        check(
            !job.job_name.trim().is_empty(),
            &format!("{f}.job_name"),
            "must not be empty".into(),
        );
        check(
            seen.insert(job.job_name.clone()),
            &format!("{f}.job_name"),
            format!("duplicate job name `{}`", job.job_name),
        );
        check(!job.targets.is_empty(), &format!("{f}.targets"), "needs at least one target".into());
        for (t, target) in job.targets.iter().enumerate() {
            check(
                valid_target(target),
                &format!("{f}.targets[{t}]"),
                format!("`{target}` is not a host:port target"),
            );
        }
        if let Some(mp) = &job.metrics_path {
            check(
                mp.starts_with('/'),
                &format!("{f}.metrics_path"),
                format!("`{mp}` must start with /"),
            );
        }
        if let Some(si) = &job.scrape_interval {
            check(
                valid_duration(si),
                &format!("{f}.scrape_interval"),
                format!("`{si}` is not a Prometheus duration like 30s"),
            );
        }
        for k in job.labels.keys() {
            check(
                valid_label_name(k),
                &format!("{f}.labels.{k}"),
                format!("`{k}` is not a valid label name"),
            );
        }
    }
    if let Some(size) = &p.retention_size {
        check(
            valid_size(size),
            "prometheus.retention_size",
            format!("`{size}` is not a size like 50GB (B, KB, MB, GB, TB, PB, EB)"),
        );
    }
    // Rule files are installed flat under {install_dir}/rules, so names must not collide.
    let mut rule_names = HashSet::new();
    if p.default_rules {
        rule_names.insert(DEFAULT_RULES_FILE.to_string());
    }
    for (i, rf) in p.rule_files.iter().enumerate() {
        let path = l.resolve(rf);
        check(
            path.is_file(),
            &format!("prometheus.rule_files[{i}]"),
            format!("rule file `{}` does not exist", path.display()),
        );
        let base = rf.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
        check(
            rule_names.insert(base.clone()),
            &format!("prometheus.rule_files[{i}]"),
            format!("another rule file is already installed as `rules/{base}`; rename one of them"),
        );
    }
    for (i, am) in p.alertmanagers.iter().enumerate() {
        check(
            valid_target(am),
            &format!("prometheus.alertmanagers[{i}]"),
            format!("`{am}` is not a host:port target"),
        );
    }

    // alertmanager
    let a = &c.alertmanager;
    for (field, v) in [
        ("group_wait", &a.route.group_wait),
        ("group_interval", &a.route.group_interval),
        ("repeat_interval", &a.route.repeat_interval),
    ] {
        check(
            valid_duration(v),
            &format!("alertmanager.route.{field}"),
            format!("`{v}` is not a duration like 10s"),
        );
    }
    let names: Vec<&str> = a.receivers.iter().map(|r| r.name.as_str()).collect();
    check(
        names.contains(&a.route.receiver.as_str()),
        "alertmanager.route.receiver",
        format!("receiver `{}` is not defined in alertmanager.receivers", a.route.receiver),
    );
    let mut seen = HashSet::new();
    for (i, r) in a.receivers.iter().enumerate() {
        check(
            seen.insert(r.name.clone()),
            &format!("alertmanager.receivers[{i}].name"),
            format!("duplicate receiver name `{}`", r.name),
        );
        for (j, w) in r.webhook_configs.iter().enumerate() {
            if let Some(m) = url_problem(
                &w.url,
                "Alertmanager would keep them in clear in alertmanager.yml; use an endpoint that needs none",
            ) {
                check(false, &format!("alertmanager.receivers[{i}].webhook_configs[{j}].url"), m);
            }
        }
        for (j, e) in r.email_configs.iter().enumerate() {
            check(
                e.to.contains('@'),
                &format!("alertmanager.receivers[{i}].email_configs[{j}].to"),
                format!("`{}` is not an email address", e.to),
            );
        }
    }
    let has_email = a.receivers.iter().any(|r| !r.email_configs.is_empty());
    match &a.smtp {
        Some(s) => {
            check(
                valid_target(&s.smarthost),
                "alertmanager.smtp.smarthost",
                format!("`{}` is not a host:port address", s.smarthost),
            );
            if let Some(pf) = &s.password_file {
                let path = l.resolve(pf);
                check(
                    path.is_file(),
                    "alertmanager.smtp.password_file",
                    format!("`{}` does not exist", path.display()),
                );
            }
            check(
                !(s.password_env.is_some() && s.password_file.is_some()),
                "alertmanager.smtp",
                "set password_env or password_file, not both".into(),
            );
        }
        None => check(
            !has_email,
            "alertmanager.smtp",
            "email receivers need an smtp section (smarthost, from)".into(),
        ),
    }

    // grafana
    let g = &c.grafana;
    if let Some(m) = url_problem(
        &g.url,
        "set grafana.auth.token_env or token_file, or auth.user with auth.password_env or password_file",
    ) {
        check(false, "grafana.url", m);
    }
    check(
        valid_duration(&g.wait_timeout),
        "grafana.wait_timeout",
        format!("`{}` is not a duration like 60s", g.wait_timeout),
    );
    if !g.datasource.url.is_empty() {
        if let Some(m) = url_problem(
            &g.datasource.url,
            "read the password from an env var or file with grafana.datasource.secure_json_data.basicAuthPassword",
        ) {
            check(false, "grafana.datasource.url", m);
        }
    }
    check(
        valid_uid(&g.datasource.uid),
        "grafana.datasource.uid",
        format!("`{}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)", g.datasource.uid),
    );
    check(
        valid_uid(&g.folder.uid),
        "grafana.folder.uid",
        format!("`{}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)", g.folder.uid),
    );
    check(
        matches!(g.datasource.access.as_str(), "proxy" | "direct"),
        "grafana.datasource.access",
        format!("`{}` must be proxy or direct", g.datasource.access),
    );
    for (field, file) in [
        ("grafana.auth.token_file", &g.auth.token_file),
        ("grafana.auth.password_file", &g.auth.password_file),
        ("grafana.ca_file", &g.ca_file),
    ] {
        if let Some(f) = file {
            let path = l.resolve(f);
            check(path.is_file(), field, format!("`{}` does not exist", path.display()));
        }
    }
    check(
        valid_duration(&g.request_timeout)
            && parse_duration(&g.request_timeout).is_some_and(|d| !d.is_zero()),
        "grafana.request_timeout",
        format!("`{}` is not a non-zero duration like 30s", g.request_timeout),
    );
    check(
        (1..=32).contains(&g.concurrency),
        "grafana.concurrency",
        format!("{} must be between 1 and 32", g.concurrency),
    );
    for (field, value) in
        [("grafana.timeout", &g.timeout), ("grafana.max_retry_after", &g.max_retry_after)]
    {
        check(
            valid_duration(value) && parse_duration(value).is_some_and(|d| !d.is_zero()),
            field,
            format!("`{value}` is not a non-zero duration like 5m"),
        );
    }
    if let Some(p) = &g.folder.parent_uid {
        check(
            valid_uid(p),
            "grafana.folder.parent_uid",
            format!("`{p}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)"),
        );
        check(
            p != &g.folder.uid,
            "grafana.folder.parent_uid",
            "a folder cannot be its own parent".into(),
        );
    }
    if let Some(path) = &g.folder.path {
        check(
            g.folder.parent_uid.is_none(),
            "grafana.folder.path",
            "set `path` or `parent_uid`, not both".into(),
        );
        check(
            !path.trim().is_empty() && path.split('/').all(|t| !t.trim().is_empty()),
            "grafana.folder.path",
            format!("`{path}` must be folder titles separated by `/`, none empty"),
        );
    }
    let ds = &g.datasource;
    let mut secret_refs: Vec<(String, &SecretRef)> = ds
        .secure_json_data
        .iter()
        .map(|(k, r)| (format!("grafana.datasource.secure_json_data.{k}"), r))
        .collect();
    if let Some(b) = &ds.basic_auth {
        check(!b.user.is_empty(), "grafana.datasource.basic_auth.user", "must not be empty".into());
        check(
            !ds.secure_json_data.contains_key("basicAuthPassword"),
            "grafana.datasource.secure_json_data.basicAuthPassword",
            "set the password in `grafana.datasource.basic_auth.password`, not both".into(),
        );
        secret_refs.push(("grafana.datasource.basic_auth.password".into(), &b.password));
    }
    for (name, r) in &ds.http_headers {
        check(
            !name.is_empty()
                && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_".contains(&c)),
            &format!("grafana.datasource.http_headers.{name}"),
            "a header name is letters, digits, `-` and `_`".into(),
        );
        secret_refs.push((format!("grafana.datasource.http_headers.{name}"), r));
    }
    if let Some(ca) = &ds.tls.ca_file {
        let path = l.resolve(ca);
        check(
            path.is_file(),
            "grafana.datasource.tls.ca_file",
            format!("`{}` does not exist", path.display()),
        );
        check(
            !ds.tls.skip_verify,
            "grafana.datasource.tls",
            "set `ca_file` or `skip_verify`, not both".into(),
        );
    }
    // Keys monstack writes from the options above may not also be given by hand.
    for key in ds.json_data.keys() {
        let tls = ds.tls.ca_file.is_some() || ds.tls.skip_verify;
        let owned = (tls && matches!(key.as_str(), "tlsAuthWithCACert" | "tlsSkipVerify"))
            || (!ds.http_headers.is_empty() && key.starts_with("httpHeaderName"));
        check(
            !owned,
            &format!("grafana.datasource.json_data.{key}"),
            "set by `grafana.datasource.tls` / `http_headers`; remove it here".into(),
        );
    }
    for key in ds.secure_json_data.keys() {
        let owned = (ds.tls.ca_file.is_some() && key == "tlsCACert")
            || (!ds.http_headers.is_empty() && key.starts_with("httpHeaderValue"));
        check(
            !owned,
            &format!("grafana.datasource.secure_json_data.{key}"),
            "set by `grafana.datasource.tls` / `http_headers`; remove it here".into(),
        );
    }
    for (field, secret) in secret_refs {
        check(
            secret.env.is_some() != secret.file.is_some(),
            &field,
            "needs exactly one of `env` or `file`".into(),
        );
        if let Some(f) = &secret.file {
            let path = l.resolve(f);
            check(
                path.is_file(),
                &format!("{field}.file"),
                format!("`{}` does not exist", path.display()),
            );
        }
    }
    for (i, d) in g.dashboards.iter().enumerate() {
        let path = l.resolve(d);
        check(
            path.exists(),
            &format!("grafana.dashboards[{i}]"),
            format!("dashboard file `{}` does not exist", path.display()),
        );
    }

    // logrotate
    let mut seen = HashSet::new();
    for (i, e) in c.logrotate.entries.iter().enumerate() {
        let f = format!("logrotate.entries[{i}]");
        check(
            valid_file_name(&e.name),
            &format!("{f}.name"),
            format!("`{}` is not a plain file name", e.name),
        );
        check(
            seen.insert(e.name.clone()),
            &format!("{f}.name"),
            format!("duplicate entry `{}`", e.name),
        );
        check(!e.paths.is_empty(), &format!("{f}.paths"), "needs at least one path".into());
        for (j, p) in e.paths.iter().enumerate() {
            check(
                p.starts_with('/') && !p.contains(char::is_whitespace),
                &format!("{f}.paths[{j}]"),
                format!("`{p}` must be an absolute path without spaces"),
            );
        }
        check(
            matches!(e.frequency.as_str(), "hourly" | "daily" | "weekly" | "monthly" | "yearly"),
            &format!("{f}.frequency"),
            format!("`{}` must be hourly, daily, weekly, monthly or yearly", e.frequency),
        );
        if let Some(cr) = &e.create {
            check(
                cr.mode.len() >= 3
                    && cr.mode.len() <= 4
                    && cr.mode.chars().all(|ch| ('0'..='7').contains(&ch)),
                &format!("{f}.create.mode"),
                format!("`{}` is not an octal mode like 0644", cr.mode),
            );
            check(
                valid_user(&cr.owner),
                &format!("{f}.create.owner"),
                format!("`{}` is not a user name", cr.owner),
            );
            check(
                valid_user(&cr.group),
                &format!("{f}.create.group"),
                format!("`{}` is not a group name", cr.group),
            );
        }
        if let Some(script) = &e.postrotate {
            check(
                !script.lines().any(|line| line.trim() == "endscript"),
                &format!("{f}.postrotate"),
                "must not contain an `endscript` line (monstack closes the script)".into(),
            );
        }
    }

    // rsyslog
    check(
        valid_file_name(&c.rsyslog.file) && c.rsyslog.file.ends_with(".conf"),
        "rsyslog.file",
        format!("`{}` must be a plain file name ending in .conf", c.rsyslog.file),
    );
    for (i, r) in c.rsyslog.rules.iter().enumerate() {
        check(
            !r.selector.is_empty() && !r.selector.contains(char::is_whitespace),
            &format!("rsyslog.rules[{i}].selector"),
            format!("`{}` is not a syslog selector like local0.*", r.selector),
        );
        check(
            !r.action.is_empty() && !r.action.contains('\n'),
            &format!("rsyslog.rules[{i}].action"),
            "must be a single-line action".into(),
        );
    }

    check(c.state_dir.is_absolute(), "state_dir", "must be an absolute path".into());
    errs
}

/// File name of the runbook's alert rules under `{install_dir}/rules`.
pub const DEFAULT_RULES_FILE: &str = "snowflake_mcp_rules.yml";

/// Prometheus flags that 3.0 removed (CHANGELOG 3.0, #14640, #14643): 3.x exits 2 on them.
pub const PROMETHEUS_FLAGS_REMOVED_IN_3: [(&str, &str); 3] = [
    ("--storage.tsdb.retention", "use prometheus.retention_time"),
    ("--alertmanager.timeout", "drop it"),
    ("--storage.tsdb.allow-overlapping-blocks", "overlapping blocks are always allowed"),
];

/// The flag name of `--name=value` (or `--name`).
pub fn flag_name(flag: &str) -> &str {
    flag.split('=').next().unwrap_or(flag)
}

/// Major version number of `2.45.0` (0 when unparsable; versions are validated first).
pub fn version_major(version: &str) -> u64 {
    version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
}

/// Why `flag` cannot be passed to `kind` at `version`, if the release removed it.
pub fn removed_flag(kind: ComponentKind, version: &str, flag: &str) -> Option<String> {
    if kind != ComponentKind::Prometheus || version_major(version) < 3 {
        return None;
    }
    PROMETHEUS_FLAGS_REMOVED_IN_3.iter().find(|(f, _)| *f == flag).map(|(f, instead)| {
        format!(
            "`{f}` was removed in Prometheus 3.0 and the target version is {version} ({instead})"
        )
    })
}

/// Flags monstack itself passes to a component (a duplicate in extra_flags is refused).
pub fn managed_flags(c: &Config, kind: ComponentKind) -> Vec<&'static str> {
    match kind {
        ComponentKind::Prometheus => {
            let p = &c.prometheus;
            let mut v = vec![
                "--config.file",
                "--storage.tsdb.path",
                "--web.listen-address",
                "--web.enable-lifecycle",
            ];
            if version_major(&p.version) < 3 {
                v.extend(["--web.console.templates", "--web.console.libraries"]);
            }
            if p.retention_time.is_some() {
                v.push("--storage.tsdb.retention.time");
            }
            if p.retention_size.is_some() {
                v.push("--storage.tsdb.retention.size");
            }
            v
        }
        ComponentKind::Alertmanager => vec![
            "--config.file",
            "--storage.path",
            "--web.listen-address",
            "--cluster.listen-address",
        ],
        ComponentKind::NodeExporter => vec!["--web.listen-address"],
    }
}

/// Prometheus size: digits and a unit (`512MB`, `50GB`).
fn valid_size(s: &str) -> bool {
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && ["B", "KB", "MB", "GB", "TB", "PB", "EB"].contains(&&s[digits..])
}

/// Prometheus duration: `((\d+)(y|w|d|h|m|s|ms))+` or `0`.
pub fn valid_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        if b[i..].starts_with(b"ms") {
            i += 2;
        } else if i < b.len() && b"ywdhms".contains(&b[i]) {
            i += 1;
        } else {
            return false;
        }
        parts += 1;
    }
    parts > 0
}

/// Parse a Prometheus duration into std time.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    if !valid_duration(s) {
        return None;
    }
    let mut total_ms: u64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit_ms = match ch {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'y' => 365 * 86_400_000,
            'w' => 7 * 86_400_000,
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
    }
    Some(std::time::Duration::from_millis(total_ms))
}

/// Where mirror credentials can come from instead of the URL.
const MIRROR_AUTH: &str =
    "use a mirror that needs none, or put the verified tarballs in downloads.local_dir";

/// What is wrong with a configured http(s) URL, if anything. Credentials in it are refused:
/// they would be echoed in messages and written to files (monstack.lock, alertmanager.yml);
/// `instead` says where they go. The message never repeats them.
fn url_problem(s: &str, instead: &str) -> Option<String> {
    if let Ok(u) = url::Url::parse(s) {
        if !u.username().is_empty() || u.password().is_some() {
            return Some(format!("credentials in the URL are refused; {instead}"));
        }
    }
    (!valid_url(s)).then(|| format!("`{}` is not an http(s) URL", redact_userinfo(s)))
}

/// `s` with anything before an `@` in its authority replaced by `***`.
fn redact_userinfo(s: &str) -> String {
    let start = s.find("://").map_or(0, |i| i + 3);
    let end = s[start..].find(['/', '?', '#']).map_or(s.len(), |i| start + i);
    match s[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..start], &s[start + at..]),
        None => s.to_string(),
    }
}

fn valid_url(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host().is_some(),
        Err(_) => false,
    }
}

fn valid_version(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Split `host:port` (IPv6 in brackets).
pub fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((&s[..end + 2], port));
    }
    let (h, p) = s.rsplit_once(':')?;
    if h.contains(':') {
        return None;
    }
    Some((h, p))
}

fn valid_port(p: &str) -> bool {
    p.parse::<u16>().is_ok()
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && (h.starts_with('[')
            || h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
}

fn valid_listen_address(s: &str) -> bool {
    match split_host_port(s) {
        Some((h, p)) => (h.is_empty() || valid_host(h)) && valid_port(p),
        None => false,
    }
}

fn valid_target(s: &str) -> bool {
    match split_host_port(s) {
        Some((h, p)) => valid_host(h) && valid_port(p),
        None => false,
    }
}

fn valid_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Grafana uid: at most 40 characters of `a-zA-Z0-9-_`.
pub fn valid_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_file_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Locate a dotted field path (`a.b[2].c`) in YAML text: 1-based line and column of
/// the key (for mappings) or item (for sequences). Best effort: `None` if absent.
pub fn locate(source: &str, field: &str) -> Option<(usize, usize)> {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::Marker;

    #[derive(Debug)]
    enum Frame {
        Map { key: Option<String>, expecting_key: bool, key_mark: Option<Marker> },
        Seq { index: usize },
    }
    struct Walker {
        stack: Vec<Frame>,
        path: Vec<String>,
        target: Vec<String>,
        found: Option<(usize, usize)>,
        pending: bool,
    }
    impl Walker {
        // Called before a value node starts: compute its path and its mark.
        // A block mapping's own mark points past its first key, so a match on a
        // mapping takes the mark of its first key instead (`pending`).
        fn enter_value(&mut self, mark: Marker, is_map: bool) {
            let (seg, m) = match self.stack.last_mut() {
                Some(Frame::Map { key, expecting_key, key_mark }) => {
                    if *expecting_key {
                        return;
                    }
                    (key.clone().unwrap_or_default(), key_mark.unwrap_or(mark))
                }
                Some(Frame::Seq { index }) => (format!("[{index}]"), mark),
                None => return,
            };
            self.path.push(seg);
            if self.found.is_none() && self.path == self.target {
                if is_map && !matches!(self.stack.last(), Some(Frame::Map { .. })) {
                    self.pending = true;
                } else {
                    self.found = Some((m.line(), m.col() + 1));
                }
            }
        }
        fn leave_value(&mut self) {
            match self.stack.last_mut() {
                Some(Frame::Map { expecting_key, .. }) if !*expecting_key => {
                    self.path.pop();
                    *expecting_key = true;
                }
                Some(Frame::Map { .. }) => {}
                Some(Frame::Seq { index }) => {
                    self.path.pop();
                    *index += 1;
                }
                None => {}
            }
        }
    }
    impl MarkedEventReceiver for Walker {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            match ev {
                Event::Scalar(v, ..) => {
                    if let Some(Frame::Map { key, expecting_key, key_mark }) = self.stack.last_mut()
                    {
                        if *expecting_key {
                            if self.pending {
                                self.pending = false;
                                self.found = Some((mark.line(), mark.col() + 1));
                            }
                            *key = Some(v);
                            *key_mark = Some(mark);
                            *expecting_key = false;
                            return;
                        }
                    }
                    self.enter_value(mark, false);
                    self.leave_value();
                }
                Event::MappingStart(..) => {
                    self.enter_value(mark, true);
                    self.stack.push(Frame::Map { key: None, expecting_key: true, key_mark: None });
                }
                Event::SequenceStart(..) => {
                    self.enter_value(mark, false);
                    self.stack.push(Frame::Seq { index: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    self.stack.pop();
                    self.leave_value();
                }
                Event::Alias(_) => {
                    self.enter_value(mark, false);
                    self.leave_value();
                }
                _ => {}
            }
        }
    }

    let target = split_field_path(field);
    if target.is_empty() {
        return None;
    }
    let mut w = Walker { stack: Vec::new(), path: Vec::new(), target, found: None, pending: false };
    let mut parser = Parser::new_from_str(source);
    let _ = parser.load(&mut w, false);
    if w.found.is_none() {
        // Fall back to the nearest existing ancestor (e.g. a missing key's parent).
        let mut parent = split_field_path(field);
        while parent.pop().is_some() && !parent.is_empty() {
            let joined = join_field_path(&parent);
            if let Some(found) = locate(source, &joined) {
                return Some(found);
            }
        }
    }
    w.found
}

fn split_field_path(field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in field.split('.') {
        if part.is_empty() {
            continue;
        }
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(rest[..i].to_string());
            }
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                out.push(rest[..=end].to_string());
                rest = &rest[end + 1..];
            }
        } else {
            out.push(rest.to_string());
        }
    }
    out
}

fn join_field_path(parts: &[String]) -> String {
    let mut s = String::new();
    for p in parts {
        if !p.starts_with('[') && !s.is_empty() {
            s.push('.');
        }
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_runbook() {
        let l = parse(Path::new("m.yaml"), "").expect("defaults valid");
        let p = &l.config.prometheus;
        assert_eq!(p.version, "2.45.0");
        assert_eq!(p.scrape_configs.len(), 3);
        assert_eq!(p.scrape_configs[0].job_name, "snowflake-mcp");
        assert_eq!(p.scrape_configs[0].scrape_interval.as_deref(), Some("30s"));
        assert_eq!(l.config.logrotate.entries[0].rotate, 52);
    }

    #[test]
    fn durations() {
        for ok in ["15s", "1h30m", "500ms", "0", "2w", "1y"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in ["", "15", "s", "1.5s", "15 s", "-1s", "1x"] {
            assert!(!valid_duration(bad), "{bad}");
        }
        assert_eq!(parse_duration("1m30s"), Some(std::time::Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(std::time::Duration::from_millis(250)));
    }

    #[test]
    fn locate_finds_nested_fields() {
        let src = "prometheus:\n  scrape_configs:\n    - job_name: a\n      targets: [x:1]\n    - job_name: b\n      targets: [y:2]\n";
        assert_eq!(locate(src, "prometheus.scrape_configs[1].job_name"), Some((5, 7)));
        assert_eq!(locate(src, "prometheus.scrape_configs[0].targets[0]"), Some((4, 17)));
        assert_eq!(locate(src, "prometheus"), Some((1, 1)));
        // A missing key falls back to its nearest ancestor.
        assert_eq!(locate(src, "prometheus.scrape_configs[1].metrics_path"), Some((5, 7)));
    }

    #[test]
    fn unknown_key_is_located() {
        let src = "prometheus:\n  version: 2.45.0\n  scrape_intervall: 5s\n";
        let e = parse(Path::new("m.yaml"), src).unwrap_err();
        let e = &e.0[0];
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("scrape_intervall"), "{e}");
    }

    #[test]
    fn duplicate_job_is_located() {
        let src = "prometheus:\n  scrape_configs:\n    - job_name: a\n      targets: ['x:1']\n    - job_name: a\n      targets: ['y:2']\n";
        let e = parse(Path::new("m.yaml"), src).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!(e.0[0].line, Some(5));
        assert_eq!(e.0[0].field.as_deref(), Some("prometheus.scrape_configs[1].job_name"));
        assert!(e.0[0].message.contains("duplicate job name"));
    }

    #[test]
    fn listen_addresses() {
        assert!(valid_listen_address("0.0.0.0:9090"));
        assert!(valid_listen_address(":9090"));
        assert!(valid_listen_address("[::1]:9090"));
        assert!(!valid_listen_address("9090"));
        assert!(!valid_listen_address("localhost:99999"));
        assert!(!valid_listen_address("local host:1"));
    }
}
