//! Grafana upsert through the library (`grafana::plan` / `grafana::apply`) against the
//! loopback Grafana emulator: idempotence, adoption, faults, prune, secrets, files mode.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use grafana_emulator::{Emulator, Fault, Role, ADMIN_PASSWORD, ADMIN_USER, TOKEN};
use monstack::config::{self, Loaded};
use monstack::grafana;
use monstack::render::FileRole;
use monstack::report::{Action, Change};
use serde_json::{json, Value};

/// A temp dir with a token file, a state dir and a `monstack.yaml`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::create_dir_all(dir.path().join("dash")).unwrap();
        Setup { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// Write `dash/<uid>.json`.
    fn dashboard(&self, uid: &str, title: &str, expr: &str) {
        let model = json!({
            "uid": uid,
            "title": title,
            "tags": ["test"],
            "schemaVersion": 39,
            "panels": [{
                "id": 1, "type": "timeseries", "title": "up",
                "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                "targets": [{"expr": expr, "refId": "A"}],
            }],
        });
        std::fs::write(
            self.path(&format!("dash/{uid}.json")),
            serde_json::to_string_pretty(&model).unwrap(),
        )
        .unwrap();
    }

    /// Load a config whose `grafana:` section points at `g` (token file, fake
    /// Prometheus, `dash/`), deep-merged with `extra` (YAML lines indented by 2
    /// spaces, as under `grafana:`).
    fn load(&self, g: &Emulator, extra: &str) -> Loaded {
        // Credentials given in `extra` replace the token file.
        let auth = if extra.starts_with("  auth:") || extra.contains("\n  auth:") {
            ""
        } else {
            "  auth:\n    token_file: token\n"
        };
        let base = format!(
            "grafana:\n  url: {url}\n  wait_timeout: 5s\n  retries: 3\n{auth}  datasource:\n    url: {prom}\n  dashboards: [dash]\n",
            url = g.url(),
            prom = g.prometheus_url(),
        );
        let mut doc: serde_norway::Value = serde_norway::from_str(&base).unwrap();
        if !extra.trim().is_empty() {
            let over: serde_norway::Value =
                serde_norway::from_str(&format!("grafana:\n{extra}")).unwrap();
            merge(&mut doc, over);
        }
        doc["state_dir"] = serde_norway::Value::from(self.state().display().to_string());
        let text = serde_norway::to_string(&doc).unwrap();
        let path = self.path("monstack.yaml");
        std::fs::write(&path, &text).unwrap();
        config::load(&path).unwrap_or_else(|e| panic!("config invalid: {e}\n{text}"))
    }
}

fn merge(base: &mut serde_norway::Value, over: serde_norway::Value) {
    match (base, over) {
        (serde_norway::Value::Mapping(b), serde_norway::Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn by_kind<'a>(changes: &'a [Change], kind: &str) -> Vec<&'a Change> {
    changes.iter().filter(|c| c.kind == kind).collect()
}

fn find<'a>(changes: &'a [Change], name: &str) -> &'a Change {
    changes
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no change for {name}: {changes:#?}"))
}

fn written(changes: &[Change]) -> usize {
    changes.iter().filter(|c| c.action.is_change()).count()
}

#[test]
fn first_apply_creates_everything_and_second_makes_no_writes() {
    let g = Emulator::start();
    let s = Setup::new();
    s.dashboard("app-a", "App A", "up");
    s.dashboard("app-b", "App B", "rate(x[5m])");
    let l = s.load(&g, "  org_id: 1\n");

    let plan = grafana::plan(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "plan only reads");
    assert_eq!(written(&plan), 5, "{plan:#?}");

    let first = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(find(&first, "monstack-prometheus").action, Action::Create);
    assert_eq!(by_kind(&first, "grafana_folder")[0].action, Action::Create);
    for uid in ["snowflake-mcp", "app-a", "app-b"] {
        assert_eq!(find(&first, uid).action, Action::Create);
        let (version, folder) = g.dashboard_meta(uid).unwrap();
        assert_eq!((version, folder.as_str()), (1, "monstack"));
        assert!(g.dashboard_messages(uid)[0].contains("monstack"));
    }
    let health = find(&first, "monstack-prometheus").detail.clone().unwrap();
    assert!(health.contains("datasource health: OK"), "{health}");
    // ${DS_PROMETHEUS} became the datasource uid in built-in and user dashboards.
    for uid in ["snowflake-mcp", "app-a"] {
        let text = g.dashboard(uid).unwrap().to_string();
        assert!(!text.contains("DS_PROMETHEUS") && text.contains("monstack-prometheus"));
    }
    let ds = g.datasources();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["url"], json!(g.prometheus_url()));
    assert_eq!(ds[0]["isDefault"], json!(true));
    assert_eq!(g.folders(), vec![("monstack".to_string(), "Monitoring".to_string())]);
    // Every API request carried the org header and a bearer token; health needs none.
    for r in g.log().iter().filter(|r| r.path.starts_with("/api/") && r.path != "/api/health") {
        assert_eq!(r.org.as_deref(), Some("1"), "{r:?}");
        assert_eq!(r.auth, "bearer", "{r:?}");
    }

    g.reset_counters();
    let second = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "{:?}", g.write_log());
    assert_eq!(written(&second), 0, "{second:#?}");
    let plan = grafana::plan(&l, &s.state()).unwrap();
    assert!(plan.iter().all(|c| c.action == Action::Unchanged), "{plan:#?}");
    assert_eq!(g.writes(), 0);
}

#[test]
fn changing_one_dashboard_rewrites_only_that_one() {
    let g = Emulator::start();
    let s = Setup::new();
    for i in 0..5 {
        s.dashboard(&format!("d{i}"), &format!("Dash {i}"), "up");
    }
    let l = s.load(&g, "");
    grafana::apply(&l, &s.state()).unwrap();
    s.dashboard("d3", "Dash 3", "sum(up)");

    let plan = grafana::plan(&l, &s.state()).unwrap();
    let changed: Vec<&Change> = plan.iter().filter(|c| c.action.is_change()).collect();
    assert_eq!(changed.len(), 1, "{plan:#?}");
    assert_eq!(changed[0].name, "d3");
    let diff = changed[0].diff.as_deref().unwrap();
    assert!(diff.contains("-") && diff.contains("\"expr\": \"sum(up)\""), "{diff}");

    g.reset_counters();
    let out = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.write_log(), vec!["POST /api/dashboards/db".to_string()]);
    assert_eq!(find(&out, "d3").action, Action::Update);
    assert_eq!(g.dashboard_meta("d3").unwrap().0, 2);
    assert_eq!(g.dashboard_meta("d2").unwrap().0, 1);
    assert_eq!(g.dashboard("d3").unwrap()["panels"][0]["targets"][0]["expr"], "sum(up)");
}

