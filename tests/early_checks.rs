//! `plan` finds what apply would refuse, before anything is downloaded or written:
//! candidate files go through apply's validator runner (promtool, amtool,
//! systemd-analyze, logrotate), and the artifact inputs (a pin contradicting
//! monstack.lock, a release missing under `--offline`) are checked up front.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use stack::Stack;

/// The `error:` block of a run's stderr (what plan and apply say about a refusal).
fn error_block(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let start = text.find("error: ").unwrap_or_else(|| panic!("no error in: {text}"));
    text[start..].to_string()
}

#[test]
fn plan_refuses_a_broken_rule_file_exactly_as_apply_does() {
    let s = Stack::new();
    std::fs::write(
        s.dir.path().join("mine.yml"),
        "groups:\n  - name: mine\n    rules:\n      - alert: Broken\n        expr: rate(x[5m) > 1\n",
    )
    .unwrap();
    s.write_config(stack::PROM, &[], "  rule_files: [mine.yml]\n");
    // A fresh host: the release is not downloaded, the host's promtool (same major
    // version) judges the rule file.
    let fresh = s.run(&["plan"]);
    assert_eq!(fresh.status.code(), Some(78), "{}", error_block(&fresh.stderr));
    assert!(error_block(&fresh.stderr).contains("could not parse expression"));
    // A 3.x release not downloaded yet: a 2.x promtool cannot judge 3.x syntax, so
    // its refusal is a warning (apply judges with the release's own promtool).
    s.write_config("3.5.5", &[], "  rule_files: [mine.yml]\n");
    let other = s.run(&["plan"]);
    let err = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "warning: `/opt/prometheus/rules/mine.yml` is refused by the host's promtool 2."
        ),
        "{err}"
    );
    assert!(err.contains("apply judges it with the `promtool` of prometheus 3.5.5"), "{err}");
    assert!(!s.root.exists(), "plan wrote nothing");

    s.write_config(stack::PROM, &[], "");
    s.apply_ok();
    let before = s.snapshot();
    s.write_config(stack::PROM, &[], "  rule_files: [mine.yml]\n");

    let plan = s.run(&["plan"]);
    let plan_err = error_block(&plan.stderr);
    assert_eq!(plan.status.code(), Some(78), "{plan_err}");
    assert!(plan_err.contains("/opt/prometheus/rules/mine.yml: 5:"), "file and line: {plan_err}");
    assert!(plan_err.contains("could not parse expression"), "promtool's reason: {plan_err}");
    assert!(plan.stdout.is_empty(), "no plan printed for a refused candidate");

    let apply = s.run(&["apply", "--service-manager", "direct"]);
    assert_eq!(apply.status.code(), Some(78));
    assert_eq!(error_block(&apply.stderr), plan_err, "plan says what apply says");
    assert_eq!(s.snapshot(), before, "nothing changed on the host");
}

#[test]
fn plan_runs_logrotate_on_the_candidate() {
    let s = Stack::new();
    let tpl = s.dir.path().join("tpl");
    std::fs::create_dir_all(&tpl).unwrap();
    let orig = include_str!("../templates/logrotate.tera");
    std::fs::write(tpl.join("logrotate.tera"), orig.replace("    rotate ", "    rotatee "))
        .unwrap();
    let out = s.run(&["plan", "--templates", tpl.to_str().unwrap()]);
    let err = error_block(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("/etc/logrotate.d/snowflake-mcp"), "names the file: {err}");
    assert!(err.contains("rotatee"), "logrotate's reason: {err}");
    assert!(!s.root.exists(), "plan wrote nothing: {:?}", s.leftovers());
}

