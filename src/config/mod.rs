//! The stack configuration (`monstack.yaml`).
//!
//! - `schema`: the sections and the defaults that reproduce the runbook;
//! - `load`: find, read and parse (strict: `deny_unknown_fields`), serde's messages reworded;
//! - `check`: semantic checks, every problem reported;
//! - `locate`: the one YAML walker that gives each error its line and column;
//! - `values`: value syntax (durations, addresses, URLs, names).
//!
//! This module does no I/O beyond reading the config and checking that referenced
//! files exist.

mod check;
mod load;
mod locate;
mod probes;
mod resolve;
mod schema;
mod values;

pub use check::{flag_name, managed_flags, removed_flag, DEFAULT_RULES_FILE, MAX_ERRORS};
pub use load::{find, load, parse, Loaded, DEFAULT_PATHS};
pub use locate::{locate, Index, Position};
pub use resolve::{ListenAddress, Resolved};
pub use schema::*;
pub use values::{parse_duration, split_host_port, valid_duration, valid_uid};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use values::valid_listen_address;

    #[test]
    fn defaults_are_valid_and_match_the_runbook() {
        let l = parse(Path::new("m.yaml"), "").expect("defaults valid");
        let p = &l.config.prometheus;
        assert_eq!(p.version, "3.5.5");
        assert_eq!(p.scrape_configs.len(), 3);
        assert_eq!(p.scrape_configs[0].job_name, "snowflake-mcp");
        assert_eq!(p.scrape_configs[0].scrape_interval.as_deref(), Some("30s"));
        assert_eq!(l.config.logrotate.entries[0].rotate, 52);
    }

    #[test]
    fn gnet_folders_are_checked_and_grafana_url_follows_grafana_server() {
        let f = |folder: &str, top: &str| {
            format!("grafana:\n  dashboards:\n    - {{gnet_id: 1, revision: 2, folder: {folder}}}\n    - {{gnet_id: 3, revision: 4, folder: {{uid: a, title: A}}}}\n{top}")
        };
        let ok = parse(Path::new("m.yaml"), &f("{uid: a, title: A, path: X/Y}", ""));
        assert!(ok.is_ok(), "{:?}", ok.err());
        for (folder, top, field) in [
            ("{uid: monstack, title: M}", "", "grafana.dashboards[0].folder.uid"),
            ("{uid: a, title: B}", "", "grafana.dashboards[1].folder.title"),
            ("{uid: 'a b', title: A}", "", "grafana.dashboards[0].folder.uid"),
            ("{uid: b, title: B, parent_uid: p, path: X}", "", "grafana.dashboards[0].folder"),
            ("{uid: b, title: B}", "  mode: files\n", "grafana.dashboards[0].folder"),
        ] {
            let e = parse(Path::new("m.yaml"), &f(folder, top)).unwrap_err();
            assert!(e.0.iter().any(|e| e.field.as_deref() == Some(field)), "{folder}: {e}");
        }
        let pw = "  admin_password_file: /etc/grafana-pw\n";
        let src = format!("grafana_server:\n  enabled: true\n  listen_address: 0.0.0.0:3300\n{pw}");
        let l = parse(Path::new("m.yaml"), &src).expect("valid");
        assert_eq!(l.config.grafana.url, "http://127.0.0.1:3300");
        let set = format!("{src}grafana:\n  url: http://g.example:3000\n");
        let l = parse(Path::new("m.yaml"), &set).expect("valid");
        assert_eq!(l.config.grafana.url, "http://g.example:3000");
        let off = parse(Path::new("m.yaml"), "").expect("valid");
        assert_eq!(off.config.grafana.url, "http://localhost:3000");
    }

    #[test]
    fn durations() {
        for ok in ["15s", "1h30m", "500ms", "0", "2w", "1y"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in ["", "15", "s", "1.5s", "15 s", "-1s", "1x"] {
            assert!(!valid_duration(bad), "{bad}");
        }
        assert_eq!(parse_duration("1m30s"), Some(std::time::Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(std::time::Duration::from_millis(250)));
    }

    #[test]
    fn unknown_key_is_located() {
        let src = "prometheus:\n  version: 2.45.0\n  scrape_intervall: 5s\n";
        let e = parse(Path::new("m.yaml"), src).unwrap_err();
        let e = &e.0[0];
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("scrape_intervall"), "{e}");
    }

    #[test]
    fn duplicate_job_is_located() {
        let src = "prometheus:\n  scrape_configs:\n    - job_name: a\n      targets: ['x:1']\n    - job_name: a\n      targets: ['y:2']\n";
        let e = parse(Path::new("m.yaml"), src).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!(e.0[0].line, Some(5));
        assert_eq!(e.0[0].field.as_deref(), Some("prometheus.scrape_configs[1].job_name"));
        assert!(e.0[0].message.contains("duplicate job name"));
    }

    #[test]
    fn listen_addresses() {
        assert!(valid_listen_address("0.0.0.0:9090"));
        assert!(valid_listen_address(":9090"));
        assert!(valid_listen_address("[::1]:9090"));
        assert!(!valid_listen_address("9090"));
        assert!(!valid_listen_address("localhost:99999"));
        assert!(!valid_listen_address("local host:1"));
    }

    #[test]
    fn loading_resolves_durations_addresses_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yml"), "groups: []\n").unwrap();
        let src = "prometheus:\n  rule_files: [r.yml]\n  listen_address: '[::]:9091'\ngrafana:\n  wait_timeout: 1m30s\n  request_timeout: 250ms\n";
        let l = parse(&dir.path().join("m.yaml"), src).expect("valid");
        assert_eq!(l.resolved.grafana_wait_timeout, std::time::Duration::from_secs(90));
        assert_eq!(l.resolved.grafana_request_timeout, std::time::Duration::from_millis(250));
        assert_eq!(l.local_address(ComponentKind::Prometheus), "127.0.0.1:9091");
        assert_eq!(l.resolved.listen[&ComponentKind::NodeExporter].port, 9100);
        assert_eq!(l.config.prometheus.rule_files, vec![dir.path().join("r.yml")]);
        assert!(l.config.prometheus.rule_files[0].is_absolute());
        // Written as given: only the resolved view changes.
        assert_eq!(l.config.grafana.wait_timeout, "1m30s");
    }

    #[test]
    fn every_problem_is_reported_up_to_a_limit() {
        let jobs: String = (0..60)
            .map(|i| format!("    - job_name: j{i}\n      targets: ['bad target {i}']\n"))
            .collect();
        let src = format!("prometheus:\n  scrape_configs:\n{jobs}");
        let e = parse(Path::new("m.yaml"), &src).unwrap_err();
        assert_eq!(e.0.len(), MAX_ERRORS + 1, "{e}");
        assert_eq!(e.0[1].line, Some(6), "{e}");
        assert_eq!(e.0[MAX_ERRORS].message, "... and 10 more problems");
    }
}