#[test]
fn a_hand_edited_dashboard_is_restored_and_a_moved_one_comes_back() {
    let g = Emulator::start();
    let s = Setup::new();
    s.dashboard("d0", "Dash 0", "up");
    let l = s.load(&g, "");
    grafana::apply(&l, &s.state()).unwrap();
    // Someone edits the dashboard in the UI and moves it to the root.
    let mut edited = g.dashboard("d0").unwrap();
    edited["title"] = json!("Dash 0");
    edited["panels"][0]["title"] = json!("edited by hand");
    let (st, _) =
        g.call("POST", "/api/dashboards/db", Some(json!({"dashboard": edited, "overwrite": true})));
    assert_eq!(st, 200);
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let c = find(&plan, "d0");
    assert_eq!(c.action, Action::Update);
    assert!(c.detail.as_deref().unwrap().contains("move from folder `General`"), "{c:?}");
    assert!(c.diff.as_deref().unwrap().contains("edited by hand"));
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.dashboard_meta("d0").unwrap().1, "monstack");
    assert_eq!(g.dashboard("d0").unwrap()["panels"][0]["title"], "up");
}

#[test]
fn datasource_created_by_name_is_adopted_not_duplicated() {
    let g = Emulator::start();
    let s = Setup::new();
    // What the old setup script did: POST without a uid, Grafana picks one.
    let (st, body) = g.call(
        "POST",
        "/api/datasources",
        Some(json!({"name": "Prometheus", "type": "prometheus", "url": "http://localhost:9090", "access": "proxy", "isDefault": true, "basicAuth": true, "basicAuthUser": "scraper"})),
    );
    assert_eq!(st, 200, "{body}");
    let old_uid = body["datasource"]["uid"].as_str().unwrap().to_string();
    assert_ne!(old_uid, "monstack-prometheus");
    let l = s.load(&g, "");

    let plan = grafana::plan(&l, &s.state()).unwrap();
    let c = find(&plan, "monstack-prometheus");
    assert_eq!(c.action, Action::Update);
    assert!(c.detail.as_deref().unwrap().contains(&format!("uid `{old_uid}`")), "{c:?}");

    grafana::apply(&l, &s.state()).unwrap();
    let ds = g.datasources();
    assert_eq!(ds.len(), 1, "{ds:#?}");
    assert_eq!(ds[0]["uid"], "monstack-prometheus");
    assert_eq!(ds[0]["id"], body["id"], "the same datasource, renamed");
    assert_eq!(ds[0]["url"], json!(g.prometheus_url()));
    // Fields monstack does not manage survive the full-replace PUT.
    assert_eq!(ds[0]["basicAuthUser"], "scraper");
    assert_eq!(ds[0]["basicAuth"], true);

    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "{:?}", g.write_log());
}

#[test]
fn bad_credentials_fail_fast_without_retry_and_without_leaking() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "");
    std::fs::write(s.path("token"), "glsa_wrong-token-value\n").unwrap();
    let err = grafana::apply(&l, &s.state()).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("401") && msg.contains("credentials"), "{msg}");
    assert!(msg.contains("Invalid API key"), "{msg}");
    assert!(!msg.contains("wrong-token-value"), "{msg}");
    assert_eq!(g.requests(), 2, "one health check, one request, no retry: {:?}", g.log());
    assert_eq!(g.writes(), 0);

    // Basic auth with a wrong password: the same, and the password is not shown.
    std::fs::write(s.path("pw"), "not-the-password\n").unwrap();
    let l = s.load(&g, "  auth:\n    user: admin\n    password_file: pw\n");
    let msg = format!("{:#}", grafana::plan(&l, &s.state()).unwrap_err());
    assert!(
        msg.contains("Invalid username or password") && !msg.contains("not-the-password"),
        "{msg}"
    );
}

#[test]
fn basic_auth_from_a_password_file_works() {
    let g = Emulator::start();
    let s = Setup::new();
    std::fs::write(s.path("pw"), format!("{ADMIN_PASSWORD}\n")).unwrap();
    let l = s.load(&g, &format!("  auth:\n    user: {ADMIN_USER}\n    password_file: pw\n"));
    grafana::apply(&l, &s.state()).unwrap();
    assert!(g.log().iter().filter(|r| r.path != "/api/health").all(|r| r.auth == "basic"));
    assert!(g.log().iter().all(|r| r.org.is_none()), "no org header unless configured");
}

#[test]
fn missing_credentials_are_a_clear_error_before_any_request() {
    let g = Emulator::start();
    let s = Setup::new();
    let text = format!(
        "state_dir: {}\ngrafana:\n  url: {}\n  auth:\n    token_env: MONSTACK_TEST_UNSET_TOKEN\n    user_env: MONSTACK_TEST_UNSET_USER\n",
        s.state().display(),
        g.url()
    );
    std::fs::write(s.path("monstack.yaml"), text).unwrap();
    let l = config::load(&s.path("monstack.yaml")).unwrap();
    let msg = format!("{:#}", grafana::plan(&l, &s.state()).unwrap_err());
    assert!(
        msg.contains("no Grafana credentials") && msg.contains("MONSTACK_TEST_UNSET_TOKEN"),
        "{msg}"
    );
    assert_eq!(g.requests(), 0);
}

#[test]
fn forbidden_role_gets_a_clear_message_and_no_retry() {
    let g = Emulator::start();
    let s = Setup::new();
    g.set_role(Role::Editor);
    let l = s.load(&g, "");
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("403") && msg.contains("lacks permission"), "{msg}");
    assert!(msg.contains("datasource `monstack-prometheus`"), "{msg}");
    assert_eq!(g.requests(), 2, "{:?}", g.log());
}

#[test]
fn server_errors_and_429_are_retried_then_succeed() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "");
    g.fault("POST /api/dashboards/db", Fault::Status(500), 2);
    g.fault("GET /api/datasources/uid/monstack-prometheus", Fault::Status(429), 1);
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.dashboard_meta("snowflake-mcp").unwrap().0, 1);
    let posts = g.write_log().iter().filter(|w| w.contains("dashboards/db")).count();
    assert_eq!(posts, 3, "two 500s then success");
    let statuses: Vec<u16> = g.log().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&429) && statuses.contains(&500), "{statuses:?}");
}

#[test]
fn persistent_failure_names_the_object_and_reports_what_landed() {
    let g = Emulator::start();
    let s = Setup::new();
    for i in 0..4 {
        s.dashboard(&format!("d{i}"), &format!("Dash {i}"), "up");
    }
    let l = s.load(&g, "  builtin_dashboard: false\n");
    g.fault("/api/dashboards/uid/d2", Fault::Status(500), 100);
    let err = grafana::apply(&l, &s.state()).unwrap_err();
    let partial = err.partial().expect("a partial failure");
    assert_eq!(partial.failed.len(), 1, "{err:#}");
    assert!(
        partial.failed[0].contains("dashboard `d2`") && partial.failed[0].contains("3 attempt")
    );
    let landed: Vec<&str> = partial.landed.iter().map(|c| c.name.as_str()).collect();
    for uid in ["monstack-prometheus", "monstack", "d0", "d1", "d3"] {
        assert!(landed.contains(&uid), "{landed:?}");
    }
    let msg = format!("{err:#}");
    assert!(msg.contains("landed: ") && msg.contains("d0"), "{msg}");
    assert_eq!(g.dashboard_uids(), vec!["d0", "d1", "d3"]);

    // Re-run converges once Grafana is healthy.
    g.clear_faults();
    g.reset_counters();
    let out = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(find(&out, "d2").action, Action::Create);
    assert_eq!(written(&out), 1);
}

