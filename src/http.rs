//! HTTP for every module that talks to a server: one client builder (downloads,
//! Grafana, status probes, readiness and reload checks) and the probe helpers the
//! status checks and apply's lifecycle share.

use std::time::Duration;

use reqwest::blocking::{Client, ClientBuilder};

/// The one client builder: monstack's user agent; callers add timeouts, TLS roots and
/// pool sizes.
pub fn builder() -> ClientBuilder {
    Client::builder().user_agent(concat!("monstack/", env!("CARGO_PKG_VERSION")))
}

/// A client for the stack's own loopback endpoints: no proxy, the given timeouts.
pub fn loopback(connect_timeout: Duration, timeout: Duration) -> reqwest::Result<Client> {
    builder().connect_timeout(connect_timeout).timeout(timeout).no_proxy().build()
}

/// The innermost cause of an error (`connection refused`, not the reqwest wrapping).
pub fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Value of an unlabelled metric in Prometheus text format.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The URLs of the active Alertmanagers in the `data` of Prometheus's
/// `/api/v1/alertmanagers` answer.
pub fn active_alertmanagers(data: &serde_json::Value) -> Vec<String> {
    data.get("activeAlertmanagers")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("url").and_then(serde_json::Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The `host:port`s of `wanted` that no active Alertmanager URL points at.
pub fn missing_alertmanagers<'a>(wanted: &'a [String], active: &[String]) -> Vec<&'a str> {
    wanted
        .iter()
        .filter(|w| !active.iter().any(|u| u.contains(&format!("://{w}/"))))
        .map(String::as_str)
        .collect()
}

/// An apt repository URL monstack accepts: https, or http on loopback (a local mirror;
/// apt checks the signed InRelease either way).
pub fn repository_url_ok(repository: &str) -> bool {
    let url = repository.split_whitespace().next().unwrap_or("");
    url.starts_with("https://")
        || ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| {
            url.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanagers_not_active_are_missing() {
        let data = serde_json::json!({"activeAlertmanagers": [
            {"url": "http://127.0.0.1:9093/api/v2/alerts"}]});
        let active = active_alertmanagers(&data);
        let wanted = vec!["127.0.0.1:9093".to_string(), "10.0.0.2:9093".to_string()];
        assert_eq!(missing_alertmanagers(&wanted, &active), ["10.0.0.2:9093"]);
    }

    #[test]
    fn metric_values_are_read_from_unlabelled_lines() {
        let text = "# HELP x\nx_total{a=\"b\"} 3\nx_total 7\ny 1e3\n";
        assert_eq!(metric_value(text, "x_total"), Some(7.0));
        assert_eq!(metric_value(text, "y"), Some(1000.0));
        assert_eq!(metric_value(text, "z"), None);
    }

    #[test]
    fn root_cause_is_the_innermost_error() {
        #[derive(Debug, thiserror::Error)]
        #[error("request failed")]
        struct Outer(#[source] std::io::Error);
        let outer = Outer(std::io::Error::other("connection refused"));
        assert_eq!(outer.to_string(), "request failed");
        assert_eq!(root_cause(&outer), "connection refused");
    }
}