/// The data dirs a plan would create, from its JSON report.
fn planned_dirs(dir: &std::path::Path, config: &str) -> Vec<String> {
    std::fs::write(dir.join("m.yaml"), config).unwrap();
    let out = bin::Monstack::new()
        .dir(dir)
        .config("m.yaml")
        .root("root")
        .args(["plan", "--output", "json", "--service-manager", "none"])
        .output();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = rep["resources"].as_array().expect("resources");
    changes
        .iter()
        .filter(|c| c["kind"] == "dir")
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn data_dir_follows_install_dir_unless_set() {
    let t = tempfile::tempdir().unwrap();
    // The init scaffold with install_dir moved: its data_dir (null) moves along.
    let o = bin::Monstack::new().dir(t.path()).config("init.yaml").args(["init"]).output();
    assert!(o.status.success());
    let scaffold = std::fs::read_to_string(t.path().join("init.yaml")).unwrap();
    let moved = scaffold
        .replacen("install_dir: /opt/prometheus ", "install_dir: /srv/prom ", 1)
        .replacen("install_dir: /opt/alertmanager ", "install_dir: /srv/am ", 1)
        .replacen("grafana:\n  enabled: true\n", "grafana:\n  enabled: false\n", 1);
    assert_ne!(moved, scaffold);
    let dirs = planned_dirs(t.path(), &moved);
    assert_eq!(dirs, ["/srv/prom/data", "/srv/am/data", "/opt/node_exporter/data"]);

    // A data_dir the file sets stays where it is set; one it leaves out follows.
    let dirs = planned_dirs(
        t.path(),
        "prometheus:\n  install_dir: /srv/prom\nalertmanager:\n  install_dir: /srv/am\n  \
         data_dir: /var/lib/am\ngrafana:\n  enabled: false\n",
    );
    assert_eq!(dirs, ["/srv/prom/data", "/var/lib/am", "/opt/node_exporter/data"]);
    let unit = bin::Monstack::new()
        .dir(t.path())
        .config("m.yaml")
        .args(["render", "--out", "out"])
        .output();
    assert!(unit.status.success());
    let unit = std::fs::read_to_string(t.path().join("out/etc/systemd/system/prometheus.service"))
        .unwrap();
    assert!(unit.contains("--storage.tsdb.path=/srv/prom/data"), "{unit}");
    assert!(unit.contains("ReadWritePaths=/srv/prom/data"), "{unit}");
}

#[test]
fn the_default_logrotate_file_passes_logrotate_on_this_host() {
    let t = tempfile::tempdir().unwrap();
    let o = bin::Monstack::new().dir(t.path()).args(["init"]).output();
    assert!(o.status.success());
    let o = bin::Monstack::new().dir(t.path()).args(["render", "--out", "out"]).output();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = t.path().join("out/etc/logrotate.d/snowflake-mcp");
    let lr = std::process::Command::new("logrotate")
        .arg("-d")
        .arg("--state")
        .arg(t.path().join("state"))
        .arg(&file)
        .output()
        .expect("logrotate is installed (make deps)");
    let text = String::from_utf8_lossy(&lr.stderr);
    assert!(lr.status.success(), "{text}");
    assert!(!text.contains("error:"), "{text}");
}

/// `plan` on the real host (no `--root`; plan only reads, and is refused before that).
fn plan_on_host(dir: &std::path::Path, owner: &str, group: &str) -> std::process::Output {
    let config = format!(
        "grafana:\n  enabled: false\nlogrotate:\n  entries:\n    - name: app\n      \
         paths: [/var/log/app/*.log]\n      create: {{mode: '0640', owner: {owner}, group: {group}}}\n"
    );
    std::fs::write(dir.join("m.yaml"), config).unwrap();
    bin::Monstack::new()
        .dir(dir)
        .config("m.yaml")
        .args(["plan", "--service-manager", "none"])
        .output()
}

#[test]
fn plan_refuses_a_log_owner_the_host_lacks_unless_monstack_manages_it() {
    let t = tempfile::tempdir().unwrap();
    let out = plan_on_host(t.path(), "no-such-user-16", "no-such-group-16");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("m.yaml:7:"), "file and line: {err}");
    assert!(err.contains("`logrotate.entries[0].create.owner`: user `no-such-user-16`"), "{err}");
    assert!(err.contains("`logrotate.entries[0].create.group`: group `no-such-group-16`"), "{err}");
    assert!(err.contains("hint: create it first"), "{err}");
    assert!(out.stdout.is_empty(), "refused before planning");

    // A component's service user is created by apply: not refused.
    let out = plan_on_host(t.path(), "node_exporter", "node_exporter");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("create.owner"), "{err}");
    assert_ne!(out.status.code(), Some(78), "{err}");
}

