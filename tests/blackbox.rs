//! blackbox_exporter end to end: Debian's binary packed by the loopback mirror in the
//! upstream layout, installed and started by `apply --service-manager direct` under a
//! temp root behind TLS and basic auth (certificates made here with openssl), with
//! Prometheus (also TLS + auth) probing a loopback HTTP target through it; status,
//! the Grafana datasource wired to Prometheus's TLS and auth (emulator), reloads,
//! refused input, and YAML-special strings through every new string field.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use grafana_emulator::{Emulator, TOKEN};
use stack::{changes, make_certs, poll, Stack, AM, BLACKBOX, NODE, PROM};

/// A loopback HTTP server answering 200 to everything until stopped.
struct Target {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let handle = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Target { port, stop, handle: Some(handle) }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Prometheus and blackbox_exporter behind TLS + basic auth; one probe job on
/// `target`; Grafana (the emulator) managing the datasource at Prometheus's plain
/// `http://` address, which monstack must turn into TLS + auth.
fn write_config(s: &Stack, tls: &Path, bb: u16, target: &str, module_timeout: &str, g: &Emulator) {
    let t = tls.display();
    let web = |pw: &str| {
        format!(
            "  web:\n    tls_cert_file: {t}/server.pem\n    tls_key_file: {t}/server.key\n    \
             ca_file: {t}/ca.pem\n    basic_auth_users:\n      \"probe user #1\": {t}/{pw}\n"
        )
    };
    let text = format!(
        "downloads:\n  base_url: {base}\n  cache_dir: /var/cache/monstack\n\
         prometheus:\n  version: {PROM}\n  listen_address: 127.0.0.1:{p}\n  \
         global:\n    scrape_interval: 1s\n    evaluation_interval: 1s\n  \
         alertmanagers: ['127.0.0.1:{a}']\n  scrape_configs:\n    \
         - job_name: prometheus\n      targets: ['127.0.0.1:{p}']\n  \
         probes:\n    - job_name: \"web: probe #1\"\n      module: \"http 2xx: 'ok'\"\n      \
         targets: [\"{target}\"]\n      scrape_interval: 1s\n{wp}\
         alertmanager:\n  version: {AM}\n  listen_address: 127.0.0.1:{a}\n\
         node_exporter:\n  enabled: false\n  version: {NODE}\n\
         blackbox_exporter:\n  enabled: true\n  version: {BLACKBOX}\n  listen_address: 127.0.0.1:{bb}\n  \
         modules:\n    \"http 2xx: 'ok'\":\n      prober: http\n      timeout: {module_timeout}\n      \
         http:\n        valid_status_codes: [200]\n        headers: {{\"X-Probe\": \"a: b # c\"}}\n{wb}\
         grafana:\n  url: {gurl}\n  auth:\n    token_file: {tok}\n  wait_timeout: 5s\n  \
         datasource:\n    url: http://127.0.0.1:{p}\n",
        base = s.mirror.base_url(),
        p = s.prom,
        a = s.am,
        wp = web("prom.pw"),
        wb = web("bb.pw"),
        gurl = g.url(),
        tok = tls.join("token").display(),
    );
    std::fs::write(&s.config, text).unwrap();
}

/// curl over TLS with the CA and `user:password`: (body, status code).
fn curl(tls: &Path, port: u16, path: &str, auth: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "-w", "\n%{http_code}", "-u", auth, "--cacert"])
        .arg(tls.join("ca.pem"))
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (body.to_string(), code.to_string())
}

/// The value of an instant query's first series (by job), over TLS with auth.
fn query(tls: &Path, port: u16, q: &str, job: &str) -> Option<String> {
    let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let (body, _) = curl(tls, port, &format!("/api/v1/query?query={enc}"), PROM_AUTH);
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"].as_array()?.iter().find_map(|r| {
        (r["metric"]["job"] == job).then(|| r["value"][1].as_str().unwrap_or("").to_string())
    })
}

