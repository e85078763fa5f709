//! `monstack status`: end-to-end health of the stack this config provisions, for people
//! (a compact table) and pipelines (`--output json`). Reads only: it never writes a
//! file, starts a process or changes Grafana.
//!
//! Checks, per component:
//! - on the host ([`host`]): the installed release against the desired version and
//!   digest, every rendered file against the one on disk (drift, by path only: contents
//!   may hold secrets), and the service as the recorded service manager sees it;
//! - over loopback HTTP ([`probe`]): Prometheus readiness, every scrape target, the
//!   rule groups and firing alerts, the Alertmanagers it knows; Alertmanager readiness;
//!   node_exporter's /metrics; blackbox_exporter's health and each probe's
//!   `probe_success` ([`blackbox`]); Grafana through [`crate::grafana::health`].
//!
//! Components are checked concurrently and every request has the same short timeout,
//! so a dead component slows `status` by about that timeout, not more.
//!
//! Exit codes: 0 healthy, 1 unhealthy, 78 config error (never retried by `--wait`).

mod blackbox;
mod host;
mod logrotate;
pub mod output;
mod probe;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Context as _;
use serde::Serialize;

use crate::config::{ComponentKind, GrafanaMode, Loaded};
use crate::paths::Root;
use crate::printer::Printer;
use crate::services::{self, ServiceManager, ServiceManagerKind};
use crate::state::StateDir;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Healthy.
    Ok,
    /// Worth a look but not a failure (alerts firing, a target not scraped yet).
    Warn,
    /// Unhealthy: makes `status` exit 1.
    Fail,
    /// Not checked: the component is disabled, or what it depends on failed.
    Skip,
}

/// One line of the status table (and one element of the JSON `checks` array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `prometheus`, `alertmanager`, `node_exporter`, `grafana` or `host`.
    pub component: String,
    /// What was checked, e.g. `ready` or `target node 127.0.0.1:9100`.
    pub check: String,
    /// False only for [`Level::Fail`].
    pub ok: bool,
    pub level: Level,
    /// Why, in one line; never a secret value.
    pub reason: String,
}

impl Check {
    /// A check with a level.
    pub fn new(
        component: impl Into<String>,
        check: impl Into<String>,
        level: Level,
        reason: impl Into<String>,
    ) -> Check {
        Check {
            component: component.into(),
            check: check.into(),
            ok: level != Level::Fail,
            level,
            reason: reason.into(),
        }
    }
}

/// The JSON document `--output json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// True when no check failed.
    pub healthy: bool,
    pub checks: Vec<Check>,
}

impl Status {
    fn new(checks: Vec<Check>) -> Status {
        Status { healthy: checks.iter().all(|c| c.ok), checks }
    }
}

/// Everything one round of checks needs.
pub struct Inputs<'a> {
    pub root: &'a Root,
    pub loaded: &'a Loaded,
    pub state: &'a StateDir,
    /// The service manager the services are checked with (`auto` already resolved).
    pub manager: &'a dyn ServiceManager,
    pub templates: Option<&'a Path>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// What `monstack status` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Retry until healthy or this long has passed.
    pub wait: Option<Duration>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// `--service-manager`; else what the last apply recorded, else auto.
    pub service_manager: Option<ServiceManagerKind>,
    pub templates: Option<std::path::PathBuf>,
}

/// Check the stack (retrying while unhealthy for `opts.wait`); the outcome and how
/// long it took. Waiting notes go to `out`.
pub fn run(
    root: &Root,
    loaded: &Loaded,
    opts: &Options,
    out: &Printer,
) -> crate::error::Result<(Status, Duration)> {
    let root = absolute_root(root)?;
    let state = StateDir::new(&root, loaded);
    let kind = services::resolve_kind(
        opts.service_manager
            .or_else(|| state.recorded_manager())
            .unwrap_or(ServiceManagerKind::Auto),
        &root,
    );
    let manager = services::manager(kind, &root, &state)?;
    // grafana.com dashboards: from the cache by their locked digest (or fetched).
    let loaded = &crate::artifact::gnet::materialize(&root, loaded.clone(), &Default::default())?;
    let inputs = Inputs {
        root: &root,
        loaded,
        state: &state,
        manager: manager.as_ref(),
        templates: opts.templates.as_deref(),
        timeout: opts.timeout,
    };
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    let status = loop {
        let status = check_all(&inputs)?;
        let left = opts.wait.map(|w| w.saturating_sub(started.elapsed())).unwrap_or_default();
        if status.healthy || left.is_zero() {
            break status;
        }
        let failing = status.checks.iter().filter(|c| !c.ok).count();
        if let Some(first) = status.checks.iter().find(|c| !c.ok) {
            out.info(format!(
                "waiting ({} left): {failing} check{} failing, first {} {}: {}",
                humantime::format_duration(Duration::from_secs(left.as_secs())),
                if failing == 1 { "" } else { "s" },
                first.component,
                first.check,
                first.reason
            ));
        }
        std::thread::sleep(delay.min(left));
        delay = (delay * 2).min(Duration::from_secs(5));
    };
    Ok((status, started.elapsed()))
}

