//! The `prometheus` section: prometheus.yml content, remote write, scrape jobs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Component, Probe};

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
