//! Loopback HTTP probes of the running services: one attempt per request, each with
//! the status timeout. When a component is not ready, its API checks are skipped
//! rather than each waiting for the same timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::{Check, Level};
use crate::config::{ComponentKind, Loaded};
use crate::http::metric_value;
use crate::render::{FileRole, RenderedFile};
use crate::web::WebClient;

/// `(rule file name, group name)` of every group in the rendered rule files.
pub fn expected_rule_groups(files: &[RenderedFile]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for f in files.iter().filter(|f| f.role == FileRole::PrometheusRules) {
        let name = f.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let doc: serde_norway::Value = serde_norway::from_slice(&f.content).unwrap_or_default();
        if let Some(groups) = doc.get("groups").and_then(|g| g.as_sequence()) {
            for g in groups {
                if let Some(n) = g.get("name").and_then(|n| n.as_str()) {
                    out.insert((name.clone(), n.to_string()));
                }
            }
        }
    }
    out
}

/// A GET with the status timeout; the body on 2xx, else a one-line reason.
pub(super) struct Http {
    client: reqwest::blocking::Client,
    timeout: Duration,
    web: WebClient,
    /// `http(s)://host:port` of the component.
    pub(super) base: String,
}

impl Http {
    /// A client for component `kind` with its `web` TLS and credentials.
    pub(super) fn new(
        loaded: &Loaded,
        kind: ComponentKind,
        timeout: Duration,
    ) -> Result<Http, String> {
        let web = WebClient::of(loaded, kind).map_err(|e| format!("{e:#}"))?;
        let client = web
            .build(crate::http::builder().timeout(timeout).connect_timeout(timeout).no_proxy())
            .map_err(|e| format!("{e:#}"))?;
        let base = web.url(&loaded.local_address(kind), "");
        Ok(Http { client, timeout, web, base })
    }