#[test]
fn readiness_is_polled_and_times_out_with_a_clear_message() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "");
    g.fail_health(3);
    grafana::plan(&l, &s.state()).unwrap();
    let health: Vec<u16> =
        g.log().iter().filter(|r| r.path == "/api/health").map(|r| r.status).collect();
    assert_eq!(health, vec![503, 503, 503, 200]);

    g.set_database_ok(false);
    let l = s.load(&g, "  wait_timeout: 1s\n");
    let t = Instant::now();
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(msg.contains("not ready after") && msg.contains("database failing"), "{msg}");
}

#[test]
fn a_slow_grafana_times_out_and_names_the_object() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  request_timeout: 300ms\n  retries: 2\n");
    g.fault("GET /api/folders/monstack", Fault::Delay(Duration::from_secs(1)), 2);
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("folder `monstack`") && msg.contains("timed out"), "{msg}");
    assert!(msg.contains("2 attempt"), "{msg}");
    // The datasource had landed before the folder failed.
    assert!(msg.contains("landed") || g.datasources().len() == 1, "{msg}");
}

/// A loopback listener that counts connections and closes each at once (a Grafana that
/// is up but never answers); stopped and joined on drop.
struct Hangup {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hangup {
    fn start() -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, st) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(SeqCst) {
                    break;
                }
                if conn.is_ok() {
                    a.fetch_add(1, SeqCst);
                }
            }
        });
        Self { port, accepted, stop, thread: Some(thread) }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Hangup {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn an_unreachable_grafana_is_retried_then_reported() {
    let s = Setup::new();
    let load = |port: u16| {
        let text = format!(
            "state_dir: {}\ngrafana:\n  url: http://127.0.0.1:{port}\n  wait_timeout: 1s\n  auth:\n    token_file: token\n",
            s.state().display()
        );
        std::fs::write(s.path("monstack.yaml"), text).unwrap();
        config::load(&s.path("monstack.yaml")).unwrap()
    };

    // Up but hanging up on every request: polled again and again until wait_timeout.
    let h = Hangup::start();
    let msg = format!("{:#}", grafana::plan(&load(h.port), &s.state()).unwrap_err());
    assert!(msg.contains("was not ready after"), "{msg}");
    let attempts = h.accepted();
    assert!((3..=20).contains(&attempts), "{attempts} attempts in 1s of backoff: {msg}");

    // Nothing listening: the connection error is named.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let msg = format!("{:#}", grafana::plan(&load(port), &s.state()).unwrap_err());
    assert!(msg.contains("not ready") && msg.contains("connection failed"), "{msg}");
}

#[test]
fn prune_is_off_by_default_and_removes_only_unlisted_dashboards_in_the_folder() {
    let g = Emulator::start();
    let s = Setup::new();
    s.dashboard("keep", "Keep", "up");
    let l = s.load(&g, "");
    grafana::apply(&l, &s.state()).unwrap();
    let extra = |uid: &str, folder: &str| {
        let (st, b) = g.call(
            "POST",
            "/api/dashboards/db",
            Some(json!({"dashboard": {"uid": uid, "title": uid}, "folderUid": folder})),
        );
        assert_eq!(st, 200, "{b}");
    };
    extra("stale", "monstack");
    extra("elsewhere", "");

    let plan = grafana::plan(&l, &s.state()).unwrap();
    assert!(plan.iter().all(|c| c.action != Action::Delete), "{plan:#?}");
    grafana::apply(&l, &s.state()).unwrap();
    assert!(g.dashboard("stale").is_some());

    let l = s.load(&g, "  prune: true\n");
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let deletes: Vec<&str> =
        plan.iter().filter(|c| c.action == Action::Delete).map(|c| c.name.as_str()).collect();
    assert_eq!(deletes, vec!["stale"]);
    assert!(find(&plan, "stale").detail.as_deref().unwrap().contains("prune"));
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.write_log(), vec!["DELETE /api/dashboards/uid/stale".to_string()]);
    assert_eq!(g.dashboard_uids(), vec!["elsewhere", "keep", "snowflake-mcp"]);
}

#[test]
fn secrets_are_sent_only_when_changed_and_never_shown() {
    let g = Emulator::start();
    let s = Setup::new();
    std::fs::write(s.path("ds-pw"), "s3cret-one\n").unwrap();
    let extra = "  datasource:\n    url: http://127.0.0.1:9/\n    secure_json_data:\n      basicAuthPassword:\n        file: ds-pw\n";
    let l = s.load(&g, extra);
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let json_plan = serde_json::to_string(&plan).unwrap();
    assert!(
        !json_plan.contains("s3cret") && json_plan.contains("basicAuthPassword"),
        "{json_plan}"
    );

    grafana::apply(&l, &s.state()).unwrap();
    let ds = g.datasources();
    assert_eq!(ds[0]["_secrets"]["basicAuthPassword"], "s3cret-one");
    assert_eq!(ds[0]["secureJsonFields"]["basicAuthPassword"], true);
    // The health check against a dead Prometheus is reported, not fatal.

    g.reset_counters();
    let again = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "unchanged secret is not resent: {:?}", g.write_log());
    assert!(find(&again, "monstack-prometheus").detail.as_deref().unwrap().contains("ERROR"));

    std::fs::write(s.path("ds-pw"), "s3cret-two\n").unwrap();
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let c = find(&plan, "monstack-prometheus");
    assert_eq!(c.action, Action::Update);
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains("hidden, changed") && !text.contains("s3cret"), "{text}");
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.write_log(), vec!["PUT /api/datasources/uid/monstack-prometheus".to_string()]);
    assert_eq!(g.datasources()[0]["_secrets"]["basicAuthPassword"], "s3cret-two");

    // Nothing in the state dir holds the value.
    for e in walk(&s.state()) {
        let bytes = std::fs::read(&e).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("s3cret"), "{}", e.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_dashboard_without_uid_is_a_config_error_and_nothing_is_sent() {
    let g = Emulator::start();
    let s = Setup::new();
    s.dashboard("ok", "Ok", "up");
    std::fs::write(s.path("dash/broken.json"), r#"{"title": "No uid"}"#).unwrap();
    let l = s.load(&g, "");
    let err = grafana::apply(&l, &s.state()).unwrap_err();
    let err = monstack::error::Error::from(err);
    assert_eq!(err.exit_code(), 78);
    let msg = format!("{err:#}");
    assert!(msg.contains("broken.json") && msg.contains("no `uid`"), "{msg}");
    assert!(msg.contains("grafana.dashboards[0]"), "{msg}");
    assert_eq!(g.requests(), 0);
}

#[test]
fn a_same_titled_dashboard_with_another_uid_gets_a_412_that_says_what_to_do() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  builtin_dashboard: false\n");
    grafana::apply(&l, &s.state()).unwrap();
    let (st, _) = g.call(
        "POST",
        "/api/dashboards/db",
        Some(json!({"dashboard": {"uid": "hand-made", "title": "App A"}, "folderUid": "monstack"})),
    );
    assert_eq!(st, 200);
    s.dashboard("app-a", "App A", "up");
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("412") && msg.contains("another dashboard titled \"App A\""), "{msg}");
    // The hand-made dashboard was not taken over.
    assert_eq!(g.dashboard("hand-made").unwrap()["title"], "App A");
}

