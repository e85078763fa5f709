//! `monstack status` end to end: a real stack (Debian's Prometheus, Alertmanager and
//! node_exporter installed from a loopback mirror and started by `apply
//! --service-manager direct` under a temp root) plus the Grafana emulator. One stack
//! for the whole binary, walked through healthy, drifted, waiting, target-down and
//! Prometheus-stopped states; every process it starts is stopped by [`Stack`]'s Drop.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use grafana_emulator::{Emulator, Fault, TOKEN};
use serde::Deserialize;
use stack::{free_port, poll, Stack};

const SMTP_SECRET: &str = "smtp-s3cret-value-42";

/// The documented JSON schema, pinned (unknown fields are an error).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    /// Every JSON document leads with its format version.
    format_version: u32,
    healthy: bool,
    checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    component: String,
    check: String,
    ok: bool,
    level: String,
    reason: String,
}

impl Status {
    fn get(&self, component: &str, check: &str) -> &Check {
        self.checks
            .iter()
            .find(|c| c.component == component && c.check == check)
            .unwrap_or_else(|| panic!("no check {component}/{check} in {:#?}", self.checks))
    }
    fn failed(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{} {}: {}", c.component, c.check, c.reason))
            .collect()
    }
}

/// The shared test stack (its Drop stops every process) plus the Grafana emulator, an
/// SMTP password in alertmanager.yml, and Grafana enabled.
struct Env {
    stack: Stack,
    grafana: Emulator,
}

impl Env {
    fn new() -> Env {
        let env = Env { stack: Stack::new(), grafana: Emulator::start() };
        let dir = env.stack.dir.path();
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(dir.join("smtp-password"), SMTP_SECRET).unwrap();
        env.write_config("");
        env
    }

