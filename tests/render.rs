//! `monstack init` and `monstack render` run as a user would: the built binary on
//! real files, its output checked by snapshots and by the real promtool/amtool.

#[path = "support/bin.rs"]
mod bin;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use monstack::config::{self, Config};

const BIN: &str = env!("CARGO_BIN_EXE_monstack");

/// Run monstack in `dir` with a scrubbed environment.
fn monstack(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin::Monstack::new().dir(dir).args(args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.output()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A validator the test needs: missing means the test fails (make test installs it).
fn require(tool: &str) -> PathBuf {
    which::which(tool).unwrap_or_else(|_| panic!("`{tool}` is required (run `make deps`)"))
}

/// Write `config` to DIR/monstack.yaml and render it into DIR/out.
fn render(dir: &Path, config: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    fs::write(dir.join("monstack.yaml"), config).unwrap();
    let mut args = vec!["--config", "monstack.yaml", "render", "--out", "out"];
    args.extend_from_slice(extra);
    monstack(dir, &args, env)
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn yaml(path: &Path) -> serde_norway::Value {
    serde_norway::from_str(&fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config_yaml(c: &Config) -> String {
    serde_norway::to_string(c).unwrap()
}

#[test]
fn init_writes_a_commented_config_that_loads_as_the_defaults() {
    let t = tempfile::tempdir().unwrap();
    let o = monstack(t.path(), &["--config", "etc/monstack.yaml", "init"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = t.path().join("etc/monstack.yaml");
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.lines().filter(|l| l.trim_start().starts_with('#')).count() >= 10, "commented");
    assert_eq!(config::load(&path).unwrap().config, Config::default());

    // A second init refuses to overwrite; --force does.
    fs::write(&path, "# mine\n").unwrap();
    let o = monstack(t.path(), &["--config", "etc/monstack.yaml", "init"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert!(stderr(&o).contains("hint: pass --force"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&path).unwrap(), "# mine\n");
    let o = monstack(t.path(), &["--config", "etc/monstack.yaml", "init", "--force"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&path).unwrap(), text);

    // Without --config it writes ./monstack.yaml.
    let o = monstack(t.path(), &["init"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(t.path().join("monstack.yaml")).unwrap(), text);
}

/// Every key path of the schema as `Config::default()` serializes it (`a.b`, `a[].b`;
/// a sequence contributes its first item's keys), with whether it is a leaf.
fn key_paths(v: &serde_norway::Value, prefix: &str, out: &mut Vec<(String, bool)>) {
    match v {
        serde_norway::Value::Mapping(m) => {
            for (k, v) in m {
                let k = k.as_str().expect("string keys");
                let path = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
                let leaf = !matches!(v, serde_norway::Value::Mapping(m) if !m.is_empty())
                    && !matches!(v, serde_norway::Value::Sequence(s) if s.first().is_some_and(|i| i.is_mapping()));
                out.push((path.clone(), leaf));
                key_paths(v, &path, out);
            }
        }
        serde_norway::Value::Sequence(s) => {
            if let Some(first) = s.first() {
                key_paths(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn schema_keys() -> Vec<(String, bool)> {
    let mut keys = Vec::new();
    key_paths(&serde_norway::to_value(Config::default()).unwrap(), "", &mut keys);
    assert!(keys.len() > 100, "walked the whole schema: {keys:?}");
    keys
}

/// Every config key is documented in README's configuration reference, in the table of
/// its own section (so `grafana.retries` is not satisfied by `downloads.retries`).
#[test]
fn readme_reference_documents_every_config_key() {
    let readme = include_str!("../README.md");
    let start = readme.find("## Configuration reference").expect("reference section");
    let end = start + readme[start..].find("\n## CLI").expect("section after the reference");
    // (heading, body) per `###`/`####` subsection.
    let mut sections: Vec<(&str, String)> = Vec::new();
    for line in readme[start..end].lines() {
        if line.starts_with("###") {
            sections.push((line, String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    let mut missing = Vec::new();
    for (path, leaf) in schema_keys() {
        if !leaf {
            continue;
        }
        let top = path.split(['.', '[']).next().unwrap();
        let name = path.rsplit(['.', ']']).next().unwrap();
        let heading = if top == path { "Top level".to_string() } else { format!("`{top}`") };
        let text: String = sections
            .iter()
            .filter(|(h, _)| h.contains(&heading))
            .map(|(_, b)| b.as_str())
            .collect();
        let documented = ["`", "."].iter().any(|pre| {
            ["`", ".", "["].iter().any(|post| text.contains(&format!("{pre}{name}{post}")))
        });
        if !documented {
            missing.push(path);
        }
    }
    assert!(missing.is_empty(), "keys missing from README's configuration reference: {missing:?}");
}

/// `monstack init` writes every key, so the scaffold is a complete, commented reference.
#[test]
fn init_scaffold_lists_every_config_key() {
    let scaffold: serde_norway::Value =
        serde_norway::from_str(include_str!("../assets/monstack.yaml")).unwrap();
    let mut missing = Vec::new();
    for (path, _) in schema_keys() {
        let mut v = &scaffold;
        for part in path.split('.') {
            let (key, item) = match part.strip_suffix("[]") {
                Some(k) => (k, true),
                None => (part, false),
            };
            v = match v.get(key) {
                Some(x) if item => x.get(0).unwrap_or(&serde_norway::Value::Null),
                Some(x) => x,
                None => {
                    missing.push(path.clone());
                    break;
                }
            };
        }
    }
    assert!(missing.is_empty(), "keys missing from assets/monstack.yaml: {missing:?}");
}

#[test]
fn default_render_matches_snapshots_and_modes() {
    let t = tempfile::tempdir().unwrap();
    let o = monstack(t.path(), &["--config", "monstack.yaml", "init"], &[]);
    assert!(o.status.success());
    let o = monstack(t.path(), &["--config", "monstack.yaml", "render", "--out", "out"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // stdout is the file list, data only.
    insta::assert_snapshot!("default_file_list", stdout(&o));
    let out = t.path().join("out");
    let files = files_under(&out);
    assert_eq!(files.len(), 8);
    for f in &files {
        let rel = f.strip_prefix(&out).unwrap().to_string_lossy().into_owned();
        let mode = fs::metadata(f).unwrap().permissions().mode() & 0o777;
        let expected = if rel == "opt/alertmanager/alertmanager.yml" { 0o640 } else { 0o644 };
        assert_eq!(mode, expected, "{rel}");
        let name = format!("default__{}", rel.replace('/', "__"));
        insta::assert_snapshot!(name, fs::read_to_string(f).unwrap());
    }
}

#[test]
fn default_render_is_accepted_by_promtool_and_amtool() {
    let promtool = require("promtool");
    let amtool = require("amtool");
    let t = tempfile::tempdir().unwrap();
    let o = render(t.path(), "", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = t.path().join("out");
    // check config also loads rules/snowflake_mcp_rules.yml, relative to the config.
    let c = Command::new(&promtool)
        .args(["check", "config"])
        .arg(out.join("opt/prometheus/prometheus.yml"))
        .output()
        .unwrap();
    assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
    assert!(stdout(&c).contains("SUCCESS: 5 rules found"), "{}", stdout(&c));
    let c = Command::new(&amtool)
        .arg("check-config")
        .arg(out.join("opt/alertmanager/alertmanager.yml"))
        .output()
        .unwrap();
    assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
}

#[test]
fn seed_defects_are_fixed() {
    let t = tempfile::tempdir().unwrap();
    let o = render(t.path(), "", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = t.path().join("out");

    // Ratios are shown with humanizePercentage, never "{{ $value }}%".
    let rules = yaml(&out.join("opt/prometheus/rules/snowflake_mcp_rules.yml"));
    let alerts = rules["groups"][0]["rules"].as_sequence().unwrap();
    let names: Vec<&str> = alerts.iter().map(|a| a["alert"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "SnowflakeMCPDown",
            "HighErrorRate",
            "ConnectionPoolExhausted",
            "HighResponseTime",
            "HighMemoryUsage"
        ]
    );
    for a in alerts {
        let desc = a["annotations"]["description"].as_str().unwrap();
        assert!(!desc.contains("}}%"), "{desc}");
        let expr = a["expr"].as_str().unwrap();
        if expr.contains(" / ") {
            assert!(desc.contains("{{ $value | humanizePercentage }}"), "{desc}");
        }
    }
    assert_eq!(
        alerts[2]["expr"].as_str(),
        Some("mcp_db_connections_active / mcp_db_connections_max > 0.9")
    );
    assert_eq!(alerts[2]["for"].as_str(), Some("1m"));
    assert_eq!(alerts[2]["labels"]["severity"].as_str(), Some("critical"));

    // The rsyslog line is a drop-in of its own; rsyslog.conf is never written.
    assert!(!out.join("etc/rsyslog.conf").exists());
    assert_eq!(
        fs::read_to_string(out.join("etc/rsyslog.d/30-snowflake-mcp.conf"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["local0.* /var/log/snowflake-mcp/application.log"]
    );

    // No credentials in the rendered tree.
    for f in files_under(&out) {
        let text = fs::read_to_string(&f).unwrap();
        for line in text.lines() {
            let l = line.to_lowercase();
            assert!(!l.contains("password") && !l.contains("token"), "{}: {line}", f.display());
            assert!(
                !l.contains("admin") || l.contains("admin@company.com"),
                "{}: {line}",
                f.display()
            );
        }
    }
}

/// Secrets in embedded assets could only come from a literal value; every
/// password/token key there must name an env var or file, or be empty.
#[test]
fn embedded_assets_hold_no_credentials() {
    let mut assets: Vec<(&str, &str)> = monstack::render::TEMPLATES.to_vec();
    assets.push(("rules", monstack::render::DEFAULT_RULES));
    assets.push(("init", monstack::render::INIT_CONFIG));
    assets.push(("dashboard", monstack::grafana::BUILTIN_DASHBOARD));
    for (name, text) in assets {
        for line in text.lines() {
            let l = line.trim().to_lowercase();
            if l.starts_with('#') || !(l.contains("password") || l.contains("token")) {
                continue;
            }
            let ok = l.contains("_env:")
                || l.contains("_file:")
                || l.ends_with(": null")
                || l.contains("{%- if smtp.password %}")
                || l.contains("{%- if rw.bearer_token_file %}")
                || l.contains("smtp_auth_password: {{ smtp.password | yaml }}")
                || l.contains("admin_password = $__file{{ \"{\" }}");
            assert!(ok, "{name}: {line}");
        }
        assert!(!text.contains("admin:admin") && !text.contains("\"admin\""), "{name}");
    }
    // And the binary itself carries none of the seed's literals (std's substring
    // search is optimised even in a debug build; a byte-window scan is not).
    let bin = String::from_utf8_lossy(&fs::read(BIN).unwrap()).into_owned();
    for needle in ["grafana_password", "admin:admin", "password = \"admin\""] {
        assert!(!bin.contains(needle), "{needle}");
    }
}

#[test]
fn builtin_dashboard_is_current_and_stable() {
    let d: serde_json::Value = serde_json::from_str(monstack::grafana::BUILTIN_DASHBOARD).unwrap();
    assert_eq!(d["uid"], "snowflake-mcp");
    assert_eq!(d["title"], "Snowflake MCP Server");
    assert!(d.get("dashboard").is_none(), "not wrapped in an API envelope");
    assert!(d.get("id").is_none_or(|v| v.is_null()));
    let panels = d["panels"].as_array().unwrap();
    let got: Vec<(String, String, Vec<String>)> = panels
        .iter()
        .map(|p| {
            let ds = serde_json::json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
            assert_eq!(p["datasource"], ds, "{}", p["title"]);
            for t in p["targets"].as_array().unwrap() {
                assert_eq!(t["datasource"], ds, "{}", p["title"]);
            }
            (
                p["title"].as_str().unwrap().to_string(),
                p["type"].as_str().unwrap().to_string(),
                p["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["expr"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let q =
        |s: &str| format!("histogram_quantile({s}, rate(mcp_request_duration_seconds_bucket[5m]))");
    let want: Vec<(String, String, Vec<String>)> = vec![
        ("Service Status".into(), "stat".into(), vec!["up{job=\"snowflake-mcp\"}".into()]),
        ("Request Rate".into(), "timeseries".into(), vec!["rate(mcp_requests_total[5m])".into()]),
        ("Response Times".into(), "timeseries".into(), vec![q("0.50"), q("0.95"), q("0.99")]),
        (
            "Connection Pool".into(),
            "timeseries".into(),
            vec![
                "mcp_db_connections_active".into(),
                "mcp_db_connections_idle".into(),
                "mcp_db_connections_max".into(),
            ],
        ),
        ("Error Rate".into(), "timeseries".into(), vec!["rate(mcp_errors_total[5m])".into()]),
        ("Active Sessions".into(), "stat".into(), vec!["mcp_active_sessions".into()]),
    ];
    assert_eq!(got, want);
    assert!(!monstack::grafana::BUILTIN_DASHBOARD.contains("\"graph\""));
}

#[test]
fn upstream_templating_passes_through_untouched() {
    let t = tempfile::tempdir().unwrap();
    let o = render(t.path(), "", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let am = yaml(&t.path().join("out/opt/alertmanager/alertmanager.yml"));
    let email = &am["receivers"][0]["email_configs"][0];
    assert_eq!(
        email["headers"]["Subject"].as_str(),
        Some("Snowflake MCP Alert: {{ .GroupLabels.alertname }}")
    );
    assert_eq!(
        email["text"].as_str(),
        Some("{{ range .Alerts }}{{ .Annotations.description }}{{ end }}")
    );
    let rules = yaml(&t.path().join("out/opt/prometheus/rules/snowflake_mcp_rules.yml"));
    assert_eq!(
        rules["groups"][0]["rules"][1]["annotations"]["description"].as_str(),
        Some("Error rate is {{ $value }} errors per second")
    );
}

/// Strings YAML treats specially, each must come back byte for byte.
const SPECIAL: &[&str] = &[
    "it's \"quoted\"",
    "key: value",
    "# not a comment",
    "a #hash",
    "line1\nline2\n",
    "*star",
    "&anchor",
    "!tag",
    "- dash",
    "? question",
    "| pipe",
    "> folded",
    "%percent",
    "@at `tick`",
    "[flow, seq]",
    "{flow: map}",
    "yes",
    "null",
    "~",
    "0x1F",
    "1e3",
    " leading and trailing ",
    "tab\there",
    "back\\slash \\n",
    "ünïcødé ✓ 🚀 日本",
    "nel\u{85}ls\u{2028}ps\u{2029}bom\u{feff}del\u{7f}",
    "cr\r\nlf",
    "{{ .GroupLabels.alertname }} {{ $value }}",
    "{% raw %}{{ tera }}",
];

#[test]
fn yaml_special_strings_round_trip_through_rendered_files() {
    let promtool = require("promtool");
    let amtool = require("amtool");
    let t = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    for (i, s) in SPECIAL.iter().enumerate() {
        let mut job = c.prometheus.scrape_configs[1].clone();
        job.job_name = format!("job{i} {s}");
        job.labels.insert("note".into(), s.to_string());
        c.prometheus.scrape_configs.push(job);
        c.prometheus.global.external_labels.insert(format!("l{i}"), s.to_string());
    }
    let r = &mut c.alertmanager.receivers[0];
    r.email_configs[0].subject = Some(SPECIAL.join(" | "));
    r.email_configs[0].body = Some(SPECIAL.join("\n"));
    r.webhook_configs.push(config::WebhookConfig {
        url: "http://127.0.0.1:9/hook?q=a:%20b&x=*y#frag: #c".into(),
        send_resolved: true,
    });
    c.alertmanager.smtp.as_mut().unwrap().password_env = Some("MONSTACK_TEST_SMTP".into());
    let password = "p@ss: #w\"o'rd\n*&";
    let o = render(t.path(), &config_yaml(&c), &[], &[("MONSTACK_TEST_SMTP", password)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains(password) && !stderr(&o).contains(password));

    let out = t.path().join("out");
    let prom = yaml(&out.join("opt/prometheus/prometheus.yml"));
    for (i, s) in SPECIAL.iter().enumerate() {
        let job = &prom["scrape_configs"][3 + i];
        assert_eq!(job["job_name"].as_str(), Some(format!("job{i} {s}").as_str()));
        assert_eq!(job["static_configs"][0]["labels"]["note"].as_str(), Some(*s));
        assert_eq!(prom["global"]["external_labels"][format!("l{i}")].as_str(), Some(*s));
    }
    let am = yaml(&out.join("opt/alertmanager/alertmanager.yml"));
    let email = &am["receivers"][0]["email_configs"][0];
    assert_eq!(email["headers"]["Subject"].as_str(), Some(SPECIAL.join(" | ").as_str()));
    assert_eq!(email["text"].as_str(), Some(SPECIAL.join("\n").as_str()));
    assert_eq!(am["global"]["smtp_auth_password"].as_str(), Some(password));
    assert_eq!(
        am["receivers"][0]["webhook_configs"][0]["url"].as_str(),
        Some("http://127.0.0.1:9/hook?q=a:%20b&x=*y#frag: #c")
    );

    // Go's YAML parser (in the real tools) agrees.
    let p = Command::new(promtool)
        .args(["check", "config", "--syntax-only"])
        .arg(out.join("opt/prometheus/prometheus.yml"))
        .output()
        .unwrap();
    assert!(p.status.success(), "{}{}", stdout(&p), stderr(&p));
    let a = Command::new(amtool)
        .arg("check-config")
        .arg(out.join("opt/alertmanager/alertmanager.yml"))
        .output()
        .unwrap();
    assert!(a.status.success(), "{}{}", stdout(&a), stderr(&a));
}

#[test]
fn smtp_password_file_lands_only_in_the_0640_alertmanager_config() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("smtp-pass"), "s3cr3t-from-file\n").unwrap();
    let mut c = Config::default();
    c.alertmanager.smtp.as_mut().unwrap().password_file = Some("smtp-pass".into());
    let o = render(t.path(), &config_yaml(&c), &["--output", "json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("s3cr3t") && !stderr(&o).contains("s3cr3t"));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let am = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == "alertmanager_config")
        .unwrap();
    assert_eq!(am["mode"], "0640");
    assert_eq!(am["group"], "alertmanager");
    let out = t.path().join("out");
    for f in files_under(&out) {
        let has = fs::read_to_string(&f).unwrap().contains("s3cr3t-from-file");
        assert_eq!(has, f.ends_with("opt/alertmanager/alertmanager.yml"), "{}", f.display());
    }
    let path = out.join("opt/alertmanager/alertmanager.yml");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(yaml(&path)["global"]["smtp_auth_password"].as_str(), Some("s3cr3t-from-file"));

    // Library callers get the secret listed for masking.
    let loaded = config::load(&t.path().join("monstack.yaml")).unwrap();
    let files = monstack::render::render_all(&loaded, None).unwrap();
    let am =
        files.iter().find(|f| f.role == monstack::render::FileRole::AlertmanagerConfig).unwrap();
    assert_eq!(am.secrets, ["s3cr3t-from-file"]);
}

fn unit(out: &Path, name: &str) -> String {
    fs::read_to_string(out.join("etc/systemd/system").join(name)).unwrap()
}

#[test]
fn unit_flags_follow_the_prometheus_version() {
    let t = tempfile::tempdir().unwrap();
    let o = render(t.path(), "prometheus:\n  version: 2.45.0\n", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let u = unit(&t.path().join("out"), "prometheus.service");
    assert!(u.contains("--web.console.templates=/opt/prometheus/current/consoles"), "{u}");
    assert!(u.contains("--web.console.libraries=/opt/prometheus/current/console_libraries"), "{u}");

    let t = tempfile::tempdir().unwrap();
    let cfg = "prometheus:\n  version: 3.1.0\n  retention_time: 30d\n  retention_size: 50GB\n  extra_flags: [\"--web.external-url=http://prom.example/x y\"]\n";
    let o = render(t.path(), cfg, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let u = unit(&t.path().join("out"), "prometheus.service");
    assert!(!u.contains("console"), "3.x ships no consoles: {u}");
    assert!(u.contains("--storage.tsdb.retention.time=30d"), "{u}");
    assert!(u.contains("--storage.tsdb.retention.size=50GB"), "{u}");
    assert!(u.contains("\"--web.external-url=http://prom.example/x y\""), "{u}");
    assert!(u.contains("--web.enable-lifecycle"), "{u}");
}

#[test]
fn units_run_as_their_own_users_with_reload_and_hardening() {
    let t = tempfile::tempdir().unwrap();
    let o = render(t.path(), "", &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = t.path().join("out");
    for (name, user, data) in [
        ("prometheus.service", "prometheus", "/opt/prometheus/data"),
        ("alertmanager.service", "alertmanager", "/opt/alertmanager/data"),
        ("node_exporter.service", "node_exporter", "/opt/node_exporter/data"),
    ] {
        let u = unit(&out, name);
        for line in [
            format!("User={user}"),
            format!("Group={user}"),
            "Restart=on-failure".into(),
            "NoNewPrivileges=yes".into(),
            "ProtectSystem=strict".into(),
            "ProtectHome=yes".into(),
            "PrivateTmp=yes".into(),
            format!("ReadWritePaths={data}"),
        ] {
            assert!(u.lines().any(|l| l == line), "{name}: missing {line}\n{u}");
        }
    }
    assert!(unit(&out, "alertmanager.service").contains("--cluster.listen-address=\n"));
    // Prometheus and Alertmanager reread their config on SIGHUP; node_exporter has no
    // config and exits on it, so `systemctl reload node_exporter` must not signal it.
    let reload = "ExecReload=/bin/kill -HUP $MAINPID";
    for name in ["prometheus.service", "alertmanager.service"] {
        assert!(unit(&out, name).lines().any(|l| l == reload), "{name} lacks {reload}");
    }
    assert!(!unit(&out, "node_exporter.service").contains("ExecReload"));
}

/// Kills the child on drop, so a failed assertion leaves no process behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Why node_exporter's unit has no ExecReload: the real binary dies on SIGHUP.
#[test]
fn node_exporter_exits_on_sighup() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let bin = require("prometheus-node-exporter");
    let mut child = KillOnDrop(
        Command::new(bin)
            .args(["--web.listen-address=127.0.0.1:0", "--collector.disable-defaults"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Ready once it logs its listening address (it logs to stderr).
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    assert!(
        lines.by_ref().map_while(Result::ok).any(|l| l.contains("Listening on")),
        "node_exporter never listened"
    );
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGHUP) }, 0);
    let status = child.0.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}");
}

#[test]
fn service_specs_map_paths_into_the_root() {
    // The runbook's 2.45.0, pinned: its tarball ships consoles.
    let loaded =
        config::parse(Path::new("monstack.yaml"), "prometheus:\n  version: 2.45.0\n").unwrap();
    let root = monstack::paths::Root::new("/tmp/sandbox");
    let specs = monstack::render::service_specs(&loaded, &root).unwrap();
    assert_eq!(specs.len(), 3);
    let p = &specs[0];
    assert_eq!(p.binary, Path::new("/tmp/sandbox/opt/prometheus/current/prometheus"));
    assert_eq!(p.ready_address, "127.0.0.1:9090");
    assert_eq!(p.user, "prometheus");
    assert_eq!(
        p.args,
        [
            "--config.file=/tmp/sandbox/opt/prometheus/prometheus.yml",
            "--storage.tsdb.path=/tmp/sandbox/opt/prometheus/data",
            "--web.console.templates=/tmp/sandbox/opt/prometheus/current/consoles",
            "--web.console.libraries=/tmp/sandbox/opt/prometheus/current/console_libraries",
            "--web.listen-address=0.0.0.0:9090",
            "--web.enable-lifecycle",
        ]
    );
    assert_eq!(
        specs[1].args,
        [
            "--config.file=/tmp/sandbox/opt/alertmanager/alertmanager.yml",
            "--storage.path=/tmp/sandbox/opt/alertmanager/data",
            "--web.listen-address=0.0.0.0:9093",
            "--cluster.listen-address=",
        ]
    );
    assert_eq!(specs[2].args, ["--web.listen-address=0.0.0.0:9100"]);
    // Disabled components get no spec and no unit.
    let loaded = config::parse(Path::new("m.yaml"), "node_exporter:\n  enabled: false\n").unwrap();
    let specs =
        monstack::render::service_specs(&loaded, &monstack::paths::Root::default()).unwrap();
    assert_eq!(
        specs.iter().map(|s| s.kind.name()).collect::<Vec<_>>(),
        ["prometheus", "alertmanager"]
    );
}

#[test]
fn template_overrides_replace_embedded_templates_by_name() {
    let t = tempfile::tempdir().unwrap();
    let tpl = t.path().join("tpl");
    fs::create_dir(&tpl).unwrap();
    fs::write(
        tpl.join("rsyslog.conf.tera"),
        "# custom\n{% for r in rules %}{{ r.selector }}  {{ r.action }}\n{% endfor %}",
    )
    .unwrap();
    let o = render(t.path(), "", &["--templates", "tpl"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(t.path().join("out/etc/rsyslog.d/30-snowflake-mcp.conf")).unwrap(),
        "# custom\nlocal0.*  /var/log/snowflake-mcp/application.log\n"
    );
    // Other files still come from the embedded templates.
    assert!(unit(&t.path().join("out"), "prometheus.service").contains("ProtectSystem=strict"));

    // A name that overrides nothing is refused, and nothing is written.
    fs::write(tpl.join("prometheus.yaml.tera"), "x").unwrap();
    let t2 = tempfile::tempdir().unwrap();
    let o = render(t2.path(), "", &["--templates", tpl.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(64), "a usage error");
    assert!(stderr(&o).contains("unknown template `prometheus.yaml.tera`"), "{}", stderr(&o));
    assert!(!t2.path().join("out").exists());
}

/// Bad configs: exact message (file:line:col, field path), exit 78, nothing written.
#[test]
fn bad_configs_are_refused_with_located_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "prometheus:\n  version: 2.45.0\n  scrape_intervall: 5s\n",
            "error: monstack.yaml:3:3: `prometheus.scrape_intervall`: unknown field `scrape_intervall`, expected one of `enabled`, `version`, `sha256`, `base_url`, `tarball`, `install_dir`, `data_dir`, `user`, `listen_address`, `extra_flags`, `web`, `global`, `scrape_configs`, `default_rules`, `rule_files`, `alertmanagers`, `retention_time`, `retention_size`, `mode`, `remote_write`, `probes`\n",
        ),
        ("prometheus:\n  scrape_configs: yes\n", "error: monstack.yaml:2:19: `prometheus.scrape_configs`: invalid type: string \"yes\", expected a sequence\n"),
        (
            "prometheus:\n  global:\n    scrape_interval: 15 seconds\n",
            "error: monstack.yaml:3:5: `prometheus.global.scrape_interval`: `15 seconds` is not a Prometheus duration like 15s\n",
        ),
        ("grafana:\n  url: localhost:3000\n", "error: monstack.yaml:2:3: `grafana.url`: `localhost:3000` is not an http(s) URL\n"),
        (
            "alertmanager:\n  listen_address: \"9093\"\n",
            "error: monstack.yaml:2:3: `alertmanager.listen_address`: `9093` is not a host:port listen address\n",
        ),
        (
            "prometheus:\n  scrape_configs:\n    - job_name: a\n      targets: ['x:1']\n    - job_name: a\n      targets: ['y:2']\n",
            "error: monstack.yaml:5:7: `prometheus.scrape_configs[1].job_name`: duplicate job name `a`\n",
        ),
        (
            "prometheus:\n  rule_files: [missing.yml]\n",
            "error: monstack.yaml:2:16: `prometheus.rule_files[0]`: rule file `missing.yml` does not exist\n",
        ),
        (
            "prometheus:\n  version: 2.45.0\n  tarball: offline/prometheus-2.45.0.linux-amd64.tar.gz\n",
            "error: monstack.yaml:3:3: `prometheus.tarball`: tarball `offline/prometheus-2.45.0.linux-amd64.tar.gz` does not exist\n",
        ),
        (
            "grafana:\n  dashboards: [dash/missing.json]\n",
            "error: monstack.yaml:2:16: `grafana.dashboards[0]`: dashboard file `dash/missing.json` does not exist\n",
        ),
        (
            "prometheus:\n  version: 3.0.0\n  extra_flags:\n    - --storage.tsdb.retention=15d\n",
            "error: monstack.yaml:4:7: `prometheus.extra_flags[0]`: `--storage.tsdb.retention` was removed in Prometheus 3.0 and the target version is 3.0.0 (use prometheus.retention_time)\n",
        ),
        (
            "alertmanager:\n  extra_flags: [\"--cluster.listen-address=0.0.0.0:9094\"]\n",
            "error: monstack.yaml:2:17: `alertmanager.extra_flags[0]`: `--cluster.listen-address` is set by monstack from the `alertmanager` section; remove it from extra_flags\n",
        ),
        (
            "alertmanager:\n  smtp:\n    smarthost: mail:587\n    from: a@b.c\n    password_env: MONSTACK_UNSET_VAR\n",
            "error: monstack.yaml:5:5: `alertmanager.smtp.password_env`: environment variable `MONSTACK_UNSET_VAR` is not set\n",
        ),
        // Type errors in the file's words, not the Rust types behind it.
        ("prometheus: 5\n", "error: monstack.yaml:1:13: `prometheus`: invalid type: integer `5`, expected a mapping of prometheus settings\n"),
        (
            "downloads:\n  retries: -1\n",
            "error: monstack.yaml:2:12: `downloads.retries`: invalid type: integer `-1`, expected a whole number (0 or more)\n",
        ),
        (
            "grafana:\n  concurrency: 1.5\n",
            "error: monstack.yaml:2:16: `grafana.concurrency`: invalid type: number `1.5`, expected a whole number (0 or more)\n",
        ),
        ("grafana:\n  url: [a]\n", "error: monstack.yaml:2:8: `grafana.url`: invalid type: sequence, expected a string\n"),
        ("grafana:\n  enabled: maybe\n", "error: monstack.yaml:2:12: `grafana.enabled`: invalid type: string \"maybe\", expected true or false\n"),
        (
            "grafana:\n  datasource:\n    secure_json_data:\n      basicAuthPassword: hunter2\n",
            "error: monstack.yaml:4:26: `grafana.datasource.secure_json_data.basicAuthPassword`: invalid type: string, expected a mapping with `env` or `file`\n",
        ),
        // A duplicate key is reported where it occurs the second time.
        (
            "grafana:\n  url: http://a:3000\nprometheus:\n  version: 2.45.0\ngrafana:\n  enabled: false\n",
            "error: monstack.yaml:5:1: duplicate key `grafana`\n",
        ),
        (
            "prometheus:\n  scrape_configs:\n    - job_name: a\n      targets: ['x:1']\n      job_name: b\n",
            "error: monstack.yaml:5:7: `prometheus.scrape_configs[0]`: duplicate key `job_name`\n",
        ),
        // Credentials in URLs are refused, and the message never repeats them.
        (
            "downloads:\n  base_url: http://u:hunter2@127.0.0.1:9\n",
            "error: monstack.yaml:2:3: `downloads.base_url`: credentials in the URL are refused; use a mirror that needs none, or put the verified tarballs in downloads.local_dir\n",
        ),
        (
            "node_exporter:\n  base_url: https://hunter2@mirror.example\n",
            "error: monstack.yaml:2:3: `node_exporter.base_url`: credentials in the URL are refused; use a mirror that needs none, or put the verified tarballs in downloads.local_dir\n",
        ),
        (
            "grafana:\n  url: https://admin:hunter2@grafana.example\n",
            "error: monstack.yaml:2:3: `grafana.url`: credentials in the URL are refused; set grafana.auth.token_env or token_file, or auth.user with auth.password_env or password_file\n",
        ),
        ("grafana:\n  url: http://admin:hunter2@\n", "error: monstack.yaml:2:3: `grafana.url`: `http://***@` is not an http(s) URL\n"),
        (
            "grafana:\n  datasource:\n    url: http://prom:hunter2@localhost:9090\n",
            "error: monstack.yaml:3:5: `grafana.datasource.url`: credentials in the URL are refused; read the password from an env var or file with grafana.datasource.secure_json_data.basicAuthPassword\n",
        ),
        (
            "alertmanager:\n  receivers:\n    - name: web.hook\n      webhook_configs:\n        - url: http://hook:hunter2@127.0.0.1:5001/\n",
            "error: monstack.yaml:5:11: `alertmanager.receivers[0].webhook_configs[0].url`: credentials in the URL are refused; Alertmanager would keep them in clear in alertmanager.yml; use an endpoint that needs none\n",
        ),
    ];
    let mut failures = Vec::new();
    for (yaml, expected) in cases {
        let t = tempfile::tempdir().unwrap();
        let o = render(t.path(), yaml, &[], &[]);
        let got = stderr(&o);
        let leaked = got.contains("hunter2");
        if o.status.code() != Some(78)
            || got != *expected
            || leaked
            || t.path().join("out").exists()
        {
            failures
                .push(format!("--- config:\n{yaml}--- exit {:?}, stderr:\n{got}", o.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn disabled_sections_render_no_files() {
    let promtool = require("promtool");
    let t = tempfile::tempdir().unwrap();
    let cfg = "alertmanager:\n  enabled: false\nnode_exporter:\n  enabled: false\nlogrotate:\n  enabled: false\nrsyslog:\n  enabled: false\ngrafana:\n  enabled: false\n  mode: files\n";
    let o = render(t.path(), cfg, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = t.path().join("out");
    let rel: Vec<String> = files_under(&out)
        .iter()
        .map(|f| f.strip_prefix(&out).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        rel,
        [
            "etc/systemd/system/prometheus.service",
            "opt/prometheus/prometheus.yml",
            "opt/prometheus/rules/snowflake_mcp_rules.yml"
        ]
    );
    // No Alertmanager: no alerting section, and the config still checks.
    assert!(yaml(&out.join("opt/prometheus/prometheus.yml")).get("alerting").is_none());
    let c = Command::new(promtool)
        .args(["check", "config"])
        .arg(out.join("opt/prometheus/prometheus.yml"))
        .output()
        .unwrap();
    assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
}