const PROM_AUTH: &str = "probe user #1:prom pass: 1";

#[test]
fn blackbox_probes_over_tls_and_basic_auth_with_grafana_wired() {
    let s = Stack::new();
    let g = Emulator::start();
    let tls = s.dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    make_certs(&tls);
    std::fs::write(tls.join("prom.pw"), "prom pass: 1\n").unwrap();
    std::fs::write(tls.join("bb.pw"), "bb'pass #2\n").unwrap();
    std::fs::write(tls.join("token"), format!("{TOKEN}\n")).unwrap();
    let mut target = Target::start();
    let bb = stack::free_port();
    let url = format!("http://127.0.0.1:{}/ok?x=a:b&y='q'", target.port);
    write_config(&s, &tls, bb, &url, "5s", &g);

    // validate: the real blackbox_exporter judges blackbox.yml, promtool the rest.
    let out = s.run(&["validate"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("ok        blackbox_exporter /opt/blackbox_exporter/blackbox.yml [blackbox_exporter 0.23.0"),
        "{text}"
    );
    assert!(text.contains("/opt/blackbox_exporter/web.yml"), "{text}");

    let report = s.apply_ok();
    let ch = changes(&report);
    assert!(ch.contains(&"release blackbox_exporter create".to_string()), "{ch:?}");
    assert!(ch.contains(&"service blackbox_exporter start".to_string()), "{ch:?}");
    let installed =
        s.root.join(format!("opt/blackbox_exporter/releases/{BLACKBOX}/blackbox_exporter"));
    assert!(installed.is_file(), "installed from the mirror tarball");
    let bb_yml =
        std::fs::read_to_string(s.root.join("opt/blackbox_exporter/blackbox.yml")).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&bb_yml).unwrap();
    let module = &doc["modules"]["http 2xx: 'ok'"];
    assert_eq!(module["http"]["headers"]["X-Probe"].as_str(), Some("a: b # c"), "{bb_yml}");
    let web_yml = s.root.join("opt/blackbox_exporter/web.yml");
    assert!(!std::fs::read_to_string(&web_yml).unwrap().contains("bb'pass"));

    // Prometheus scrapes blackbox_exporter over TLS with auth, and the probe succeeds.
    let up = poll(Duration::from_secs(60), || {
        (query(&tls, s.prom, "up", "blackbox_exporter").as_deref() == Some("1")).then_some(())
    });
    assert!(up.is_some(), "blackbox_exporter never up");
    let ok = poll(Duration::from_secs(60), || {
        let v = query(&tls, s.prom, "probe_success", "web: probe #1");
        (v.as_deref() == Some("1")).then_some(())
    });
    assert!(ok.is_some(), "probe_success never 1");
    // The probe reached the target with the instance relabelled to it.
    let (body, _) = curl(&tls, s.prom, "/api/v1/query?query=probe_success", PROM_AUTH);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["result"][0]["metric"]["instance"].as_str(), Some(url.as_str()), "{body}");
    // blackbox_exporter itself refuses a request without credentials.
    assert_eq!(curl(&tls, bb, "/metrics", "x:y").1, "401");

    // Grafana's datasource: https, Prometheus's first user, its password and CA.
    let ds = &g.datasources()[0];
    assert_eq!(ds["url"], format!("https://127.0.0.1:{}", s.prom), "{ds:#}");
    assert_eq!(ds["basicAuth"], true);
    assert_eq!(ds["basicAuthUser"], "probe user #1");
    assert_eq!(ds["_secrets"]["basicAuthPassword"], "prom pass: 1");
    assert_eq!(ds["jsonData"]["tlsAuthWithCACert"], true);
    let ca = std::fs::read_to_string(tls.join("ca.pem")).unwrap();
    assert_eq!(ds["_secrets"]["tlsCACert"].as_str(), Some(ca.as_str()));

    // status: healthy; the probe, blackbox over TLS with auth, Grafana's own health
    // check of the datasource (through its TLS and auth against the real Prometheus).
    let st = s.run(&["status", "--wait", "30s"]);
    let st_text = String::from_utf8_lossy(&st.stdout).to_string();
    assert_eq!(st.status.code(), Some(0), "{st_text}{}", String::from_utf8_lossy(&st.stderr));
    assert!(st_text.contains(&format!("probe web: probe #1 {url}")), "{st_text}");
    assert!(st_text.contains("succeeds (http 2xx: 'ok')"), "{st_text}");
    assert!(
        st_text.contains(&format!(
            "https://127.0.0.1:{bb}/-/healthy (TLS, basic auth as probe user #1)"
        )),
        "{st_text}"
    );
    assert!(st_text.contains("Successfully queried the Prometheus API."), "{st_text}");
    assert!(!st_text.contains("pass"), "{st_text}");

    // A changed module is a reload of blackbox_exporter (same pid), checked first.
    let pid = s.pid("blackbox_exporter").unwrap();
    write_config(&s, &tls, bb, &url, "4s", &g);
    let (code, report, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 2, "{stderr}");
    let ch = changes(&report);
    assert!(ch.iter().any(|c| c.ends_with("blackbox_exporter reload")), "{ch:?}");
    assert!(!ch.iter().any(|c| c.contains("restart")), "{ch:?}");
    assert_eq!(s.pid("blackbox_exporter"), Some(pid), "not restarted");
    let (code, _, stderr) = s.apply(&["--detailed-exitcode"]);
    assert_eq!(code, 0, "second apply changes nothing: {stderr}");

    // The target goes away: status names the failing probe (exit 1).
    target.stop();
    let failed = poll(Duration::from_secs(30), || {
        (query(&tls, s.prom, "probe_success", "web: probe #1").as_deref() == Some("0"))
            .then_some(())
    });
    assert!(failed.is_some(), "probe_success never 0");
    let st = s.run(&["status"]);
    let st_text = String::from_utf8_lossy(&st.stdout).to_string();
    assert_eq!(st.status.code(), Some(1), "{st_text}");
    assert!(st_text.contains("fails: probe_success 0 with module `http 2xx: 'ok'`"), "{st_text}");
}

