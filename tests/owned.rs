//! Owned files, end to end under a temp root with `--service-manager direct`: a file
//! monstack wrote and the config no longer has (a rule file dropped from
//! `prometheus.rule_files`, a disabled component's files) is planned as a delete,
//! removed by apply with Prometheus reloaded, put back when the apply fails later, and a
//! file monstack did not write is never touched.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::time::Duration;

use stack::{changes, poll, Stack};

const EXTRA_RULES: &str = "groups:\n  - name: extra\n    rules:\n      - alert: ExtraAlwaysFiring\n        expr: vector(1)\n";

/// Rule group names Prometheus has loaded.
fn rule_groups(s: &Stack) -> Vec<String> {
    let v = s.api("/api/v1/rules");
    v["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g["name"].as_str().map(str::to_string))
        .collect()
}

fn wait_groups(s: &Stack, want_extra: bool) {
    let ok = poll(Duration::from_secs(20), || {
        (rule_groups(s).contains(&"extra".to_string()) == want_extra).then_some(())
    });
    assert!(
        ok.is_some(),
        "rule group `extra` loaded: want {want_extra}, have {:?}",
        rule_groups(s)
    );
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn dropped_rule_file_is_deleted_restored_on_failure_and_foreign_files_stay() {
    let s = Stack::new();
    std::fs::write(s.dir.path().join("extra.yml"), EXTRA_RULES).unwrap();
    let with_rules = "  rule_files: ['extra.yml']\n";
    s.write_config(stack::PROM, &[], with_rules);
    s.apply_ok();
    let landed = s.root.join("opt/prometheus/rules/extra.yml");
    assert_eq!(std::fs::read_to_string(&landed).unwrap(), EXTRA_RULES);
    wait_groups(&s, true);
    let owned = std::fs::read_to_string(s.root.join("var/lib/monstack/owned")).unwrap();
    assert!(owned.contains("/opt/prometheus/rules/extra.yml"), "{owned}");

    // A file the operator put beside it: monstack did not write it, it never goes.
    let mine = s.root.join("opt/prometheus/rules/mine.yml");
    std::fs::write(&mine, "groups: []\n").unwrap();

    // Dropped from the config: plan shows the delete (human and JSON), writes nothing.
    s.write_config(stack::PROM, &[], "");
    let out = s.run(&["plan", "--service-manager", "direct"]);
    let text = stdout(&out);
    assert!(
        text.contains("  - file               /opt/prometheus/rules/extra.yml (delete)"),
        "{text}"
    );
    assert!(text.contains("* service            prometheus (reload)"), "{text}");
    assert!(!text.contains("mine.yml"), "{text}");
    let out = s.run(&["plan", "--service-manager", "direct", "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["format_version"], monstack::printer::FORMAT_VERSION);
    assert!(
        changes(&plan).contains(&"file /opt/prometheus/rules/extra.yml delete".to_string()),
        "{plan:#}"
    );
    assert!(landed.exists(), "plan removed nothing");
    let out = s.run(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .contains("/opt/prometheus/rules/extra.yml no longer in the config (apply removes it)"),
        "{}",
        stdout(&out)
    );

    // An apply that fails after the delete (node_exporter moved to a port in use): the
    // landing guard puts the rule file back and Prometheus reloads it again.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let good = std::fs::read_to_string(&s.config).unwrap();
    let node_listen = format!("listen_address: 127.0.0.1:{}", s.node);
    std::fs::write(
        &s.config,
        good.replace(&node_listen, &format!("listen_address: 127.0.0.1:{busy_port}")),
    )
    .unwrap();
    let (code, report, stderr) = s.apply(&["--ready-timeout", "10s"]);
    assert_eq!(code, 1, "{stderr}\n{report:#}");
    assert_eq!(std::fs::read_to_string(&landed).unwrap(), EXTRA_RULES, "put back: {report:#}");
    let entry = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "/opt/prometheus/rules/extra.yml")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!((&entry["action"], &entry["planned"]), (&"failed".into(), &"delete".into()));
    assert_eq!(entry["detail"], "removed, then put back: apply failed");
    wait_groups(&s, true);
    drop(busy);

    // The same change with a sane config: the rule file goes, Prometheus reloads.
    std::fs::write(&s.config, &good).unwrap();
    let report = s.apply_ok();
    let done = changes(&report);
    assert!(done.contains(&"file /opt/prometheus/rules/extra.yml delete".to_string()), "{done:?}");
    assert!(done.contains(&"service prometheus reload".to_string()), "{done:?}");
    assert!(!landed.exists());
    wait_groups(&s, false);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "groups: []\n", "not monstack's");
    let owned = std::fs::read_to_string(s.root.join("var/lib/monstack/owned")).unwrap();
    assert!(!owned.contains("extra.yml"), "{owned}");
    assert_eq!(changes(&s.apply_ok()), Vec::<String>::new(), "second apply changes nothing");

    // A file at a path monstack once wrote, but put back by someone else after it was
    // deleted, is not monstack's any more: no delete planned.
    std::fs::write(&landed, EXTRA_RULES).unwrap();
    assert_eq!(changes(&s.apply_ok()), Vec::<String>::new());
    assert!(landed.exists());
}

#[test]
fn a_disabled_component_loses_its_files_and_unit_but_not_its_release() {
    let s = Stack::new();
    s.apply_ok();
    let am_yml = s.root.join("opt/alertmanager/alertmanager.yml");
    let am_unit = s.root.join("etc/systemd/system/alertmanager.service");
    assert!(am_yml.exists() && am_unit.exists());
    assert!(s.pid("alertmanager").is_some(), "alertmanager runs");
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.am)).is_ok());

    let text = std::fs::read_to_string(&s.config).unwrap();
    let text =
        text.replace("alertmanager:\n  version:", "alertmanager:\n  enabled: false\n  version:");
    std::fs::write(&s.config, text).unwrap();
    let report = s.apply_ok();
    let done = changes(&report);
    for want in [
        "file /opt/alertmanager/alertmanager.yml delete",
        "unit /etc/systemd/system/alertmanager.service delete",
        "service alertmanager stop",
    ] {
        assert!(done.contains(&want.to_string()), "{want}: {done:?}");
    }
    assert!(!am_yml.exists() && !am_unit.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.am)).is_err(), "alertmanager stopped");
    assert!(
        s.root.join("opt/alertmanager/current").exists(),
        "uninstall removes releases, apply does not"
    );
    assert_eq!(changes(&s.apply_ok()), Vec::<String>::new(), "second apply changes nothing");
}