#[test]
fn files_mode_renders_provisioning_and_uses_no_api() {
    let g = Emulator::start();
    let s = Setup::new();
    s.dashboard("app-a", "App A", "up");
    std::fs::write(s.path("ds-pw"), "files-secret\n").unwrap();
    let extra = "  mode: files\n  prune: true\n  datasource:\n    url: http://prom:9090\n    secure_json_data:\n      basicAuthPassword:\n        file: ds-pw\n";
    let l = s.load(&g, extra);
    assert!(grafana::plan(&l, &s.state()).unwrap().is_empty());
    assert!(grafana::apply(&l, &s.state()).unwrap().is_empty());
    assert_eq!(g.requests(), 0);

    let files = grafana::provisioning_files(&l).unwrap();
    let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(
        paths,
        vec![
            "/etc/grafana/provisioning/datasources/monstack.yaml",
            "/etc/grafana/provisioning/dashboards/monstack.yaml",
            "/var/lib/grafana/dashboards/monstack/snowflake-mcp.json",
            "/var/lib/grafana/dashboards/monstack/app-a.json",
        ]
    );
    let ds = &files[0];
    assert_eq!(ds.role, FileRole::GrafanaProvisioning);
    assert_eq!(ds.mode, 0o640);
    assert_eq!(ds.secrets, vec!["files-secret".to_string()]);
    let y: serde_norway::Value = serde_norway::from_slice(&ds.content).unwrap();
    assert_eq!(y["datasources"][0]["uid"], "monstack-prometheus");
    assert_eq!(y["datasources"][0]["url"], "http://prom:9090");
    assert_eq!(y["datasources"][0]["secureJsonData"]["basicAuthPassword"], "files-secret");
    let p: serde_norway::Value = serde_norway::from_slice(&files[1].content).unwrap();
    assert_eq!(p["providers"][0]["options"]["path"], "/var/lib/grafana/dashboards/monstack");
    assert_eq!(p["providers"][0]["folderUid"], "monstack");
    assert_eq!(p["providers"][0]["disableDeletion"], false, "prune maps to deletion");
    assert_eq!(files[2].role, FileRole::GrafanaDashboard);
    let d: Value = serde_json::from_slice(&files[3].content).unwrap();
    assert_eq!(d["panels"][0]["datasource"]["uid"], "monstack-prometheus");

    // Without secrets the datasource file is world-readable and lists none.
    let l = s.load(&g, "  mode: files\n");
    let files = grafana::provisioning_files(&l).unwrap();
    assert_eq!((files[0].mode, files[0].secrets.len()), (0o644, 0));
    // In api mode there are no provisioning files.
    let l = s.load(&g, "");
    assert!(grafana::provisioning_files(&l).unwrap().is_empty());
}

#[test]
fn a_token_from_an_env_var_is_used_and_tls_is_verified_by_default() {
    let g = Emulator::start();
    let s = Setup::new();
    // A variable only this test uses (tests share the process environment).
    std::env::set_var("MONSTACK_TEST_GRAFANA_TOKEN", TOKEN);
    let l = s.load(&g, "  auth:\n    token_env: MONSTACK_TEST_GRAFANA_TOKEN\n");
    grafana::apply(&l, &s.state()).unwrap();
    assert!(g.log().iter().filter(|r| r.path != "/api/health").all(|r| r.auth == "bearer"));

    // An https URL to a plain-HTTP port fails the TLS handshake instead of falling back.
    let url = g.url().replace("http://", "https://");
    let l = s.load(&g, &format!("  url: {url}\n  wait_timeout: 300ms\n"));
    let msg = format!("{:#}", grafana::plan(&l, &s.state()).unwrap_err());
    assert!(msg.contains("not ready"), "{msg}");
}

#[test]
fn files_mode_output_is_stable() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  mode: files\n  builtin_dashboard: false\n  org_id: 3\n  datasource:\n    url: http://prom:9090\n    json_data: {httpMethod: POST, timeInterval: 15s}\n");
    let files = grafana::provisioning_files(&l).unwrap();
    let text: String = files
        .iter()
        .filter(|f| f.role == FileRole::GrafanaProvisioning)
        .map(|f| {
            format!(
                "--- {} ({:o})\n{}",
                f.path.display(),
                f.mode,
                String::from_utf8_lossy(&f.content)
            )
        })
        .collect();
    insta::assert_snapshot!(text);
}

#[test]
fn is_default_false_does_not_fight_grafana_forcing_the_first_default() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  datasource:\n    is_default: false\n");
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.datasources()[0]["isDefault"], true, "Grafana made the first one default");
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "{:?}", g.write_log());
}

#[test]
fn tls_is_verified_and_a_ca_file_or_explicit_skip_is_needed_for_a_private_ca() {
    let g = Emulator::start_tls();
    let s = Setup::new();
    let url = g.url().replace("http://", "https://");
    let l = s.load(&g, &format!("  url: {url}\n  wait_timeout: 500ms\n"));
    let msg = format!("{:#}", grafana::plan(&l, &s.state()).unwrap_err());
    assert!(msg.contains("not ready") && msg.to_lowercase().contains("certificate"), "{msg}");
    assert_eq!(g.requests(), 0, "nothing is sent over an unverified connection");

    let ca = Emulator::tls_ca();
    let l = s.load(&g, &format!("  url: {url}\n  ca_file: {}\n", ca.display()));
    let out = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(find(&out, "snowflake-mcp").action, Action::Create);

    let l = s.load(&g, &format!("  url: {url}\n  insecure_skip_verify: true\n"));
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0);
    assert!(g.requests() > 0);
}

#[test]
fn a_401_mid_push_stops_the_rest_and_says_what_landed() {
    let g = Emulator::start();
    let s = Setup::new();
    for i in 0..10 {
        s.dashboard(&format!("d{i}"), &format!("Dash {i}"), "up");
    }
    let l = s.load(&g, "  concurrency: 1\n");
    // The token is revoked after the datasource and folder were written.
    g.fault("GET /api/dashboards/uid/", Fault::Status(401), 1);
    let err = grafana::apply(&l, &s.state()).unwrap_err();
    let p = err.partial().expect("partial failure");
    assert_eq!((p.failed.len(), p.not_attempted.len()), (1, 10), "{err:#}");
    assert!(p.failed[0].contains("401"), "{err:#}");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("not attempted: 10 (dashboard `d0`") && msg.contains("landed: 2 written"),
        "{msg}"
    );
    let dash_gets = g.log().iter().filter(|r| r.path.starts_with("/api/dashboards/uid/")).count();
    assert_eq!(dash_gets, 1, "no retry and no further dashboard after a 401");
}

