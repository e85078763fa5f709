//! `<component>.web` end to end: certificates made here with openssl, Debian's
//! Prometheus, Alertmanager and node_exporter started by `apply --service-manager
//! direct` under a temp root, each behind TLS and basic auth; Prometheus scrapes them
//! (up = 1), monstack reloads over TLS, status is healthy, a changed password is a
//! reload (not a restart) and a missing or empty password file is refused before
//! anything lands.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use stack::{changes, make_certs, poll, Stack, AM, NODE, PROM};

struct Env {
    s: Stack,
    tls: PathBuf,
}

impl Env {
    fn new() -> Env {
        let s = Stack::new();
        let tls = s.dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        make_certs(&tls);
        for (name, pw) in [("prom", "prom-pass 1"), ("am", "am-pass: 2"), ("node", "node#pass'3")] {
            std::fs::write(tls.join(format!("{name}.pw")), format!("{pw}\n")).unwrap();
        }
        let e = Env { s, tls };
        e.write_config("node.pw");
        e
    }

    /// All three behind TLS + basic auth (node_exporter's password in `node_pw`).
    fn write_config(&self, node_pw: &str) {
        let s = &self.s;
        let t = self.tls.display();
        let web = |pw: &str| {
            format!(
                "  web:\n    tls_cert_file: {t}/server.pem\n    tls_key_file: {t}/server.key\n    \
                 ca_file: {t}/ca.pem\n    basic_auth_users:\n      \"admin #1\": {t}/{pw}\n"
            )
        };
        let text = format!(
            "downloads:\n  base_url: {base}\n  cache_dir: /var/cache/monstack\n\
             prometheus:\n  version: {PROM}\n  listen_address: 127.0.0.1:{p}\n  \
             global:\n    scrape_interval: 1s\n    evaluation_interval: 1s\n  \
             alertmanagers: ['127.0.0.1:{a}']\n  scrape_configs:\n    \
             - job_name: prometheus\n      targets: ['127.0.0.1:{p}']\n    \
             - job_name: node\n      targets: ['localhost:{n}']\n    \
             - job_name: alertmanager\n      targets: ['127.0.0.1:{a}']\n{wp}\
             alertmanager:\n  version: {AM}\n  listen_address: 127.0.0.1:{a}\n{wa}\
             node_exporter:\n  version: {NODE}\n  listen_address: 127.0.0.1:{n}\n{wn}\
             grafana:\n  enabled: false\n",
            base = s.mirror.base_url(),
            p = s.prom,
            a = s.am,
            n = s.node,
            wp = web("prom.pw"),
            wa = web("am.pw"),
            wn = web(node_pw),
        );
        std::fs::write(&s.config, text).unwrap();
    }

    /// curl over TLS with the CA and `user:password` (None: no credentials).
    fn curl(&self, port: u16, path: &str, auth: Option<&str>) -> (String, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "5", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.tls.join("ca.pem"));
        if let Some(a) = auth {
            c.args(["-u", a]);
        }
        let out = c.arg(format!("https://127.0.0.1:{port}{path}")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
        (body.to_string(), code.to_string())
    }

