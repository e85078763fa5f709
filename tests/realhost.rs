//! monstack on real hosts: systemd as PID 1, a fresh /etc, no `--root`, run as root
//! (tests/support/realhost.rs boots them). The release mirror is served by this test
//! process on each host's own loopback. Each test boots its own host; they run
//! side by side.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/realhost.rs"]
mod realhost;
#[path = "support/stack.rs"]
mod stack;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use mirror::Mirror;
use realhost::{Host, Options};
use stack::{make_certs, AM, BLACKBOX, NODE, PROM, PROM_NEXT};

const BIN_DIR: &str = "/test/bin";
const CONFIG: &str = "/etc/monstack/monstack.yaml";
/// Executables of the host's processes that live under /opt (one per line).
const RUNNING_FROM_OPT: &str =
    "for p in /proc/[0-9]*; do readlink $p/exe 2>/dev/null; done | grep '^/opt/' || true";
const UNITS: [&str; 3] = ["prometheus.service", "alertmanager.service", "node_exporter.service"];

/// A booted host with the mirror on its loopback and the monstack binary bound in.
struct Rig {
    host: Host,
    mirror: Mirror,
}

fn rig(persist: bool) -> Option<Rig> {
    let bin = Path::new(env!("CARGO_BIN_EXE_monstack")).parent().unwrap().to_path_buf();
    let mirror_dir = stack::mirror_dir();
    let host = realhost::boot(Options {
        persist,
        bind_ro: vec![(bin, BIN_DIR.into())],
        ..Options::default()
    })?;
    let mirror = Mirror::start_on(host.listen(0), mirror_dir);
    let r = Rig { host, mirror };
    r.start_app();
    Some(r)
}

/// Extra keys per section (each line indented for its section).
#[derive(Default)]
struct Cfg<'a> {
    prom_version: &'a str,
    prom: &'a str,
    am: &'a str,
    top: &'a str,
}

impl Rig {
    /// A stand-in for the runbook's application, which the default config scrapes on
    /// localhost:8000 (`/metrics`), as a transient unit (gone after a reboot).
    fn start_app(&self) {
        self.host.write("/srv/snowflake-mcp/metrics", "snowflake_mcp_up 1\n", 0o644);
        self.host.service(
            "snowflake-mcp",
            &[
                "python3",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                "/srv/snowflake-mcp",
                "8000",
            ],
        );
        assert!(
            self.host.wait_port(8000, Duration::from_secs(20)),
            "the stand-in app never answered"
        );
    }

    fn config(&self, c: Cfg) {
        let prom_version = if c.prom_version.is_empty() { PROM } else { c.prom_version };
        let text = format!(
            "downloads:\n  base_url: {}\nprometheus:\n  version: {prom_version}\n{}alertmanager:\n  version: {AM}\n{}node_exporter:\n  version: {NODE}\ngrafana:\n  enabled: false\n{}",
            self.mirror.base_url(),
            c.prom,
            c.am,
            c.top
        );
        self.host.write(CONFIG, text, 0o644);
    }

    fn monstack(&self, args: &[&str]) -> Output {
        self.monstack_env(args, &[])
    }

