//! The `grafana_server` section (Grafana itself) and the `grafana` section (its
//! datasource, folder, dashboards and API credentials).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Component, GRAFANA_DATA_DIR};

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