    fn up(&self, auth: &str) -> Vec<(String, String)> {
        let (body, _) = self.curl(self.s.prom, "/api/v1/query?query=up", Some(auth));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let mut out: Vec<(String, String)> = v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r["metric"]["job"].as_str().unwrap_or("").to_string(),
                    r["value"][1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn tls_and_basic_auth_on_every_endpoint() {
    let e = Env::new();
    let s = &e.s;
    let prom_auth = "admin #1:prom-pass 1";

    // validate: the real promtool judges each web config.
    let out = s.run(&["validate"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for c in ["prometheus", "alertmanager", "node_exporter"] {
        assert!(text.contains(&format!("/opt/{c}/web.yml")), "{text}");
    }

    s.apply_ok();
    let web = s.root.join("opt/prometheus/web.yml");
    let text = std::fs::read_to_string(&web).unwrap();
    assert!(text.contains("cert_file:") && text.contains("$2"), "bcrypt hash: {text}");
    assert!(!text.contains("prom-pass"), "{text}");
    assert_eq!(mode(&web), 0o640);
    let prom_yml = std::fs::read_to_string(s.root.join("opt/prometheus/prometheus.yml")).unwrap();
    assert!(prom_yml.contains("scheme: \"https\""), "{prom_yml}");
    assert!(prom_yml.contains("password_file: \"secrets/node_exporter.password\""), "{prom_yml}");
    assert!(!prom_yml.contains("node#pass") && !prom_yml.contains("prom-pass"), "{prom_yml}");
    assert_eq!(mode(&s.root.join("opt/prometheus/secrets/node_exporter.password")), 0o640);

    // Every target over TLS with auth: up = 1.
    let want: Vec<(String, String)> = ["alertmanager", "node", "prometheus"]
        .iter()
        .map(|j| (j.to_string(), "1".to_string()))
        .collect();
    let got = poll(Duration::from_secs(60), || (e.up(prom_auth) == want).then_some(()));
    assert!(got.is_some(), "up: {:?}", e.up(prom_auth));
    // No credentials, a wrong password, plain HTTP: refused.
    assert_eq!(e.curl(s.prom, "/-/ready", None).1, "401");
    assert_eq!(e.curl(s.node, "/metrics", Some("admin #1:wrong")).1, "401");
    assert_eq!(e.curl(s.am, "/-/ready", Some("admin #1:am-pass: 2")).1, "200");
    let plain = Command::new("curl")
        .args(["-s", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/-/ready", s.prom))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");
    // No password on a command line.
    let pid = s.pid("prometheus").unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(cmdline.contains("--web.config.file="), "{cmdline}");
    assert!(!cmdline.contains("pass"), "{cmdline}");

    // A re-apply changes nothing: the hashes verify and are kept.
    let (code, report, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 0, "{stderr}\n{:?}", changes(&report));
    assert_eq!(std::fs::read_to_string(&web).unwrap(), text);

    // status: healthy, reached over TLS with auth.
    let st = s.run(&["status"]);
    let st_text = String::from_utf8_lossy(&st.stdout).to_string();
    assert_eq!(st.status.code(), Some(0), "{st_text}{}", String::from_utf8_lossy(&st.stderr));
    assert!(st_text.contains("TLS, basic auth as admin #1"), "{st_text}");

    // A new password: Prometheus reloads over TLS (same pid), the new one works.
    std::fs::write(e.tls.join("prom.pw"), "prom-pass 2\n").unwrap();
    let (code, report, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 2, "{stderr}");
    let ch = changes(&report);
    assert!(ch.iter().any(|c| c.ends_with("prometheus reload")), "{ch:?}");
    assert!(!ch.iter().any(|c| c.contains("restart")), "{ch:?}");
    assert!(!serde_json::to_string(&report).unwrap().contains("prom-pass"), "{report:#}");
    assert!(!stderr.contains("prom-pass"), "{stderr}");
    assert_eq!(s.pid("prometheus"), Some(pid), "not restarted");
    assert_eq!(e.curl(s.prom, "/-/ready", Some("admin #1:prom-pass 2")).1, "200");
    assert_eq!(e.curl(s.prom, "/-/ready", Some(prom_auth)).1, "401");

    // A missing, then an empty password file: refused before anything lands.
    let before = s.snapshot();
    let apply = || {
        let out = s.run(&["apply", "--service-manager", "direct"]);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    e.write_config("missing.pw");
    let (code, stderr) = apply();
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("node_exporter.web.basic_auth_users"), "{stderr}");
    assert!(stderr.contains("missing.pw"), "{stderr}");
    std::fs::write(e.tls.join("empty.pw"), "\n").unwrap();
    e.write_config("empty.pw");
    let (code, stderr) = apply();
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("is empty"), "{stderr}");
    assert_eq!(s.snapshot(), before, "nothing changed on the host");
}

/// `file_sd`: targets from a drop-in directory, picked up by Prometheus without an
/// apply; status reports them per job.
#[test]
fn file_sd_targets_from_a_drop_in_directory() {
    let s = Stack::new();
    let drop_in = s.dir.path().join("targets.d");
    std::fs::create_dir_all(&drop_in).unwrap();
    s.write_config(PROM, &[], "");
    // The stack's config plus a job with only file_sd (YAML-special path characters).
    let text = std::fs::read_to_string(&s.config).unwrap().replace(
        "alertmanager:\n",
        &format!(
            "    - job_name: \"fleet: #1\"\n      file_sd: [\"{}/*.yml\"]\nalertmanager:\n",
            drop_in.display()
        ),
    );
    std::fs::write(&s.config, text).unwrap();
    std::fs::write(
        drop_in.join("a.yml"),
        format!("- targets: ['127.0.0.1:{}']\n  labels: {{team: ops}}\n", s.node),
    )
    .unwrap();
    s.apply_ok();
    let prom_yml = std::fs::read_to_string(s.root.join("opt/prometheus/prometheus.yml")).unwrap();
    assert!(prom_yml.contains("file_sd_configs:"), "{prom_yml}");
    let status = |want: &str| {
        poll(Duration::from_secs(60), || {
            let out = s.run(&["status"]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            text.contains(want).then_some(text)
        })
    };
    let text = status("1 targets from");
    assert!(text.is_some(), "{}", String::from_utf8_lossy(&s.run(&["status"]).stdout));
    // A second file in the directory: no apply, Prometheus finds it.
    std::fs::write(drop_in.join("b.yml"), format!("- targets: ['localhost:{}']\n", s.node))
        .unwrap();
    let text = status("2 targets from");
    assert!(text.is_some(), "{}", String::from_utf8_lossy(&s.run(&["status"]).stdout));
    let (code, _, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 0, "nothing to change: {stderr}");
}
