//! Checks of `blackbox_exporter.modules` and `prometheus.probes`. The prober settings
//! themselves are blackbox_exporter's to judge (`--config.check`, by `validate`).

use std::collections::HashSet;

use super::{Checks, File};

/// `blackbox_exporter.modules`: names, timeouts, settings under the module's prober.
pub(super) fn modules(ck: &mut Checks, l: &File) {
    let b = &l.config.blackbox_exporter;
    if !b.enabled {
        return;
    }
    ck.check(!b.modules.is_empty(), "blackbox_exporter.modules", "needs at least one module");
    for (name, m) in &b.modules {
        let f = format!("blackbox_exporter.modules.{name}");
        ck.check(
            !name.trim().is_empty() && !name.chars().any(char::is_control),
            &f,
            format!("`{name}` is not a module name (empty or with control characters)"),
        );
        if let Some(t) = &m.timeout {
            ck.duration(t, &format!("{f}.timeout"), "5s");
        }
        for section in m.sections() {
            ck.check(
                section == m.prober.key(),
                &format!("{f}.{section}"),
                format!(
                    "module `{name}` uses prober `{}`: `{section}` settings would be ignored \
                     (put them under `{}`, or change `prober`)",
                    m.prober.key(),
                    m.prober.key()
                ),
            );
        }
    }
}

/// `prometheus.probes`: the exporter is on, modules exist, job names are unique
/// (among `scrape_configs` too), targets and intervals are well formed.
pub(super) fn probes(ck: &mut Checks, l: &File) {
    let c = l.config;
    let p = &c.prometheus;
    if p.probes.is_empty() {
        return;
    }
    ck.check(
        c.blackbox_exporter.enabled,
        "prometheus.probes",
        "probes go through blackbox_exporter: set `blackbox_exporter.enabled: true`",
    );
    let mut seen: HashSet<&str> = p.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
    for (i, probe) in p.probes.iter().enumerate() {
        let f = format!("prometheus.probes[{i}]");
        ck.check(!probe.job_name.trim().is_empty(), &format!("{f}.job_name"), "must not be empty");
        ck.check(
            seen.insert(&probe.job_name),
            &format!("{f}.job_name"),
            format!(
                "duplicate job name `{}` (scrape_configs and probes share names)",
                probe.job_name
            ),
        );
        if c.blackbox_exporter.enabled {
            let known: Vec<&str> = c.blackbox_exporter.modules.keys().map(String::as_str).collect();
            ck.check(
                known.contains(&probe.module.as_str()),
                &format!("{f}.module"),
                format!(
                    "module `{}` is not in blackbox_exporter.modules (defined: {})",
                    probe.module,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            );
        }
        ck.check(!probe.targets.is_empty(), &format!("{f}.targets"), "needs at least one target");
        for (t, target) in probe.targets.iter().enumerate() {
            ck.check(
                !target.is_empty() && !target.chars().any(|c| c.is_whitespace() || c.is_control()),
                &format!("{f}.targets[{t}]"),
                format!("`{target}` is not a probe target (a URL, host:port or host, no spaces)"),
            );
        }
        if let Some(si) = &probe.scrape_interval {
            ck.duration(si, &format!("{f}.scrape_interval"), "30s");
        }
    }
}
