//! Talking to the running services over loopback HTTP: readiness (`/-/ready` polled
//! with backoff, never a blind sleep) and a reload whose outcome is verified.
//!
//! A reload is checked, not assumed: SIGHUP and `systemctl reload` report success even
//! for a config the service rejects. `POST /-/reload` answers 500 with the error, and
//! `*_config_last_reload_successful` on /metrics must read 1 afterwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::ComponentKind;
use crate::http::{self, metric_value, root_cause};
use crate::services::ServiceManager;
use crate::web::WebClient;

/// How long a (re)started service may take to become ready by default. Prometheus
/// replays its WAL before it answers ready, which takes minutes on a large TSDB.
pub const READY_TIMEOUT: Duration = Duration::from_secs(300);

static READY_TIMEOUT_MS: AtomicU64 = AtomicU64::new(READY_TIMEOUT.as_millis() as u64);

/// The readiness deadline of this run (`--ready-timeout`).
pub fn ready_timeout() -> Duration {
    Duration::from_millis(READY_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Set the readiness deadline of this run.
pub fn set_ready_timeout(d: Duration) {
    READY_TIMEOUT_MS.store(d.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
}

/// A reload the service refused, with its own error text.
#[derive(Debug, thiserror::Error)]
#[error("`{component}` rejected the new configuration: {message}")]
pub struct Rejected {
    pub component: ComponentKind,
    pub message: String,
}

/// Why a [`reload`] did not take: the service refused the configuration (apply then
/// adds the service's log and restores the previous files), or the reload could not be
/// done or verified at all.
#[derive(Debug)]
pub enum ReloadError {
    Rejected(Rejected),
    Failed(crate::error::Error),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Rejected(r) => std::fmt::Display::fmt(r, f),
            ReloadError::Failed(e) => std::fmt::Display::fmt(e, f),
        }
    }
}

impl From<crate::error::Error> for ReloadError {
    fn from(e: crate::error::Error) -> Self {
        Self::Failed(e)
    }
}

impl From<ReloadError> for crate::error::Error {
    fn from(e: ReloadError) -> Self {
        match e {
            ReloadError::Rejected(r) => r.into(),
            ReloadError::Failed(e) => e,
        }
    }
}

fn client(web: &WebClient) -> crate::error::Result<reqwest::blocking::Client> {
    web.build(
        http::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .no_proxy(),
    )
}

/// The path that answers 200 once the component serves: node_exporter has no
/// `/-/ready`, its landing page serves that purpose.
fn ready_path(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::NodeExporter => "/",
        // blackbox_exporter has `/-/healthy` and no `/-/ready`.
        ComponentKind::BlackboxExporter => "/-/healthy",
        // Grafana: 200 once its database answers (API-FACTS §1).
        ComponentKind::GrafanaServer => "/api/health",
        _ => "/-/ready",
    }
}

/// Poll readiness with exponential backoff until 200, the process dies (`alive`
/// returns false: fail at once with the log tail) or `timeout` passes.
pub fn wait_ready(
    kind: ComponentKind,
    address: &str,
    web: &WebClient,
    timeout: Duration,
    alive: &dyn Fn() -> bool,
    log_tail: &dyn Fn() -> String,
) -> crate::error::Result<Duration> {
    wait_ready_serving(kind, address, web, timeout, alive, &|| true, log_tail)
}

