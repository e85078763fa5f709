//! Alertmanager routing as typed config: a route tree with nested routes, matchers,
//! continue, time intervals, inhibit rules, templates and slack/pagerduty receivers
//! whose secrets are files; judged by Debian's amtool, with the config's own
//! `route_tests` run through `amtool config routes test` by `validate` and before
//! `apply` lands anything.
use std::path::Path;
use std::process::{Command, Output};

fn monstack(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monstack"))
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("monstack.yaml"))
        .args(args)
        .env_remove("MONSTACK_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// YAML-special strings in every new user string field.
const PAGER: &str = "pager: #1 'x' \"y\"";
const CHANNEL: &str = "#alerts: {ops}";
const TITLE: &str = "{{ .GroupLabels.alertname }} & *ref [x]";

fn config(tests: &str) -> String {
    format!(
        r##"downloads:
  base_url: http://127.0.0.1:9
prometheus:
  enabled: false
node_exporter:
  enabled: false
grafana:
  enabled: false
alertmanager:
  version: 0.25.0
  templates: [my.tmpl]
  route:
    receiver: web.hook
    routes:
      - matchers: ['severity="critical"', 'team=~"db|web"']
        receiver: '{pager}'
        continue: true
        group_by: [alertname, "instance"]
        group_wait: 5s
        mute_time_intervals: ["weekends: sat/sun"]
        routes:
          - matchers: ['env!="dev: #x"']
            receiver: slack
            active_time_intervals: [office]
      - matchers: ['team="db"']
        receiver: slack
  inhibit_rules:
    - source_matchers: ['severity="critical"']
      target_matchers: ['severity="warning"']
      equal: [alertname]
  time_intervals:
    - name: "weekends: sat/sun"
      time_intervals:
        - weekdays: ["saturday", "sunday"]
    - name: office
      time_intervals:
        - times: [{{start_time: "09:00", end_time: "17:00"}}]
          weekdays: ["monday:friday"]
          location: Europe/Berlin
  receivers:
    - name: web.hook
      webhook_configs: [{{url: "http://127.0.0.1:5001/"}}]
    - name: '{pager}'
      pagerduty_configs: [{{routing_key_file: pd.key, severity: critical, description: '{title}'}}]
    - name: slack
      slack_configs: [{{api_url_file: slack.url, channel: '{channel}', title: '{title}', text: '{title}'}}]
  route_tests:
{tests}"##,
        pager = PAGER.replace('\'', "''"),
        channel = CHANNEL,
        title = TITLE,
    )
}

/// Critical db in prod: the nested slack route, then (continue) the db route.
const GOOD_TESTS: &str = r#"    - labels: {severity: critical, team: db, env: prod}
      expect_receivers: [slack, slack]
    - labels: {severity: critical, team: web, env: "dev: #x"}
      expect_receivers: ['pager: #1 ''x'' "y"']
    - labels: {severity: warning}
      expect_receivers: [web.hook]
"#;

fn setup() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("slack.url"), "https://hooks.slack.example/T0/B0/x\n").unwrap();
    std::fs::write(t.path().join("pd.key"), "0123456789abcdef\n").unwrap();
    std::fs::write(t.path().join("my.tmpl"), "{{ define \"my.title\" }}hi{{ end }}\n").unwrap();
    t
}