    /// How the endpoint was reached, for the `ready` line: ` (TLS, basic auth as admin)`.
    pub(super) fn how(&self) -> String {
        let mut parts = Vec::new();
        if self.web.https {
            parts.push("TLS".to_string());
        }
        if let Some((user, _)) = self.web.credentials() {
            parts.push(format!("basic auth as {user}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }

    pub(super) fn get(&self, url: &str) -> Result<String, String> {
        match self.web.auth(self.client.get(url)).send() {
            Ok(r) if r.status().is_success() => r.text().map_err(|e| self.describe(url, &e)),
            Ok(r) => {
                let status = r.status();
                let body = r.text().unwrap_or_default();
                let body = body.lines().next().unwrap_or("").trim();
                Err(format!(
                    "{url} answered {status}{}",
                    if body.is_empty() { String::new() } else { format!(": {body}") }
                ))
            }
            Err(e) => Err(self.describe(url, &e)),
        }
    }

    pub(super) fn json(&self, url: &str) -> Result<Value, String> {
        let text = self.get(url)?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{url}: not JSON: {e}"))?;
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }

    fn describe(&self, url: &str, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("{url}: no answer within {}", humantime::format_duration(self.timeout));
        }
        format!("{url}: {}", crate::http::root_cause(e))
    }
}

/// Prometheus (when enabled): ready, last reload, targets, rules and alerts, Alertmanagers.
pub fn prometheus(
    loaded: &Loaded,
    expected_groups: &BTreeSet<(String, String)>,
    timeout: Duration,
) -> Vec<Check> {
    const C: &str = "prometheus";
    if !loaded.config.prometheus.enabled {
        return Vec::new();
    }
    let mut out = Vec::new();
    let ready = Http::new(loaded, ComponentKind::Prometheus, timeout)
        .and_then(|http| http.get(&format!("{}/-/ready", http.base)).map(|_| http));
    let http = match ready {
        Ok(http) => http,
        Err(e) => {
            out.push(Check::new(C, "ready", Level::Fail, e));
            for check in ["targets", "rules", "alertmanagers"] {
                out.push(Check::new(C, check, Level::Skip, "not checked: Prometheus is not ready"));
            }
            return out;
        }
    };
    let base = http.base.clone();
    out.push(Check::new(C, "ready", Level::Ok, format!("{base}/-/ready{}", http.how())));
    out.push(reload(&http, C, &base, "prometheus_config_last_reload_successful"));
    out.extend(targets(&http, &base, &loaded.config.prometheus.scrape_configs));
    let p = &loaded.config.prometheus;
    if !p.remote_write.is_empty() {
        out.push(remote_write(&http, &base, p.mode == crate::config::PrometheusMode::Agent));
    }
    if p.mode == crate::config::PrometheusMode::Agent {
        // An agent evaluates no rules and sends no alerts.
        out.push(Check::new(C, "rules", Level::Skip, "agent mode: no rules or alerting"));
        return out;
    }
    out.extend(rules(&http, &base, expected_groups));

    // The Alertmanagers prometheus.yml lists (the local one unless configured).
    let wanted: Vec<String> = if !p.alertmanagers.is_empty() {
        p.alertmanagers.clone()
    } else if loaded.config.alertmanager.enabled {
        vec![loaded.local_address(ComponentKind::Alertmanager)]
    } else {
        Vec::new()
    };
    if !wanted.is_empty() {
        out.push(match http.json(&format!("{base}/api/v1/alertmanagers")) {
            Err(e) => Check::new(C, "alertmanagers", Level::Fail, e),
            Ok(data) => {
                let active: Vec<&str> = data
                    .get("activeAlertmanagers")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter().filter_map(|x| x.get("url").and_then(Value::as_str)).collect()
                    })
                    .unwrap_or_default();
                let missing: Vec<&String> = wanted
                    .iter()
                    .filter(|w| !active.iter().any(|u| u.contains(&format!("://{w}/"))))
                    .collect();
                if missing.is_empty() {
                    Check::new(
                        C,
                        "alertmanagers",
                        Level::Ok,
                        format!("knows {}", wanted.join(", ")),
                    )
                } else {
                    let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                    Check::new(
                        C,
                        "alertmanagers",
                        Level::Fail,
                        format!(
                            "{} not among Prometheus's active Alertmanagers ({})",
                            m.join(", "),
                            if active.is_empty() { "none".to_string() } else { active.join(", ") }
                        ),
                    )
                }
            }
        });
    }
    out
}

/// remote_write queues are not failing: the 5m rate of
/// `prometheus_remote_storage_samples_failed_total` per queue (an agent has no query
/// API: its counter since start, from /metrics).
fn remote_write(http: &Http, base: &str, agent: bool) -> Check {
    const C: &str = "prometheus";
    const METRIC: &str = "prometheus_remote_storage_samples_failed_total";
    if agent {
        return match http.get(&format!("{base}/metrics")) {
            Err(e) => Check::new(C, "remote_write", Level::Fail, e),
            Ok(text) => {
                let failed: f64 = text
                    .lines()
                    .filter(|l| l.starts_with(METRIC))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum();
                if failed > 0.0 {
                    Check::new(
                        C,
                        "remote_write",
                        Level::Warn,
                        format!("{failed} samples failed since start ({METRIC})"),
                    )
                } else {
                    Check::new(C, "remote_write", Level::Ok, "no failed samples")
                }
            }
        };
    }
    let query = format!("sum by (remote_name, url) (rate({METRIC}[5m]))");
    let url = format!("{base}/api/v1/query?query={}", url_escape(&query));
    match http.json(&url) {
        Err(e) => Check::new(C, "remote_write", Level::Fail, e),
        Ok(data) => {
            let failing: Vec<String> = data
                .get("result")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    let rate: f64 = r.pointer("/value/1")?.as_str()?.parse().ok()?;
                    let name = r
                        .pointer("/metric/remote_name")
                        .or_else(|| r.pointer("/metric/url"))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    (rate > 0.0).then(|| format!("{name}: {rate:.3} samples/s failing"))
                })
                .collect();
            if failing.is_empty() {
                Check::new(C, "remote_write", Level::Ok, format!("no failed samples ({METRIC})"))
            } else {
                Check::new(C, "remote_write", Level::Fail, failing.join("; "))
            }
        }
    }
}

/// Percent-encode a query parameter value.
pub(super) fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `*_config_last_reload_successful` must be 1: a 0 means the file on disk was
/// rejected and the service runs an older configuration.
pub(super) fn reload(http: &Http, component: &str, base: &str, metric: &str) -> Check {
    match http.get(&format!("{base}/metrics")) {
        Err(e) => Check::new(component, "config loaded", Level::Fail, e),
        Ok(text) => match metric_value(&text, metric) {
            Some(1.0) => {
                Check::new(component, "config loaded", Level::Ok, "last reload successful")
            }
            Some(_) => Check::new(
                component,
                "config loaded",
                Level::Fail,
                format!("{metric} is 0: the last reload was rejected and an older configuration runs (see the service's log)"),
            ),
            None => Check::new(component, "config loaded", Level::Warn, format!("{metric} not exported")),
        },
    }
}

