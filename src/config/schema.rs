//! The schema of `monstack.yaml`: every section with the defaults that reproduce the
//! runbook. Pure data; checks live in `check`, loading in `load`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::probes::{BlackboxModule, Probe, Prober};
pub use crate::component::ComponentKind;

/// The whole stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub downloads: Downloads,
    pub prometheus: Prometheus,
    pub alertmanager: Alertmanager,
    pub node_exporter: NodeExporter,
    /// blackbox_exporter (off by default): the prober behind `prometheus.probes`.
    pub blackbox_exporter: BlackboxExporter,
    /// Grafana itself, installed and run by monstack (off by default).
    pub grafana_server: GrafanaServer,
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
            blackbox_exporter: BlackboxExporter::default(),
            grafana_server: GrafanaServer::default(),
            grafana: Grafana::default(),
            logrotate: Logrotate::default(),
            rsyslog: Rsyslog::default(),
            state_dir: PathBuf::from("/var/lib/monstack"),
        }
    }
}

/// Where the installed Grafana's grafana.ini lives (host path): the package's unit
/// reads `/etc/grafana/grafana.ini`.
pub fn grafana_ini_path(c: &Config) -> PathBuf {
    match c.grafana_server.source {
        GrafanaSource::Apt => PathBuf::from("/etc/grafana/grafana.ini"),
        GrafanaSource::Tarball => c.grafana_server.install_dir.join("grafana.ini"),
    }
}

impl Config {
    /// `data_dir` where the file does not set it (absent or `null`): `<install_dir>/data`
    /// for prometheus, alertmanager, node_exporter and blackbox_exporter, so a moved `install_dir` moves
    /// the data along; `/var/lib/grafana` for grafana_server. `given(section)`: whether
    /// the file sets that section's `data_dir`.
    pub fn default_data_dirs(&mut self, given: impl Fn(&str) -> bool) {
        for (name, install, data) in [
            ("prometheus", &self.prometheus.install_dir, &mut self.prometheus.data_dir),
            ("alertmanager", &self.alertmanager.install_dir, &mut self.alertmanager.data_dir),
            ("node_exporter", &self.node_exporter.install_dir, &mut self.node_exporter.data_dir),
            (
                "blackbox_exporter",
                &self.blackbox_exporter.install_dir,
                &mut self.blackbox_exporter.data_dir,
            ),
        ] {
            if !given(name) {
                *data = install.join("data");
            }
        }
        if !given("grafana_server") {
            self.grafana_server.data_dir = PathBuf::from(GRAFANA_DATA_DIR);
        }
    }

    /// The common settings of one component.
    pub fn component(&self, kind: ComponentKind) -> Component {
        match kind {
            ComponentKind::Prometheus => self.prometheus.component(),
            ComponentKind::Alertmanager => self.alertmanager.component(),
            ComponentKind::NodeExporter => self.node_exporter.component(),
            ComponentKind::BlackboxExporter => self.blackbox_exporter.component(),
            ComponentKind::GrafanaServer => {
                let mut c = self.grafana_server.component();
                // `source: apt`: the package installs and runs Grafana, not the artifact path.
                c.enabled = c.enabled && self.grafana_server.source == GrafanaSource::Tarball;
                c
            }
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
    /// TLS and basic auth of the component's HTTP endpoint (`--web.config.file`).
    pub web: Option<Web>,
}

/// `<component>.web`: the exporter-toolkit web configuration. monstack renders it
/// (bcrypt hashes from the password files) and uses the same TLS and credentials
/// wherever it talks to the component itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// Server certificate (PEM, read by the component). Every path here is relative
    /// to the config file.
    pub tls_cert_file: Option<PathBuf>,
    /// Its private key (PEM, read by the component).
    pub tls_key_file: Option<PathBuf>,
    /// CA that client certificates presented to the component are verified against.
    pub client_ca_file: Option<PathBuf>,
    /// CA that signed `tls_cert_file`, trusted by monstack and Prometheus when they
    /// connect; unset: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `NAME: PASSWORD_FILE` (read by monstack only; the component gets bcrypt
    /// hashes). monstack and Prometheus
    /// authenticate as the first name.
    pub basic_auth_users: BTreeMap<String, PathBuf>,
}

impl Web {
    /// Whether the endpoint serves HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_cert_file.is_some()
    }
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
            web: None,
        }
    }
}

