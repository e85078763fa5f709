//! Service management with real processes: `direct` starts Debian's Prometheus and
//! Alertmanager detached, observes them through pid files and /proc, reloads them with
//! the outcome verified (a rejected config is reported with the server's own error),
//! and stops them, waiting for the exit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use monstack::apply::lifecycle;
use monstack::config::ComponentKind;
use monstack::paths::Root;
use monstack::render::ServiceSpec;
use monstack::services::{self, Direct, ServiceManager};
use monstack::state::StateDir;

#[path = "support/ports.rs"]
mod ports;
use ports::free_port;

/// Stops whatever the test started, even when it fails half-way.
struct Guard {
    mgr: Direct,
    pids: Vec<u32>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for k in ComponentKind::ALL {
            let _ = self.mgr.stop(k);
        }
        for pid in &self.pids {
            if services::alive(*pid) {
                let _ = services::terminate(*pid, Duration::from_secs(5));
            }
        }
    }
}

fn direct(dir: &Path) -> Direct {
    let state = StateDir { host: PathBuf::from("/var/lib/monstack"), path: dir.join("state") };
    Direct { state, root: Root::new(dir) }
}

fn alive_fn<'a>(mgr: &'a Direct, kind: ComponentKind) -> impl Fn() -> bool + 'a {
    move || matches!(mgr.running(kind), Ok(Some(_)))
}

#[test]
fn prometheus_direct_start_reload_reject_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    let good = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    std::fs::write(&cfg, &good).unwrap();
    let spec = ServiceSpec {
        kind: ComponentKind::Prometheus,
        user: "prometheus".into(),
        binary: PathBuf::from("/usr/bin/prometheus"),
        args: vec![
            format!("--config.file={}", cfg.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-lifecycle".into(),
        ],
        ready_address: format!("127.0.0.1:{port}"),
        web: Default::default(),
    };
    let mut guard = Guard { mgr: direct(dir.path()), pids: vec![] };
    assert!(guard.mgr.running(ComponentKind::Prometheus).unwrap().is_none());
    guard.mgr.start(&spec).unwrap();
    let running = guard.mgr.running(ComponentKind::Prometheus).unwrap().expect("running");
    guard.pids.push(running.pid);
    assert!(running.matches(&spec, &spec.binary), "{running:?}");
    let mgr = &guard.mgr;
    let tail = || services::log_tail(&mgr.state, ComponentKind::Prometheus, 10);
    lifecycle::wait_ready(
        ComponentKind::Prometheus,
        &spec.ready_address,
        &spec.web,
        Duration::from_secs(60),
        &alive_fn(mgr, ComponentKind::Prometheus),
        &tail,
    )
    .unwrap();
    // Detached: its own session, log file in the state dir.
    let sid = std::fs::read_to_string(format!("/proc/{}/stat", running.pid)).unwrap();
    let fields: Vec<&str> = sid.rsplit_once(')').unwrap().1.split_whitespace().collect();
    assert_eq!(fields[3], running.pid.to_string(), "session id is its own pid");
    assert!(mgr.state.log_file("prometheus").exists());

    // A good change reloads and is confirmed by the metric.
    std::fs::write(&cfg, good.replace("1s", "2s")).unwrap();
    lifecycle::reload(ComponentKind::Prometheus, &spec.ready_address, &spec.web, mgr).unwrap();

    // A config Prometheus refuses: the error names the server's reason.
    std::fs::write(&cfg, "global:\n  scrape_interval: banana\n").unwrap();
    let err = lifecycle::reload(ComponentKind::Prometheus, &spec.ready_address, &spec.web, mgr)
        .unwrap_err();
    let lifecycle::ReloadError::Rejected(rejected) = err else { panic!("not rejected: {err:?}") };
    assert!(rejected.message.contains("banana"), "{rejected}");
    // Same pid: a reload never restarts.
    assert_eq!(mgr.running(ComponentKind::Prometheus).unwrap().unwrap().pid, running.pid);

    assert!(mgr.stop(ComponentKind::Prometheus).unwrap());
    assert!(!services::alive(running.pid), "stop waits for the exit");
    assert!(mgr.running(ComponentKind::Prometheus).unwrap().is_none());
    assert!(!mgr.state.pid_file("prometheus").exists());
}

#[test]
fn alertmanager_reload_is_verified_and_a_dead_process_fails_readiness_fast() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, "route:\n  receiver: a\nreceivers:\n  - name: a\n").unwrap();
    let spec = ServiceSpec {
        kind: ComponentKind::Alertmanager,
        user: "alertmanager".into(),
        binary: PathBuf::from("/usr/bin/prometheus-alertmanager"),
        args: vec![
            format!("--config.file={}", cfg.display()),
            format!("--storage.path={}", dir.path().join("am").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".into(),
        ],
        ready_address: format!("127.0.0.1:{port}"),
        web: Default::default(),
    };
    let mut guard = Guard { mgr: direct(dir.path()), pids: vec![] };
    guard.mgr.start(&spec).unwrap();
    guard.pids.push(guard.mgr.running(ComponentKind::Alertmanager).unwrap().unwrap().pid);
    let mgr = &guard.mgr;
    let tail = || services::log_tail(&mgr.state, ComponentKind::Alertmanager, 10);
    let alive = alive_fn(mgr, ComponentKind::Alertmanager);
    lifecycle::wait_ready(
        ComponentKind::Alertmanager,
        &spec.ready_address,
        &spec.web,
        Duration::from_secs(60),
        &alive,
        &tail,
    )
    .unwrap();
    std::fs::write(&cfg, "route:\n  receiver: b\nreceivers:\n  - name: b\n").unwrap();
    lifecycle::reload(ComponentKind::Alertmanager, &spec.ready_address, &spec.web, mgr).unwrap();
    std::fs::write(&cfg, "route:\n  receiver: nobody\nreceivers:\n  - name: b\n").unwrap();
    let err = lifecycle::reload(ComponentKind::Alertmanager, &spec.ready_address, &spec.web, mgr)
        .unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");
    mgr.stop(ComponentKind::Alertmanager).unwrap();

    // A process that cannot start (bad flag) is reported with its log, not after a timeout.
    let mut bad = spec.clone();
    bad.args.push("--no-such-flag".into());
    mgr.start(&bad).unwrap();
    let started = std::time::Instant::now();
    let err = lifecycle::wait_ready(
        ComponentKind::Alertmanager,
        &bad.ready_address,
        &bad.web,
        Duration::from_secs(120),
        &alive,
        &tail,
    )
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "failed fast");
    assert!(err.to_string().contains("exited before it became ready"), "{err}");
    assert!(err.to_string().contains("no-such-flag"), "log tail shown: {err}");
}