/// [`wait_ready`], where a 200 counts only when `serves` says the answer came from
/// the service itself (not from another process that holds its port).
pub fn wait_ready_serving(
    kind: ComponentKind,
    address: &str,
    web: &WebClient,
    timeout: Duration,
    alive: &dyn Fn() -> bool,
    serves: &dyn Fn() -> bool,
    log_tail: &dyn Fn() -> String,
) -> crate::error::Result<Duration> {
    let url = web.url(address, ready_path(kind));
    let http = web.build(
        http::builder()
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(5))
            .no_proxy(),
    )?;
    let start = Instant::now();
    let mut delay = Duration::from_millis(25);
    loop {
        let last = match web.auth(http.get(&url)).send() {
            // Ours must still be alive: another process may hold the port.
            Ok(r) if r.status().is_success() && alive() && serves() => return Ok(start.elapsed()),
            Ok(r) if r.status().is_success() && alive() => {
                format!("{url} answered, but not from `{kind}`: another process holds the port")
            }
            Ok(r) => format!("{} answered {}", url, r.status()),
            Err(e) => format!("{url}: {}", root_cause(&e)),
        };
        if !alive() {
            let tail = log_tail();
            crate::bail!(
                "`{kind}` exited before it became ready{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its log ends with:\n{tail}")
                }
            );
        }
        if start.elapsed() > timeout {
            crate::bail!(
                "`{kind}` was not ready after {}: {last}",
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            );
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Poll Prometheus's `/api/v1/alertmanagers` until every one of `wanted` (`host:port`)
/// is active, up to `timeout`: a started or reloaded Prometheus discovers even static
/// Alertmanagers only after a few seconds, and `status` checks them. Err names the
/// missing ones.
pub fn wait_alertmanagers(
    prometheus: &str,
    web: &WebClient,
    wanted: &[String],
    timeout: Duration,
) -> crate::error::Result<Duration> {
    let url = web.url(prometheus, "/api/v1/alertmanagers");
    let http = client(web)?;
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let active: Vec<String> = web
            .auth(http.get(&url))
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| {
                v.pointer("/data/activeAlertmanagers").and_then(|a| a.as_array()).map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("url").and_then(|u| u.as_str()).map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default();
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !active.iter().any(|u| u.contains(&format!("://{w}/"))))
            .collect();
        if missing.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            crate::bail!(
                "Prometheus did not list {} among its active Alertmanagers within {}",
                m.join(", "),
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            );
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// Metric names that tell whether the last reload took.
fn reload_metrics(kind: ComponentKind) -> Option<(&'static str, &'static str)> {
    match kind {
        ComponentKind::Prometheus => Some((
            "prometheus_config_last_reload_successful",
            "prometheus_config_last_reload_success_timestamp_seconds",
        )),
        ComponentKind::Alertmanager => Some((
            "alertmanager_config_last_reload_successful",
            "alertmanager_config_last_reload_success_timestamp_seconds",
        )),
        ComponentKind::BlackboxExporter => Some((
            "blackbox_exporter_config_last_reload_successful",
            "blackbox_exporter_config_last_reload_success_timestamp_seconds",
        )),
        ComponentKind::NodeExporter | ComponentKind::GrafanaServer => None,
    }
}

fn metrics(address: &str, web: &WebClient) -> crate::error::Result<String> {
    let url = web.url(address, "/metrics");
    let r = web
        .auth(client(web)?.get(&url))
        .send()
        .map_err(|e| crate::failure!("{url}: {}", root_cause(&e)))?;
    if !r.status().is_success() {
        crate::bail!("{url} answered {}", r.status());
    }
    Ok(r.text()?)
}

/// Reload `kind` and verify it took. `POST /-/reload` first; when the endpoint is
/// disabled (Prometheus without --web.enable-lifecycle answers 403) fall back to the
/// manager's signal and watch the success timestamp move (or the success flag drop).
pub fn reload(
    kind: ComponentKind,
    address: &str,
    web: &WebClient,
    manager: &dyn ServiceManager,
) -> Result<(), ReloadError> {
    let Some((ok_metric, ts_metric)) = reload_metrics(kind) else { return Ok(()) };
    let url = web.url(address, "/-/reload");
    let before = metrics(address, web).ok().and_then(|m| metric_value(&m, ts_metric));
    let resp = web
        .auth(client(web)?.post(&url))
        .send()
        .map_err(|e| crate::failure!("{url}: {}", root_cause(&e)))?;
    let status = resp.status().as_u16();
    match status {
        200..=299 => {}
        403 => {
            manager.signal_reload(kind)?;
            let start = Instant::now();
            loop {
                let m = metrics(address, web)?;
                let ok = metric_value(&m, ok_metric);
                let ts = metric_value(&m, ts_metric);
                if ok == Some(0.0) {
                    break;
                }
                if ts.is_some() && ts != before {
                    break;
                }
                if start.elapsed() > Duration::from_secs(30) {
                    crate::bail!("`{kind}` did not reload within 30s of the signal");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        _ => {
            let body = resp.text().unwrap_or_default();
            let message = body.trim().to_string();
            return Err(ReloadError::Rejected(Rejected { component: kind, message }));
        }
    }
    let m = metrics(address, web)?;
    match metric_value(&m, ok_metric) {
        Some(1.0) => Ok(()),
        Some(_) => Err(ReloadError::Rejected(Rejected {
            component: kind,
            message: format!("{ok_metric} is 0 after the reload (see the service's log)"),
        })),
        None => crate::bail!("`{kind}` does not export {ok_metric}; cannot verify the reload"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unlabelled_metrics() {
        let text = "# HELP x\n# TYPE x gauge\nprometheus_config_last_reload_successful 1\nprometheus_config_last_reload_success_timestamp_seconds 1.7e+09\n";
        assert_eq!(metric_value(text, "prometheus_config_last_reload_successful"), Some(1.0));
        assert_eq!(
            metric_value(text, "prometheus_config_last_reload_success_timestamp_seconds"),
            Some(1.7e9)
        );
        assert_eq!(metric_value(text, "prometheus_config"), None);
    }
}