#[test]
fn grafana_config_keys_are_validated_with_their_location() {
    let src = "grafana:\n  concurrency: 0\n  request_timeout: soon\n  datasource:\n    secure_json_data:\n      basicAuthPassword: {env: A, file: /x}\n";
    let errs = config::parse(Path::new("m.yaml"), src).unwrap_err();
    let text = errs.to_string();
    assert!(text.contains("m.yaml:2:3: `grafana.concurrency`"), "{text}");
    assert!(text.contains("`grafana.request_timeout`"), "{text}");
    assert!(
        text.contains("`grafana.datasource.secure_json_data.basicAuthPassword`: needs exactly one of `env` or `file`"),
        "{text}"
    );
}

// ------------------------------------------------------------ Grafana as it behaves

/// Write `dash/<uid>.json` with exactly this model.
fn raw_dashboard(s: &Setup, uid: &str, model: Value) {
    std::fs::write(s.path(&format!("dash/{uid}.json")), model.to_string()).unwrap();
}

/// A dashboard Grafana rewrites when it saves it: padded title, a refresh below the
/// server's minimum, an old schemaVersion (API-FACTS §3.1, INSTALL-AND-12-13 §5.3).
fn normalised_model(uid: &str) -> Value {
    json!({
        "uid": uid, "title": format!("  Normalised {uid}  "), "refresh": "1s",
        "schemaVersion": 27,
        "panels": [{"id": 1, "type": "stat", "title": "up",
            "targets": [{"expr": "up", "refId": "A"}]}],
    })
}

#[test]
fn dashboards_grafana_rewrites_on_save_are_not_rewritten_by_every_apply() {
    for version in ["11.2.0", "12.1.0", "13.0.0"] {
        let g = Emulator::start_version(version);
        g.set_min_refresh(Duration::from_secs(10));
        let s = Setup::new();
        raw_dashboard(&s, "norm", normalised_model("norm"));
        let l = s.load(&g, "  builtin_dashboard: false\n");
        grafana::apply(&l, &s.state()).unwrap();
        // Grafana kept its own version of it.
        let stored = g.dashboard("norm").unwrap();
        assert_eq!(stored["title"], "Normalised norm", "{version}");
        assert_eq!(stored["refresh"], "10s", "{version}");
        assert_ne!(stored["schemaVersion"], 27, "{version}");

        for _ in 0..2 {
            g.reset_counters();
            let plan = grafana::plan(&l, &s.state()).unwrap();
            assert!(plan.iter().all(|c| !c.action.is_change()), "{version}: {plan:#?}");
            let out = grafana::apply(&l, &s.state()).unwrap();
            assert_eq!(g.writes(), 0, "{version}: {:?}", g.write_log());
            assert_eq!(written(&out), 0, "{version}");
        }
        assert_eq!(g.dashboard_meta("norm").unwrap().0, 1, "{version}: written once");

        // An edit in Grafana moves its version: drift, shown and restored.
        let mut edited = g.dashboard("norm").unwrap();
        edited["panels"][0]["title"] = json!("edited in the UI");
        let (st, _) = g.call(
            "POST",
            "/api/dashboards/db",
            Some(json!({"dashboard": edited, "folderUid": "monstack", "overwrite": true})),
        );
        assert_eq!(st, 200);
        let plan = grafana::plan(&l, &s.state()).unwrap();
        let c = find(&plan, "norm");
        assert_eq!(c.action, Action::Update, "{version}");
        assert!(c.detail.as_deref().unwrap().contains("changed in Grafana"), "{c:?}");
        assert!(c.diff.as_deref().unwrap().contains("edited in the UI"), "{c:?}");
        grafana::apply(&l, &s.state()).unwrap();
        assert_eq!(g.dashboard("norm").unwrap()["panels"][0]["title"], "up", "{version}");
        g.reset_counters();
        grafana::apply(&l, &s.state()).unwrap();
        assert_eq!(g.writes(), 0, "{version}: restored, then stable");

        // A changed file is written, once.
        let mut m = normalised_model("norm");
        m["panels"][0]["title"] = json!("renamed panel");
        raw_dashboard(&s, "norm", m);
        g.reset_counters();
        grafana::apply(&l, &s.state()).unwrap();
        assert_eq!(g.writes(), 1, "{version}: {:?}", g.write_log());
        g.reset_counters();
        grafana::apply(&l, &s.state()).unwrap();
        assert_eq!(g.writes(), 0, "{version}");
    }
}

#[test]
fn a_create_that_landed_before_its_answer_was_lost_is_read_back_not_repeated() {
    for fault in [Fault::ProcessedThen(500), Fault::ProcessedThen(502), Fault::DropAfter] {
        let g = Emulator::start();
        let s = Setup::new();
        s.dashboard("app", "App", "up");
        let l = s.load(&g, "  builtin_dashboard: false\n");
        g.fault("POST /api/datasources", fault.clone(), 1);
        g.fault("POST /api/folders", fault.clone(), 1);
        g.fault("POST /api/dashboards/db", fault.clone(), 1);
        let out = grafana::apply(&l, &s.state()).unwrap_or_else(|e| panic!("{fault:?}: {e:#}"));
        for name in ["monstack-prometheus", "monstack", "app"] {
            assert_eq!(find(&out, name).action, Action::Create, "{fault:?}");
        }
        // Each create was sent once: the read-back found it.
        let posts = g.write_log();
        assert_eq!(posts.len(), 3, "{fault:?}: {posts:?}");
        assert_eq!(g.datasources().len(), 1);
        assert_eq!(g.dashboard_uids(), vec!["app"]);
        g.reset_counters();
        grafana::apply(&l, &s.state()).unwrap();
        assert_eq!(g.writes(), 0, "{fault:?}: the version from the read-back was recorded");
    }
}

#[test]
fn a_create_that_did_not_land_is_sent_again_and_reads_are_retried() {
    let g = Emulator::start_version("12.1.0");
    let s = Setup::new();
    s.dashboard("app", "App", "up");
    let l = s.load(&g, "  builtin_dashboard: false\n");
    g.fault("POST /apis/dashboard.grafana.app", Fault::DropBefore, 1);
    g.fault("GET /api/folders/monstack", Fault::DropBefore, 1);
    g.fault("PUT /", Fault::Status(503), 1);
    grafana::apply(&l, &s.state()).unwrap();
    let posts: Vec<String> =
        g.write_log().into_iter().filter(|w| w.contains("/apis/dashboard.grafana.app")).collect();
    assert_eq!(posts.len(), 2, "dropped before processing: read back, absent, sent again");
    assert_eq!(g.dashboard_meta("app").unwrap().0, 1);
}