/// `status --output json`: exit code and the `host logrotate` check.
fn logrotate_status(s: &Stack) -> (i32, serde_json::Value) {
    let out = s.run(&["status", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "host" && c["check"] == "logrotate")
        .unwrap_or_else(|| panic!("no host logrotate check: {doc:#}"))
        .clone();
    (out.status.code().unwrap_or(-1), check)
}

#[test]
fn status_runs_logrotate_over_the_landed_files_together() {
    let s = Stack::new();
    // Two entries naming the same log: each file is accepted by `logrotate -d` alone (apply
    // lands both), but logrotate refuses the pair in its run.
    let entry = |name: &str| {
        format!("    - {{name: {name}, paths: [/var/log/app/app.log], create: {{mode: '0640', owner: root, group: adm}}}}\n")
    };
    *s.grafana.lock().unwrap() =
        format!("grafana:\n  enabled: false\nlogrotate:\n  entries:\n{}{}", entry("a"), entry("b"));
    s.write_config(stack::PROM, &[], "");
    s.apply_ok();
    let (code, check) = logrotate_status(&s);
    assert_eq!(code, 1, "{check:#}");
    assert_eq!(check["level"], "fail", "{check:#}");
    let reason = check["reason"].as_str().unwrap();
    assert!(
        reason.contains("/etc/logrotate.d/b:2 duplicate log entry for /var/log/app/app.log"),
        "{reason}"
    );

    *s.grafana.lock().unwrap() =
        format!("grafana:\n  enabled: false\nlogrotate:\n  entries:\n{}", entry("a"));
    s.write_config(stack::PROM, &[], "");
    s.apply_ok();
    let (_, check) = logrotate_status(&s);
    assert_eq!(check["level"], "ok", "{check:#}");
    assert_eq!(check["reason"], "`logrotate -d` finds no error in 1 landed file");
}

/// Files under `dir` (the root a plan or a refused apply must leave alone).
fn under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten().map(|e| if e.path().is_dir() { under(&e.path()) } else { 1 }).sum()
    })
}

#[test]
fn offline_and_pin_problems_are_found_before_any_download() {
    let s = Stack::new();
    let lock = s.run(&["lock"]);
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    let requests = s.mirror.requests();

    // --offline with an empty cache: plan and apply say which release is missing and
    // where they looked, before anything is downloaded or written.
    for cmd in ["plan", "apply"] {
        let out = s.run(&[cmd, "--offline", "--service-manager", "direct"]);
        let err = error_block(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.contains(&format!(
                "error: --offline: `prometheus` {} (`prometheus-{}.linux-",
                stack::PROM,
                stack::PROM
            )),
            "{cmd}: {err}"
        );
        assert!(err.contains("is not in the cache; looked at `"), "{cmd}: {err}");
        assert!(err.contains("/var/cache/monstack/"), "{cmd}: {err}");
        assert!(err.contains("hint: run `monstack lock` and `monstack bundle`"), "{cmd}: {err}");
        assert!(out.stdout.is_empty(), "{cmd}: refused before the plan");
        assert_eq!(under(&s.root), 0, "{cmd}: nothing written: {:?}", s.leftovers());
    }

    // A pin that contradicts monstack.lock: refused up front (apply used to find it
    // after the download).
    let pin = "0".repeat(64);
    s.write_config(stack::PROM, &[], &format!("  sha256: {pin}\n"));
    for cmd in ["plan", "apply"] {
        let out = s.run(&[cmd, "--service-manager", "direct"]);
        let err = error_block(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.contains(&format!(
                "`prometheus` {}: the config pins sha256 {pin} but `",
                stack::PROM
            )),
            "{cmd}: {err}"
        );
        assert!(err.contains("hint: fix the pin or re-run `monstack lock`"), "{cmd}: {err}");
        assert_eq!(under(&s.root), 0, "{cmd}: nothing written");
    }
    assert_eq!(s.mirror.requests(), requests, "nothing was downloaded");

    // Once the releases are in the cache, an offline plan goes through.
    s.write_config(stack::PROM, &[], "");
    s.apply_ok();
    let out = s.run(&["plan", "--offline", "--service-manager", "direct"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
