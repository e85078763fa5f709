//! blackbox_exporter's status: its own health and config, and whether each probe
//! succeeds (`probe_success` per job and target, as Prometheus last scraped it).

use std::time::Duration;

use serde_json::Value;

use super::probe::{reload, url_escape, Http};
use super::{Check, Level};
use crate::config::{ComponentKind, Loaded};

const C: &str = "blackbox_exporter";

/// `ready` (`/-/healthy`), `config loaded`, then one `probe <job> <target>` per target
/// of `prometheus.probes`.
pub fn checks(loaded: &Loaded, timeout: Duration) -> Vec<Check> {
    if !loaded.config.blackbox_exporter.enabled {
        return Vec::new();
    }
    let http = match Http::new(loaded, ComponentKind::BlackboxExporter, timeout) {
        Ok(h) => h,
        Err(e) => return vec![Check::new(C, "ready", Level::Fail, e)],
    };
    let base = http.base.clone();
    let mut out = match http.get(&format!("{base}/-/healthy")) {
        Err(e) => vec![Check::new(C, "ready", Level::Fail, e)],
        Ok(_) => vec![
            Check::new(C, "ready", Level::Ok, format!("{base}/-/healthy{}", http.how())),
            reload(&http, C, &base, "blackbox_exporter_config_last_reload_successful"),
        ],
    };
    out.extend(probes(loaded, timeout));
    out
}

/// `probe_success` of every configured probe target, from Prometheus's query API.
fn probes(loaded: &Loaded, timeout: Duration) -> Vec<Check> {
    let probes = &loaded.config.prometheus.probes;
    if probes.is_empty() {
        return Vec::new();
    }
    if !loaded.config.prometheus.enabled {
        return vec![Check::new(C, "probes", Level::Skip, "Prometheus is disabled: nobody probes")];
    }
    let result = Http::new(loaded, ComponentKind::Prometheus, timeout).and_then(|http| {
        let url = format!("{}/api/v1/query?query={}", http.base, url_escape("probe_success"));
        http.json(&url)
    });
    let data = match result {
        Ok(d) => d,
        Err(e) => return vec![Check::new(C, "probes", Level::Fail, e)],
    };
    probes_from(&data, probes)
}

/// [`probes`] on the `data` of an instant query for `probe_success`.
fn probes_from(data: &Value, probes: &[crate::config::Probe]) -> Vec<Check> {
    let series = data.get("result").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for p in probes {
        for target in &p.targets {
            let value = series.iter().find_map(|s| {
                let label = |k: &str| s.pointer(&format!("/metric/{k}")).and_then(Value::as_str);
                (label("job") == Some(p.job_name.as_str()) && label("instance") == Some(target))
                    .then(|| s.pointer("/value/1").and_then(Value::as_str).unwrap_or(""))
            });
            let check = format!("probe {} {target}", p.job_name);
            out.push(match value {
                Some("1") => Check::new(C, check, Level::Ok, format!("succeeds ({})", p.module)),
                Some(v) => Check::new(
                    C,
                    check,
                    Level::Fail,
                    format!("fails: probe_success {v} with module `{}`", p.module),
                ),
                None => Check::new(C, check, Level::Warn, "not probed yet"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_probe_success_per_job_and_target() {
        let data = serde_json::json!({"result": [
            {"metric": {"job": "web", "instance": "http://a/"}, "value": [1, "1"]},
            {"metric": {"job": "web", "instance": "http://b/"}, "value": [1, "0"]},
            {"metric": {"job": "other", "instance": "http://c/"}, "value": [1, "1"]},
        ]});
        let probe = crate::config::Probe {
            job_name: "web".into(),
            module: "http_2xx".into(),
            targets: vec!["http://a/".into(), "http://b/".into(), "http://c/".into()],
            scrape_interval: None,
        };
        let checks = probes_from(&data, &[probe]);
        let levels: Vec<Level> = checks.iter().map(|c| c.level).collect();
        assert_eq!(levels, [Level::Ok, Level::Fail, Level::Warn]);
        assert_eq!(checks[1].check, "probe web http://b/");
    }
}