#[test]
fn an_update_whose_answer_was_lost_is_not_reported_as_someone_elses_change() {
    for version in ["11.2.0", "12.1.0"] {
        let g = Emulator::start_version(version);
        let s = Setup::new();
        s.dashboard("app", "App", "up");
        let l = s.load(&g, "  builtin_dashboard: false\n");
        grafana::apply(&l, &s.state()).unwrap();
        // A retitle goes with the version read (no overwrite); its answer is lost.
        s.dashboard("app", "App renamed", "up");
        g.fault("/dashboard", Fault::ProcessedThen(500), 1);
        g.fault("POST /api/dashboards/db", Fault::ProcessedThen(500), 1);
        grafana::apply(&l, &s.state()).unwrap_or_else(|e| panic!("{version}: {e:#}"));
        assert_eq!(g.dashboard("app").unwrap()["title"], "App renamed");
        assert_eq!(g.dashboard_meta("app").unwrap().0, 2, "{version}: one write");
    }
}

#[test]
fn retry_after_is_honoured_up_to_max_retry_after_and_the_cut_is_reported() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  builtin_dashboard: false\n  max_retry_after: 1s\n");
    // The server asks for 1 s: waited in full.
    g.fault("GET /api/datasources/uid/", Fault::RetryAfter(1), 1);
    let t = Instant::now();
    grafana::apply(&l, &s.state()).unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1), "Retry-After honoured: {:?}", t.elapsed());

    // The server asks for an hour: monstack waits `max_retry_after` and says so.
    g.fault("GET /api/folders/monstack", Fault::RetryAfter(3600), 1);
    let t = Instant::now();
    let out = grafana::apply(&l, &s.state()).unwrap();
    let took = t.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(10), "{took:?}");
    let detail = find(&out, "monstack").detail.clone().unwrap_or_default();
    assert!(
        detail.contains("asked to wait 1h") && detail.contains("`grafana.max_retry_after`"),
        "{detail}"
    );

    // A 429 that never ends: the failure says that the wait was cut.
    let l = s.load(&g, "  builtin_dashboard: false\n  max_retry_after: 100ms\n  retries: 2\n");
    g.fault("GET /api/folders/monstack", Fault::RetryAfter(120), 2);
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("429") && msg.contains("asked to wait 2m"), "{msg}");
}

#[test]
fn a_hanging_grafana_ends_at_the_deadline_with_what_landed_and_what_did_not() {
    let g = Emulator::start();
    let s = Setup::new();
    for i in 0..6 {
        s.dashboard(&format!("d{i}"), &format!("Dash {i}"), "up");
    }
    // Long request timeout and many retries: only `grafana.timeout` ends it.
    let l = s.load(
        &g,
        "  builtin_dashboard: false\n  timeout: 2s\n  request_timeout: 60s\n  retries: 10\n  concurrency: 2\n",
    );
    grafana::apply(&l, &s.state()).unwrap();
    for i in 0..6 {
        s.dashboard(&format!("d{i}"), &format!("Dash {i}"), "sum(up)");
    }
    g.fault("POST /api/dashboards/db", Fault::Delay(Duration::from_millis(10)), 2);
    g.fault("POST /api/dashboards/db", Fault::Hang, 100);
    let t = Instant::now();
    let err = grafana::apply(&l, &s.state()).unwrap_err();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(4), "ended at the deadline: {took:?}");
    let p = err.partial().expect("partial failure");
    let msg = format!("{err:#}");
    assert!(msg.contains("`grafana.timeout` (2s) passed"), "{msg}");
    let written: Vec<&str> =
        p.landed.iter().filter(|c| c.action.is_change()).map(|c| c.name.as_str()).collect();
    assert_eq!(written.len(), 2, "the two answered writes landed: {msg}");
    assert_eq!(p.failed.len() + p.not_attempted.len(), 4, "{msg}");
    assert!(msg.contains("landed: 2 written"), "{msg}");
}

#[test]
fn a_hanging_health_endpoint_ends_at_the_deadline_too() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  timeout: 1s\n  wait_timeout: 60s\n");
    g.fail_health(1_000_000);
    let t = Instant::now();
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(msg.contains("`grafana.timeout` (1s)"), "{msg}");
}

#[test]
fn grafana_12_and_13_dashboards_go_through_the_kubernetes_style_api() {
    for (version, api) in [("12.1.0", "v1beta1"), ("13.0.0", "v1")] {
        let g = Emulator::start_version(version);
        let s = Setup::new();
        s.dashboard("app", "App", "up");
        let l = s.load(&g, "");
        grafana::apply(&l, &s.state()).unwrap();
        let writes = g.write_log();
        let dash: Vec<&String> = writes.iter().filter(|w| w.contains("dashboard")).collect();
        assert_eq!(dash.len(), 2, "{writes:?}");
        for w in &dash {
            assert!(
                w.starts_with(&format!(
                    "POST /apis/dashboard.grafana.app/{api}/namespaces/default/dashboards"
                )),
                "{version}: {w}"
            );
        }
        assert_eq!(g.dashboard_meta("app").unwrap().1, "monstack");
        assert_eq!(g.dashboard_schema("app"), Some("v1"));
        g.reset_counters();
        assert_eq!(written(&grafana::apply(&l, &s.state()).unwrap()), 0);
        assert_eq!(g.writes(), 0);
        assert!(
            !g.log().iter().any(|r| r.path.starts_with("/api/dashboards")),
            "{version}: the legacy dashboard API is not used"
        );
        // Update and prune go through /apis as well.
        s.dashboard("app", "App", "sum(up)");
        std::fs::remove_file(s.path("dash/app.json")).unwrap();
        s.dashboard("other", "Other", "up");
        let l = s.load(&g, "  prune: true\n");
        g.reset_counters();
        grafana::apply(&l, &s.state()).unwrap();
        let writes = g.write_log();
        assert!(
            writes.contains(&format!(
                "DELETE /apis/dashboard.grafana.app/{api}/namespaces/default/dashboards/app"
            )),
            "{writes:?}"
        );
        assert_eq!(g.dashboard_uids(), vec!["other", "snowflake-mcp"]);
    }
}

fn v2_file(uid: &str, title: &str) -> Value {
    json!({
        "apiVersion": "dashboard.grafana.app/v2beta1", "kind": "Dashboard",
        "metadata": {"name": uid},
        "spec": {"title": title, "elements": {"panel-1": {"kind": "Panel", "spec": {"title": "up"}}},
            "layout": {"kind": "AutoGridLayout", "spec": {"items": []}}},
    })
}