/// Bad input: a probe naming an unknown module, probes without the exporter, settings
/// under another prober, and a key blackbox_exporter does not know; each refused with
/// the file, line and field (or the checker's own message), nothing written.
#[test]
fn bad_blackbox_input_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monstack.yaml");
    let run = |text: &str| {
        std::fs::write(&cfg, text).unwrap();
        let out = bin::Monstack::new().config(&cfg).args(["validate"]).output();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), all)
    };
    let head = "grafana: {enabled: false}\nblackbox_exporter:\n  enabled: true\n  modules:\n    icmp: {prober: icmp}\n";
    let (code, text) = run(&format!(
        "{head}prometheus:\n  probes:\n    - {{job_name: web, module: http_2xx, targets: ['http://x/']}}\n"
    ));
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("monstack.yaml:8"), "{text}");
    assert!(text.contains("prometheus.probes[0].module"), "{text}");
    assert!(
        text.contains("module `http_2xx` is not in blackbox_exporter.modules (defined: icmp)"),
        "{text}"
    );

    let (code, text) = run(
        "grafana: {enabled: false}\nprometheus:\n  probes:\n    - {job_name: web, module: http_2xx, targets: ['http://x/']}\n",
    );
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("blackbox_exporter.enabled: true"), "{text}");

    let (code, text) = run(
        "grafana: {enabled: false}\nblackbox_exporter:\n  enabled: true\n  modules:\n    m:\n      prober: http\n      tcp: {tls: true}\n",
    );
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("blackbox_exporter.modules.m.tcp"), "{text}");
    assert!(text.contains(":7:"), "{text}");

    // Strictly parsed by blackbox_exporter itself: an unknown prober key.
    let (code, text) = run(
        "grafana: {enabled: false}\nblackbox_exporter:\n  enabled: true\n  modules:\n    m:\n      prober: http\n      http: {valid_status_code: [200]}\n",
    );
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("blackbox_exporter"), "{text}");
    assert!(text.contains("field valid_status_code not found"), "{text}");
}