/// grafana_server's default `data_dir` (the Debian package's).
const GRAFANA_DATA_DIR: &str = "/var/lib/grafana";

/// A path, or `null` (an empty path: the default is filled in after parsing).
fn path_or_unset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Ok(Option::<PathBuf>::deserialize(d)?.unwrap_or_default())
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
            /// Data directory owned by the service user; absent or `null`: the
            /// component's default (see [`Config::default_data_dirs`]).
            #[serde(deserialize_with = "path_or_unset")]
            pub data_dir: PathBuf,
            /// System user (and group) the service runs as.
            pub user: String,
            /// `host:port` the component listens on.
            pub listen_address: String,
            /// Extra command-line flags appended to ExecStart.
            pub extra_flags: Vec<String>,
            /// TLS and basic auth of the HTTP endpoint (`--web.config.file`).
            pub web: Option<Web>,
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
                    web: self.web.clone(),
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
                    web: c.web,
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
    /// Retention by time, e.g. `15d`: prometheus.yml `storage.tsdb.retention.time`
    /// from 3.8, `--storage.tsdb.retention.time` before.
    pub retention_time: Option<String>,
    /// Retention by size, e.g. `50GB` (as `retention_time`).
    pub retention_size: Option<String>,
    /// `server` (default) or `agent` (scrape and remote-write only).
    pub mode: PrometheusMode,
    /// prometheus.yml `remote_write` (required in agent mode).
    pub remote_write: Vec<RemoteWrite>,
    /// Blackbox probe jobs (`/probe` through the local blackbox_exporter).
    pub probes: Vec<Probe>,
}
}

/// How Prometheus runs.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrometheusMode {
    #[default]
    Server,
    /// `--agent` (3.x) / `--enable-feature=agent` (2.32-2.55): no TSDB, rules or
    /// alerting; samples are forwarded with remote_write.
    Agent,
}

/// One prometheus.yml `remote_write` entry. Credentials come from a file only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteWrite {
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub basic_auth: Option<RemoteWriteBasicAuth>,
    /// File with a bearer token (absolute host path, read by Prometheus); rendered as
    /// `authorization.credentials_file`.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub tls: Option<RemoteWriteTls>,
    #[serde(default)]
    pub queue_config: Option<QueueConfig>,
    #[serde(default)]
    pub write_relabel_configs: Vec<RelabelConfig>,
}

/// `remote_write[].tls` (Prometheus `tls_config`); files are absolute host paths.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteTls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

/// `remote_write[].queue_config`: unset keys keep Prometheus's defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_shards: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_shards: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_samples_per_send: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_send_deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<String>,
}

/// One relabel step (`write_relabel_configs`); the regex is judged by promtool.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// `replace` (default), `keep`, `drop`, `labelmap`, `labeldrop`, `labelkeep`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `remote_write[].basic_auth`: Prometheus reads the password from `password_file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteBasicAuth {
    pub username: String,
    /// Absolute path on the host, read by Prometheus (never by monstack).
    pub password_file: PathBuf,
}