#[test]
fn a_v2_dashboard_is_never_flattened() {
    // Grafana 12: a v2 file goes through the v2 API, stored as v2.
    let g = Emulator::start_version("12.1.0");
    let s = Setup::new();
    raw_dashboard(&s, "dyn", v2_file("dyn", "Dynamic"));
    let l = s.load(&g, "  builtin_dashboard: false\n");
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.dashboard_schema("dyn"), Some("v2"));
    assert!(g.write_log().iter().any(|w| w.contains("/dashboard.grafana.app/v2beta1/")));
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0);

    // Grafana 11: no v2 API; the dashboard is refused by name, nothing is sent for it.
    let g = Emulator::start();
    let l = s.load(&g, "  builtin_dashboard: false\n");
    let msg = format!("{:#}", grafana::plan(&l, &s.state()).unwrap_err());
    assert!(msg.contains("dashboard `dyn`") && msg.contains("v2"), "{msg}");
    assert!(msg.contains("Grafana 11.2") && msg.contains("classic JSON"), "hint: {msg}");
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("dashboard `dyn`"), "{msg}");
    assert!(!g.write_log().iter().any(|w| w.contains("dashboards")), "{:?}", g.write_log());

    // Grafana 13: a v1 dashboard monstack manages was re-saved as v2 in the UI. monstack
    // does not overwrite it with its v1 model, and says what to do.
    let g = Emulator::start_version("13.0.0");
    let s = Setup::new();
    s.dashboard("app", "App", "up");
    let l = s.load(&g, "  builtin_dashboard: false\n");
    grafana::apply(&l, &s.state()).unwrap();
    g.store_v2("app", v2_file("app", "App")["spec"].clone(), "monstack");
    g.reset_counters();
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("dashboard `app`") && msg.contains("v2 schema"), "{msg}");
    assert!(msg.contains("export it from Grafana as v2"), "{msg}");
    assert_eq!(g.dashboard_schema("app"), Some("v2"), "left as it is");
    assert!(!g.write_log().iter().any(|w| w.contains("dashboards")), "{:?}", g.write_log());
}

#[test]
fn nested_folders_by_path_or_parent_uid() {
    let g = Emulator::start_version("11.2.0");
    let s = Setup::new();
    let l = s.load(&g, "  folder:\n    path: Platform/Observability\n");
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let folders: Vec<&Change> = by_kind(&plan, "grafana_folder");
    assert_eq!(folders.len(), 3, "{folders:#?}");
    assert!(folders.iter().all(|c| c.action == Action::Create));
    grafana::apply(&l, &s.state()).unwrap();
    let mut titles: Vec<String> = g.folders().into_iter().map(|(_, t)| t).collect();
    titles.sort();
    assert_eq!(titles, vec!["Monitoring", "Observability", "Platform"]);
    let parent = g.folder_parent("monstack").unwrap();
    let (obs, grand) = (parent.clone(), g.folder_parent(&parent).unwrap());
    assert!(!obs.is_empty() && !grand.is_empty() && g.folder_parent(&grand).unwrap().is_empty());
    g.reset_counters();
    let out = grafana::apply(&l, &s.state()).unwrap();
    assert_eq!((g.writes(), written(&out)), (0, 0), "{:?}", g.write_log());

    // An existing folder as parent: the managed folder moves under it.
    let (st, _) = g.call("POST", "/api/folders", Some(json!({"uid": "team", "title": "Team"})));
    assert_eq!(st, 200);
    let l = s.load(&g, "  folder:\n    parent_uid: team\n");
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let c = find(&plan, "monstack");
    assert!(c.detail.as_deref().unwrap().contains("to `team`"), "{c:?}");
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.folder_parent("monstack").unwrap(), "team");
    // A parent that does not exist is named.
    let l = s.load(&g, "  folder:\n    parent_uid: nope\n");
    let msg = format!("{:#}", grafana::plan(&l, &s.state()).unwrap_err());
    assert!(msg.contains("folder `nope`") && msg.contains("parent_uid"), "{msg}");
}

#[test]
fn datasource_basic_auth_tls_and_headers_are_sent_fingerprinted_and_never_shown() {
    let g = Emulator::start();
    let s = Setup::new();
    std::fs::write(s.path("prom-pw"), "pr0m-pass\n").unwrap();
    std::fs::write(s.path("tenant"), "t3nant-secret\n").unwrap();
    std::fs::copy(Emulator::tls_ca(), s.path("prom-ca.pem")).unwrap();
    let extra = "  datasource:\n    url: http://127.0.0.1:9/\n    json_data: {httpMethod: POST, timeInterval: 30s}\n    basic_auth:\n      user: grafana\n      password: {file: prom-pw}\n    tls:\n      ca_file: prom-ca.pem\n    http_headers:\n      X-Scope-OrgID: {file: tenant}\n";
    let l = s.load(&g, extra);
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("pr0m-pass") && !text.contains("t3nant"), "{text}");
    assert!(text.contains("basicAuthPassword") && text.contains("httpHeaderValue1"), "{text}");
    grafana::apply(&l, &s.state()).unwrap();
    let ds = &g.datasources()[0];
    assert_eq!(ds["basicAuth"], true);
    assert_eq!(ds["basicAuthUser"], "grafana");
    assert_eq!(ds["jsonData"]["httpMethod"], "POST");
    assert_eq!(ds["jsonData"]["timeInterval"], "30s");
    assert_eq!(ds["jsonData"]["tlsAuthWithCACert"], true);
    assert_eq!(ds["jsonData"]["httpHeaderName1"], "X-Scope-OrgID");
    assert_eq!(ds["_secrets"]["basicAuthPassword"], "pr0m-pass");
    assert_eq!(ds["_secrets"]["httpHeaderValue1"], "t3nant-secret");
    assert!(ds["_secrets"]["tlsCACert"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "{:?}", g.write_log());

    // A rotated header value is sent again; the plan says which key, never the value.
    std::fs::write(s.path("tenant"), "t3nant-other\n").unwrap();
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let c = find(&plan, "monstack-prometheus");
    assert_eq!(c.action, Action::Update);
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains("httpHeaderValue1: (hidden, changed)") && !text.contains("t3nant"));
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.datasources()[0]["_secrets"]["httpHeaderValue1"], "t3nant-other");

    // skip_verify instead of a CA.
    let l = s.load(&g, &extra.replace("      ca_file: prom-ca.pem\n", "      skip_verify: true\n"));
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.datasources()[0]["jsonData"]["tlsSkipVerify"], true);
    for e in walk(&s.state()) {
        let bytes = String::from_utf8_lossy(&std::fs::read(&e).unwrap()).to_string();
        assert!(!bytes.contains("pr0m-pass") && !bytes.contains("t3nant"), "{}", e.display());
    }
}

#[test]
fn datasource_option_conflicts_are_config_errors() {
    let s = Setup::new();
    let g = Emulator::start();
    std::fs::write(s.path("pw"), "x\n").unwrap();
    for (extra, field) in [
        (
            "  datasource:\n    basic_auth: {user: u, password: {file: pw}}\n    secure_json_data:\n      basicAuthPassword: {file: pw}\n",
            "grafana.datasource.secure_json_data.basicAuthPassword",
        ),
        ("  datasource:\n    tls: {ca_file: missing.pem}\n", "grafana.datasource.tls.ca_file"),
        (
            "  datasource:\n    http_headers:\n      'bad header': {file: pw}\n",
            "grafana.datasource.http_headers.bad header",
        ),
        ("  datasource:\n    basic_auth: {user: u}\n", "grafana.datasource.basic_auth.password"),
        ("  timeout: 0s\n", "grafana.timeout"),
        ("  max_retry_after: soon\n", "grafana.max_retry_after"),
        ("  folder:\n    path: a//b\n", "grafana.folder.path"),
    ] {
        let auth = "  auth:\n    token_file: token\n";
        let text = format!("grafana:\n  url: {}\n{auth}{extra}", g.url());
        let path = s.path("monstack.yaml");
        std::fs::write(&path, &text).unwrap();
        let err = config::load(&path).unwrap_err().to_string();
        assert!(err.contains(field), "{field}: {err}");
    }
}

