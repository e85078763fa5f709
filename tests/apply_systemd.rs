//! The systemd side without a running systemd: `Systemd` drives a stand-in
//! `systemctl` that records its argv and keeps unit state in files, and the planner
//! is given a systemd-like manager over a real installed tree, to show which changes
//! mean daemon-reload, restart or reload.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::path::{Path, PathBuf};

use monstack::config::ComponentKind;
use monstack::paths::Root;
use monstack::plan::{self, PlanInput};
use monstack::render::ServiceSpec;
use monstack::report::Action;
use monstack::services::ServiceManagerKind;
use monstack::services::{Running, ServiceManager, Systemd};
use monstack::state::StateDir;

/// A `systemctl` that logs every call and answers from state files; a
/// `<unit>.broken` file makes the next restart of that unit fail (once).
fn fake_systemctl(dir: &Path) -> PathBuf {
    let bin = dir.join("systemctl");
    let script = format!(
        r#"#!/bin/bash
echo "$*" >> {log}
state={dir}
last="${{@: -1}}"
case "$1" in
  is-active) [ -f "$state/$last.active" ] ;;
  is-enabled) [ -f "$state/$last.enabled" ] ;;
  show) for u in "$@"; do case "$u" in *.service) ;; *) continue ;; esac
          a=inactive; e=disabled; p=0
          [ -f "$state/$u.active" ] && {{ a=active; p={pid}; }}
          [ -f "$state/$u.enabled" ] && e=enabled
          printf 'Id=%s\nActiveState=%s\nUnitFileState=%s\nMainPID=%s\n\n' $u $a $e $p
        done ;;
  enable) [ "$2" = --now ] && touch "$state/$last.active"; touch "$state/$last.enabled" ;;
  restart) [ -f "$state/$last.broken" ] && {{ rm "$state/$last.broken"; echo "Job for $last failed." >&2; exit 1; }}; touch "$state/$last.active" ;;
  stop) rm -f "$state/$last.active" ;;
  disable) [ "$2" = --now ] && rm -f "$state/$last.active"; rm -f "$state/$last.enabled" ;;
  daemon-reload|reload) ;;
  *) echo "unknown: $*" >&2; exit 1 ;;
esac
"#,
        log = dir.join("calls").display(),
        dir = dir.display(),
        pid = std::process::id(),
    );
    std::fs::write(&bin, script).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn systemd_manager_drives_systemctl() {
    let dir = tempfile::tempdir().unwrap();
    let sd = Systemd { systemctl: fake_systemctl(dir.path()) };
    let spec = ServiceSpec {
        kind: ComponentKind::Prometheus,
        user: "prometheus".into(),
        binary: PathBuf::from("/opt/prometheus/current/prometheus"),
        args: vec![],
        ready_address: "127.0.0.1:9090".into(),
        web: Default::default(),
    };
    assert!(sd.running(ComponentKind::Prometheus).unwrap().is_none());
    sd.start(&spec).unwrap();
    let r = sd.running(ComponentKind::Prometheus).unwrap().expect("active and enabled");
    assert_eq!(r.pid, std::process::id(), "MainPID is read");
    sd.daemon_reload().unwrap();
    sd.restart(&spec).unwrap();
    assert!(sd.stop(ComponentKind::Prometheus).unwrap());
    assert!(!sd.stop(ComponentKind::Prometheus).unwrap(), "already stopped");
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    let calls: Vec<&str> =
        calls.lines().filter(|l| !l.starts_with("is-") && !l.starts_with("show")).collect();
    assert_eq!(
        calls,
        [
            "enable --now prometheus.service",
            "daemon-reload",
            "enable prometheus.service",
            "restart prometheus.service",
            "stop prometheus.service",
            "stop prometheus.service"
        ]
    );
    // A failing systemctl is an error carrying its message.
    std::fs::write(dir.path().join("prometheus.service.broken"), "").unwrap();
    let err = sd.restart(&spec).unwrap_err();
    assert!(err.to_string().contains("Job for prometheus.service failed."), "{err}");
}