/// Run every check once: the host checks and each component's probes concurrently.
/// Errors only for config problems (exit 78) or an unusable state dir.
pub fn check_all(inputs: &Inputs) -> crate::error::Result<Status> {
    let c = &inputs.loaded.config;
    let t = inputs.timeout;
    let files = crate::render::render_all(inputs.loaded, inputs.templates)?;
    let expected_groups = probe::expected_rule_groups(&files);
    let loaded = inputs.loaded;
    let (host, prom, am, node, bb, gs, graf) = std::thread::scope(|s| {
        let prom = s.spawn(|| probe::prometheus(loaded, &expected_groups, t));
        let am = s.spawn(|| probe::alertmanager(loaded, t));
        let node = s.spawn(|| probe::node_exporter(loaded, t));
        let bb = s.spawn(|| blackbox::checks(loaded, t));
        let gs = s.spawn(|| probe::grafana_server(loaded, t));
        let graf = s.spawn(|| crate::grafana::health(loaded, &inputs.state.path, t));
        // The host checks read local files and /proc (no network): on this thread,
        // which also keeps the service manager off other threads.
        let host = host::checks(inputs);
        (
            host,
            prom.join().expect("prometheus probes do not panic"),
            am.join().expect("alertmanager probes do not panic"),
            node.join().expect("node_exporter probes do not panic"),
            bb.join().expect("blackbox_exporter probes do not panic"),
            gs.join().expect("grafana_server probes do not panic"),
            graf.join().expect("grafana probes do not panic"),
        )
    });
    let mut host = host?;
    let graf = graf.context("cannot check grafana")?;

    // Stable order: each component's host checks, then its probes.
    let mut checks = Vec::new();
    for (kind, probes) in [
        (ComponentKind::Prometheus, prom),
        (ComponentKind::Alertmanager, am),
        (ComponentKind::NodeExporter, node),
        (ComponentKind::BlackboxExporter, bb),
        (ComponentKind::GrafanaServer, gs),
    ] {
        let name = kind.name();
        if kind == ComponentKind::GrafanaServer && crate::grafana_server::apt_managed(loaded) {
            // The package: its version and unit here, then /api/health.
            checks.extend(take_component(&mut host, name));
            checks.extend(crate::grafana_server::apt::status_checks(loaded));
            checks.extend(probes);
            continue;
        }
        if !c.component(kind).enabled {
            // Grafana and blackbox_exporter are opt-in: no line when they are off.
            if !matches!(kind, ComponentKind::GrafanaServer | ComponentKind::BlackboxExporter) {
                checks.push(Check::new(name, "enabled", Level::Skip, "disabled in the config"));
            }
            continue;
        }
        checks.extend(take_component(&mut host, name));
        checks.extend(probes);
    }
    let g = &c.grafana;
    if !g.enabled {
        checks.push(Check::new("grafana", "enabled", Level::Skip, "disabled in the config"));
    } else {
        checks.extend(take_component(&mut host, "grafana"));
        if g.mode == GrafanaMode::Files {
            checks.push(Check::new(
                "grafana",
                "api",
                Level::Skip,
                "mode files: Grafana reads the provisioning files checked above",
            ));
        }
        checks.extend(graf.into_iter().map(|h| {
            let level = if h.ok { Level::Ok } else { Level::Fail };
            Check::new("grafana", h.check, level, h.reason)
        }));
    }
    checks.append(&mut host);
    Ok(Status::new(checks))
}

/// Take the checks of one component out of `checks`, keeping their order.
fn take_component(checks: &mut Vec<Check>, component: &str) -> Vec<Check> {
    let (mine, rest) = std::mem::take(checks).into_iter().partition(|c| c.component == component);
    *checks = rest;
    mine
}

/// `--root` made absolute: `direct` records absolute paths in its pid files and argv.
fn absolute_root(root: &Root) -> crate::error::Result<Root> {
    if root.dir().is_absolute() {
        return Ok(root.clone());
    }
    let abs = std::path::absolute(root.dir())
        .with_context(|| format!("cannot resolve --root `{}`", root.dir().display()))?;
    Ok(Root::new(abs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_without_failures() {
        let warn = Check::new("prometheus", "alerts", Level::Warn, "firing: X");
        let skip = Check::new("grafana", "enabled", Level::Skip, "disabled in the config");
        assert!(Status::new(vec![warn.clone(), skip.clone()]).healthy);
        let fail = Check::new("prometheus", "ready", Level::Fail, "connection refused");
        assert!(!fail.ok);
        assert!(!Status::new(vec![warn, fail, skip]).healthy);
    }

    #[test]
    fn json_schema_is_stable() {
        let s = Status::new(vec![Check::new("node_exporter", "metrics", Level::Ok, "served")]);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"healthy":true,"checks":[{"component":"node_exporter","check":"metrics","ok":true,"level":"ok","reason":"served"}]}"#
        );
    }
}
