//! The files monstack puts on a host, as plain data: what [`crate::render`] and
//! Grafana's files mode produce and plan, apply, validate and status consume. Kept apart
//! from both producers so neither imports the other's types.

use std::path::PathBuf;

use crate::config::ComponentKind;

/// What a rendered file is, so apply knows how to validate and what to reload.
/// Serialized in the state dir's record of the files monstack wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    /// prometheus.yml (validated with promtool check config; change => reload).
    PrometheusConfig,
    /// An alert rule file (promtool check rules; change => reload).
    PrometheusRules,
    /// alertmanager.yml (amtool check-config; change => reload Alertmanager).
    AlertmanagerConfig,
    /// blackbox.yml (`blackbox_exporter --config.check`; change => reload it).
    BlackboxConfig,
    /// A systemd unit (systemd-analyze verify; change => daemon-reload + restart).
    Unit(ComponentKind),
    /// /etc/logrotate.d/* (logrotate -d).
    Logrotate,
    /// /etc/rsyslog.d/*.conf (change => restart rsyslog).
    Rsyslog,
    /// Grafana provisioning YAML (grafana.mode: files).
    GrafanaProvisioning,
    /// grafana.ini of the installed Grafana (change => restart Grafana).
    GrafanaIni,
    /// The apt sources file of `grafana_server.source: apt` (checked by monstack).
    AptSource,
    /// Grafana dashboard JSON (grafana.mode: files).
    GrafanaDashboard,
    /// A component's exporter-toolkit web config (`promtool check web-config`; the
    /// component reads it on every request, a change needs no restart).
    WebConfig(ComponentKind),
    /// A password monstack gives the component (Prometheus's credentials for the
    /// endpoints it scrapes; read on use).
    Secret(ComponentKind),
    /// A notification template the component loads with its config (change => reload).
    Template(ComponentKind),
}

impl FileRole {
    /// Stable name for JSON output: `prometheus_config`, `unit:prometheus`, ...
    pub fn label(&self) -> String {
        match self {
            Self::PrometheusConfig => "prometheus_config".into(),
            Self::PrometheusRules => "prometheus_rules".into(),
            Self::AlertmanagerConfig => "alertmanager_config".into(),
            Self::BlackboxConfig => "blackbox_config".into(),
            Self::Unit(kind) => format!("unit:{kind}"),
            Self::Logrotate => "logrotate".into(),
            Self::Rsyslog => "rsyslog".into(),
            Self::GrafanaProvisioning => "grafana_provisioning".into(),
            Self::GrafanaIni => "grafana_ini".into(),
            Self::AptSource => "apt_source".into(),
            Self::GrafanaDashboard => "grafana_dashboard".into(),
            Self::WebConfig(kind) => format!("web_config:{kind}"),
            Self::Secret(kind) => format!("secret:{kind}"),
            Self::Template(kind) => format!("template:{kind}"),
        }
    }

    /// The component the file belongs to; `None` for the stack's own files (logrotate,
    /// rsyslog, Grafana provisioning), which go with the whole stack.
    pub fn component(&self) -> Option<ComponentKind> {
        match self {
            Self::PrometheusConfig | Self::PrometheusRules => Some(ComponentKind::Prometheus),
            Self::AlertmanagerConfig => Some(ComponentKind::Alertmanager),
            Self::BlackboxConfig => Some(ComponentKind::BlackboxExporter),
            Self::Unit(kind)
            | Self::WebConfig(kind)
            | Self::Secret(kind)
            | Self::Template(kind) => Some(*kind),
            Self::GrafanaIni | Self::AptSource => Some(ComponentKind::GrafanaServer),
            Self::Logrotate
            | Self::Rsyslog
            | Self::GrafanaProvisioning
            | Self::GrafanaDashboard => None,
        }
    }
}

/// One file the host should receive.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFile {
    /// Absolute host path, e.g. `/etc/systemd/system/prometheus.service`.
    pub path: PathBuf,
    pub content: Vec<u8>,
    /// Permission bits, e.g. 0o644; 0o640 for files holding secrets.
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub role: FileRole,
    /// Secret values present in `content`, to be masked in diffs and plans.
    pub secrets: Vec<String>,
}

impl RenderedFile {
    /// A 0644 file owned by root, without secrets.
    pub fn plain(path: impl Into<PathBuf>, content: impl Into<Vec<u8>>, role: FileRole) -> Self {
        Self {
            path: path.into(),
            content: content.into(),
            mode: 0o644,
            owner: None,
            group: None,
            role,
            secrets: Vec::new(),
        }
    }
}