/// systemd as the planner sees it: every unit active, running the current binary.
/// It acts only on other units of the host (rsyslog), and records that.
struct AllRunning {
    root: Root,
    restarted: std::cell::RefCell<Vec<String>>,
}

impl ServiceManager for AllRunning {
    fn kind(&self) -> ServiceManagerKind {
        ServiceManagerKind::Systemd
    }
    fn running(&self, kind: ComponentKind) -> monstack::error::Result<Option<Running>> {
        let bin = self.root.host(format!("/opt/{}/current/{}", kind.name(), kind.binaries()[0]));
        Ok(Some(Running { pid: 1, argv: vec![], exe: std::fs::canonicalize(bin).ok() }))
    }
    fn daemon_reload(&self) -> monstack::error::Result<()> {
        unreachable!("plan never acts")
    }
    fn start(&self, _: &ServiceSpec) -> monstack::error::Result<()> {
        unreachable!("plan never acts")
    }
    fn restart(&self, _: &ServiceSpec) -> monstack::error::Result<()> {
        unreachable!("plan never acts")
    }
    fn signal_reload(&self, _: ComponentKind) -> monstack::error::Result<()> {
        unreachable!("plan never acts")
    }
    fn stop(&self, _: ComponentKind) -> monstack::error::Result<bool> {
        Ok(false)
    }
    fn unit_active(&self, _: &str) -> monstack::error::Result<bool> {
        Ok(true)
    }
    fn restart_unit(&self, unit: &str) -> monstack::error::Result<()> {
        self.restarted.borrow_mut().push(unit.to_string());
        Ok(())
    }
}

fn plan_services(s: &stack::Stack) -> (bool, Vec<(String, Action)>) {
    let loaded = monstack::config::load(&s.config).unwrap();
    let root = Root::new(&s.root);
    let state = StateDir::new(&root, &loaded);
    let mgr = AllRunning { root: root.clone(), restarted: Default::default() };
    let plan = plan::plan(&PlanInput {
        root: &root,
        loaded: &loaded,
        state: &state,
        templates: None,
        manager: &mgr,
        grafana: false,
    })
    .unwrap();
    let services = plan.services.iter().map(|p| (p.name(), p.action)).collect();
    (plan.daemon_reload, services)
}