/// Strings YAML treats specially, through every new string field (module names and
/// their prober settings, probe job names, modules and targets): the rendered
/// prometheus.yml and blackbox.yml parse back to them, and Go's parsers in promtool
/// and blackbox_exporter accept both files.
#[test]
fn yaml_special_strings_round_trip_through_blackbox_fields() {
    const SPECIAL: &[&str] = &[
        "a: b",
        "#x",
        "'q'",
        "\"dq\"",
        "*star",
        "&amp",
        "!tag",
        "{x}",
        "[y]",
        "- dash",
        "null",
        "true",
        "~",
        "%p",
        "@at",
        "`bt`",
        "|pipe",
        ">gt",
        "é✓",
        "0x10",
        "1e3",
        "tab\there",
    ];
    let t = tempfile::tempdir().unwrap();
    let mut modules = serde_json::Map::new();
    let mut probes = Vec::new();
    for (i, s) in SPECIAL.iter().enumerate() {
        // Module names refuse control characters (the tab).
        let name = format!("m{i} {}", s.replace('\t', " "));
        let headers = serde_json::json!({ format!("X-H{i}"): s });
        modules.insert(
            name.clone(),
            serde_json::json!({"prober": "http", "http": {"headers": headers, "body": s}}),
        );
        let target = format!("http://127.0.0.1:9/{}", s.replace([' ', '\t'], "_"));
        probes.push(serde_json::json!({
            "job_name": format!("job{i} {s}"), "module": name, "targets": [target],
        }));
    }
    let doc = serde_json::json!({
        "grafana": {"enabled": false},
        "blackbox_exporter": {"enabled": true, "modules": modules},
        "prometheus": {"probes": probes},
    });
    let cfg = t.path().join("monstack.yaml");
    std::fs::write(&cfg, serde_norway::to_string(&doc).unwrap()).unwrap();
    let out = t.path().join("out");
    let o = bin::Monstack::new().config(&cfg).args(["render", "--out"]).args([&out]).output();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let read = |p: &str| -> serde_norway::Value {
        serde_norway::from_str(&std::fs::read_to_string(out.join(p)).unwrap()).unwrap()
    };
    let prom = read("opt/prometheus/prometheus.yml");
    let bb = read("opt/blackbox_exporter/blackbox.yml");
    let jobs = prom["scrape_configs"].as_sequence().unwrap();
    for (i, s) in SPECIAL.iter().enumerate() {
        let name = format!("m{i} {}", s.replace('\t', " "));
        let job = jobs.iter().find(|j| j["job_name"].as_str() == Some(&format!("job{i} {s}")));
        let job = job.unwrap_or_else(|| panic!("job{i} {s:?} missing"));
        assert_eq!(job["params"]["module"][0].as_str(), Some(name.as_str()));
        let target = format!("http://127.0.0.1:9/{}", s.replace([' ', '\t'], "_"));
        assert_eq!(job["static_configs"][0]["targets"][0].as_str(), Some(target.as_str()));
        let m = &bb["modules"][name.as_str()];
        assert_eq!(m["http"]["headers"][format!("X-H{i}").as_str()].as_str(), Some(*s));
        assert_eq!(m["http"]["body"].as_str(), Some(*s));
    }

    let check = |bin: &str, args: &[&str]| {
        let o = Command::new(bin).args(args).output().unwrap();
        assert!(o.status.success(), "{bin}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let prom_yml = out.join("opt/prometheus/prometheus.yml");
    check("promtool", &["check", "config", "--syntax-only", prom_yml.to_str().unwrap()]);
    let bb_flag =
        format!("--config.file={}", out.join("opt/blackbox_exporter/blackbox.yml").display());
    check("prometheus-blackbox-exporter", &[&bb_flag, "--config.check"]);
}
