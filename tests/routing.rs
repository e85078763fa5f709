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
        r##"prometheus:
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
    // files are judged before any install).
    let root = dir.join("root");
    let release = root.join("opt/alertmanager/releases/0.25.0");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("alertmanager"), b"").unwrap();
    let o = monstack(
        dir,
        &["--root", root.to_str().unwrap(), "apply", "--service-manager", "none", "--offline"],
    );
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