#[test]
fn systemd_plan_restarts_on_unit_change_and_reloads_on_config_change() {
    let s = stack::Stack::new();
    // Releases and files in place, nothing started.
    let out = s.run(&["apply", "--service-manager", "none"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.pid("prometheus").is_none(), "`none` starts nothing");

    let unchanged = vec![
        ("prometheus".to_string(), Action::Unchanged),
        ("alertmanager".to_string(), Action::Unchanged),
        ("node_exporter".to_string(), Action::Unchanged),
    ];
    assert_eq!(plan_services(&s), (false, unchanged.clone()));

    // A flag changes the unit: daemon-reload and a restart of that service only.
    s.write_config(stack::PROM, &[], "  extra_flags: ['--query.timeout=1m']\n");
    let (daemon_reload, services) = plan_services(&s);
    assert!(daemon_reload);
    assert_eq!(services[0], ("prometheus".to_string(), Action::Restart));
    assert_eq!(services[1..], unchanged[1..]);

    // A scrape job changes prometheus.yml only: a reload, no daemon-reload.
    s.write_config(stack::PROM, &[("extra", "127.0.0.1:1".to_string())], "");
    let (daemon_reload, services) = plan_services(&s);
    assert!(!daemon_reload);
    assert_eq!(services[0], ("prometheus".to_string(), Action::Reload));
    assert_eq!(services[1..], unchanged[1..]);
}

#[test]
fn systemd_disabled_component_is_disabled_now_and_planned_as_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let sd = Systemd { systemctl: fake_systemctl(dir.path()) };
    let spec = ServiceSpec {
        kind: ComponentKind::Alertmanager,
        user: "alertmanager".into(),
        binary: PathBuf::from("/opt/alertmanager/current/alertmanager"),
        args: vec![],
        ready_address: "127.0.0.1:9093".into(),
        web: Default::default(),
    };
    assert!(!sd.present(ComponentKind::Alertmanager).unwrap());
    sd.start(&spec).unwrap();
    assert!(sd.present(ComponentKind::Alertmanager).unwrap());
    assert!(sd.disable(ComponentKind::Alertmanager).unwrap());
    assert!(!sd.present(ComponentKind::Alertmanager).unwrap(), "neither active nor enabled");
    assert!(!sd.disable(ComponentKind::Alertmanager).unwrap(), "nothing left to do");
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    let acts: Vec<&str> =
        calls.lines().filter(|l| !l.starts_with("is-") && !l.starts_with("show")).collect();
    assert_eq!(acts, ["enable --now alertmanager.service", "disable --now alertmanager.service"]);

    // The planner: a disabled component that systemd still runs is a stop.
    let s = stack::Stack::new();
    let out = s.run(&["apply", "--service-manager", "none"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    *s.alertmanager_extra.lock().unwrap() = "  enabled: false\n".into();
    s.write_config(stack::PROM, &[], "");
    let (_, services) = plan_services(&s);
    assert_eq!(
        services,
        [
            ("prometheus".to_string(), Action::Unchanged),
            ("node_exporter".to_string(), Action::Unchanged),
            ("alertmanager".to_string(), Action::Stop),
        ]
    );
}

#[test]
fn a_failed_restart_restores_the_unit_daemon_reloads_then_restarts_on_it() {
    let s = stack::Stack::new();
    let out = s.run(&["apply", "--service-manager", "none"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let unit = s.root.join("etc/systemd/system/prometheus.service");
    let unit_before = std::fs::read(&unit).unwrap();

    // systemd runs Prometheus; the new unit's restart fails once.
    let dir = tempfile::tempdir().unwrap();
    let sd = Systemd { systemctl: fake_systemctl(dir.path()) };
    for f in ["active", "enabled", "broken"] {
        std::fs::write(dir.path().join(format!("prometheus.service.{f}")), "").unwrap();
    }
    // The restarted (previous) Prometheus answers ready on its address.
    let ready = tiny_http::Server::http(format!("127.0.0.1:{}", s.prom)).unwrap();
    let ready = std::sync::Arc::new(ready);
    let server = std::sync::Arc::clone(&ready);
    let serving = std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let _ = req.respond(tiny_http::Response::from_string("ready"));
        }
    });

    s.write_config(stack::PROM, &[], "  extra_flags: ['--query.timeout=1m']\n");
    let loaded = monstack::config::load(&s.config).unwrap();
    let root = Root::new(&s.root);
    let state = StateDir::new(&root, &loaded);
    let plan = plan::plan(&PlanInput {
        root: &root,
        loaded: &loaded,
        state: &state,
        templates: None,
        manager: &sd,
        grafana: false,
    })
    .unwrap();
    assert!(plan.daemon_reload);
    assert_eq!(plan.services[0].action, Action::Restart);
    let mut done = Vec::new();
    let err =
        monstack::apply::land(&root, &plan, &state, &sd, &|_| {}, &|| {}, &mut done).unwrap_err();
    ready.unblock();
    serving.join().unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("Job for prometheus.service failed."), "{msg}");
    assert!(msg.contains("`prometheus` brought back"), "{msg}");

    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    let acts: Vec<&str> =
        calls.lines().filter(|l| !l.starts_with("is-") && !l.starts_with("show")).collect();
    assert_eq!(
        acts,
        [
            "daemon-reload",
            "enable prometheus.service",
            "restart prometheus.service",
            // The previous unit is back on disk: systemd re-reads it before the restart.
            "daemon-reload",
            "enable prometheus.service",
            "restart prometheus.service",
        ]
    );
    assert_eq!(std::fs::read(&unit).unwrap(), unit_before, "the previous unit is restored");
    let svc = done.iter().find(|c| c.kind == "service" && c.name == "prometheus").unwrap();
    assert_eq!((svc.action, svc.planned), (Action::Failed, Some(Action::Restart)));
    let detail = svc.detail.as_deref().unwrap();
    assert!(
        detail.starts_with("restart failed: ") && detail.ends_with("previous restored"),
        "{detail}"
    );
    let u = done.iter().find(|c| c.name == "/etc/systemd/system/prometheus.service").unwrap();
    assert!(u.detail.as_deref().unwrap().contains("restored"), "{u:?}");
    assert_eq!(u.action, Action::Failed, "written, then restored: not a change");
}

