//! The resolved config: the values later code needs in their own types, computed once
//! after the checks passed, so no consumer parses a config string again (and none
//! falls back to a default when it cannot).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::schema::{ComponentKind, Config};
use super::values::{parse_duration, split_host_port};

/// A parsed `host:port` listen address (host may be empty: all interfaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    pub host: String,
    pub port: u16,
}

impl ListenAddress {
    /// Parse `host:port` (IPv6 in brackets).
    pub fn parse(s: &str) -> Option<Self> {
        let (host, port) = split_host_port(s)?;
        Some(Self { host: host.to_string(), port: port.parse().ok()? })
    }

    /// `host:port` to reach it from this host (0.0.0.0 / :: become 127.0.0.1).
    pub fn local(&self) -> String {
        let host = match self.host.as_str() {
            "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
            h => h,
        };
        format!("{host}:{}", self.port)
    }
}

/// Values of a checked config in their resolved types.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// `grafana.wait_timeout`.
    pub grafana_wait_timeout: Duration,
    /// `grafana.request_timeout` (non-zero).
    pub grafana_request_timeout: Duration,
    /// `grafana.timeout` (non-zero): the deadline of the Grafana phase.
    pub grafana_timeout: Duration,
    /// `grafana.max_retry_after` (non-zero).
    pub grafana_max_retry_after: Duration,
    /// Each component's `listen_address`.
    pub listen: BTreeMap<ComponentKind, ListenAddress>,
    /// grafana.com dashboards' JSON, verified, by (gnet_id, revision): filled by
    /// `artifact::gnet::materialize` before Grafana is planned or applied.
    pub gnet: BTreeMap<(u64, u64), String>,
}

impl Resolved {
    /// Resolve a config whose checks passed; `Err` names the first value that does not
    /// resolve (a check missing for it is a bug, reported rather than papered over).
    pub(super) fn of(c: &Config) -> Result<Self, (String, String)> {
        let duration = |field: &str, v: &str| {
            parse_duration(v).ok_or_else(|| (field.to_string(), format!("`{v}` is not a duration")))
        };
        let mut listen = BTreeMap::new();
        for kind in ComponentKind::ALL {
            let s = c.component(kind).listen_address;
            let a = ListenAddress::parse(&s).ok_or_else(|| {
                (format!("{kind}.listen_address"), format!("`{s}` is not a host:port address"))
            })?;
            listen.insert(kind, a);
        }
        Ok(Self {
            grafana_wait_timeout: duration("grafana.wait_timeout", &c.grafana.wait_timeout)?,
            grafana_request_timeout: duration(
                "grafana.request_timeout",
                &c.grafana.request_timeout,
            )?,
            grafana_timeout: duration("grafana.timeout", &c.grafana.timeout)?,
            gnet: BTreeMap::new(),
            grafana_max_retry_after: duration(
                "grafana.max_retry_after",
                &c.grafana.max_retry_after,
            )?,
            listen,
        })
    }
}

/// Make the paths the config documents as "relative to the config file" absolute,
/// against `dir` (the config file's directory).
pub(super) fn absolutize(c: &mut Config, dir: &Path) {
    let abs = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    c.downloads.local_dir.iter_mut().for_each(abs);
    c.prometheus.tarball.iter_mut().for_each(abs);
    c.alertmanager.tarball.iter_mut().for_each(abs);
    c.node_exporter.tarball.iter_mut().for_each(abs);
    c.blackbox_exporter.tarball.iter_mut().for_each(abs);
    c.grafana_server.tarball.iter_mut().for_each(abs);
    if let Some(k) = c.grafana_server.apt_key.as_mut().filter(|k| !k.contains("://")) {
        let mut p = PathBuf::from(&*k);
        abs(&mut p);
        *k = p.to_string_lossy().into_owned();
    }
    c.prometheus.rule_files.iter_mut().for_each(abs);
    for web in [
        &mut c.prometheus.web,
        &mut c.alertmanager.web,
        &mut c.node_exporter.web,
        &mut c.blackbox_exporter.web,
    ]
    .into_iter()
    .flatten()
    {
        web.tls_cert_file.iter_mut().for_each(abs);
        web.tls_key_file.iter_mut().for_each(abs);
        web.client_ca_file.iter_mut().for_each(abs);
        web.ca_file.iter_mut().for_each(abs);
        web.basic_auth_users.values_mut().for_each(abs);
    }
    c.alertmanager.templates.iter_mut().for_each(abs);
    for r in &mut c.alertmanager.receivers {
        r.slack_configs.iter_mut().for_each(|s| abs(&mut s.api_url_file));
        r.pagerduty_configs.iter_mut().for_each(|p| abs(&mut p.routing_key_file));
    }
    if let Some(s) = c.alertmanager.smtp.as_mut() {
        s.password_file.iter_mut().for_each(abs);
    }
    let g = &mut c.grafana;
    g.ca_file.iter_mut().for_each(abs);
    g.auth.token_file.iter_mut().for_each(abs);
    g.auth.password_file.iter_mut().for_each(abs);
    for d in g.dashboards.iter_mut() {
        if let super::schema::DashboardEntry::Path(p) = d {
            abs(p);
        }
    }
    for s in g.datasource.secure_json_data.values_mut() {
        s.file.iter_mut().for_each(abs);
    }
    if let Some(b) = g.datasource.basic_auth.as_mut() {
        b.password.file.iter_mut().for_each(abs);
    }
    for s in g.datasource.http_headers.values_mut() {
        s.file.iter_mut().for_each(abs);
    }
    g.datasource.tls.ca_file.iter_mut().for_each(abs);
}