/// One check per active scrape target: `up`, or its `lastError`.
fn targets(http: &Http, base: &str, jobs: &[crate::config::ScrapeConfig]) -> Vec<Check> {
    const C: &str = "prometheus";
    let data = match http.json(&format!("{base}/api/v1/targets?state=active")) {
        Ok(d) => d,
        Err(e) => return vec![Check::new(C, "targets", Level::Fail, e)],
    };
    let mut out = targets_from(&data);
    out.extend(file_sd_from(&data, jobs));
    out
}

/// Per job with `file_sd`: how many targets Prometheus discovered from its files
/// (`__meta_filepath`) and how many are up; none is a warning.
fn file_sd_from(data: &Value, jobs: &[crate::config::ScrapeConfig]) -> Vec<Check> {
    const C: &str = "prometheus";
    let active = data.get("activeTargets").and_then(Value::as_array).cloned().unwrap_or_default();
    jobs.iter()
        .filter(|j| !j.file_sd.is_empty())
        .map(|j| {
            let from_files: Vec<&Value> = active
                .iter()
                .filter(|t| t.get("scrapePool").and_then(Value::as_str) == Some(&j.job_name))
                .filter(|t| t.pointer("/discoveredLabels/__meta_filepath").is_some())
                .collect();
            let up = from_files
                .iter()
                .filter(|t| t.get("health").and_then(Value::as_str) == Some("up"))
                .count();
            let mut files: Vec<&str> = from_files
                .iter()
                .filter_map(|t| t.pointer("/discoveredLabels/__meta_filepath")?.as_str())
                .collect();
            files.sort();
            files.dedup();
            let check = format!("file_sd {}", j.job_name);
            if from_files.is_empty() {
                Check::new(
                    C,
                    check,
                    Level::Warn,
                    format!("no targets in files matching {}", j.file_sd.join(", ")),
                )
            } else {
                Check::new(
                    C,
                    check,
                    Level::Ok,
                    format!("{} targets from {} ({up} up)", from_files.len(), files.join(", ")),
                )
            }
        })
        .collect()
}

/// [`targets`] on the `data` of `/api/v1/targets`.
fn targets_from(data: &Value) -> Vec<Check> {
    const C: &str = "prometheus";
    let active = data.get("activeTargets").and_then(Value::as_array).cloned().unwrap_or_default();
    if active.is_empty() {
        return vec![Check::new(C, "targets", Level::Warn, "no active scrape targets")];
    }
    let mut out: Vec<Check> = active
        .iter()
        .map(|t| {
            let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
            let pool = s("scrapePool");
            let instance =
                t.pointer("/labels/instance").and_then(Value::as_str).unwrap_or(s("scrapeUrl"));
            let check = format!("target {pool} {instance}");
            match s("health") {
                "up" => Check::new(C, check, Level::Ok, "up"),
                "down" => {
                    let err = s("lastError");
                    Check::new(C, check, Level::Fail, if err.is_empty() { "down" } else { err })
                }
                _ => Check::new(C, check, Level::Warn, "not scraped yet"),
            }
        })
        .collect();
    out.sort_by(|a, b| a.check.cmp(&b.check));
    out
}

/// The expected rule groups are loaded and evaluate without error; firing alerts.
fn rules(http: &Http, base: &str, expected: &BTreeSet<(String, String)>) -> Vec<Check> {
    const C: &str = "prometheus";
    let data = match http.json(&format!("{base}/api/v1/rules")) {
        Ok(d) => d,
        Err(e) => return vec![Check::new(C, "rules", Level::Fail, e)],
    };
    rules_from(&data, expected)
}

