//! Checks of the `prometheus` section, and of flags and keys against the target release.

use std::collections::HashSet;

use super::{Checks, File, DEFAULT_RULES_FILE};
use crate::config::schema::{ComponentKind, PrometheusMode};
use crate::config::values::*;
use crate::versions::Item;

/// The `prometheus` section.
pub(super) fn prometheus(ck: &mut Checks, l: &File) {
    let c = l.config;
    let p = &c.prometheus;
    ck.duration(&p.global.scrape_interval, "prometheus.global.scrape_interval", "15s");
    ck.duration(&p.global.evaluation_interval, "prometheus.global.evaluation_interval", "15s");
    if let Some(r) = &p.retention_time {
        ck.duration(r, "prometheus.retention_time", "15d");
    }
    scrape_configs(ck, p);
    if let Some(size) = &p.retention_size {
        ck.check(
            valid_size(size),
            "prometheus.retention_size",
            format!("`{size}` is not a size like 50GB (B, KB, MB, GB, TB, PB, EB)"),
        );
    }
    // Rule files are installed flat under {install_dir}/rules, so names must not collide.
    let mut rule_names = HashSet::new();
    if p.default_rules {
        rule_names.insert(DEFAULT_RULES_FILE.to_string());
    }
    for (i, rf) in p.rule_files.iter().enumerate() {
        let path = l.resolve(rf);
        ck.check(
            path.is_file(),
            &format!("prometheus.rule_files[{i}]"),
            format!("rule file `{}` does not exist", path.display()),
        );
        let base = rf.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
        ck.check(
            rule_names.insert(base.clone()),
            &format!("prometheus.rule_files[{i}]"),
            format!("another rule file is already installed as `rules/{base}`; rename one of them"),
        );
    }
    for (i, am) in p.alertmanagers.iter().enumerate() {
        ck.check(
            valid_target(am),
            &format!("prometheus.alertmanagers[{i}]"),
            format!("`{am}` is not a host:port target"),
        );
    }
}

/// The version- and mode-dependent checks of the `prometheus` section (agent mode,
/// remote_write, keys a release does not have).
pub(super) fn prometheus_versions(ck: &mut Checks, l: &File) {
    let p = &l.config.prometheus;
    if !p.enabled {
        return;
    }
    let kind = ComponentKind::Prometheus;
    if p.mode == PrometheusMode::Agent {
        ck.check(
            crate::versions::has(kind, Item::Flag("--storage.agent.path"), &p.version),
            "prometheus.mode",
            format!(
                "agent mode needs Prometheus 2.32 or later; the target version is {}",
                p.version
            ),
        );
        ck.check(
            !p.remote_write.is_empty(),
            "prometheus.remote_write",
            "agent mode forwards every sample with remote_write: add at least one `url`",
        );
        for (field, set) in [
            ("prometheus.rule_files", !p.rule_files.is_empty()),
            ("prometheus.alertmanagers", !p.alertmanagers.is_empty()),
            ("prometheus.retention_time", p.retention_time.is_some()),
            ("prometheus.retention_size", p.retention_size.is_some()),
        ] {
            ck.check(!set, field, "not used in agent mode (no rules, alerting or TSDB): remove it");
        }
    }
    let mut names = HashSet::new();
    for (i, rw) in p.remote_write.iter().enumerate() {
        let f = format!("prometheus.remote_write[{i}]");
        let scheme_ok = rw.url.starts_with("http://") || rw.url.starts_with("https://");
        ck.check(scheme_ok, &format!("{f}.url"), format!("`{}` is not an http(s) URL", rw.url));
        if let Some(m) = url_problem(&rw.url, "use basic_auth with a password_file") {
            ck.check(false, &format!("{f}.url"), m);
        }
        if let Some(n) = &rw.name {
            ck.check(
                !n.is_empty() && names.insert(n.clone()),
                &format!("{f}.name"),
                format!("`{n}` is empty or used twice"),
            );
        }
        if let Some(b) = &rw.basic_auth {
            ck.check(
                b.password_file.is_absolute(),
                &format!("{f}.basic_auth.password_file"),
                "must be an absolute path on the host (Prometheus reads it)",
            );
        }
        remote_write_extras(ck, &f, rw);
    }
    for (i, job) in p.scrape_configs.iter().enumerate() {
        if job.always_scrape_classic_histograms.is_some() {
            let names = ["always_scrape_classic_histograms", "scrape_classic_histograms"];
            ck.check(
                crate::versions::key_name(kind, &names, &p.version).is_some(),
                &format!("prometheus.scrape_configs[{i}].always_scrape_classic_histograms"),
                format!("Prometheus {} has no such setting (it arrived in 2.45)", p.version),
            );
        }
    }
}

