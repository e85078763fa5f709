//! `monstack validate` and the reusable `validate_file`, against the real promtool,
//! amtool, systemd-analyze and logrotate (a missing one fails the test).

#[path = "support/bin.rs"]
mod bin;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use monstack::config::ComponentKind;
use monstack::render::FileRole;
use monstack::validate::{validate_file, Tool, Tools, ValidationError};

fn require(tool: &str) -> PathBuf {
    which::which(tool).unwrap_or_else(|_| panic!("`{tool}` is required (run `make deps`)"))
}

fn require_all() {
    for t in Tool::ALL {
        let found = std::iter::once(t.program())
            .chain(t.aliases().iter().copied())
            .any(|n| which::which(n).is_ok());
        assert!(found, "`{t}` is required (run `make deps`)");
    }
}

/// Write the config and run `monstack validate` in `dir`.
fn validate(dir: &Path, config: &str, extra: &[&str], path_env: Option<&Path>) -> Output {
    fs::write(dir.join("monstack.yaml"), config).unwrap();
    let mut cmd =
        bin::Monstack::new().dir(dir).args(["--config", "monstack.yaml", "validate"]).args(extra);
    if let Some(p) = path_env {
        cmd = cmd.env("PATH", p);
    }
    cmd.output()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn default_config_passes_every_real_validator() {
    require_all();
    let t = tempfile::tempdir().unwrap();
    let o = validate(t.path(), "", &["--strict", "--output", "json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["valid"], true);
    let files = j["files"].as_array().unwrap();
    let by_path = |p: &str| files.iter().find(|f| f["path"] == p).unwrap_or_else(|| panic!("{p}"));
    for (path, tool) in [
        ("/opt/prometheus/prometheus.yml", "promtool"),
        ("/opt/prometheus/rules/snowflake_mcp_rules.yml", "promtool"),
        ("/opt/alertmanager/alertmanager.yml", "amtool"),
        ("/etc/systemd/system/prometheus.service", "systemd-analyze"),
        ("/etc/systemd/system/alertmanager.service", "systemd-analyze"),
        ("/etc/systemd/system/node_exporter.service", "systemd-analyze"),
        ("/etc/logrotate.d/snowflake-mcp", "logrotate"),
    ] {
        let f = by_path(path);
        assert_eq!(f["status"], "ok", "{f}");
        assert_eq!(f["tool"], tool, "{f}");
    }
    // A binary not installed yet is a note, not a broken unit: an install_dir that
    // certainly holds nothing makes that deterministic on any host.
    let absent = t.path().join("not-installed/prometheus");
    let cfg = format!("prometheus:\n  install_dir: {}\n", absent.display());
    let o2 = validate(t.path(), &cfg, &["--strict", "--output", "json"], None);
    assert_eq!(o2.status.code(), Some(0), "{}", stderr(&o2));
    let j2 = json(&o2);
    let unit = j2["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/etc/systemd/system/prometheus.service")
        .unwrap();
    assert_eq!(unit["status"], "ok", "{unit}");
    let bin = absent.join("current/prometheus");
    let note = format!("binary `{}` is not installed yet", bin.display());
    assert!(unit["notes"].as_array().unwrap().contains(&note.into()), "{unit}");
    assert!(!absent.exists());
    assert_eq!(by_path("/etc/rsyslog.d/30-snowflake-mcp.conf")["status"], "skipped");
    assert_eq!(
        (&j["checked"], &j["unchecked"], &j["without_validator"]),
        (&7.into(), &0.into(), &1.into())
    );
    assert_eq!(j["missing_validators"], serde_json::json!([]));
    assert!(
        stderr(&o).ends_with("\n7 checked and valid; 1 file has no validator (rsyslog)\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_log_owner_missing_on_this_host_is_a_note_not_a_broken_file() {
    require_all();
    let t = tempfile::tempdir().unwrap();
    let cfg = "logrotate:\n  entries:\n    - name: app\n      paths: [/var/log/app/*.log]\n      create: {mode: \"0640\", owner: monstack-no-such-user, group: monstack-no-such-group}\n";
    let o = validate(t.path(), cfg, &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("user `monstack-no-such-user` does not exist on this host"), "{err}");
    assert!(err.contains("group `monstack-no-such-group` does not exist on this host"), "{err}");
}

/// Each validator's own message reaches the user with the file, and exit is 1.
#[test]
fn validator_failures_carry_the_tool_message_and_file() {
    require_all();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "prometheus.yml.tera",
            "global:\n  scrape_interval: 15s\nbogus_key: 1\n",
            &["`promtool` rejected `/opt/prometheus/prometheus.yml`", "bogus_key"],
        ),
        (
            "alertmanager.yml.tera",
            "route:\n  receiver: nobody\nreceivers:\n  - name: web.hook\n",
            &[
                "`amtool` rejected `/opt/alertmanager/alertmanager.yml`",
                "undefined receiver \"nobody\"",
            ],
        ),
        (
            // The binary exists, so systemd-analyze exits 0: only its diagnostics tell.
            "unit.service.tera",
            "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\nBogusKey=1\nLimitNOFILE=lots\n",
            &[
                "`systemd-analyze` rejected `/etc/systemd/system/prometheus.service`",
                "Unknown key 'BogusKey' in section [Service]",
                "Failed to parse resource value, ignoring: lots",
            ],
        ),
        (
            // logrotate -d exits 0 on an unknown directive.
            "logrotate.tera",
            "/var/log/x/*.log {\n    daily\n    bogusdirective\n}\n",
            &[
                "`logrotate` rejected `/etc/logrotate.d/snowflake-mcp`",
                "unknown option 'bogusdirective'",
            ],
        ),
    ];
    for (name, text, expected) in cases {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("tpl")).unwrap();
        fs::write(t.path().join("tpl").join(name), text).unwrap();
        let o = validate(t.path(), "", &["--templates", "tpl"], None);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        for e in *expected {
            assert!(err.contains(e), "{name}: missing {e:?} in\n{err}");
        }
        assert!(!err.contains("monstack-validate-"), "temp paths leak: {err}");
    }
}

#[test]
fn a_broken_user_rule_file_is_reported_by_promtool() {
    require_all();
    let t = tempfile::tempdir().unwrap();
    fs::write(
        t.path().join("mine.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m] > 1\n",
    )
    .unwrap();
    let o =
        validate(t.path(), "prometheus:\n  rule_files: [mine.yml]\n", &["--output", "json"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j = json(&o);
    let f = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/opt/prometheus/rules/mine.yml")
        .unwrap();
    assert_eq!(f["status"], "invalid");
    assert!(f["message"].as_str().unwrap().contains("parse error"), "{f}");
}

#[test]
fn a_missing_validator_warns_and_strict_makes_it_an_error() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty-path");
    fs::create_dir(&empty).unwrap();
    let o = validate(t.path(), "", &[], Some(&empty));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for tool in ["promtool", "amtool", "systemd-analyze", "logrotate"] {
        assert!(err.contains(&format!("warning: `{tool}` not found on PATH")), "{err}");
    }
    // Nothing was checked, and the summary says so rather than "8 files valid".
    assert!(
        err.ends_with("\n0 checked and valid, 7 unchecked: validators missing (promtool, amtool, systemd-analyze, logrotate); 1 file has no validator (rsyslog)\n"),
        "{err}"
    );
    assert!(!err.contains("files valid"), "{err}");
    let j = json(&validate(t.path(), "", &["--output", "json"], Some(&empty)));
    assert_eq!(j["checked"], 0, "{j}");
    assert_eq!(j["unchecked"], 7, "{j}");
    assert_eq!(j["without_validator"], 1, "{j}");
    assert_eq!(
        j["missing_validators"],
        serde_json::json!(["promtool", "amtool", "systemd-analyze", "logrotate"])
    );
    let o = validate(t.path(), "", &["--strict"], Some(&empty));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("error: `promtool` not found on PATH"), "{}", stderr(&o));
}

#[test]
fn a_bad_config_exits_78_before_any_validator_runs() {
    let t = tempfile::tempdir().unwrap();
    let o = validate(t.path(), "prometheus:\n  listen_address: nowhere\n", &[], None);
    assert_eq!(o.status.code(), Some(78));
    assert_eq!(
        stderr(&o),
        "error: monstack.yaml:2:3: `prometheus.listen_address`: `nowhere` is not a host:port listen address\n"
    );
}

/// The library entry apply uses: one candidate file, a given validator binary.
#[test]
fn validate_file_uses_the_given_binaries() {
    let promtool = require("promtool");
    let sa = require("systemd-analyze");
    let lr = require("logrotate");
    let t = tempfile::tempdir().unwrap();

    let rules = t.path().join("r.yml");
    fs::write(&rules, monstack::render::DEFAULT_RULES).unwrap();
    let mut tools = Tools::default();
    // Not on the list yet: the tool is missing, whatever PATH says.
    match validate_file(FileRole::PrometheusRules, &rules, &tools) {
        Err(ValidationError::ToolMissing { tool: Tool::Promtool, .. }) => {}
        other => panic!("{other:?}"),
    }
    tools.set(Tool::Promtool, &promtool).set(Tool::SystemdAnalyze, &sa).set(Tool::Logrotate, &lr);
    let ok = validate_file(FileRole::PrometheusRules, &rules, &tools).unwrap();
    assert_eq!(ok.tool, Some(Tool::Promtool));
    fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n")
        .unwrap();
    match validate_file(FileRole::PrometheusRules, &rules, &tools) {
        Err(ValidationError::Rejected { tool: Tool::Promtool, file, message }) => {
            assert_eq!(file, rules);
            assert!(message.contains("FAILED"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // A unit whose binary is not installed yet passes with a note.
    let unit = t.path().join("x.service");
    fs::write(&unit, "[Service]\nExecStart=/nonexistent/monstack-test/bin --flag\n").unwrap();
    let ok = validate_file(FileRole::Unit(ComponentKind::Prometheus), &unit, &tools).unwrap();
    assert_eq!(ok.notes, ["binary `/nonexistent/monstack-test/bin` is not installed yet"]);

    // Unknown owner and group (logrotate stops at each in turn) do not hide a real
    // problem later in the same block.
    let lrf = t.path().join("lr");
    fs::write(&lrf, "/var/log/x/*.log {\n    create 0644 monstack-nouser monstack-nogroup\n    weekly\n    frobnicate\n}\n")
        .unwrap();
    match validate_file(FileRole::Logrotate, &lrf, &tools) {
        Err(ValidationError::Rejected { tool: Tool::Logrotate, message, .. }) => {
            assert!(message.contains("unknown option 'frobnicate'"), "{message}");
            assert!(message.contains(&lrf.display().to_string()), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A rejected alertmanager.yml is reported without the SMTP password in it.
#[test]
fn validator_messages_never_show_the_smtp_password() {
    require_all();
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("tpl")).unwrap();
    // A template that puts the password where amtool quotes it back.
    fs::write(
        t.path().join("tpl/alertmanager.yml.tera"),
        "route:\n  receiver: {{ smtp.password | yaml }}\nreceivers:\n  - name: web.hook\n",
    )
    .unwrap();
    let cfg = "alertmanager:\n  smtp:\n    smarthost: mail:587\n    from: a@b.c\n    password_env: MONSTACK_TEST_PW\n";
    fs::write(t.path().join("monstack.yaml"), cfg).unwrap();
    let o = bin::Monstack::new()
        .dir(t.path())
        .args(["--config", "monstack.yaml", "validate", "--templates", "tpl", "--output", "json"])
        .env("MONSTACK_TEST_PW", "hunter2-secret")
        .output();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(all.contains("undefined receiver \"********\""), "one mask everywhere: {all}");
    assert!(!all.contains("hunter2"), "{all}");
}

/// Spaces, `%` and `$` in unit paths and flags are quoted and escaped so that
/// systemd-analyze accepts the units as they are.
#[test]
fn units_with_special_characters_in_paths_pass_systemd_analyze() {
    require_all();
    let t = tempfile::tempdir().unwrap();
    let cfg = "prometheus:\n  data_dir: \"/srv/prom data/50%\"\n  extra_flags: [\"--web.external-url=http://x/$y z\"]\n";
    let o = validate(t.path(), cfg, &["--strict"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// tests/fixtures/issue13: one config using every issue-13 addition (web TLS and
/// basic auth on four components, file_sd, the routing tree with route tests,
/// remote_write, blackbox modules and probes). `monstack validate` accepts it, says
/// which validator judged each file, and the real validators run here on the rendered
/// tree agree.
#[test]
fn every_issue13_addition_validates_and_the_real_validators_agree() {
    require_all();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/issue13/monstack.yaml");
    let o = bin::Monstack::new().config(&fixture).args(["validate", "--output", "json"]).output();
    assert_eq!(o.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    let j = json(&o);
    let files = j["files"].as_array().unwrap();
    let tool_of = |p: &str| {
        let f = files.iter().find(|f| f["path"] == p).unwrap_or_else(|| panic!("{p}: {j:#}"));
        assert_eq!(f["status"], "ok", "{f}");
        f["tool"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(tool_of("/opt/prometheus/prometheus.yml"), "promtool");
    assert_eq!(tool_of("/opt/alertmanager/alertmanager.yml"), "amtool");
    assert_eq!(tool_of("/opt/blackbox_exporter/blackbox.yml"), "blackbox-exporter");
    for c in ["prometheus", "alertmanager", "node_exporter", "blackbox_exporter"] {
        assert_eq!(tool_of(&format!("/opt/{c}/web.yml")), "promtool");
        assert_eq!(tool_of(&format!("/etc/systemd/system/{c}.service")), "systemd-analyze");
    }

    // The same files, rendered, judged by the tools directly.
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let r = bin::Monstack::new().config(&fixture).args(["render", "--out"]).args([&out]).output();
    assert!(r.status.success(), "{}", stderr(&r));
    let agree = |bin: &str, args: &[&str]| {
        let o = std::process::Command::new(bin).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(o.status.success(), "{bin} {args:?}: {text}");
        text
    };
    let path = |p: &str| out.join(p).to_string_lossy().into_owned();
    let text = agree("promtool", &["check", "config", &path("opt/prometheus/prometheus.yml")]);
    assert!(text.contains("SUCCESS"), "{text}");
    for c in ["prometheus", "alertmanager", "node_exporter", "blackbox_exporter"] {
        agree("promtool", &["check", "web-config", &path(&format!("opt/{c}/web.yml"))]);
    }
    let am = path("opt/alertmanager/alertmanager.yml");
    agree("amtool", &["check-config", &am]);
    let routed = agree(
        "amtool",
        &[
            "config",
            "routes",
            "test",
            &format!("--config.file={am}"),
            "severity=critical",
            "team=db",
            "service=a: b",
        ],
    );
    assert!(routed.contains("chat"), "{routed}");
    let bb = format!("--config.file={}", path("opt/blackbox_exporter/blackbox.yml"));
    agree("prometheus-blackbox-exporter", &[&bb, "--config.check"]);
    // The probe jobs as Prometheus will run them.
    let prom: serde_norway::Value = serde_norway::from_str(
        &fs::read_to_string(out.join("opt/prometheus/prometheus.yml")).unwrap(),
    )
    .unwrap();
    let jobs = prom["scrape_configs"].as_sequence().unwrap();
    let probe = jobs.iter().find(|j| j["job_name"].as_str() == Some("websites: #1")).unwrap();
    assert_eq!(probe["metrics_path"].as_str(), Some("/probe"));
    assert_eq!(probe["params"]["module"][0].as_str(), Some("http_2xx"));
    assert_eq!(probe["scheme"].as_str(), Some("https"));
    assert_eq!(probe["relabel_configs"][2]["replacement"].as_str(), Some("127.0.0.1:9115"));
    assert_eq!(
        probe["basic_auth"]["password_file"].as_str(),
        Some("secrets/blackbox_exporter.password")
    );
}