#[test]
fn typed_routing_is_rendered_judged_by_amtool_and_route_tests_run() {
    assert!(which::which("amtool").is_ok(), "amtool is required (make deps)");
    let t = setup();
    let dir = t.path();
    std::fs::write(dir.join("monstack.yaml"), config(GOOD_TESTS)).unwrap();
    let o = monstack(dir, &["validate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ok        amtool          /opt/alertmanager/alertmanager.yml"));

    // Rendered: strings round-trip, secrets stay in their files.
    let o = monstack(dir, &["render", "--out", "out"]);
    assert!(o.status.success(), "{}", text(&o));
    let am_text =
        std::fs::read_to_string(dir.join("out/opt/alertmanager/alertmanager.yml")).unwrap();
    assert!(!am_text.contains("hooks.slack.example") && !am_text.contains("0123456789"));
    let am: serde_norway::Value = serde_norway::from_str(&am_text).unwrap();
    let r0 = &am["route"]["routes"][0];
    assert_eq!(r0["receiver"].as_str(), Some(PAGER));
    assert_eq!(r0["continue"].as_bool(), Some(true));
    assert_eq!(r0["matchers"][1].as_str(), Some("team=~\"db|web\""));
    assert_eq!(r0["mute_time_intervals"][0].as_str(), Some("weekends: sat/sun"));
    assert_eq!(r0["routes"][0]["matchers"][0].as_str(), Some("env!=\"dev: #x\""));
    assert_eq!(am["time_intervals"][0]["name"].as_str(), Some("weekends: sat/sun"));
    assert_eq!(am["inhibit_rules"][0]["equal"][0].as_str(), Some("alertname"));
    assert_eq!(am["templates"][0].as_str(), Some("templates/my.tmpl"));
    let slack = &am["receivers"][2]["slack_configs"][0];
    assert_eq!(slack["channel"].as_str(), Some(CHANNEL));
    assert_eq!(slack["title"].as_str(), Some(TITLE));
    assert_eq!(
        slack["api_url_file"].as_str(),
        Some(dir.join("slack.url").to_str().unwrap()),
        "Alertmanager reads the URL from the file"
    );
    let pd = &am["receivers"][1]["pagerduty_configs"][0];
    assert_eq!(pd["description"].as_str(), Some(TITLE));
    assert!(dir.join("out/opt/alertmanager/templates/my.tmpl").is_file());

    // A routing change that breaks an expectation is refused by validate ...
    let bad = GOOD_TESTS.replace("[slack, slack]", "[web.hook]");
    std::fs::write(dir.join("monstack.yaml"), config(&bad)).unwrap();
    let o = monstack(dir, &["validate"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("alertmanager.route_tests[0]"), "{}", text(&o));
    assert!(text(&o).contains("should reach [web.hook]"), "{}", text(&o));
    // ... and by apply before anything lands (the release counts as on disk, so its
    // files are judged before any install; the mirror is a closed loopback port, so
    // no download could happen).
    let root = dir.join("root");
    let release = root.join("opt/alertmanager/releases/0.25.0");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("alertmanager"), b"").unwrap();
    let o =
        monstack(dir, &["--root", root.to_str().unwrap(), "apply", "--service-manager", "none"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("alertmanager.route_tests[0]"), "{}", text(&o));
    assert!(!root.join("opt/alertmanager/alertmanager.yml").exists());
}

#[test]
fn bad_routing_is_refused_with_located_errors() {
    let t = setup();
    let dir = t.path();
    let cases = [
        (
            "['severity=\"critical\"', 'team=~\"db|web\"']",
            "['severity critical']",
            "has no operator",
        ),
        (
            "['severity=\"critical\"', 'team=~\"db|web\"']",
            "['9x=\"a\"']",
            "does not start with a label name",
        ),
        (
            "['severity=\"critical\"', 'team=~\"db|web\"']",
            "['a=\"open']",
            "quoted value is not closed",
        ),
        ("receiver: slack", "receiver: nobody", "receiver `nobody` is not defined"),
        (
            "active_time_intervals: [office]",
            "active_time_intervals: [night]",
            "time interval `night` is not defined",
        ),
        ("api_url_file: slack.url", "api_url_file: missing.url", "missing.url"),
        ("templates: [my.tmpl]", "templates: [none.tmpl]", "none.tmpl"),
        ("group_wait: 5s", "group_wait: soon", "`soon` is not a duration"),
    ];
    for (from, to, want) in cases {
        let c = config(GOOD_TESTS);
        assert!(c.contains(from), "{from}");
        std::fs::write(dir.join("monstack.yaml"), c.replacen(from, to, 1)).unwrap();
        let o = monstack(dir, &["validate"]);
        assert_eq!(o.status.code(), Some(78), "{to}: {}", text(&o));
        assert!(text(&o).contains(want), "{to}: {}", text(&o));
        assert!(text(&o).contains("monstack.yaml:"), "located: {}", text(&o));
    }
}

/// `monstack validate` accepts one config using every addition (web on all three
/// components, file_sd, the routing tree with route tests, a full remote_write) and
/// the real validators agree: promtool for prometheus.yml and each web.yml
/// (`check web-config`), amtool for alertmanager.yml and the route tests.
#[test]
fn validate_accepts_every_addition_at_once() {
    let t = setup();
    let dir = t.path();
    let run = |args: &[&str]| {
        let o = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        "tls.key",
        "-out",
        "tls.pem",
    ]);
    std::fs::write(dir.join("admin.pw"), "s3cret: #1\n").unwrap();
    let web = "  web:\n    tls_cert_file: tls.pem\n    tls_key_file: tls.key\n    \
               client_ca_file: tls.pem\n    ca_file: tls.pem\n    \
               basic_auth_users: {\"admin #1\": admin.pw}\n";
    let am = config(GOOD_TESTS).replace("prometheus:\n  enabled: false\n", "").replace(
        "node_exporter:\n  enabled: false\n",
        &format!("node_exporter:\n  version: 1.5.0\n{web}"),
    );
    let text = format!(
        "prometheus:\n  version: 2.42.0\n  alertmanagers: ['localhost:9093']\n{web}  \
         scrape_configs:\n    - job_name: prometheus\n      targets: ['localhost:9090']\n    \
         - job_name: node\n      targets: ['localhost:9100']\n    \
         - job_name: \"fleet: #1\"\n      file_sd: ['/etc/prometheus/targets.d/*.yml']\n  \
         remote_write:\n    - url: https://metrics.example.com/api/v1/write\n      name: central\n      \
         bearer_token_file: /etc/monstack/rw.token\n      tls: {{ca_file: /etc/monstack/ca.pem}}\n      \
         queue_config: {{max_shards: 10, batch_send_deadline: 5s}}\n      \
         write_relabel_configs: [{{source_labels: [__name__], regex: 'go_.*', action: drop}}]\n\
         {am}"
    )
    .replace("alertmanager:\n  version: 0.25.0\n", &format!("alertmanager:\n  version: 0.25.0\n{web}"));
    std::fs::write(dir.join("monstack.yaml"), &text).unwrap();
    let o = monstack(dir, &["validate", "--output", "json"]);
    assert!(o.status.success(), "{}\n{text}", self::text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = doc["files"].as_array().cloned().unwrap_or_default();
    let tool_of = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| (f["tool"].as_str().unwrap_or("").to_string(), f["status"].clone()))
    };
    for c in ["prometheus", "alertmanager", "node_exporter"] {
        let (tool, status) = tool_of(&format!("/opt/{c}/web.yml")).expect("web.yml validated");
        assert_eq!((tool.as_str(), status.as_str()), ("promtool", Some("ok")), "{doc:#}");
    }
    let (tool, status) = tool_of("/opt/prometheus/prometheus.yml").unwrap();
    assert_eq!((tool.as_str(), status.as_str()), ("promtool", Some("ok")));
    let (tool, status) = tool_of("/opt/alertmanager/alertmanager.yml").unwrap();
    assert_eq!((tool.as_str(), status.as_str()), ("amtool", Some("ok")));

    // The password never reaches the output; web.yml holds a bcrypt hash of it.
    assert!(!self::text(&o).contains("s3cret"));
    let o = monstack(dir, &["render", "--out", "out"]);
    assert!(o.status.success(), "{}", self::text(&o));
    let web_yml = std::fs::read_to_string(dir.join("out/opt/node_exporter/web.yml")).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&web_yml).unwrap();
    let hash = doc["basic_auth_users"]["admin #1"].as_str().unwrap();
    assert!(bcrypt::verify("s3cret: #1", hash).unwrap(), "{web_yml}");
    assert!(!web_yml.contains("s3cret"));
    let prom = std::fs::read_to_string(dir.join("out/opt/prometheus/prometheus.yml")).unwrap();
    let p: serde_norway::Value = serde_norway::from_str(&prom).unwrap();
    let node = &p["scrape_configs"][1];
    assert_eq!(node["scheme"].as_str(), Some("https"));
    assert_eq!(node["basic_auth"]["username"].as_str(), Some("admin #1"));
    assert_eq!(p["scrape_configs"][2]["job_name"].as_str(), Some("fleet: #1"));
    assert_eq!(
        p["scrape_configs"][2]["file_sd_configs"][0]["files"][0].as_str(),
        Some("/etc/prometheus/targets.d/*.yml")
    );
    assert_eq!(p["alerting"]["alertmanagers"][0]["scheme"].as_str(), Some("https"));
}