#[test]
fn systemd_plan_stops_what_an_earlier_direct_apply_started() {
    let s = stack::Stack::new();
    s.apply_ok();
    let (_, services) = plan_services(&s);
    // The units are (as the stand-in says) running; the `direct` processes still hold
    // the ports and are stopped first.
    assert_eq!(
        services,
        [
            ("prometheus".to_string(), Action::Unchanged),
            ("alertmanager".to_string(), Action::Unchanged),
            ("node_exporter".to_string(), Action::Unchanged),
            ("node_exporter (direct)".to_string(), Action::Stop),
            ("alertmanager (direct)".to_string(), Action::Stop),
            ("prometheus (direct)".to_string(), Action::Stop),
        ]
    );
    let out = s.run(&["stop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, services) = plan_services(&s);
    assert!(services.iter().all(|(_, a)| *a == Action::Unchanged), "{services:?}");
}

#[test]
fn a_changed_rsyslog_drop_in_restarts_rsyslog_under_systemd_only() {
    let s = stack::Stack::new();
    let out = s.run(&["apply", "--service-manager", "none"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A new rule for the drop-in (the section is appended after `grafana:`).
    *s.grafana.lock().unwrap() = "grafana:\n  enabled: false\nrsyslog:\n  rules:\n    - selector: local1.*\n      action: /var/log/other.log\n".into();
    s.write_config(stack::PROM, &[], "");

    // Under `none` (and `direct`) the plan says the operator must restart rsyslog.
    let out = s.run(&["plan", "--service-manager", "none"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("file               /etc/rsyslog.d/30-snowflake-mcp.conf (update): rsyslog reads it only at start: restart rsyslog"),
        "{text}"
    );
    assert!(!text.contains("service            rsyslog"), "{text}");

    // Under systemd with rsyslog active: planned as a restart, and done by apply.
    let loaded = monstack::config::load(&s.config).unwrap();
    let root = Root::new(&s.root);
    let state = StateDir::new(&root, &loaded);
    let mgr = AllRunning { root: root.clone(), restarted: Default::default() };
    let plan = plan::plan(&PlanInput {
        root: &root,
        loaded: &loaded,
        state: &state,
        templates: None,
        manager: &mgr,
        grafana: false,
    })
    .unwrap();
    let changed: Vec<String> = plan
        .changes()
        .into_iter()
        .filter(|c| c.action.is_change())
        .map(|c| format!("{} {} {}", c.kind, c.name, c.action.as_str()))
        .collect();
    assert_eq!(
        changed,
        ["file /etc/rsyslog.d/30-snowflake-mcp.conf update", "service rsyslog restart"]
    );
    let mut done = Vec::new();
    monstack::apply::land(&root, &plan, &state, &mgr, &|_| {}, &|| {}, &mut done).unwrap();
    assert_eq!(*mgr.restarted.borrow(), ["rsyslog.service"]);
    assert!(
        done.iter()
            .any(|c| c.kind == "service" && c.name == "rsyslog" && c.action == Action::Restart),
        "{done:?}"
    );
    // Converged: nothing left to restart.
    let plan = plan::plan(&PlanInput {
        root: &root,
        loaded: &loaded,
        state: &state,
        templates: None,
        manager: &mgr,
        grafana: false,
    })
    .unwrap();
    assert!(!plan.rsyslog_restart);
}

#[test]
fn systemd_with_a_root_is_a_usage_error_that_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("monstack.yaml");
    std::fs::write(&cfg, "grafana:\n  enabled: false\n").unwrap();
    let root = t.path().join("root");
    for cmd in ["apply", "plan"] {
        let out = bin::Monstack::new()
            .args([cmd, "--service-manager", "systemd"])
            .root(&root)
            .config(&cfg)
            .output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{cmd}: {stderr}");
        assert!(stderr.contains("cannot be combined with --root"), "{cmd}: {stderr}");
        assert!(!root.exists(), "{cmd} created {}", root.display());
    }
}