    fn monstack_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let bin = format!("{BIN_DIR}/monstack");
        let mut argv = vec![bin.as_str()];
        argv.extend_from_slice(args);
        self.host.run_env(&argv, env)
    }

    /// Run monstack and require `code`; returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.monstack(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "on {}: monstack {args:?}:\n{}\n{}",
            self.host.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn main_pid(&self, unit: &str) -> u32 {
        self.host.ok(&format!("systemctl show -p MainPID --value {unit}")).trim().parse().unwrap()
    }

    fn pids(&self) -> Vec<u32> {
        UNITS.iter().map(|u| self.main_pid(u)).collect()
    }

    fn cursor(&self) -> String {
        let out = self.host.ok("journalctl --no-pager -n 1 -o cat --show-cursor");
        out.lines()
            .find_map(|l| l.strip_prefix("-- cursor: "))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// What systemd (PID 1) logged since `cursor`.
    fn systemd_since(&self, cursor: &str) -> String {
        self.host.ok(&format!(
            "journalctl -q --no-pager _PID=1 --after-cursor='{cursor}' -o cat || true"
        ))
    }

    fn wait_ready(&self, port: u16, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.host.http_get(&format!("http://127.0.0.1:{port}{path}")).0 == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "{port}{path} never answered on {}", self.host.name);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn assert_stack_serving(&self) {
        for u in UNITS {
            self.host.ok(&format!(
                "systemctl is-active --quiet {u} && systemctl is-enabled --quiet {u}"
            ));
        }
        assert_eq!(self.host.http_get("http://127.0.0.1:9090/-/ready").0, 200);
        assert_eq!(self.host.http_get("http://127.0.0.1:9093/-/ready").0, 200);
        let (code, metrics) = self.host.http_get("http://127.0.0.1:9100/metrics");
        assert_eq!(code, 200);
        assert!(metrics.contains("node_"));
    }
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

/// Fresh bootstrap, status right after, no-op re-apply, config reload, kill -9,
/// version change and rollback, rsyslog and logrotate — on one systemd host.
#[test]
fn systemd_host_bootstrap_noop_reload_upgrade_rollback() {
    let Some(r) = rig(false) else { return };
    let h = &r.host;
    r.config(Cfg::default());
    let rsyslog_before = r.main_pid("rsyslog.service");
    assert_ne!(rsyslog_before, 0, "rsyslog runs on the fresh host");

    // 1. Fresh bootstrap, no --root, default service manager.
    let t = Instant::now();
    r.expect(&["apply"], 0);
    let apply_time = t.elapsed();
    r.expect(&["status"], 0);
    eprintln!("fresh bootstrap: apply {apply_time:?}, then status healthy at once");
    for user in ["prometheus", "alertmanager", "node_exporter"] {
        let pw = h.ok(&format!("getent passwd {user}"));
        assert!(pw.trim_end().ends_with("/usr/sbin/nologin"), "{pw}");
        h.ok(&format!("getent group {user}"));
    }
    assert_eq!(
        h.ok("stat -c '%a %U %G' /opt/alertmanager/alertmanager.yml").trim(),
        "640 root alertmanager"
    );
    h.ok("runuser -u alertmanager -- cat /opt/alertmanager/alertmanager.yml >/dev/null");
    assert!(!h.sh("runuser -u nobody -- cat /opt/alertmanager/alertmanager.yml").status.success());
    h.ok("runuser -u prometheus -- cat /opt/prometheus/prometheus.yml /opt/prometheus/rules/*.yml >/dev/null");
    assert_eq!(h.ok("stat -c '%U' /opt/prometheus/data").trim(), "prometheus");
    r.assert_stack_serving();
    for (unit, user) in UNITS.iter().zip(["prometheus", "alertmanager", "node_exporter"]) {
        let pid = r.main_pid(unit);
        assert_eq!(h.ok(&format!("stat -c %U /proc/{pid}")).trim(), user);
    }
    // The rsyslog drop-in landed and rsyslog was restarted for it; logrotate still works.
    assert!(h.path("/etc/rsyslog.d/30-snowflake-mcp.conf").exists());
    assert_ne!(r.main_pid("rsyslog.service"), rsyslog_before, "rsyslog restarted for its drop-in");
    let rsyslog_after = r.main_pid("rsyslog.service");
    // The default entry names owners a fresh host has (logrotate refuses unknown ones,
    // and with them the host's whole run).
    assert!(h.ok("cat /etc/logrotate.d/snowflake-mcp").contains("create 0640 root adm"));
    let lr = h.sh("logrotate -d /etc/logrotate.conf");
    assert!(
        lr.status.success(),
        "logrotate -d after apply:\n{}",
        String::from_utf8_lossy(&lr.stderr)
    );

    // 2. No-op re-apply: exit 0 with --detailed-exitcode and systemd asked for nothing.
    let pids = r.pids();
    let cursor = r.cursor();
    r.expect(&["apply", "--detailed-exitcode"], 0);
    let sd = r.systemd_since(&cursor);
    for word in ["Reloading", "Starting", "Stopping", "Started", "Stopped"] {
        assert!(!sd.contains(word), "a no-op apply made systemd act:\n{sd}");
    }
    assert_eq!(r.pids(), pids);
    assert_eq!(r.main_pid("rsyslog.service"), rsyslog_after);

    // 3. Config edit -> reload: same MainPID, the new config live.
    r.config(Cfg {
        prom: "  global:\n    external_labels:\n      site: realhost\n",
        ..Cfg::default()
    });
    let out = r.expect(&["apply", "--detailed-exitcode"], 2);
    assert!(out.contains("prometheus (reload)"), "{out}");
    assert_eq!(r.pids(), pids, "a reload keeps every process");
    let (_, cfg) = h.http_get("http://127.0.0.1:9090/api/v1/status/config");
    assert!(cfg.contains("site: realhost"), "{cfg}");
    r.expect(&["status"], 0);

    // 6. kill -9: systemd restarts it; the next apply is a no-op.
    let before = r.main_pid("node_exporter.service");
    h.ok(&format!("kill -9 {before}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while r.main_pid("node_exporter.service") == before || r.main_pid("node_exporter.service") == 0
    {
        assert!(Instant::now() < deadline, "systemd did not restart node_exporter");
        std::thread::sleep(Duration::from_millis(100));
    }
    r.wait_ready(9100, "/metrics");
    r.expect(&["apply", "--detailed-exitcode"], 0);

    // 4. Version change -> restart onto the new release; rollback -> restart onto the
    //    previous one.
    let old_pid = r.main_pid("prometheus.service");
    r.config(Cfg {
        prom_version: PROM_NEXT,
        prom: "  global:\n    external_labels:\n      site: realhost\n",
        ..Cfg::default()
    });
    let out = r.expect(&["apply", "--detailed-exitcode"], 2);
    assert!(out.contains("prometheus (restart)"), "{out}");
    let new_pid = r.main_pid("prometheus.service");
    assert_ne!(new_pid, old_pid);
    assert!(h.ok(&format!("readlink /proc/{new_pid}/exe")).contains(PROM_NEXT));
    r.expect(&["status"], 0);
    let rolled = r.monstack(&["rollback", "prometheus"]);
    assert!(rolled.status.success(), "{}", String::from_utf8_lossy(&rolled.stderr));
    let back_pid = r.main_pid("prometheus.service");
    assert_ne!(back_pid, new_pid, "rollback restarts the service");
    assert!(h.ok(&format!("readlink /proc/{back_pid}/exe")).contains(&format!("/{PROM}/")));
    assert_eq!(h.http_get("http://127.0.0.1:9090/-/ready").0, 200);
    // The config says PROM_NEXT again: apply converges back onto it.
    r.expect(&["apply"], 0);
    r.expect(&["status"], 0);
}

/// A first apply that fails leaves nothing running from units it removed; a restart
/// that cannot succeed gives the previous unit, files and process back, in bounded
/// time, and the report says what failed.
#[test]
fn systemd_host_failures_restore_the_previous_state() {
    let Some(r) = rig(false) else { return };
    let h = &r.host;

    // A fresh host whose Alertmanager cannot start (a flag it does not know).
    r.config(Cfg { am: "  extra_flags: [--no-such-flag]\n", ..Cfg::default() });
    let t = Instant::now();
    let out = r.monstack(&["--output", "json", "apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    let rep = json(&String::from_utf8_lossy(&out.stdout));
    let res = rep["resources"].as_array().unwrap();
    let am = res.iter().find(|c| c["kind"] == "service" && c["name"] == "alertmanager").unwrap();
    assert_eq!(am["action"], "failed", "{am}");
    assert!(am["detail"].as_str().unwrap().contains("start failed"), "{am}");
    for c in res.iter().filter(|c| c["kind"] == "file" || c["kind"] == "unit") {
        assert_eq!(c["action"], "failed", "a file written then removed is not a change: {c}");
    }
    let counted = res
        .iter()
        .filter(|c| !["unchanged", "failed", "skipped"].contains(&c["action"].as_str().unwrap()))
        .count();
    assert_eq!(rep["changed"].as_u64().unwrap() as usize, counted, "{rep}");
    assert!(rep["failed"].as_u64().unwrap() > 0);
    for u in UNITS {
        assert!(!h.sh(&format!("systemctl is-active --quiet {u}")).status.success(), "{u} runs");
        assert!(!h.path(&format!("/etc/systemd/system/{u}")).exists());
    }
    assert_eq!(h.ok(RUNNING_FROM_OPT), "", "something still runs from /opt");
    assert!(!h.path("/opt/alertmanager/alertmanager.yml").exists());

    // Fixed config: the bootstrap completes.
    r.config(Cfg::default());
    r.expect(&["apply"], 0);
    r.expect(&["status"], 0);
    let pids = r.pids();
    let unit_before = h.read("/etc/systemd/system/prometheus.service");
    let yml_before = h.read("/opt/prometheus/prometheus.yml");

    // A restart onto a port another server holds (it answers, but not as Prometheus):
    // bounded by --ready-timeout, then the previous unit and process are back.
    h.service(
        "port-taker",
        &[
            "socat",
            "TCP-LISTEN:9191,reuseaddr,fork",
            "SYSTEM:printf 'HTTP/1.0 200 OK\\r\\n\\r\\nnot prometheus'",
        ],
    );
    assert!(h.wait_port(9191, Duration::from_secs(10)));
    r.config(Cfg { prom: "  listen_address: 127.0.0.1:9191\n", ..Cfg::default() });
    let t = Instant::now();
    let out = r.monstack(&["--output", "json", "apply", "--ready-timeout", "20s"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(90), "bounded: {took:?}");
    let rep = json(&String::from_utf8_lossy(&out.stdout));
    let prom = rep["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "service" && c["name"] == "prometheus")
        .unwrap()
        .clone();
    assert_eq!(prom["action"], "failed", "{prom}");
    assert!(prom["detail"].as_str().unwrap().contains("restart failed"), "{prom}");
    assert_eq!(rep["changed"], 0, "{rep}");
    assert_eq!(h.read("/etc/systemd/system/prometheus.service"), unit_before);
    assert_eq!(h.read("/opt/prometheus/prometheus.yml"), yml_before);
    r.wait_ready(9090, "/-/ready");
    let p = r.main_pid("prometheus.service");
    assert!(h.ok(&format!("tr '\\0' ' ' < /proc/{p}/cmdline")).contains("0.0.0.0:9090"));
    assert_eq!(&r.pids()[1..], &pids[1..], "the others were not touched");
    h.ok("systemctl stop port-taker.service");

    // A restart with a flag Prometheus refuses: fails fast, previous back.
    r.config(Cfg { prom: "  extra_flags: [--no.such.flag]\n", ..Cfg::default() });
    let t = Instant::now();
    let out = r.monstack(&["apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prometheus"), "{err}");
    assert_eq!(h.read("/etc/systemd/system/prometheus.service"), unit_before);
    r.wait_ready(9090, "/-/ready");
    r.config(Cfg::default());
    r.expect(&["apply", "--detailed-exitcode"], 0);
    // The process brought back restarted moments ago: it rediscovers its Alertmanager.
    r.expect(&["status", "--wait", "30s"], 0);
}

/// Reboot with /etc, /opt and /var kept: the services come back, status is healthy,
/// apply is a no-op.
#[test]
fn systemd_host_survives_a_reboot() {
    let Some(mut r) = rig(true) else { return };
    r.config(Cfg::default());
    r.expect(&["apply"], 0);
    r.host.reboot();
    r.start_app();
    for u in UNITS {
        r.host.ok(&format!("systemctl is-enabled --quiet {u}"));
    }
    r.expect(&["status", "--wait", "60s"], 0);
    r.assert_stack_serving();
    r.expect(&["apply", "--detailed-exitcode"], 0);
}

/// `--service-manager direct` as root on a fresh host: the same users and owners,
/// processes as their users, with none of monstack's environment.
#[test]
fn direct_as_root_on_a_fresh_host() {
    let Some(r) = rig(false) else { return };
    let h = &r.host;
    r.config(Cfg {
        am: "  smtp:\n    auth_username: alerts\n    password_env: SMTP_PASSWORD\n",
        ..Cfg::default()
    });
    // Not root and no --root: refused before anything is touched.
    let out = h.run(&["runuser", "-u", "nobody", "--", "/test/bin/monstack", "apply"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root") && err.contains("--root"), "{err}");
    assert!(!h.path("/opt/prometheus").exists() && !h.path("/var/lib/monstack").exists());
    // A group left behind without its user is reused.
    h.ok("groupadd --system node_exporter");
    let gid = h.ok("getent group node_exporter | cut -d: -f3");
    let secret = "s3cret-smtp-value";
    let out = r.monstack_env(
        &["apply", "--service-manager", "direct"],
        &[("SMTP_PASSWORD", secret), ("GRAFANA_TOKEN", "grafana-token-value")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st = r.monstack_env(&["status"], &[("SMTP_PASSWORD", secret)]);
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stdout));
    assert_eq!(
        h.ok("stat -c '%a %U %G' /opt/alertmanager/alertmanager.yml").trim(),
        "640 root alertmanager"
    );
    for (name, user) in [
        ("prometheus", "prometheus"),
        ("alertmanager", "alertmanager"),
        ("node_exporter", "node_exporter"),
    ] {
        let pid = h.read(&format!("/var/lib/monstack/run/{name}.pid"));
        let pid = pid.lines().next().unwrap().trim();
        assert_eq!(h.ok(&format!("stat -c %U /proc/{pid}")).trim(), user);
        let env = h.ok(&format!("tr '\\0' '\\n' < /proc/{pid}/environ"));
        assert!(!env.contains(secret) && !env.contains("grafana-token-value"), "{env}");
        assert!(!env.contains("SMTP_PASSWORD") && !env.contains("GRAFANA_TOKEN"), "{env}");
    }
    assert_eq!(h.ok("id -g node_exporter"), gid, "the existing group became its primary group");
    assert!(!h.sh("systemctl is-active --quiet prometheus.service").status.success());
    r.expect(&["stop"], 0);
    assert_eq!(h.ok(RUNNING_FROM_OPT), "", "something still runs from /opt");
}

/// `monstack uninstall` under systemd: planned, refused without a terminal or `--yes`;
/// then units stopped, disabled and gone, ports closed, configs and releases removed,
/// data dirs kept; a second run is a no-op; `--purge` removes the data too.
#[test]
fn systemd_host_uninstall_keeps_data_unless_purge() {
    let Some(r) = rig(false) else { return };
    let h = &r.host;
    r.config(Cfg::default());
    r.expect(&["apply"], 0);
    r.assert_stack_serving();

    let plan = r.expect(&["uninstall", "--dry-run"], 0);
    assert!(
        plan.contains("- unit               /etc/systemd/system/prometheus.service (delete)"),
        "{plan}"
    );
    assert!(plan.contains("dir                /opt/prometheus/data (unchanged)"), "{plan}");
    r.expect(&["uninstall"], 64);
    r.assert_stack_serving();

    let rep = json(&r.expect(&["--output", "json", "uninstall", "--yes"], 0));
    assert_eq!(rep["format_version"], monstack::printer::FORMAT_VERSION);
    assert_eq!((&rep["failed"], &rep["skipped"]), (&0.into(), &0.into()), "{rep:#}");
    for unit in UNITS {
        // Gone from /etc; the host's /usr may still ship a package's unit of that name
        // (Debian's prometheus.service), which monstack neither wrote nor touches.
        let fragment = h.ok(&format!("systemctl show -p FragmentPath --value {unit}"));
        assert!(!fragment.starts_with("/etc/"), "{unit} still loaded from {fragment}");
        assert!(!h.sh(&format!("systemctl is-enabled --quiet {unit}")).status.success());
        assert!(!h.sh(&format!("systemctl is-active --quiet {unit}")).status.success());
        assert!(!h.path(&format!("/etc/systemd/system/{unit}")).exists());
        assert!(!h.path(&format!("/etc/systemd/system/multi-user.target.wants/{unit}")).exists());
    }
    for port in [9090, 9093, 9100] {
        assert_eq!(h.http_get(&format!("http://127.0.0.1:{port}/")).0, 0, "port {port} closed");
    }
    assert_eq!(h.ok(RUNNING_FROM_OPT), "", "something still runs from /opt");
    for gone in [
        "/opt/prometheus/prometheus.yml",
        "/opt/prometheus/current",
        "/opt/prometheus/releases",
        "/opt/alertmanager/alertmanager.yml",
        "/etc/rsyslog.d/30-snowflake-mcp.conf",
        "/etc/logrotate.d/snowflake-mcp",
    ] {
        assert!(!h.path(gone).exists(), "{gone} removed");
    }
    assert!(h.path("/opt/prometheus/data").is_dir() && h.path("/opt/alertmanager/data").is_dir());
    assert_eq!(
        h.ok("stat -c '%U' /opt/prometheus/data").trim(),
        "prometheus",
        "data kept as it was"
    );
    assert!(h.sh("logrotate -d /etc/logrotate.conf").status.success());

    let again = r.expect(&["uninstall", "--yes"], 0);
    assert!(again.contains("uninstall: nothing to remove"), "{again}");
    let purged = r.expect(&["uninstall", "--purge", "--yes"], 0);
    assert!(purged.contains("- dir                /opt/prometheus/data (delete)"), "{purged}");
    for gone in ["/opt/prometheus", "/opt/alertmanager", "/opt/node_exporter"] {
        assert!(!h.path(gone).exists(), "{gone} removed with --purge");
    }
    let again = r.expect(&["uninstall", "--purge", "--yes"], 0);
    assert!(again.contains("uninstall: nothing to remove"), "{again}");
}

/// A TLS + basic-auth stack under systemd: Prometheus, Alertmanager and
/// blackbox_exporter (Debian's binary from the mirror) each behind a certificate made
/// with openssl; Prometheus scrapes them over TLS with auth and probes the stand-in
/// app through blackbox_exporter (`probe_success` = 1); status is healthy; a changed
/// blackbox module is a reload under systemd (same MainPID).
#[test]
fn systemd_host_tls_auth_stack_with_blackbox() {
    let Some(r) = rig(false) else { return };
    let h = &r.host;
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    for f in ["ca.pem", "server.pem", "server.key"] {
        // The services read the key as their own users: world-readable in this test only.
        h.write(
            &format!("/etc/monstack/tls/{f}"),
            std::fs::read(certs.path().join(f)).unwrap(),
            0o644,
        );
    }
    h.write("/etc/monstack/secrets/prom.pw", "prom pass: 1\n", 0o600);
    h.write("/etc/monstack/secrets/am.pw", "am#pass\n", 0o600);
    h.write("/etc/monstack/secrets/bb.pw", "bb'pass\n", 0o600);
    let web = |pw: &str| {
        format!(
            "  web:\n    tls_cert_file: /etc/monstack/tls/server.pem\n    tls_key_file: /etc/monstack/tls/server.key\n    \
             ca_file: /etc/monstack/tls/ca.pem\n    basic_auth_users: {{ops: /etc/monstack/secrets/{pw}}}\n"
        )
    };
    let prom = format!(
        "{}  probes:\n    - {{job_name: app, module: http_2xx, targets: [\"http://127.0.0.1:8000/metrics\"]}}\n",
        web("prom.pw")
    );
    let am = web("am.pw");
    let blackbox = |timeout: &str| {
        format!(
            "blackbox_exporter:\n  enabled: true\n  version: {BLACKBOX}\n{}  modules:\n    \
             http_2xx: {{prober: http, timeout: {timeout}, http: {{valid_status_codes: [200]}}}}\n",
            web("bb.pw")
        )
    };
    let top = blackbox("5s");
    r.config(Cfg { prom: &prom, am: &am, top: &top, ..Cfg::default() });
    r.expect(&["apply"], 0);
    h.ok("systemctl is-active --quiet blackbox_exporter.service && systemctl is-enabled --quiet blackbox_exporter.service");
    let pid = r.main_pid("blackbox_exporter.service");
    assert_eq!(h.ok(&format!("stat -c %U /proc/{pid}")).trim(), "blackbox_exporter");
    assert_eq!(
        h.ok("stat -c '%a %U %G' /opt/blackbox_exporter/web.yml").trim(),
        "640 root blackbox_exporter"
    );
    let curl = "curl -s --max-time 5 --cacert /etc/monstack/tls/ca.pem -u 'ops:prom pass: 1'";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = h.ok(&format!(
            "{curl} 'https://127.0.0.1:9090/api/v1/query?query=probe_success' || true"
        ));
        let up = h.ok(&format!("{curl} 'https://127.0.0.1:9090/api/v1/query?query=up' || true"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        let u: serde_json::Value = serde_json::from_str(&up).unwrap_or_default();
        let probe_ok = v["data"]["result"][0]["value"][1] == "1";
        let all_up = u["data"]["result"].as_array().is_some_and(|a| {
            a.len() >= 4
                && a.iter().all(|r| r["value"][1] == "1" || r["metric"]["job"] == "snowflake-mcp")
        });
        if probe_ok && all_up {
            break;
        }
        assert!(Instant::now() < deadline, "probe_success: {out}\nup: {up}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Without credentials, every endpoint refuses.
    for port in [9090, 9093, 9115] {
        let code = h.ok(&format!(
            "curl -s -o /dev/null -w '%{{http_code}}' --cacert /etc/monstack/tls/ca.pem https://127.0.0.1:{port}/metrics || true"
        ));
        assert_eq!(code.trim(), "401", "port {port}");
    }
    let st = r.expect(&["status", "--wait", "60s"], 0);
    assert!(st.contains("probe app http://127.0.0.1:8000/metrics"), "{st}");
    assert!(st.contains("https://127.0.0.1:9115/-/healthy (TLS, basic auth as ops)"), "{st}");

    // A changed module: blackbox_exporter reloads under systemd, same MainPID.
    let top = blackbox("4s");
    r.config(Cfg { prom: &prom, am: &am, top: &top, ..Cfg::default() });
    let out = r.expect(&["apply", "--detailed-exitcode"], 2);
    assert!(out.contains("blackbox_exporter (reload)"), "{out}");
    assert_eq!(r.main_pid("blackbox_exporter.service"), pid);
    r.expect(&["apply", "--detailed-exitcode"], 0);
}
