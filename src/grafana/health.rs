//! Read-only health probes for `monstack status`: Grafana answers `/api/health`, the
//! managed datasource exists and passes Grafana's own health check, and every managed
//! dashboard is present with the desired content (compared exactly as `plan` does, by
//! [`dashboard::observe`]). One attempt per request with a short timeout, so a dead
//! Grafana slows `status` by at most that; nothing is written.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::{client, dashboard, parallel, Error};
use crate::config::{GrafanaMode, Loaded};
use crate::report::Action;

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `api`, `datasource` or `dashboard <uid>`.
    pub check: String,
    pub ok: bool,
    /// One line for people; never a credential.
    pub reason: String,
}

impl Health {
    fn new(check: impl Into<String>, ok: bool, reason: impl Into<String>) -> Health {
        Health { check: check.into(), ok, reason: reason.into() }
    }
}

/// Probe Grafana with `timeout` per request. Empty when Grafana is disabled or in
/// `files` mode (the provisioning files are then checked as files). Errors only for
/// config problems (an unreadable or uid-less dashboard file); everything Grafana
/// does wrong is a failed [`Health`].
pub fn health(
    loaded: &Loaded,
    state_dir: &Path,
    timeout: Duration,
) -> crate::error::Result<Vec<Health>> {
    let g = &loaded.config.grafana;
    if !g.enabled || g.mode == GrafanaMode::Files {
        return Ok(Vec::new());
    }
    let dashboards = dashboard::load_desired(loaded)?;
    // The same client as apply (TLS, credentials, org header), but one quick attempt.
    let mut quick = loaded.clone();
    quick.resolved.grafana_request_timeout = timeout.max(Duration::from_millis(1));
    quick.config.grafana.retries = 1;
    let client = match client::Client::new(&quick) {
        Ok(c) => c,
        Err(e) => return Ok(vec![Health::new("api", false, one_line(&e))]),
    };

    // API-FACTS §1: 200 + `"database":"ok"` when healthy, 503 + `"failing"` otherwise.
    match client.send(Method::GET, "/api/health", None, "grafana health") {
        Ok(r) if r.status.is_success() => {
            client.remember_health(&r.body);
            let version = r.body.get("version").and_then(Value::as_str).unwrap_or("");
            let v = if version.is_empty() { String::new() } else { format!(", version {version}") };
            let mut out = vec![Health::new("api", true, format!("database ok{v}"))];
            out.push(datasource(&client, &g.datasource.uid));
            let api = match dashboard::discover(&client, g.org_id) {
                Ok(a) => a,
                Err(e) => {
                    out.push(Health::new("api", false, one_line(&e)));
                    return Ok(out);
                }
            };
            let ledger = super::fingerprint::Ledger::open(
                state_dir,
                &format!("{}#{}", client.base(), g.org_id.unwrap_or(1)),
            );
            let abort = AtomicBool::new(false);
            let results = parallel(&client, &dashboards, g.concurrency, &abort, |d| {
                dashboard::observe(&client, &api, &ledger, d, d.folder_uid(&g.folder.uid))
                    .map(|p| p.action)
            });
            for (d, r) in dashboards.iter().zip(results) {
                let check = format!("dashboard {}", d.uid);
                out.push(match r {
                    Some(Ok(Action::Unchanged)) => {
                        Health::new(check, true, format!("\"{}\" as provisioned", d.title))
                    }
                    Some(Ok(Action::Create)) => Health::new(
                        check,
                        false,
                        format!("\"{}\" is missing; run `monstack apply`", d.title),
                    ),
                    Some(Ok(_)) => Health::new(
                        check,
                        false,
                        format!(
                            "\"{}\" differs from {} (content or folder); run `monstack apply`",
                            d.title, d.source
                        ),
                    ),
                    Some(Err(e)) => Health::new(check, false, one_line(&e)),
                    None => Health::new(check, false, "not checked (credentials refused)"),
                });
            }
            Ok(out)
        }
        Ok(r) => {
            let db = r.body.get("database").and_then(Value::as_str).unwrap_or("unknown");
            Ok(vec![Health::new(
                "api",
                false,
                format!("/api/health answered {} (database {db})", r.status.as_u16()),
            )])
        }
        Err(e) => Ok(vec![Health::new("api", false, one_line(&e))]),
    }
}

/// The datasource exists (a missing uid makes the health endpoint answer 500, API-FACTS
/// §2.7, so look it up first) and Grafana's health check of it passes.
fn datasource(client: &client::Client, uid: &str) -> Health {
    let seg = super::datasource::encode_segment(uid);
    let object = format!("datasource `{uid}`");
    match client.send(Method::GET, &format!("/api/datasources/uid/{seg}"), None, &object) {
        Ok(r) if r.status.as_u16() == 404 => {
            return Health::new(
                "datasource",
                false,
                format!("`{uid}` does not exist; run `monstack apply`"),
            )
        }
        Ok(r) if !r.status.is_success() => {
            return Health::new(
                "datasource",
                false,
                format!("`{uid}`: {} {}", r.status.as_u16(), r.message()),
            )
        }
        Ok(_) => {}
        Err(e) => return Health::new("datasource", false, one_line(&e)),
    }
    match client.send(Method::GET, &format!("/api/datasources/uid/{seg}/health"), None, &object) {
        // API-FACTS §2.7: 200 when the plugin says OK, 400 with the same shape otherwise.
        Ok(r) if matches!(r.status.as_u16(), 200 | 400) => {
            let status = r.body.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN");
            Health::new("datasource", status == "OK", format!("`{uid}`: {}", r.message()))
        }
        Ok(r) => Health::new(
            "datasource",
            false,
            format!("`{uid}` health: {} {}", r.status.as_u16(), r.message()),
        ),
        Err(e) => Health::new("datasource", false, one_line(&e)),
    }
}

/// An error as one line; a single failed attempt reads as what happened.
fn one_line(e: &Error) -> String {
    let s = match e {
        Error::Transient { object, last, .. } => format!("{object}: {last}"),
        e => e.to_string(),
    };
    s.lines().next().unwrap_or("").to_string()
}