    /// The config, with `extra_jobs` (YAML list items) appended to scrape_configs.
    fn write_config(&self, extra_jobs: &str) {
        let s = &self.stack;
        let text = format!(
            r#"downloads:
  base_url: {mirror}
  cache_dir: /var/cache/monstack
prometheus:
  version: {pv}
  listen_address: 127.0.0.1:{prom}
  global:
    scrape_interval: 1s
    evaluation_interval: 1s
  scrape_configs:
    - job_name: prometheus
      targets: ["127.0.0.1:{prom}"]
    - job_name: node
      targets: ["127.0.0.1:{node}"]
{extra_jobs}alertmanager:
  version: {av}
  listen_address: 127.0.0.1:{am}
  smtp:
    smarthost: 127.0.0.1:25
    from: alerts@example.com
    auth_username: alerts
    password_file: smtp-password
node_exporter:
  version: {nv}
  listen_address: 127.0.0.1:{node}
grafana:
  url: {grafana}
  wait_timeout: 10s
  auth:
    token_file: token
  datasource:
    url: http://127.0.0.1:{prom}
"#,
            mirror = s.mirror.base_url(),
            pv = stack::PROM,
            av = stack::AM,
            nv = stack::NODE,
            prom = s.prom,
            node = s.node,
            am = s.am,
            grafana = self.grafana.url(),
        );
        std::fs::write(&s.config, text).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.stack.cmd(args);
        for v in ["GRAFANA_TOKEN", "GRAFANA_USER", "GRAFANA_PASSWORD"] {
            c.env_remove(v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run monstack")
    }

    fn apply(&self) {
        self.stack.apply_ok();
    }

    /// `status --output json` with extra args: (exit code, parsed document, stdout+stderr).
    fn status(&self, args: &[&str]) -> (i32, Status, String) {
        let mut all = vec!["status", "--output", "json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let doc: Status = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status JSON does not parse: {e}\n{}", text(&out)));
        (out.status.code().unwrap_or(-1), doc, text(&out))
    }

    /// Re-run status until `pred` holds (Prometheus learns of a change on its next
    /// scrape); panics after `limit`.
    fn status_until(&self, limit: Duration, pred: impl Fn(&Status) -> bool) -> (i32, Status) {
        let found = poll(limit, || {
            let (code, doc, _) = self.status(&[]);
            pred(&doc).then_some((code, doc))
        });
        found.unwrap_or_else(|| {
            panic!("condition not reached within {limit:?}:\n{}", self.status(&[]).2)
        })
    }

    fn signal(&self, name: &str, sig: i32) {
        let pid = self.stack.pid(name).unwrap_or_else(|| panic!("no pid file for {name}"));
        // SAFETY: kill(2) on a pid this test's stack started.
        unsafe { libc::kill(pid as i32, sig) };
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Resume a SIGSTOPped process so the stack's `stop` ends it at once.
        for name in ["prometheus", "alertmanager", "node_exporter"] {
            if let Some(pid) = self.stack.pid(name) {
                // SAFETY: kill(2) on a pid this test's stack started.
                unsafe { libc::kill(pid as i32, libc::SIGCONT) };
            }
        }
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn status_of_a_real_stack_through_healthy_drifted_down_and_stopped() {
    let env = Env::new();
    env.apply();

    // 1. Healthy: every check passes; exit 0. Targets may not be scraped yet right
    //    after apply (a warning, which --wait does not wait out), so poll for the
    //    first scrapes before reading the target checks.
    env.stack.wait_up(&["prometheus", "node"]);
    let (code, doc, out) = env.status(&["--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert!(doc.healthy, "{:#?}", doc.failed());
    for (component, check) in [
        ("prometheus", "release"),
        ("prometheus", "service"),
        ("prometheus", "files"),
        ("prometheus", "ready"),
        ("prometheus", "rules"),
        ("prometheus", "alertmanagers"),
        ("alertmanager", "ready"),
        ("node_exporter", "metrics"),
        ("grafana", "api"),
        ("grafana", "datasource"),
        ("grafana", "dashboard snowflake-mcp"),
        ("host", "files"),
    ] {
        let c = doc.get(component, check);
        assert!(c.ok && c.level == "ok", "{component} {check}: {c:?}");
    }
    assert!(doc.get("prometheus", "rules").reason.contains("5 rules"), "{doc:#?}");
    assert!(doc.get("prometheus", "release").reason.starts_with(stack::PROM), "{doc:#?}");
    let node_target = format!("target node 127.0.0.1:{}", env.stack.node);
    assert_eq!(doc.get("prometheus", &node_target).reason, "up");
    // The human table says the same.
    let human = env.run(&["status"]);
    let human_text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(0), "{human_text}");
    assert!(human_text.contains("status: healthy"), "{human_text}");
    assert!(human_text.lines().any(|l| l.starts_with("ok   prometheus") && l.contains("ready")));

    // 2. Drift: a hand-edited prometheus.yml and alertmanager.yml are named, their
    //    contents (the SMTP password) never shown; a changed dashboard is reported.
    let prom_yml = env.stack.root.join("opt/prometheus/prometheus.yml");
    let am_yml = env.stack.root.join("opt/alertmanager/alertmanager.yml");
    let (prom_orig, am_orig) = (std::fs::read(&prom_yml).unwrap(), std::fs::read(&am_yml).unwrap());
    assert!(String::from_utf8_lossy(&am_orig).contains(SMTP_SECRET), "the secret is rendered");
    std::fs::write(&prom_yml, [prom_orig.as_slice(), b"# edited by hand\n"].concat()).unwrap();
    std::fs::write(&am_yml, [am_orig.as_slice(), b"# edited by hand\n"].concat()).unwrap();
    let (status, body) = env.grafana.call("GET", "/api/dashboards/uid/snowflake-mcp", None);
    assert_eq!(status, 200);
    let mut dash = body["dashboard"].clone();
    dash["title"] = "Renamed by hand".into();
    let (status, _) = env.grafana.call(
        "POST",
        "/api/dashboards/db",
        Some(serde_json::json!({"dashboard": dash, "folderUid": "monstack", "overwrite": true})),
    );
    assert_eq!(status, 200);
    let (code, doc, out) = env.status(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(!doc.healthy);
    let files = doc.get("prometheus", "files");
    assert!(
        !files.ok && files.reason.contains("/opt/prometheus/prometheus.yml differs"),
        "{files:?}"
    );
    let files = doc.get("alertmanager", "files");
    assert!(!files.ok && files.reason.contains("/opt/alertmanager/alertmanager.yml"), "{files:?}");
    assert!(!doc.get("grafana", "dashboard snowflake-mcp").ok, "{doc:#?}");
    assert!(doc.get("node_exporter", "files").ok);
    let human = env.run(&["status"]);
    for o in [&out, &text(&human)] {
        assert!(!o.contains(SMTP_SECRET), "a secret value was printed:\n{o}");
        assert!(!o.contains("edited by hand"), "file contents were printed:\n{o}");
    }
    // apply converges; status is healthy again.
    std::fs::write(&prom_yml, &prom_orig).unwrap();
    std::fs::write(&am_yml, &am_orig).unwrap();
    env.apply();
    let (code, doc, out) = env.status(&["--wait", "30s"]);
    assert_eq!(code, 0, "{out}");
    assert!(doc.healthy);

    // 3. --wait: with node_exporter killed, a short wait gives up (exit 1, after about
    //    the wait); a long one is still polling when apply brings it back, and ends 0.
    env.signal("node_exporter", libc::SIGKILL);
    let started = Instant::now();
    let (code, doc, out) = env.status(&["--wait", "2s"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{out}");
    assert!(!doc.get("node_exporter", "service").ok, "{doc:#?}");
    assert!(!doc.get("node_exporter", "metrics").ok, "{doc:#?}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(15), "{took:?}");
    let mut waiting = stack::ChildGuard::spawn(
        env.cmd(&["status", "--output", "json", "--wait", "120s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // Its first progress line proves it saw the stack unhealthy and kept waiting.
    let mut progress = BufReader::new(waiting.child().stderr.take().unwrap());
    let mut line = String::new();
    progress.read_line(&mut line).unwrap();
    // Keep reading its progress lines so it never writes into a closed pipe.
    let drain = std::thread::spawn(move || std::io::read_to_string(progress).unwrap_or_default());
    assert!(line.starts_with("waiting ("), "{line}");
    assert!(line.contains(&format!("127.0.0.1:{}", env.stack.node)), "{line}");
    env.apply();
    let out = waiting.wait_with_output();
    let progress = drain.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{progress}", text(&out));
    let doc: Status = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc.format_version, 2);
    assert!(doc.healthy);

    // 4. One target down: a scrape job on a closed loopback port gives that target's
    //    lastError, and exit 1.
    let closed = free_port();
    env.write_config(&format!("    - job_name: down\n      targets: [\"127.0.0.1:{closed}\"]\n"));
    env.apply();
    let down = format!("target down 127.0.0.1:{closed}");
    let (code, doc) = env.status_until(Duration::from_secs(30), |d| {
        d.checks.iter().any(|c| c.check == down && c.level == "fail")
    });
    assert_eq!(code, 1);
    let c = doc.get("prometheus", &down);
    assert!(c.reason.contains("connection refused"), "{c:?}");
    assert!(c.reason.contains(&closed.to_string()), "{c:?}");
    assert_eq!(doc.failed().len(), 1, "only that target fails: {:#?}", doc.failed());
    assert_eq!(doc.get("prometheus", &node_target).reason, "up");

    // 5. Prometheus hung (SIGSTOP) and Grafana slow at once: both reported within about
    //    one timeout, since components are checked concurrently.
    env.signal("prometheus", libc::SIGSTOP);
    env.grafana.fault("GET /api/datasources/uid/", Fault::Delay(Duration::from_secs(4)), 1);
    let started = Instant::now();
    let (code, doc, out) = env.status(&["--timeout", "1s"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{out}");
    let ready = doc.get("prometheus", "ready");
    assert!(!ready.ok && ready.reason.contains("no answer within 1s"), "{ready:?}");
    assert_eq!(doc.get("prometheus", "targets").level, "skip");
    let ds = doc.get("grafana", "datasource");
    assert!(!ds.ok && ds.reason.contains("timed out"), "{ds:?}");
    assert!(
        took < Duration::from_secs(4),
        "status took {took:?} with a hung Prometheus and Grafana"
    );

    // Prometheus killed: the service and readiness fail, the rest is still checked.
    env.signal("prometheus", libc::SIGKILL);
    let started = Instant::now();
    let (code, doc, out) = env.status(&[]);
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert_eq!(code, 1, "{out}");
    let svc = doc.get("prometheus", "service");
    assert!(!svc.ok && svc.reason.contains("not running"), "{svc:?}");
    assert!(!doc.get("prometheus", "ready").ok);
    assert!(doc.get("alertmanager", "ready").ok, "{doc:#?}");
    assert!(doc.get("node_exporter", "metrics").ok, "{doc:#?}");
    assert!(!doc.get("grafana", "datasource").ok, "Grafana's check queries Prometheus");
}

#[test]
fn config_errors_exit_78_and_disabled_components_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monstack.yaml");
    let run = |args: &[&str]| {
        bin::Monstack::new()
            .config(&cfg)
            .root(dir.path().join("root"))
            .args(["status"])
            .args(args)
            .output()
    };
    std::fs::write(&cfg, "prometheus:\n  enabled: true\n  bogus_key: 1\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("monstack.yaml:3") && err.contains("bogus_key"), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout for a config error");
    // A bad --wait value is a usage error, not "unhealthy".
    let out = run(&["--wait", "soon"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));

    std::fs::write(
        &cfg,
        "prometheus: {enabled: false}\nalertmanager: {enabled: false}\nnode_exporter: {enabled: false}\ngrafana: {enabled: false}\nlogrotate: {enabled: false}\nrsyslog: {enabled: false}\n",
    )
    .unwrap();
    let out = run(&["--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc: Status = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc.format_version, 2);
    assert!(doc.healthy);
    for c in ["prometheus", "alertmanager", "node_exporter", "grafana"] {
        let check = doc.get(c, "enabled");
        assert_eq!((check.ok, check.level.as_str()), (true, "skip"), "{check:?}");
    }
}

/// The systemd side without a running systemd: a stand-in `systemctl` answers
/// `is-active` / `is-enabled` / `show` from state files.
#[test]
fn systemd_units_are_checked_through_systemctl() {
    use monstack::services::Systemd;
    use monstack::state::StateDir;
    use monstack::status::{check_all, Inputs, Level};

    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("systemd");
    std::fs::create_dir_all(&sd).unwrap();
    let systemctl = dir.path().join("systemctl");
    std::fs::write(
        &systemctl,
        format!(
            "#!/bin/bash\nlast=\"${{@: -1}}\"\ncase \"$1\" in\n  is-active) [ -f {d}/$last.active ] ;;\n  is-enabled) [ -f {d}/$last.enabled ] ;;\n  show) for u in \"$@\"; do case $u in *.service) ;; *) continue ;; esac; a=inactive; e=disabled; [ -f {d}/$u.active ] && a=active; [ -f {d}/$u.enabled ] && e=enabled; printf 'Id=%s\\nActiveState=%s\\nUnitFileState=%s\\nMainPID={pid}\\n\\n' $u $a $e; done ;;\n  *) exit 1 ;;\nesac\n",
            d = sd.display(),
            pid = std::process::id()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&systemctl, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let cfg = dir.path().join("monstack.yaml");
    std::fs::write(
        &cfg,
        format!(
            "prometheus:\n  listen_address: 127.0.0.1:{}\nalertmanager: {{enabled: false}}\nnode_exporter: {{enabled: false}}\ngrafana: {{enabled: false}}\n",
            free_port()
        ),
    )
    .unwrap();
    let loaded = monstack::config::load(&cfg).unwrap();
    let root = monstack::paths::Root::new(dir.path().join("root"));
    let state = StateDir::new(&root, &loaded);
    let manager = Systemd { systemctl };
    let inputs = Inputs {
        root: &root,
        loaded: &loaded,
        state: &state,
        manager: &manager,
        templates: None,
        timeout: Duration::from_secs(1),
    };
    let service = |s: &monstack::status::Status| {
        s.checks
            .iter()
            .find(|c| c.component == "prometheus" && c.check == "service")
            .cloned()
            .unwrap()
    };

    let inactive = service(&check_all(&inputs).unwrap());
    assert_eq!(inactive.level, Level::Fail);
    assert!(inactive.reason.contains("`prometheus.service` is not active"), "{inactive:?}");
    // Active but not enabled at boot is still a failure: apply would enable it.
    std::fs::write(sd.join("prometheus.service.active"), "").unwrap();
    assert_eq!(service(&check_all(&inputs).unwrap()).level, Level::Fail);
    std::fs::write(sd.join("prometheus.service.enabled"), "").unwrap();
    // Running, but no release is installed under this root: apply would restart it.
    let running = service(&check_all(&inputs).unwrap());
    let pid = std::process::id();
    assert_eq!(
        (running.level, running.reason.as_str()),
        (
            Level::Fail,
            format!("running (pid {pid}, systemd) but apply would restart it: new release")
                .as_str()
        )
    );
}