/// [`rules`] on the `data` of `/api/v1/rules`.
fn rules_from(data: &Value, expected: &BTreeSet<(String, String)>) -> Vec<Check> {
    const C: &str = "prometheus";
    let groups = data.get("groups").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut loaded = BTreeSet::new();
    let mut rule_count = 0;
    let mut broken = Vec::new();
    let mut firing = Vec::new();
    let mut pending = 0;
    for g in &groups {
        let file = g.get("file").and_then(Value::as_str).unwrap_or("");
        let file = file.rsplit('/').next().unwrap_or(file).to_string();
        let name = g.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        loaded.insert((file, name));
        for r in g.get("rules").and_then(Value::as_array).into_iter().flatten() {
            rule_count += 1;
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            if s("health") == "err" {
                broken.push(format!("{}: {}", s("name"), s("lastError")));
            }
            for a in r.get("alerts").and_then(Value::as_array).into_iter().flatten() {
                match a.get("state").and_then(Value::as_str) {
                    Some("firing") => {
                        let sev = a.pointer("/labels/severity").and_then(Value::as_str);
                        firing.push(match sev {
                            Some(sev) => format!("{} ({sev})", s("name")),
                            None => s("name").to_string(),
                        });
                    }
                    Some("pending") => pending += 1,
                    _ => {}
                }
            }
        }
    }
    let missing: Vec<String> =
        expected.difference(&loaded).map(|(f, g)| format!("{g} ({f})")).collect();
    let rules_check = if !missing.is_empty() {
        Check::new(C, "rules", Level::Fail, format!("not loaded: {}", missing.join(", ")))
    } else if !broken.is_empty() {
        Check::new(C, "rules", Level::Fail, format!("evaluation failing: {}", broken.join("; ")))
    } else {
        Check::new(
            C,
            "rules",
            Level::Ok,
            format!(
                "{} group{}, {rule_count} rules loaded",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" }
            ),
        )
    };
    firing.sort();
    firing.dedup();
    let alerts_check = if firing.is_empty() {
        let p = if pending > 0 { format!(" ({pending} pending)") } else { String::new() };
        Check::new(C, "alerts", Level::Ok, format!("none firing{p}"))
    } else {
        // Alerts firing mean the stack works; what they report is not the stack's fault.
        Check::new(C, "alerts", Level::Warn, format!("firing: {}", firing.join(", ")))
    };
    vec![rules_check, alerts_check]
}

/// Alertmanager (when enabled): ready and its configuration loaded.
pub fn alertmanager(loaded: &Loaded, timeout: Duration) -> Vec<Check> {
    const C: &str = "alertmanager";
    if !loaded.config.alertmanager.enabled {
        return Vec::new();
    }
    let http = match Http::new(loaded, ComponentKind::Alertmanager, timeout) {
        Ok(h) => h,
        Err(e) => return vec![Check::new(C, "ready", Level::Fail, e)],
    };
    let base = http.base.clone();
    match http.get(&format!("{base}/-/ready")) {
        Err(e) => vec![Check::new(C, "ready", Level::Fail, e)],
        Ok(_) => vec![
            Check::new(C, "ready", Level::Ok, format!("{base}/-/ready{}", http.how())),
            reload(&http, C, &base, "alertmanager_config_last_reload_successful"),
        ],
    }
}

/// node_exporter (when enabled): /metrics answers with node metrics.
pub fn node_exporter(loaded: &Loaded, timeout: Duration) -> Vec<Check> {
    const C: &str = "node_exporter";
    if !loaded.config.node_exporter.enabled {
        return Vec::new();
    }
    let http = match Http::new(loaded, ComponentKind::NodeExporter, timeout) {
        Ok(h) => h,
        Err(e) => return vec![Check::new(C, "metrics", Level::Fail, e)],
    };
    let url = format!("{}/metrics", http.base);
    vec![match http.get(&url) {
        Err(e) => Check::new(C, "metrics", Level::Fail, e),
        Ok(text) => {
            let series = text.lines().filter(|l| l.starts_with("node_")).count();
            if series == 0 {
                Check::new(C, "metrics", Level::Fail, format!("{url} serves no node_* metrics"))
            } else {
                Check::new(
                    C,
                    "metrics",
                    Level::Ok,
                    format!("{url}: {series} node_* series{}", http.how()),
                )
            }
        }
    }]
}

/// Grafana installed by monstack (`grafana_server`): `/api/health` answers with the
/// database ok and the configured version.
pub fn grafana_server(loaded: &Loaded, timeout: Duration) -> Vec<Check> {
    const C: &str = "grafana_server";
    if !crate::grafana_server::managed(loaded) {
        return Vec::new();
    }
    let http = match Http::new(loaded, ComponentKind::GrafanaServer, timeout) {
        Ok(h) => h,
        Err(e) => return vec![Check::new(C, "health", Level::Fail, e)],
    };
    let url = format!("http://{}/api/health", loaded.local_address(ComponentKind::GrafanaServer));
    let body = http.get(&url).and_then(|text| {
        serde_json::from_str::<Value>(&text).map_err(|e| format!("{url}: not JSON: {e}"))
    });
    vec![match body {
        Err(e) => Check::new(C, "health", Level::Fail, e),
        Ok(v) => health_check(&v, &url, &loaded.config.grafana_server.version),
    }]
}