#[test]
fn grafana_12_refuses_a_bad_datasource_uid_and_monstack_refuses_it_first() {
    let g = Emulator::start_version("12.0.0");
    let (st, body) = g.call(
        "POST",
        "/api/datasources",
        Some(json!({"name": "p", "type": "prometheus", "access": "proxy", "uid": "bad.uid"})),
    );
    assert_eq!((st, body["messageId"].as_str()), (400, Some("datasource.uidInvalid")));
    let g11 = Emulator::start();
    let (st, _) = g11.call(
        "POST",
        "/api/datasources",
        Some(json!({"name": "p", "type": "prometheus", "access": "proxy", "uid": "bad.uid"})),
    );
    assert_eq!(st, 200, "11.x accepts it with a warning log");
    let s = Setup::new();
    std::fs::write(s.path("monstack.yaml"), "grafana:\n  datasource:\n    uid: bad.uid\n").unwrap();
    let err = config::load(&s.path("monstack.yaml")).unwrap_err().to_string();
    assert!(err.contains("grafana.datasource.uid") && err.contains("a-z A-Z 0-9 - _"), "{err}");
}

#[test]
fn a_legacy_api_key_gets_a_hint_to_use_a_service_account_token() {
    let g = Emulator::start_version("12.1.0");
    let s = Setup::new();
    std::fs::write(s.path("key"), grafana_emulator::LEGACY_API_KEY).unwrap();
    let l = s.load(&g, "  auth:\n    token_file: key\n");
    let msg = format!("{:#}", grafana::apply(&l, &s.state()).unwrap_err());
    assert!(msg.contains("401") && msg.contains("service account"), "{msg}");
    assert!(!msg.contains(grafana_emulator::LEGACY_API_KEY));
}

/// `monstack <args>` on a config that manages Grafana only (no component, no host
/// files), under `--root`, with a scrubbed environment.
fn cli(s: &Setup, grafana_yaml: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let cfg = s.path("cli.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: /state\nprometheus: {{enabled: false}}\nalertmanager: {{enabled: false}}\nnode_exporter: {{enabled: false}}\nlogrotate: {{enabled: false}}\nrsyslog: {{enabled: false}}\ngrafana:\n{grafana_yaml}"
        ),
    )
    .unwrap();
    let root = s.path("root");
    std::fs::create_dir_all(&root).unwrap();
    // GRAFANA_* variables of the environment must not stand in for the token file.
    let out = bin::Monstack::new()
        .config(&cfg)
        .root(&root)
        .args(args)
        .command()
        .env_remove("GRAFANA_TOKEN")
        .env_remove("GRAFANA_USER")
        .env_remove("GRAFANA_PASSWORD")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_plan_with_grafana_down_reports_on_stderr_and_json_and_apply_ends_at_the_deadline() {
    let s = Setup::new();
    let token = s.path("token");
    // Nobody listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = format!(
        "  url: http://{closed}\n  auth:\n    token_file: {}\n  builtin_dashboard: false\n",
        token.display()
    );
    let (code, out, err) = cli(&s, &down, &["plan", "--service-manager", "none"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains("error: grafana at `http://127.0.0.1:") && err.contains("not reachable"),
        "{err}"
    );
    assert!(!out.contains("no changes") && !out.contains("error:"), "stdout: {out}");
    assert!(out.contains("plan: incomplete"), "{out}");
    let (code, out, err) =
        cli(&s, &down, &["plan", "--service-manager", "none", "--output", "json"]);
    assert_eq!(code, Some(1));
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(doc["errors"][0].as_str().unwrap().contains("not reachable"), "{doc:#}");
    assert!(err.contains("not reachable"), "{err}");

    // A Grafana that hangs on every dashboard write: apply ends at `grafana.timeout`.
    let g = Emulator::start();
    for i in 0..4 {
        s.dashboard(&format!("d{i}"), &format!("Dash {i}"), "up");
    }
    let up = format!(
        "  url: {}\n  auth:\n    token_file: {}\n  builtin_dashboard: false\n  dashboards: [{}]\n  datasource: {{url: {}}}\n  timeout: 2s\n  request_timeout: 60s\n  retries: 5\n",
        g.url(),
        token.display(),
        s.path("dash").display(),
        g.prometheus_url()
    );
    g.fault("POST /api/dashboards/db", Fault::Hang, 100);
    let t = Instant::now();
    let (code, out, err) =
        cli(&s, &up, &["apply", "--service-manager", "none", "--output", "json"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(code, Some(1), "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let errors = doc["errors"].to_string();
    assert!(errors.contains("`grafana.timeout` (2s) passed"), "{errors}");
    let landed: Vec<&str> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("grafana")))
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(landed.contains(&"monstack-prometheus") && landed.contains(&"monstack"), "{doc:#}");
}

#[test]
fn a_datasource_edited_in_grafana_is_drift_shown_and_restored() {
    let g = Emulator::start();
    let s = Setup::new();
    let l = s.load(&g, "  builtin_dashboard: false\n");
    grafana::apply(&l, &s.state()).unwrap();
    let mut ds = g.datasources()[0].clone();
    ds["url"] = json!("http://elsewhere:9090");
    ds.as_object_mut().unwrap().remove("_secrets");
    let (st, _) = g.call("PUT", "/api/datasources/uid/monstack-prometheus", Some(ds));
    assert_eq!(st, 200);
    let plan = grafana::plan(&l, &s.state()).unwrap();
    let c = find(&plan, "monstack-prometheus");
    assert_eq!(c.action, Action::Update);
    assert!(c.detail.as_deref().unwrap_or("").contains("changed in Grafana"), "{c:?}");
    assert!(c.diff.as_deref().unwrap().contains("elsewhere"), "{c:?}");
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.datasources()[0]["url"], json!(g.prometheus_url()));
    g.reset_counters();
    grafana::apply(&l, &s.state()).unwrap();
    assert_eq!(g.writes(), 0, "{:?}", g.write_log());
}

#[test]
fn files_mode_refuses_a_v2_dashboard_by_name() {
    let g = Emulator::start();
    let s = Setup::new();
    raw_dashboard(&s, "dyn", v2_file("dyn", "Dynamic"));
    let l = s.load(&g, "  mode: files\n  builtin_dashboard: false\n");
    let err = grafana::provisioning_files(&l).unwrap_err().to_string();
    assert!(err.contains("dashboard `dyn`") && err.contains("v2 schema"), "{err}");
    assert!(err.contains("grafana.mode: api"), "{err}");
    assert_eq!(g.requests(), 0);
}