impl Default for Prometheus {
    fn default() -> Self {
        Self::from_parts(
            // The current long-term-support line (prometheus.io/docs/introduction/release-cycle).
            Component::new(
                "3.5.5",
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
                    always_scrape_classic_histograms: None,
                    file_sd: Vec::new(),
                },
                ScrapeConfig::simple("prometheus", "localhost:9090"),
                ScrapeConfig::simple("node", "localhost:9100"),
            ],
            true,
            Vec::new(),
            Vec::new(),
            None,
            None,
            PrometheusMode::Server,
            Vec::new(),
            Vec::new(),
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
    /// Static `host:port` targets (may be empty when `file_sd` is set).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Target files other tools manage (`file_sd_configs`), e.g.
    /// `/etc/prometheus/targets.d/*.yml`; relative paths are relative to prometheus.yml.
    #[serde(default)]
    pub file_sd: Vec<String>,
    #[serde(default)]
    pub metrics_path: Option<String>,
    #[serde(default)]
    pub scrape_interval: Option<String>,
    /// Labels added to every target of the job.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Also ingest the classic form of native histograms (`always_scrape_classic_histograms`
    /// from 3.0, `scrape_classic_histograms` in 2.45-2.55).
    #[serde(default)]
    pub always_scrape_classic_histograms: Option<bool>,
}

impl ScrapeConfig {
    fn simple(job: &str, target: &str) -> Self {
        Self {
            job_name: job.into(),
            targets: vec![target.into()],
            metrics_path: None,
            scrape_interval: None,
            labels: BTreeMap::new(),
            always_scrape_classic_histograms: None,
            file_sd: Vec::new(),
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
    /// `inhibit_rules`: alerts matching `target_matchers` are muted while one matching
    /// `source_matchers` fires (with equal values of the `equal` labels).
    pub inhibit_rules: Vec<InhibitRule>,
    /// Named time intervals routes mute or activate by.
    pub time_intervals: Vec<TimeInterval>,
    /// Notification template files (relative to the config file), installed under
    /// `{install_dir}/templates/`.
    pub templates: Vec<PathBuf>,
    /// Routing cases run with `amtool config routes test` before alertmanager.yml lands.
    pub route_tests: Vec<RouteTest>,
}
}

/// A child route: every key optional (inherited from the parent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SubRoute {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Matchers like `severity="critical"`, `team=~"db|web"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Keep matching the following sibling routes.
    #[serde(rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    pub continue_matching: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<SubRoute>,
}

/// One Alertmanager inhibit rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitRule {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

/// A named set of time ranges (Alertmanager `time_intervals`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    pub name: String,
    pub time_intervals: Vec<TimeSpec>,
}

/// One time range as Alertmanager spells it; validated by amtool.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TimeSpec {
    /// `[{start_time: "09:00", end_time: "17:00"}]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    /// `monday:friday`, `saturday`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<String>,
    /// `1:5`, `-1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days_of_month: Vec<String>,
    /// `january:march`, `12`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<String>,
    /// `2026:2027`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub years: Vec<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// `start_time`-`end_time`, `HH:MM`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    pub start_time: String,
    pub end_time: String,
}

/// A routing case: an alert with `labels` must reach exactly `expect_receivers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteTest {
    pub labels: BTreeMap<String, String>,
    pub expect_receivers: Vec<String>,
}

impl Default for Alertmanager {
    fn default() -> Self {
        Self::from_parts(
            Component::new(
                "0.34.0",
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
                slack_configs: Vec::new(),
                pagerduty_configs: Vec::new(),
            }],
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
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
    /// Child routes, matched in order (the first match wins unless `continue`).
    pub routes: Vec<SubRoute>,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            receiver: "web.hook".into(),
            group_by: vec!["alertname".into()],
            group_wait: "10s".into(),
            group_interval: "10s".into(),
            repeat_interval: "1h".into(),
            routes: Vec::new(),
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
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(default)]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
}

/// Slack notification; Alertmanager reads the webhook URL from `api_url_file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// File with the Slack webhook URL (relative to the config file).
    pub api_url_file: PathBuf,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

/// PagerDuty (Events API v2); Alertmanager reads the key from `routing_key_file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// File with the integration's routing key (relative to the config file).
    pub routing_key_file: PathBuf,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
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
            "1.12.1",
            "/opt/node_exporter",
            "/opt/node_exporter/data",
            "node_exporter",
            "0.0.0.0:9100",
        ))
    }
}

component_section! {
/// blackbox_exporter: its `modules` become blackbox.yml (checked with
/// `blackbox_exporter --config.check`).
pub struct BlackboxExporter {
    /// Module name -> prober settings.
    pub modules: BTreeMap<String, BlackboxModule>,
}
}

impl Default for BlackboxExporter {
    fn default() -> Self {
        let mut c = Component::new(
            "0.25.0",
            "/opt/blackbox_exporter",
            "/opt/blackbox_exporter/data",
            "blackbox_exporter",
            "0.0.0.0:9115",
        );
        c.enabled = false;
        let http = BlackboxModule { prober: Prober::Http, ..BlackboxModule::default() };
        Self::from_parts(c, BTreeMap::from([("http_2xx".to_string(), http)]))
    }
}