fn health_check(v: &Value, url: &str, want: &str) -> Check {
    const C: &str = "grafana_server";
    let db = v.get("database").and_then(Value::as_str).unwrap_or("");
    let version = v.get("version").and_then(Value::as_str).unwrap_or("");
    if db != "ok" {
        Check::new(C, "health", Level::Fail, format!("{url}: database `{db}`"))
    } else if version != want {
        Check::new(
            C,
            "health",
            Level::Fail,
            format!("{url}: Grafana {version} runs, the config wants {want}"),
        )
    } else {
        Check::new(C, "health", Level::Ok, format!("{url}: Grafana {version}, database ok"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> BTreeSet<(String, String)> {
        let rules = RenderedFile {
            path: "/opt/prometheus/rules/app.yml".into(),
            content: b"groups:\n  - name: app\n    rules: []\n  - name: slo\n    rules: []\n"
                .to_vec(),
            mode: 0o644,
            owner: None,
            group: None,
            role: FileRole::PrometheusRules,
            secrets: vec![],
        };
        expected_rule_groups(&[rules])
    }

    fn group(file: &str, name: &str, rules: Value) -> Value {
        json!({"name": name, "file": file, "rules": rules})
    }

    #[test]
    fn grafana_server_health_wants_the_configured_version() {
        let ok = json!({"database": "ok", "version": "12.2.0"});
        assert_eq!(health_check(&ok, "u", "12.2.0").level, Level::Ok);
        let other = health_check(&ok, "u", "12.3.0");
        assert_eq!(other.level, Level::Fail);
        assert!(other.reason.contains("wants 12.3.0"), "{}", other.reason);
        let db = json!({"database": "failing", "version": "12.2.0"});
        assert_eq!(health_check(&db, "u", "12.2.0").level, Level::Fail);
    }

    #[test]
    fn a_group_missing_from_prometheus_fails_and_firing_alerts_warn() {
        let data = json!({"groups": [group("/x/opt/prometheus/rules/app.yml", "app", json!([
            {"name": "Down", "health": "ok", "alerts": [
                {"state": "firing", "labels": {"severity": "critical"}},
                {"state": "firing", "labels": {"severity": "critical"}},
            ]},
            {"name": "Slow", "health": "ok", "alerts": [{"state": "pending", "labels": {}}]},
        ]))]});
        let checks = rules_from(&data, &expected());
        assert_eq!(checks[0].level, Level::Fail);
        assert_eq!(checks[0].reason, "not loaded: slo (app.yml)");
        assert_eq!(checks[1].level, Level::Warn);
        assert_eq!(checks[1].reason, "firing: Down (critical)");
    }

    #[test]
    fn loaded_groups_pass_unless_a_rule_fails_to_evaluate() {
        let ok = json!({"groups": [
            group("/opt/prometheus/rules/app.yml", "app", json!([{"name": "A", "health": "ok", "alerts": []}])),
            group("/opt/prometheus/rules/app.yml", "slo", json!([{"name": "B", "health": "ok", "alerts": [{"state": "pending"}]}])),
        ]});
        let checks = rules_from(&ok, &expected());
        assert_eq!(
            (checks[0].level, checks[0].reason.as_str()),
            (Level::Ok, "2 groups, 2 rules loaded")
        );
        assert_eq!(
            (checks[1].level, checks[1].reason.as_str()),
            (Level::Ok, "none firing (1 pending)")
        );
        let mut bad = ok.clone();
        bad["groups"][1]["rules"][0]["health"] = "err".into();
        bad["groups"][1]["rules"][0]["lastError"] = "many-to-many matching not allowed".into();
        let checks = rules_from(&bad, &expected());
        assert_eq!(checks[0].level, Level::Fail);
        assert!(checks[0].reason.contains("B: many-to-many"), "{:?}", checks[0]);
    }

    #[test]
    fn targets_report_health_and_last_error() {
        let data = json!({"activeTargets": [
            {"scrapePool": "node", "labels": {"instance": "h:9100"}, "health": "down", "lastError": "connection refused"},
            {"scrapePool": "app", "labels": {"instance": "h:8000"}, "health": "unknown", "lastError": ""},
            {"scrapePool": "prometheus", "labels": {"instance": "h:9090"}, "health": "up", "lastError": ""},
        ]});
        let got: Vec<(String, Level, String)> =
            targets_from(&data).into_iter().map(|c| (c.check, c.level, c.reason)).collect();
        assert_eq!(
            got,
            vec![
                ("target app h:8000".into(), Level::Warn, "not scraped yet".into()),
                ("target node h:9100".into(), Level::Fail, "connection refused".into()),
                ("target prometheus h:9090".into(), Level::Ok, "up".into()),
            ]
        );
        assert_eq!(targets_from(&json!({"activeTargets": []}))[0].level, Level::Warn);
    }
}
