//! Renders every host file from Tera templates (embedded, overridable by name);
//! no I/O but reading templates, secrets and the output tree of `render`.

use std::path::{Path, PathBuf};

use crate::cli::{not_implemented, Context, InitArgs, RenderArgs};
use crate::config::{ComponentKind, Loaded};
use crate::paths::Root;

/// What a rendered file is, so apply knows how to validate and what to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// prometheus.yml (validated with promtool check config; change => reload).
    PrometheusConfig,
    /// An alert rule file (promtool check rules; change => reload).
    PrometheusRules,
    /// alertmanager.yml (amtool check-config; change => reload Alertmanager).
    AlertmanagerConfig,
    /// A systemd unit (systemd-analyze verify; change => daemon-reload + restart).
    Unit(ComponentKind),
    /// /etc/logrotate.d/* (logrotate -d).
    Logrotate,
    /// /etc/rsyslog.d/*.conf (change => restart rsyslog).
    Rsyslog,
    /// Grafana provisioning YAML (grafana.mode: files).
    GrafanaProvisioning,
    /// Grafana dashboard JSON (grafana.mode: files).
    GrafanaDashboard,
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
}

/// Every file the host should receive for this config, in a stable order.
pub fn render_all(
    _loaded: &Loaded,
    _templates: Option<&Path>,
) -> anyhow::Result<Vec<RenderedFile>> {
    anyhow::bail!("rendering is not implemented yet")
}

/// The argv of each enabled component with host paths mapped into `root`
/// (`Root::default()` for units; the real `--root` for `direct` mode).
pub fn service_specs(_loaded: &Loaded, _root: &Root) -> anyhow::Result<Vec<ServiceSpec>> {
    anyhow::bail!("service specs are not implemented yet")
}

/// `monstack init`.
pub fn cmd_init(_ctx: &Context, _args: &InitArgs) -> anyhow::Result<i32> {
    not_implemented("init")
}

/// `monstack render`.
pub fn cmd_render(_ctx: &Context, _args: &RenderArgs) -> anyhow::Result<i32> {
    not_implemented("render")
}