/// bearer token, TLS, queue and relabelling of one `remote_write` entry.
fn remote_write_extras(ck: &mut Checks, f: &str, rw: &crate::config::RemoteWrite) {
    const HOST: &str = "must be an absolute path on the host (Prometheus reads it)";
    if let Some(t) = &rw.bearer_token_file {
        ck.check(t.is_absolute(), &format!("{f}.bearer_token_file"), HOST);
        ck.check(
            rw.basic_auth.is_none(),
            &format!("{f}.bearer_token_file"),
            "set basic_auth or bearer_token_file, not both",
        );
    }
    if let Some(tls) = &rw.tls {
        for (key, p) in
            [("ca_file", &tls.ca_file), ("cert_file", &tls.cert_file), ("key_file", &tls.key_file)]
        {
            if let Some(p) = p {
                ck.check(p.is_absolute(), &format!("{f}.tls.{key}"), HOST);
            }
        }
        ck.check(
            tls.cert_file.is_some() == tls.key_file.is_some(),
            &format!("{f}.tls"),
            "cert_file and key_file go together",
        );
    }
    if let Some(q) = &rw.queue_config {
        for (key, v) in [
            ("batch_send_deadline", &q.batch_send_deadline),
            ("min_backoff", &q.min_backoff),
            ("max_backoff", &q.max_backoff),
        ] {
            if let Some(v) = v {
                ck.duration(v, &format!("{f}.queue_config.{key}"), "5s");
            }
        }
        if let (Some(min), Some(max)) = (q.min_shards, q.max_shards) {
            ck.check(min <= max, &format!("{f}.queue_config.min_shards"), "exceeds max_shards");
        }
    }
    const ACTIONS: [&str; 11] = [
        "replace",
        "keep",
        "drop",
        "keepequal",
        "dropequal",
        "hashmod",
        "labelmap",
        "labeldrop",
        "labelkeep",
        "lowercase",
        "uppercase",
    ];
    for (j, r) in rw.write_relabel_configs.iter().enumerate() {
        let g = format!("{f}.write_relabel_configs[{j}]");
        if let Some(a) = &r.action {
            ck.check(
                ACTIONS.contains(&a.as_str()),
                &format!("{g}.action"),
                format!("`{a}` is not a relabel action ({})", ACTIONS.join(", ")),
            );
        }
        for (k, l) in r.source_labels.iter().enumerate() {
            ck.check(
                valid_label_name(l),
                &format!("{g}.source_labels[{k}]"),
                format!("`{l}` is not a valid label name"),
            );
        }
    }
}

/// `prometheus.scrape_configs`: unique job names, targets, paths, intervals, labels.
fn scrape_configs(ck: &mut Checks, p: &crate::config::Prometheus) {
    let mut seen = HashSet::new();
    for (i, job) in p.scrape_configs.iter().enumerate() {
        let f = format!("prometheus.scrape_configs[{i}]");
        ck.check(!job.job_name.trim().is_empty(), &format!("{f}.job_name"), "must not be empty");
        ck.check(
            seen.insert(job.job_name.clone()),
            &format!("{f}.job_name"),
            format!("duplicate job name `{}`", job.job_name),
        );
        ck.check(
            !job.targets.is_empty() || !job.file_sd.is_empty(),
            &format!("{f}.targets"),
            "needs at least one target (or `file_sd`)",
        );
        for (g, glob) in job.file_sd.iter().enumerate() {
            ck.check(
                valid_file_sd(glob),
                &format!("{f}.file_sd[{g}]"),
                format!(
                    "`{glob}` is not a target file pattern: a path ending in .yml, .yaml or .json, \
                     with `*` only in the last path element"
                ),
            );
        }
        for (t, target) in job.targets.iter().enumerate() {
            ck.check(
                valid_target(target),
                &format!("{f}.targets[{t}]"),
                format!("`{target}` is not a host:port target"),
            );
        }
        if let Some(mp) = &job.metrics_path {
            ck.check(
                mp.starts_with('/'),
                &format!("{f}.metrics_path"),
                format!("`{mp}` must start with /"),
            );
        }
        if let Some(si) = &job.scrape_interval {
            ck.duration(si, &format!("{f}.scrape_interval"), "30s");
        }
        for k in job.labels.keys() {
            ck.check(
                valid_label_name(k),
                &format!("{f}.labels.{k}"),
                format!("`{k}` is not a valid label name"),
            );
        }
    }
}
