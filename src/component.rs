//! The release components monstack installs, by kind: names, binaries, units.
//! Ground type shared by the config and the version table.

use serde::{Deserialize, Serialize};

/// The release components monstack installs (Grafana only when `grafana_server` is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Prometheus,
    Alertmanager,
    NodeExporter,
    /// Off by default; probes targets for `prometheus.probes`.
    BlackboxExporter,
    GrafanaServer,
}

impl ComponentKind {
    /// All kinds, in install order.
    pub const ALL: [ComponentKind; 5] = [
        ComponentKind::Prometheus,
        ComponentKind::Alertmanager,
        ComponentKind::NodeExporter,
        ComponentKind::BlackboxExporter,
        ComponentKind::GrafanaServer,
    ];

    /// Config section and CLI name: `prometheus`, `alertmanager`, `node_exporter`,
    /// `blackbox_exporter`, `grafana_server`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Alertmanager => "alertmanager",
            Self::NodeExporter => "node_exporter",
            Self::BlackboxExporter => "blackbox_exporter",
            Self::GrafanaServer => "grafana_server",
        }
    }

    /// Parse a CLI name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| {
            k.name() == s
                || (s == "node-exporter" && *k == Self::NodeExporter)
                || (s == "blackbox-exporter" && *k == Self::BlackboxExporter)
                || (s == "grafana-server" && *k == Self::GrafanaServer)
        })
    }

    /// GitHub project under `prometheus/` and tarball prefix (`grafana` for Grafana).
    pub fn project(self) -> &'static str {
        match self {
            Self::GrafanaServer => "grafana",
            _ => self.name(),
        }
    }

    /// Binaries a release tarball must ship (the server first). promtool and amtool
    /// are used when the release has them, not required: validation then falls back
    /// to the host's.
    pub fn binaries(self) -> &'static [&'static str] {
        match self {
            Self::Prometheus => &["prometheus"],
            Self::Alertmanager => &["alertmanager"],
            Self::NodeExporter => &["node_exporter"],
            Self::BlackboxExporter => &["blackbox_exporter"],
            Self::GrafanaServer => &["bin/grafana"],
        }
    }

    /// systemd unit name.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus.service",
            Self::Alertmanager => "alertmanager.service",
            Self::NodeExporter => "node_exporter.service",
            Self::BlackboxExporter => "blackbox_exporter.service",
            // Not the package's `grafana-server.service`: never the same unit.
            Self::GrafanaServer => "monstack-grafana.service",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
