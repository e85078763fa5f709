//! Talking to the running services over loopback HTTP: readiness (`/-/ready` polled
//! with backoff, never a blind sleep) and a reload whose outcome is verified.
//!
//! A reload is checked, not assumed: SIGHUP and `systemctl reload` report success even
//! for a config the service rejects. `POST /-/reload` answers 500 with the error, and
//! `*_config_last_reload_successful` on /metrics must read 1 afterwards.

use std::time::{Duration, Instant};

use crate::config::ComponentKind;
use crate::http::{self, metric_value, root_cause};
use crate::services::ServiceManager;
use crate::web::WebClient;

pub use crate::ready::{
    ready_timeout, set_ready_timeout, wait_ready, wait_ready_serving, READY_TIMEOUT,
};

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
        let active = web
            .auth(http.get(&url))
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v.get("data").map(http::active_alertmanagers))
            .unwrap_or_default();
        let missing = http::missing_alertmanagers(wanted, &active);
        if missing.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            crate::error::bail!(
                "Prometheus did not list {} among its active Alertmanagers within {}",
                missing.join(", "),
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
        .map_err(|e| crate::error::failure!("{url}: {}", root_cause(&e)))?;
    if !r.status().is_success() {
        crate::error::bail!("{url} answered {}", r.status());
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
        .map_err(|e| crate::error::failure!("{url}: {}", root_cause(&e)))?;
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
                    crate::error::bail!("`{kind}` did not reload within 30s of the signal");
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
        None => {
            crate::error::bail!("`{kind}` does not export {ok_metric}; cannot verify the reload")
        }
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
