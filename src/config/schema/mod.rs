//! The schema of `monstack.yaml`: every section with the defaults that reproduce the
//! runbook. Pure data; checks live in `check`, loading in `load`. The top level, the
//! common component keys and node_exporter are here; the larger sections have a file
//! each.

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
            #[serde(deserialize_with = "crate::config::schema::path_or_unset")]
            pub data_dir: PathBuf,
            /// System user (and group) the service runs as.
            pub user: String,
            /// `host:port` the component listens on.
            pub listen_address: String,
            /// Extra command-line flags appended to ExecStart.
            pub extra_flags: Vec<String>,
            /// TLS and basic auth of the HTTP endpoint (`--web.config.file`).
            pub web: Option<$crate::config::Web>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The common component settings as one value.
            pub fn component(&self) -> $crate::config::Component {
                $crate::config::Component {
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
            fn from_parts(c: $crate::config::Component, $($field: $ty),*) -> Self {
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

mod alertmanager;
mod grafana;
mod logs;
mod prometheus;

pub use alertmanager::*;
pub use grafana::*;
pub use logs::*;
pub use prometheus::*;