#[test]
fn an_apply_killed_after_writing_still_owns_the_files_it_created() {
    let s = Stack::new();
    let out = s
        .cmd(&["apply", "--service-manager", "direct"])
        .env("MONSTACK_CRASH_AT", "files-landed")
        .output()
        .unwrap();
    assert!(!out.status.success(), "killed at the checkpoint");
    let owned = std::fs::read_to_string(s.root.join("var/lib/monstack/owned")).unwrap();
    for path in ["/opt/prometheus/prometheus.yml", "/etc/systemd/system/node_exporter.service"] {
        assert!(owned.contains(path), "{path}: {owned}");
    }
    s.apply_ok();
    // Disabling node_exporter now removes the unit the killed apply wrote.
    let text = std::fs::read_to_string(&s.config).unwrap();
    let text =
        text.replace("node_exporter:\n  version:", "node_exporter:\n  enabled: false\n  version:");
    std::fs::write(&s.config, text).unwrap();
    let done = changes(&s.apply_ok());
    assert!(
        done.contains(&"unit /etc/systemd/system/node_exporter.service delete".to_string()),
        "{done:?}"
    );
}

#[test]
fn a_file_removed_by_hand_is_forgotten_so_a_later_one_there_is_not_monstacks() {
    let s = Stack::new();
    std::fs::write(s.dir.path().join("extra.yml"), EXTRA_RULES).unwrap();
    s.write_config(stack::PROM, &[], "  rule_files: ['extra.yml']\n");
    s.apply_ok();
    let landed = s.root.join("opt/prometheus/rules/extra.yml");
    // The operator deletes it by hand and drops it from the config: nothing to delete.
    std::fs::remove_file(&landed).unwrap();
    s.write_config(stack::PROM, &[], "");
    let done = changes(&s.apply_ok());
    assert!(!done.iter().any(|c| c.ends_with(" delete")), "{done:?}");
    // Their own file at that path later is not monstack's.
    std::fs::write(&landed, "groups: []\n").unwrap();
    assert_eq!(changes(&s.apply_ok()), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&landed).unwrap(), "groups: []\n");
}
