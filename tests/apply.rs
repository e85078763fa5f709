//! End to end: `monstack apply --service-manager direct` under a temp root installs
//! releases from a loopback mirror, writes every file, starts real Prometheus,
//! Alertmanager and node_exporter on free loopback ports, and converges again and
//! again without touching what is already right.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::time::Duration;

use stack::{changes, poll, ChildGuard, Stack, PROM_NEXT};

#[test]
fn first_apply_converges_second_changes_nothing_new_job_reloads_only() {
    let s = Stack::new();

    // plan on a fresh root: changes pending (exit 2), nothing written.
    let out = s.run(&["plan", "--detailed-exitcode", "--service-manager", "direct"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("+ release            prometheus (create)")
    );
    assert!(!s.root.join("opt").exists(), "plan wrote nothing");

    let (code, report, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 2, "changes made: {stderr}");
    let ch = changes(&report);
    for want in [
        "release prometheus create",
        "release alertmanager create",
        "release node_exporter create",
        "file /opt/prometheus/prometheus.yml create",
        "file /opt/alertmanager/alertmanager.yml create",
        "unit /etc/systemd/system/prometheus.service create",
        "service prometheus start",
        "service alertmanager start",
        "service node_exporter start",
    ] {
        assert!(ch.contains(&want.to_string()), "missing `{want}` in {ch:#?}");
    }
    assert_eq!(report["changed"].as_u64().unwrap() as usize, ch.len());

    // The stack works: every target up, the runbook's five alerts loaded, Alertmanager known.
    s.wait_up(&["prometheus", "node"]);
    let rules = s.api("/api/v1/rules");
    let mut names: Vec<String> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"SnowflakeMCPDown".to_string()), "{names:?}");
    let am = poll(Duration::from_secs(30), || {
        let v = s.api("/api/v1/alertmanagers");
        let active = v["data"]["activeAlertmanagers"].as_array().cloned().unwrap_or_default();
        (!active.is_empty()).then_some(active)
    })
    .expect("Prometheus lists the Alertmanager");
    assert!(am[0]["url"].as_str().unwrap().contains(&format!("127.0.0.1:{}", s.am)), "{am:?}");

    // Second apply: nothing to do, nothing touched, nothing downloaded, nobody restarted.
    let before = s.snapshot();
    let pids: Vec<_> = ["prometheus", "alertmanager", "node_exporter"].map(|n| s.pid(n)).into();
    let requests = s.mirror.requests();
    let (code, report, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 0, "no changes: {stderr}\n{report:#}");
    assert_eq!(report["changed"], 0, "{report:#}");
    assert!(changes(&report).is_empty());
    assert_eq!(s.mirror.requests(), requests, "no download on a converged host");
    let after = s.snapshot();
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (path, (mtime, _)) in &before {
        assert_eq!(&after[path].0, mtime, "`{}` was rewritten", path.display());
    }
    let pids_after: Vec<_> =
        ["prometheus", "alertmanager", "node_exporter"].map(|n| s.pid(n)).into();
    assert_eq!(pids, pids_after);
    assert!(!stderr.contains("[1/6]"), "no progress lines with --output json: {stderr}");

    // Human output: one progress line per phase on stderr, in order, with the elapsed time.
    let out = s.run(&["apply"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let phases = [
        "[1/6] render: ",
        "[2/6] validate: 0 changed files",
        "[3/6] download + verify: nothing to download",
        "[4/6] land: users, data dirs and 0 files",
        "[5/6] services: 0 actions",
        "[6/6] grafana: nothing to do",
    ];
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), phases.len(), "{err}");
    for (line, want) in lines.iter().zip(phases) {
        assert!(line.starts_with(want) && line.ends_with("s)") && line.contains("(+"), "{err}");
    }
    let n = report["resources"].as_array().unwrap().len();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("apply: 0 changed ({n} unchanged)\n"));
    // -q: nothing at all when all is well.
    let out = s.run(&["-q", "apply"]);
    assert!(out.status.success());
    assert_eq!((out.stdout.len(), String::from_utf8_lossy(&out.stderr)), (0, "".into()));

    // plan agrees (and defaults to the recorded `direct` manager).
    let out = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // A new scrape job: prometheus.yml and a reload, nothing else; same pid.
    s.write_config(stack::PROM, &[("alertmanager", format!("127.0.0.1:{}", s.am))], "");
    let out = s.run(&["plan", "--service-manager", "direct"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("+  - job_name: \"alertmanager\""), "plan shows the diff:\n{text}");
    let report = s.apply_ok();
    assert_eq!(
        changes(&report),
        vec![
            "file /opt/prometheus/prometheus.yml update".to_string(),
            "service prometheus reload".to_string()
        ]
    );
    assert_eq!(s.pid("prometheus"), pids[0], "reloaded, not restarted");
    s.wait_up(&["prometheus", "node", "alertmanager"]);

    // stop ends every process and waits for them.
    let out = s.run(&["stop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for pid in pids.iter().flatten() {
        assert!(!monstack::services::alive(*pid), "pid {pid} still running after stop");
    }
    // Later commands default to the manager apply recorded (`direct`): the stopped
    // services are planned to start again.
    let out = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("service            prometheus (start)"));
}

