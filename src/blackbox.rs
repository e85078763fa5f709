//! blackbox_exporter: its blackbox.yml (from `blackbox_exporter.modules`) and the
//! Prometheus jobs that go through it (`prometheus.probes`, and its own metrics).
//! Data for the renderer only; no I/O.

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{BlackboxModule, ComponentKind, Loaded};
use crate::hostfile::{FileRole, RenderedFile};

/// blackbox.yml's file name under the component's install_dir.
pub const CONFIG: &str = "blackbox.yml";

/// The job monstack adds for blackbox_exporter's own `/metrics` (unless one exists).
pub const SELF_JOB: &str = "blackbox_exporter";

const HEADER: &str =
    "# Managed by monstack: edit `blackbox_exporter.modules` in monstack.yaml instead.\n";

#[derive(Serialize)]
struct File<'a> {
    modules: &'a std::collections::BTreeMap<String, BlackboxModule>,
}

/// blackbox.yml for the configured modules (user strings quoted by the serializer).
pub fn config_file(loaded: &Loaded) -> crate::error::Result<RenderedFile> {
    let b = &loaded.config.blackbox_exporter;
    let text = serde_norway::to_string(&File { modules: &b.modules })?;
    Ok(RenderedFile::plain(
        b.install_dir.join(CONFIG),
        format!("{HEADER}{text}"),
        FileRole::BlackboxConfig,
    ))
}

/// The prometheus.yml scrape jobs that go through the local blackbox_exporter, in the
/// template's job shape: one per `prometheus.probes` entry (the standard relabelled
/// `/probe` job: target -> `__param_target` -> `instance`, `__address__` = the
/// exporter), then its own metrics job unless a configured job already scrapes it.
/// `client` is how Prometheus reaches the exporter (scheme, TLS, basic auth).
pub fn scrape_jobs(loaded: &Loaded, client: &Value) -> Vec<Value> {
    let c = &loaded.config;
    if !c.blackbox_exporter.enabled {
        return Vec::new();
    }
    let exporter = loaded.local_address(ComponentKind::BlackboxExporter);
    let mut jobs: Vec<Value> = c
        .prometheus
        .probes
        .iter()
        .map(|p| {
            json!({
                "job_name": p.job_name,
                "metrics_path": "/probe",
                "scrape_interval": p.scrape_interval,
                "targets": p.targets,
                "labels": {},
                "file_sd": [],
                "client": client,
                "probe": { "module": p.module, "exporter": exporter },
            })
        })
        .collect();
    let named = c.prometheus.probes.iter().any(|p| p.job_name == SELF_JOB);
    let scraped = named
        || c.prometheus.scrape_configs.iter().any(|j| {
            j.job_name == SELF_JOB
                || j.targets.iter().any(|t| {
                    crate::web::local_component(loaded, t) == Some(ComponentKind::BlackboxExporter)
                        || *t == exporter
                })
        });
    if !scraped {
        jobs.push(json!({
            "job_name": SELF_JOB,
            "targets": [exporter],
            "labels": {},
            "file_sd": [],
            "client": client,
        }));
    }
    jobs
}
