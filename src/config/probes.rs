//! The blackbox parts of the schema: `blackbox_exporter.modules` and
//! `prometheus.probes`. Pure data; checks live in `check`.

use serde::{Deserialize, Serialize};

/// How a blackbox module probes its target.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Prober {
    #[default]
    Http,
    Tcp,
    Icmp,
    Dns,
    Grpc,
}

impl Prober {
    /// The blackbox.yml key of this prober's settings (the same word).
    pub fn key(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::Icmp => "icmp",
            Self::Dns => "dns",
            Self::Grpc => "grpc",
        }
    }
}

/// One blackbox.yml module. The prober's settings are blackbox_exporter's own keys,
/// kept as given and judged by `blackbox_exporter --config.check` (strict: an unknown
/// key or a bad value is refused there).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlackboxModule {
    pub prober: Prober,
    /// Probe timeout (Prometheus duration); unset: the scrape timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<serde_json::Map<String, serde_json::Value>>,
}

impl BlackboxModule {
    /// The prober sections that are set, by key.
    pub fn sections(&self) -> Vec<&'static str> {
        [
            ("http", self.http.is_some()),
            ("tcp", self.tcp.is_some()),
            ("icmp", self.icmp.is_some()),
            ("dns", self.dns.is_some()),
            ("grpc", self.grpc.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// `prometheus.probes[]`: a scrape job that asks the local blackbox_exporter to probe
/// each target with one module (the standard relabelled `/probe` job).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub job_name: String,
    /// A key of `blackbox_exporter.modules`.
    pub module: String,
    /// What to probe: a URL for `http`, `host:port` for `tcp`/`grpc`, a host for `icmp`/`dns`.
    pub targets: Vec<String>,
    #[serde(default)]
    pub scrape_interval: Option<String>,
}