component_section! {
/// Grafana itself: the official release tarball (or the apt package), grafana.ini and
/// a systemd unit. `extra_flags` are appended after `server --config ... --homepath ...`.
pub struct GrafanaServer {
    /// `tarball` (the release tarball through monstack's artifact path) or `apt`.
    pub source: GrafanaSource,
    /// The CI build id in Grafana 12+ tarball names (`grafana_{version}_{build_id}_linux_{arch}.tar.gz`
    /// under `{base_url}/grafana/release/{version}/`); empty: the legacy
    /// `{base_url}/oss/release/grafana-{version}.linux-{arch}.tar.gz`.
    pub build_id: Option<String>,
    /// `[security] admin_user`.
    pub admin_user: String,
    /// Host file with the admin password, read by Grafana through `$__file{...}` (never
    /// written into grafana.ini) and by monstack to create its service account.
    pub admin_password_file: Option<PathBuf>,
    /// Extra grafana.ini settings: section -> key -> value (e.g. `users: {allow_sign_up: "false"}`).
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
    /// `source: apt`: the repository line's URL and suite.
    pub apt_repository: String,
    /// `source: apt`: the keyring file the repository is `signed-by` (ASCII-armoured key).
    pub apt_keyring: PathBuf,
    /// `source: apt`: where the keyring comes from (a file, relative to the config file,
    /// or an `https://` URL), verified against `apt_key_sha256`; unset: `apt_keyring` is
    /// put there by the operator.
    pub apt_key: Option<String>,
    /// `source: apt`: the pinned SHA-256 of `apt_key`.
    pub apt_key_sha256: Option<String>,
    /// `source: apt`: `grafana` or `grafana-enterprise`.
    pub apt_package: String,
}
}

/// One `grafana.dashboards` entry: a file or directory, or a grafana.com dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DashboardEntry {
    /// A JSON file or a directory of them (relative to the config file).
    Path(PathBuf),
    /// A grafana.com dashboard revision.
    Gnet(GnetDashboard),
}

impl DashboardEntry {
    /// The path, for a file entry.
    pub fn path(&self) -> Option<&PathBuf> {
        match self {
            DashboardEntry::Path(p) => Some(p),
            DashboardEntry::Gnet(_) => None,
        }
    }
}

/// A grafana.com dashboard, pinned to a revision; fetched through the download path
/// (digest in monstack.lock, copied by `bundle`, usable `--offline`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct GnetDashboard {
    /// The dashboard's id on grafana.com (e.g. 1860, Node Exporter Full).
    pub gnet_id: u64,
    /// Its revision (pinned: revisions change content).
    pub revision: u64,
    /// A folder of its own instead of `grafana.folder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<DashboardFolder>,
}

/// The folder of one grafana.com dashboard: found by uid, created when missing,
/// retitled and moved like `grafana.folder`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct DashboardFolder {
    pub uid: String,
    pub title: String,
    /// Create (or move) it inside this existing folder.
    #[serde(default)]
    pub parent_uid: Option<String>,
    /// Its parent folders by title, outermost first; not with `parent_uid`.
    #[serde(default)]
    pub path: Option<String>,
}

/// Where Grafana comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GrafanaSource {
    /// The release tarball, verified, locked and bundled like the other components.
    #[default]
    Tarball,
    /// The official apt repository, version pinned, `signed-by` keyring.
    Apt,
}

impl Default for GrafanaServer {
    fn default() -> Self {
        let mut c =
            Component::new("12.2.0", "/opt/grafana", GRAFANA_DATA_DIR, "grafana", "0.0.0.0:3000");
        c.enabled = false;
        c.base_url = Some("https://dl.grafana.com".into());
        Self::from_parts(
            c,
            GrafanaSource::Tarball,
            Some("17949786146".into()),
            "admin".into(),
            None,
            BTreeMap::new(),
            "https://apt.grafana.com stable main".into(),
            PathBuf::from("/etc/apt/keyrings/grafana.asc"),
            None,
            None,
            "grafana".into(),
        )
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
    /// Dashboard JSON files or directories (relative to the config file); each needs a
    /// uid. Or a grafana.com dashboard: `{gnet_id, revision}`.
    pub dashboards: Vec<DashboardEntry>,
    /// Where grafana.com dashboards come from (grafana.com's API shape:
    /// `{gnet_url}/api/dashboards/{id}/revisions/{rev}/download`).
    pub gnet_url: String,
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
            gnet_url: "https://grafana.com".into(),
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
        // What rsyslog (which writes the runbook's log through the drop-in) creates its
        // files as on Debian and Ubuntu; both exist on a fresh host.
        Self { mode: "0640".into(), owner: "root".into(), group: "adm".into() }
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