#[test]
fn invalid_candidates_never_land() {
    let s = Stack::new();
    s.apply_ok();
    let before = s.snapshot();
    let pid = s.pid("prometheus");

    // A broken rule file named in the config: promtool refuses it, exit 78, host unchanged.
    std::fs::write(
        s.dir.path().join("broken.yml"),
        "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: up ==== 1\n",
    )
    .unwrap();
    s.write_config(stack::PROM, &[], "  rule_files: [broken.yml]\n");
    let out = s.run(&["apply"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("/opt/prometheus/rules/broken.yml"), "names the file: {err}");
    assert!(err.contains("could not parse expression"), "promtool's reason: {err}");
    assert_eq!(s.snapshot(), before, "nothing changed on the host");

    // A template override that breaks prometheus.yml: same outcome.
    s.write_config(stack::PROM, &[], "");
    let tpl = s.dir.path().join("tpl");
    std::fs::create_dir_all(&tpl).unwrap();
    let orig = include_str!("../templates/prometheus.yml.tera");
    std::fs::write(tpl.join("prometheus.yml.tera"), orig.replace("\nglobal:", "\nglobals:"))
        .unwrap();
    let out = s.run(&["apply", "--templates", tpl.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("globals"), "{err}");
    assert_eq!(s.snapshot(), before, "nothing changed on the host");
    assert_eq!(s.pid("prometheus"), pid);
    s.wait_up(&["prometheus", "node"]);

    // Valid for promtool but refused by the running Prometheus (a CA file that does
    // not exist): the reload's 500 is caught, the previous prometheus.yml restored and
    // reloaded, and the error names the cause.
    let tls = orig.replacen(
        "    static_configs:\n",
        "    tls_config:\n      ca_file: /nonexistent/ca.pem\n    static_configs:\n",
        1,
    );
    std::fs::write(tpl.join("prometheus.yml.tera"), tls).unwrap();
    let out = s.run(&["apply", "--templates", tpl.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`prometheus` rejected the new configuration"), "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "names the cause: {err}");
    assert!(err.contains("restored and reloaded"), "{err}");
    let live = std::fs::read(s.root.join("opt/prometheus/prometheus.yml")).unwrap();
    assert_eq!(live, before[std::path::Path::new("opt/prometheus/prometheus.yml")].1);
    assert_eq!(s.pid("prometheus"), pid, "a rejected reload never restarts");
    let metrics = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{}/metrics", s.prom)])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&metrics.stdout)
            .contains("\nprometheus_config_last_reload_successful 1\n"),
        "the restored config was reloaded successfully"
    );
    assert_eq!(s.apply_ok()["changed"], 0, "the host is converged on the old config");
}

#[test]
fn version_bump_installs_and_restarts() {
    let s = Stack::new();
    s.apply_ok();
    let old = s.pid("prometheus").unwrap();
    let am = s.pid("alertmanager");
    s.write_config(PROM_NEXT, &[], "");
    let report = s.apply_ok();
    let ch = changes(&report);
    assert!(ch.contains(&"release prometheus update".to_string()), "{ch:?}");
    assert!(ch.contains(&"service prometheus restart".to_string()), "{ch:?}");
    assert!(
        !ch.iter().any(|c| c.contains("alertmanager") || c.contains("node_exporter")),
        "{ch:?}"
    );
    let new = s.pid("prometheus").unwrap();
    assert_ne!(old, new, "restarted");
    assert!(!monstack::services::alive(old));
    let exe = std::fs::read_link(format!("/proc/{new}/exe")).unwrap();
    assert!(exe.to_string_lossy().contains(&format!("releases/{PROM_NEXT}/")), "{exe:?}");
    assert_eq!(s.pid("alertmanager"), am);
    s.wait_up(&["prometheus", "node"]);
    let again = s.apply_ok();
    // Once seen failing and not reproduced since: say which resource changed and why
    // (the report's `detail`), and what Prometheus logged.
    let log = std::fs::read_to_string(s.root.join("var/lib/monstack/log/prometheus.log"))
        .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    assert_eq!(
        again["changed"],
        0,
        "{again:#}\npid file: {:?}, was {new}\nprometheus log (newest first):\n{}",
        s.pid("prometheus"),
        tail.join("\n")
    );
}

#[test]
fn killed_apply_is_finished_by_the_next() {
    let s = Stack::new();
    // Killed right after the first file landed, then right after the rest landed,
    // before any service started.
    let st = s
        .cmd(&["apply", "--service-manager", "direct"])
        .env("MONSTACK_CRASH_AT", "file-written")
        .output()
        .unwrap()
        .status;
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    let st = s
        .cmd(&["apply", "--service-manager", "direct"])
        .env("MONSTACK_CRASH_AT", "files-landed")
        .status()
        .unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    assert!(s.root.join("opt/prometheus/prometheus.yml").exists());
    assert!(s.pid("prometheus").is_none());
    let report = s.apply_ok();
    let ch = changes(&report);
    assert!(ch.contains(&"service prometheus start".to_string()), "{ch:?}");
    s.wait_up(&["prometheus", "node"]);
    let pid = s.pid("prometheus");

    // Killed after a new prometheus.yml landed but before the reload: the journal
    // makes the next apply reload even though the file is already right.
    s.write_config(stack::PROM, &[("alertmanager", format!("127.0.0.1:{}", s.am))], "");
    let st = s.cmd(&["apply"]).env("MONSTACK_CRASH_AT", "files-landed").output().unwrap().status;
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    let report = s.apply_ok();
    assert_eq!(changes(&report), vec!["service prometheus reload".to_string()]);
    assert_eq!(s.pid("prometheus"), pid);
    s.wait_up(&["prometheus", "node", "alertmanager"]);

    // Killed mid-download of a new release: the next apply installs it cleanly.
    s.write_config(PROM_NEXT, &[("alertmanager", format!("127.0.0.1:{}", s.am))], "");
    s.mirror.fault(
        &format!("prometheus-{PROM_NEXT}.linux"),
        mirror::Fault::Delay(Duration::from_secs(30)),
    );
    let mut child = ChildGuard::spawn(
        s.cmd(&["apply"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()),
    );
    let seen = poll(Duration::from_secs(30), || {
        s.mirror
            .log()
            .iter()
            .any(|(p, _)| p.contains(&format!("prometheus-{PROM_NEXT}.linux")))
            .then_some(())
    });
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.child().wait().unwrap();
    assert!(seen.is_some(), "the download started");
    let report = s.apply_ok();
    assert!(changes(&report).contains(&"release prometheus update".to_string()), "{report:#}");
    assert!(s.leftovers().is_empty(), "stray files: {:?}", s.leftovers());
    s.wait_up(&["prometheus", "node", "alertmanager"]);
    assert_eq!(s.apply_ok()["changed"], 0);
}

#[test]
fn concurrent_apply_is_refused() {
    let s = Stack::new();
    s.mirror.fault("prometheus-2.42.0.linux", mirror::Fault::Delay(Duration::from_secs(4)));
    let mut first = ChildGuard::spawn(
        s.cmd(&["apply", "--service-manager", "direct"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    poll(Duration::from_secs(30), || {
        s.mirror.log().iter().any(|(p, _)| p.contains("prometheus-2.42.0.linux")).then_some(())
    })
    .expect("first apply is downloading");
    let started = std::time::Instant::now();
    let out = s.run(&["apply", "--service-manager", "direct"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "refused at once");
    assert!(
        err.contains(&format!("another `monstack apply` is running (pid {})", first.id())),
        "{err}"
    );
    assert!(first.child().wait().unwrap().success());
    s.wait_up(&["prometheus", "node"]);
}

#[test]
fn grafana_is_converged_with_the_stack_and_left_alone_when_right() {
    let g = grafana_emulator::Emulator::start();
    let s = Stack::new();
    std::env::set_var("MONSTACK_APPLY_TEST_GRAFANA_TOKEN", grafana_emulator::TOKEN);
    *s.grafana.lock().unwrap() = format!(
        "grafana:\n  url: {}\n  auth:\n    token_env: MONSTACK_APPLY_TEST_GRAFANA_TOKEN\n  datasource:\n    url: http://127.0.0.1:{}\n",
        g.url(),
        s.prom
    );
    s.write_config(stack::PROM, &[], "");
    let report = s.apply_ok();
    let ch = changes(&report);
    for want in [
        "grafana_datasource monstack-prometheus create",
        "grafana_folder monstack create",
        "service prometheus start",
    ] {
        assert!(ch.contains(&want.to_string()), "missing `{want}` in {ch:#?}");
    }
    assert!(
        ch.iter().any(|c| c.starts_with("grafana_dashboard ") && c.ends_with(" create")),
        "{ch:#?}"
    );
    assert_eq!(g.datasources().len(), 1);
    assert!(!g.dashboard_uids().is_empty());
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains(grafana_emulator::TOKEN), "the token never shows");

    // Converged: the next apply and plan make no Grafana write and report nothing.
    g.reset_counters();
    let report = s.apply_ok();
    assert_eq!(report["changed"], 0, "{report:#}");
    assert_eq!(g.writes(), 0, "{:?}", g.write_log());
    let out = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(g.writes(), 0);
}

#[test]
fn secrets_never_show_and_an_alertmanager_change_is_a_reload() {
    let s = Stack::new();
    let secret = "s3cr3t-Smtp-Pw";
    std::fs::write(s.dir.path().join("smtp-password"), secret).unwrap();
    *s.alertmanager_extra.lock().unwrap() = "  smtp:\n    smarthost: 127.0.0.1:2525\n    from: alerts@example.com\n    auth_username: alerts\n    password_file: smtp-password\n".into();
    s.write_config(stack::PROM, &[], "");
    for args in [&["plan", "-v", "--service-manager", "direct"][..], &["plan", "--output", "json"]]
    {
        let out = s.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(secret), "secret in `{args:?}` output:\n{text}");
        assert!(text.contains("smtp_auth_password: ********"), "masked in {args:?}:\n{text}");
    }
    let (code, report, stderr) = s.apply(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!report.to_string().contains(secret) && !stderr.contains(secret));
    let am_yml = s.root.join("opt/alertmanager/alertmanager.yml");
    assert!(std::fs::read_to_string(&am_yml).unwrap().contains(secret), "the file has it");
    assert_eq!(monstack::atomic_fs::stat(&am_yml).unwrap().0, 0o640);
    s.wait_up(&["prometheus", "node"]);
    let am_pid = s.pid("alertmanager");

    // A new password: the diff hides both values; Alertmanager is reloaded, not restarted.
    std::fs::write(s.dir.path().join("smtp-password"), "an0ther-Secret").unwrap();
    let out = s.run(&["plan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(secret) && !text.contains("an0ther-Secret"), "{text}");
    assert!(text.contains("only secret values differ"), "{text}");
    let (code, report, stderr) = s.apply(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        changes(&report),
        vec![
            "file /opt/alertmanager/alertmanager.yml update".to_string(),
            "service alertmanager reload".to_string()
        ]
    );
    assert!(!report.to_string().contains("an0ther-Secret"));
    assert_eq!(s.pid("alertmanager"), am_pid);
}

#[test]
fn disabling_a_component_stops_it_removes_its_files_keeps_its_release() {
    let s = Stack::new();
    s.apply_ok();
    let am = s.pid("alertmanager").expect("alertmanager started");

    *s.alertmanager_extra.lock().unwrap() = "  enabled: false\n".into();
    s.write_config(stack::PROM, &[], "");
    let out = s.run(&["plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("service            alertmanager (stop): disabled in the config"),
        "{text}"
    );
    assert!(monstack::services::alive(am), "plan stops nothing");

    let report = s.apply_ok();
    assert!(changes(&report).contains(&"service alertmanager stop".to_string()), "{report:#}");
    assert!(!monstack::services::alive(am), "the disabled Alertmanager was stopped");
    assert_eq!(s.pid("alertmanager"), None);
    // The files monstack wrote for it go (tests/owned.rs); its release stays on disk
    // (`monstack uninstall alertmanager` removes it).
    for gone in ["opt/alertmanager/alertmanager.yml", "etc/systemd/system/alertmanager.service"] {
        assert!(!s.root.join(gone).exists(), "`{gone}` was removed");
    }
    let release = format!("opt/alertmanager/releases/{}/alertmanager", stack::AM);
    assert!(s.root.join(&release).exists(), "`{release}` was kept");
    assert_eq!(s.apply_ok()["changed"], 0, "converged: nothing left to stop");

    // Switching to `none` leaves the `direct` processes running; `stop` (with the
    // recorded `none`) still ends them.
    let prom = s.pid("prometheus").unwrap();
    let out = s.run(&["apply", "--service-manager", "none"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(monstack::services::alive(prom));
    let out = s.run(&["stop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!monstack::services::alive(prom), "`stop` found the `direct` Prometheus");
    assert!(String::from_utf8_lossy(&out.stdout).contains("prometheus (stopped)"));
}

#[test]
fn plan_reports_an_unreachable_grafana_at_once_and_apply_waits_for_it() {
    let s = Stack::new();
    // A loopback port nobody listens on; wait_timeout left at its 60 s default.
    let closed = stack::free_port();
    std::env::set_var("MONSTACK_APPLY_TEST_UNREACHABLE_TOKEN", "t0ken");
    *s.grafana.lock().unwrap() = format!(
        "grafana:\n  url: http://127.0.0.1:{closed}\n  auth:\n    token_env: MONSTACK_APPLY_TEST_UNREACHABLE_TOKEN\n"
    );
    s.write_config(stack::PROM, &[], "");
    let started = std::time::Instant::now();
    let out = s.run(&["plan", "--output", "json", "--service-manager", "direct"]);
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(elapsed < Duration::from_secs(30), "plan waited {elapsed:?} for Grafana");
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = rep["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        err.contains(&format!("127.0.0.1:{closed}")) && err.contains("not reachable"),
        "{rep:#}"
    );
    assert_eq!(rep["errors"][0]["code"], 1, "{rep:#}");
    let advice = format!("{err} {}", rep["errors"][0]["hint"].as_str().unwrap_or_default());
    assert!(advice.contains("grafana.enabled: false"), "hint: {rep:#}");
    assert!(
        changes(&rep).contains(&"release prometheus create".to_string()),
        "the rest of the plan is shown: {rep:#}"
    );
    let err_text = String::from_utf8_lossy(&out.stderr);
    assert!(
        err_text.contains("error: grafana at `http://127.0.0.1:"),
        "json mode, stderr: {err_text}"
    );
    let out = s.run(&["plan", "--service-manager", "direct"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let err_text = String::from_utf8_lossy(&out.stderr);
    // The error is on stderr; stdout keeps the plan and does not claim "no changes".
    assert!(err_text.contains("error: grafana at `http://127.0.0.1:"), "{err_text}");
    assert!(err_text.contains("grafana.enabled: false"), "{err_text}");
    assert!(!text.contains("error:") && !text.contains("no changes"), "{text}");
    assert!(text.contains("plan: incomplete"), "{text}");

    // apply waits up to wait_timeout (here 2s), then fails naming the wait.
    *s.grafana.lock().unwrap() = format!(
        "grafana:\n  url: http://127.0.0.1:{closed}\n  wait_timeout: 2s\n  auth:\n    token_env: MONSTACK_APPLY_TEST_UNREACHABLE_TOKEN\n"
    );
    s.write_config(stack::PROM, &[], "");
    let (code, _, stderr) = s.apply(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("was not ready after 2s"), "{stderr}");
}

#[test]
fn grafana_config_errors_are_found_before_the_host_changes() {
    let s = Stack::new();
    // Missing credentials: the token env var is unset and no user/password is given.
    let closed = stack::free_port();
    *s.grafana.lock().unwrap() = format!(
        "grafana:\n  url: http://127.0.0.1:{closed}\n  auth:\n    token_env: MONSTACK_APPLY_TEST_UNSET_TOKEN\n    user_env: MONSTACK_APPLY_TEST_UNSET_USER\n"
    );
    s.write_config(stack::PROM, &[], "");
    for args in
        [&["apply", "--service-manager", "none"][..], &["plan", "--service-manager", "none"]]
    {
        let out = s.cmd(args).env_remove("MONSTACK_APPLY_TEST_UNSET_TOKEN").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {err}");
        assert!(err.contains("MONSTACK_APPLY_TEST_UNSET_TOKEN"), "names the env var: {err}");
        assert!(err.contains("grafana.auth"), "names the key: {err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("changed"), "{args:?}");
        assert!(!s.root.exists(), "{args:?} wrote under the root");
    }

    // A dashboard file without a uid, credentials present.
    let dash = s.dir.path().join("no-uid.json");
    std::fs::write(&dash, r#"{"title": "No uid", "panels": []}"#).unwrap();
    std::env::set_var("MONSTACK_APPLY_TEST_PREFLIGHT_TOKEN", "t0ken");
    *s.grafana.lock().unwrap() = format!(
        "grafana:\n  url: http://127.0.0.1:{closed}\n  auth:\n    token_env: MONSTACK_APPLY_TEST_PREFLIGHT_TOKEN\n  dashboards: [{}]\n",
        dash.display()
    );
    s.write_config(stack::PROM, &[], "");
    let out = s.run(&["apply", "--service-manager", "none"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("no-uid.json") && err.contains("has no `uid`"), "{err}");
    assert!(err.contains("grafana.dashboards[0]"), "{err}");
    assert!(!s.root.exists(), "nothing written under the root");
    assert_eq!(s.mirror.requests(), 0, "nothing downloaded");
}

/// Work an apply did not do after a failure is `skipped`, the step that failed is
/// `failed`: neither is counted as changed or unchanged, in JSON and in the human report.
#[test]
fn a_failed_apply_reports_failed_and_skipped_work_as_such() {
    let s = Stack::new();
    // An Alertmanager release the mirror does not have: its download fails.
    let text = std::fs::read_to_string(&s.config).unwrap();
    let bad = text.replace(&format!("version: {}", stack::AM), "version: 0.25.9");
    std::fs::write(&s.config, bad).unwrap();

    let (code, report, stderr) = s.apply(&[]);
    assert_eq!(code, 1, "{stderr}\n{report:#}");
    let resources = report["resources"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        resources.iter().find(|r| r["kind"] == kind && r["name"] == name).unwrap().clone()
    };
    let am = find("release", "alertmanager");
    assert_eq!((&am["action"], &am["planned"]), (&"failed".into(), &"create".into()), "{am:#}");
    assert!(am["detail"].as_str().unwrap().starts_with("install failed: "), "{am:#}");
    let file = find("file", "/opt/prometheus/prometheus.yml");
    assert_eq!((&file["action"], &file["planned"]), (&"skipped".into(), &"create".into()));
    assert_eq!(file["detail"], "create not done: apply failed", "{file:#}");
    assert_eq!(find("service", "prometheus")["action"], "skipped", "{report:#}");
    assert!(!resources.iter().any(|r| r["action"] == "unchanged"), "a fresh root: {report:#}");
    let count = |a: &str| resources.iter().filter(|r| r["action"] == a).count() as u64;
    assert_eq!(report["failed"], count("failed"));
    assert_eq!(report["skipped"], count("skipped"));
    assert!(count("skipped") >= 5, "{report:#}");
    assert_eq!(report["changed"], 1, "only the Prometheus release landed: {report:#}");

    // The human report says the same, one line each, and a summary that counts them apart.
    let out = s.run(&["apply", "--service-manager", "direct"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  ! release            alertmanager (failed): install failed: "),
        "{text}"
    );
    assert!(
        text.contains(
            "  . file               /opt/prometheus/prometheus.yml (skipped): create not done: apply failed"
        ),
        "{text}"
    );
    let skipped = text.lines().filter(|l| l.contains(" (skipped): ")).count();
    assert!(skipped >= 5, "{text}");
    // The Prometheus release (and its data dir) landed the first time.
    let summary = format!("apply: 0 changed, 1 failed, {skipped} skipped (2 unchanged)");
    assert!(text.contains(&summary), "{text}");
    assert!(!s.root.join("opt/prometheus/prometheus.yml").exists());
}

#[test]
fn a_failed_restart_brings_the_previous_process_back_and_says_so() {
    let s = Stack::new();
    s.apply_ok();
    let old = s.pid("alertmanager").expect("alertmanager runs");
    let cmdline = |pid: u32| std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let old_argv = cmdline(old);
    let old_exe = std::fs::read_link(format!("/proc/{old}/exe")).unwrap();

    // A flag Alertmanager refuses at startup: the restart fails.
    *s.alertmanager_extra.lock().unwrap() = "  extra_flags: ['--log.level=nope']\n".into();
    s.write_config(stack::PROM, &[], "");
    let unit = s.root.join("etc/systemd/system/alertmanager.service");
    let unit_before = std::fs::read(&unit).unwrap();
    let (code, report, stderr) = s.apply(&[]);
    assert_eq!(code, 1, "{stderr}\n{report:#}");
    assert!(stderr.contains(r#"unrecognized log level "nope""#), "names the cause: {stderr}");
    assert!(stderr.contains("`alertmanager` brought back"), "{stderr}");
    // The log tail is this run's: the earlier run's startup lines are not shown.
    assert!(!stderr.contains("Starting Alertmanager"), "stale log lines: {stderr}");

    // The report lists the service and the restored unit honestly.
    let resources = report["resources"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        resources
            .iter()
            .find(|r| r["kind"] == kind && r["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {report:#}"))
            .clone()
    };
    let svc = find("service", "alertmanager");
    assert_eq!((&svc["action"], &svc["planned"]), (&"failed".into(), &"restart".into()), "{svc:#}");
    let detail = svc["detail"].as_str().unwrap();
    assert!(detail.starts_with("restart failed: "), "{detail}");
    assert!(detail.contains("nope") && detail.ends_with("previous restored"), "{detail}");
    let u = find("unit", "/etc/systemd/system/alertmanager.service");
    assert!(u["detail"].as_str().unwrap().contains("restored"), "{u:#}");
    assert_eq!((&u["action"], &u["planned"]), (&"failed".into(), &"update".into()), "{u:#}");
    // Restored files and the failed service count as failed, not as changed.
    assert_eq!(report["changed"], 0, "{report:#}");
    assert!(report["failed"].as_u64().unwrap() >= 2, "{report:#}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "the failure, once: {report:#}");
    let message = errors[0]["message"].as_str().unwrap();
    // Complete: the cause's later lines (the service's own log) are kept.
    assert!(message.contains("nope") && message.contains("brought back"), "{report:#}");

    // Alertmanager runs again exactly as before the failed apply, on the old unit.
    let new = s.pid("alertmanager").expect("alertmanager was brought back");
    assert_ne!(new, old);
    assert!(monstack::services::alive(new));
    assert_eq!(cmdline(new), old_argv, "the previous argv");
    assert_eq!(std::fs::read_link(format!("/proc/{new}/exe")).unwrap(), old_exe);
    assert_eq!(std::fs::read(&unit).unwrap(), unit_before, "the previous unit");
    let ready = poll(Duration::from_secs(30), || {
        let out = std::process::Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{}/-/ready", s.am)])
            .output()
            .unwrap();
        out.status.success().then_some(())
    });
    assert!(ready.is_some(), "the previous Alertmanager serves");

    // For people: the error once, on stderr and complete; stdout keeps the report.
    let out = s.run(&["apply", "--service-manager", "direct"]);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stdout.lines().any(|l| l.starts_with("error:")), "no copy on stdout: {stdout}");
    assert!(stdout.contains("failed, error on stderr"), "{stdout}");
    assert_eq!(stderr.matches("error: apply failed").count(), 1, "printed once: {stderr}");
    assert!(stderr.contains(r#"unrecognized log level "nope""#), "complete: {stderr}");

    // With the flag gone the host is converged as it was.
    *s.alertmanager_extra.lock().unwrap() = String::new();
    s.write_config(stack::PROM, &[], "");
    assert_eq!(s.apply_ok()["changed"], 0);
}
