//! Grafana datasource, folder and dashboard upsert over the HTTP API, and the
//! provisioning files of `grafana.mode: files`.

use std::path::Path;

use crate::config::Loaded;
use crate::render::RenderedFile;
use crate::report::Change;

/// Built-in dashboard (the runbook's, fixed); `${DS_PROMETHEUS}` is replaced by the
/// configured datasource uid.
pub const BUILTIN_DASHBOARD: &str = include_str!("../assets/dashboards/snowflake-mcp.json");

/// What apply would change in Grafana (reads only). `state_dir` is the host path of
/// monstack's state dir (secret fingerprints live there).
pub fn plan(_loaded: &Loaded, _state_dir: &Path) -> anyhow::Result<Vec<Change>> {
    anyhow::bail!("grafana plan is not implemented yet")
}

/// Converge Grafana; returns what was done.
pub fn apply(_loaded: &Loaded, _state_dir: &Path) -> anyhow::Result<Vec<Change>> {
    anyhow::bail!("grafana apply is not implemented yet")
}

/// `grafana.mode: files`: Grafana's own provisioning files (datasource, dashboard
/// provider, dashboard JSON) as host files.
pub fn provisioning_files(_loaded: &Loaded) -> anyhow::Result<Vec<RenderedFile>> {
    anyhow::bail!("grafana provisioning files are not implemented yet")
}
