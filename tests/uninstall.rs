//! `monstack uninstall` end to end under a temp root with `--service-manager direct`:
//! planned (`--dry-run`, human and JSON), refused without a terminal or `--yes`,
//! confirmed on a terminal, per component and for the whole stack; data dirs kept
//! unless `--purge`; files monstack did not write stay; a second run is a no-op.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use stack::{resources, Stack};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(o)))
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// `monstack ... uninstall ARGS` on a pseudo-terminal (util-linux `script`), `answer`
/// typed at the prompt.
fn on_terminal(s: &Stack, args: &str, answer: &str) -> Output {
    let cmd = format!(
        "{} --root {} --config {} uninstall {args}",
        env!("CARGO_BIN_EXE_monstack"),
        s.root.display(),
        s.config.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .env_remove("MONSTACK_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    child.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn uninstall_is_planned_confirmed_keeps_data_and_is_a_no_op_the_second_time() {
    let s = Stack::new();
    s.apply_ok();
    let r = |p: &str| s.root.join(p);
    let foreign = r("opt/prometheus/notes.txt");
    std::fs::write(&foreign, "the operator's\n").unwrap();
    assert!(listening(s.prom) && listening(s.am) && listening(s.node));

    // Without a terminal and without --yes: refused, nothing touched.
    let out = s.run(&["uninstall"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("pass `--yes`"), "{}", text(&out));
    assert!(r("opt/prometheus/prometheus.yml").exists() && listening(s.prom));

    // --dry-run: what it would remove, human and JSON; nothing changed.
    let out = s.run(&["uninstall", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "  x service            node_exporter (stop): stop and disable",
        "  - unit               /etc/systemd/system/prometheus.service (delete)",
        "  - file               /opt/alertmanager/alertmanager.yml (delete)",
        "  - file               /etc/logrotate.d/snowflake-mcp (delete)",
        "  - release            prometheus (delete)",
        "    dir                /opt/prometheus/data (unchanged): data kept; `--purge` removes it",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    assert!(plan.contains("uninstall: 14 to remove"), "{plan}");
    assert!(!plan.contains("notes.txt"), "{plan}");
    let doc = json(&s.run(&["uninstall", "--dry-run", "--output", "json"]));
    assert_eq!(doc["format_version"], monstack::printer::FORMAT_VERSION);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["changed"], 14, "{doc:#}");
    assert!(listening(s.prom) && r("opt/prometheus/current").exists());

    // On a terminal: asked; "n" changes nothing, "y" removes node_exporter only.
    let out = on_terminal(&s, "node_exporter", "n\n");
    assert!(text(&out).contains("remove all of the above? [y/N]"), "{}", text(&out));
    assert!(text(&out).contains("cancelled, nothing changed"), "{}", text(&out));
    assert!(listening(s.node));
    let out = on_terminal(&s, "node_exporter", "y\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("uninstall: 3 removed"), "{}", text(&out));
    assert!(!listening(s.node) && listening(s.prom) && listening(s.am));
    assert!(!r("opt/node_exporter/current").exists());
    assert!(!r("etc/systemd/system/node_exporter.service").exists());

    // --output json on a terminal: the plan and the question on stderr, one JSON
    // document (the outcome) on stdout.
    let stderr = s.dir.path().join("stderr.txt");
    let out = on_terminal(&s, &format!("--output json alertmanager 2>{}", stderr.display()), "y\n");
    assert!(out.status.success(), "{}", text(&out));
    // The terminal echoes the typed answer before the document.
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let echoed = shown.find('{').unwrap_or(0);
    assert_eq!(shown[..echoed].trim(), "y", "only the echo before the document: {shown}");
    let doc: serde_json::Value = serde_json::from_str(&shown[echoed..])
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}): {shown}"));
    assert_eq!(doc["dry_run"], false);
    assert!(resources(&doc).contains(&"release alertmanager delete".to_string()), "{doc:#}");
    let asked = std::fs::read_to_string(&stderr).unwrap();
    assert!(asked.contains("- release            alertmanager (delete)"), "{asked}");
    assert!(asked.contains("remove all of the above? [y/N]"), "{asked}");
    assert!(!listening(s.am) && listening(s.prom));

    // The rest of the stack, in a pipeline.
    let out = s.run(&["uninstall", "--yes", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rep = json(&out);
    assert_eq!(rep["dry_run"], false);
    let done = resources(&rep);
    for want in [
        "service prometheus stop",
        "unit /etc/systemd/system/prometheus.service delete",
        "file /opt/prometheus/prometheus.yml delete",
        "file /opt/prometheus/rules/snowflake_mcp_rules.yml delete",
        "file /etc/rsyslog.d/30-snowflake-mcp.conf delete",
        "release prometheus delete",
        "dir /opt/prometheus/data unchanged",
    ] {
        assert!(done.contains(&want.to_string()), "{want}: {done:?}");
    }
    assert!(!listening(s.prom) && !listening(s.am));
    for gone in [
        "opt/prometheus/prometheus.yml",
        "opt/prometheus/rules",
        "opt/prometheus/current",
        "opt/prometheus/releases",
        "opt/alertmanager/alertmanager.yml",
        "etc/systemd/system/prometheus.service",
        "etc/logrotate.d/snowflake-mcp",
        "var/lib/monstack/releases/prometheus.json",
    ] {
        assert!(!r(gone).exists(), "{gone} removed");
    }
    assert!(r("opt/prometheus/data").is_dir() && r("opt/alertmanager/data").is_dir(), "data kept");
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "the operator's\n");

    // Again: nothing to remove.
    let out = s.run(&["uninstall", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("uninstall: nothing to remove"), "{}", text(&out));

    // --purge removes the kept data dirs (and the install dirs left empty).
    let rep = json(&s.run(&["uninstall", "--purge", "--yes", "--output", "json"]));
    let done = resources(&rep);
    assert!(done.contains(&"dir /opt/prometheus/data delete".to_string()), "{done:?}");
    assert!(!r("opt/prometheus/data").exists() && !r("opt/alertmanager").exists());
    assert!(foreign.exists(), "a dir with the operator's file in it stays");
    let out = s.run(&["uninstall", "--purge", "--yes"]);
    assert!(text(&out).contains("uninstall: nothing to remove"), "{}", text(&out));
}

#[test]
fn an_unknown_component_is_a_usage_error() {
    let s = Stack::new();
    let out = s.run(&["uninstall", "--yes", "nginx"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("unknown component `nginx`"), "{}", text(&out));
}
