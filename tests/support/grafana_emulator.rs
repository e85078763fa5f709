//! A loopback Grafana HTTP API emulator for the endpoints monstack uses: health,
//! datasources, folders (nested), dashboards (legacy `/api` and, from 12, the
//! Kubernetes-style `/apis/dashboard.grafana.app`), search and auth. Status codes,
//! bodies and version rules follow the Grafana API facts (`API-FACTS §n`, and `12-13 §n`
//! for ../shared/grafana/INSTALL-AND-12-13.md, beside the code). By default it is
//! Grafana 11.2 (unique dashboard titles per folder, 409 on a taken folder uid, the
//! first datasource forced to default); [`Emulator::start_version`] picks 12.x or 13.x.
//!
//! Like Grafana, it rewrites dashboards when it saves them (API-FACTS §3.1: title
//! trimmed, refresh raised to `min_refresh_interval`; 12-13 §5.3: schemaVersion
//! migrated), so a client that compares its own copy with the stored one sees a
//! difference every time.
//!
//! Include with `#[path = "support/grafana_emulator.rs"] mod grafana_emulator;`.
//!
//! ```ignore
//! let g = Emulator::start();            // accepts TOKEN (Bearer) and ADMIN_USER/ADMIN_PASSWORD
//! g.url();                              // http://127.0.0.1:PORT for `grafana.url`
//! g.fault("POST /api/dashboards/db", Fault::Status(500), 2);   // next 2 matching requests
//! g.requests(); g.writes(); g.reset_counters();                // POST/PUT/DELETE count as writes
//! ```
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Map, Value};

/// The service account token the emulator accepts (Bearer).
pub const TOKEN: &str = "glsa_emulatorTokenForMonstackTests0000_1a2b3c4d";
/// The basic-auth admin the emulator accepts.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "emulator-admin-pw";

/// The role every accepted credential acts with (API-FACTS §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

/// A legacy API key (base64 JSON, API-FACTS §5.1): not a service account token, and
/// not accepted here (API keys are gone, 12-13 §5.4).
pub const LEGACY_API_KEY: &str = "eyJrIjoiT0tTY3JhcGVyS2V5IiwibiI6Im1vbnN0YWNrIiwiaWQiOjF9";

/// A fault for requests whose `"METHOD /path?query"` contains a pattern.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and Grafana's body for it (401, 403, 429, 5xx),
    /// without processing the request.
    Status(u16),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// 429 with `Retry-After: <seconds>`, not processed (a rate-limiting proxy in front
    /// of Grafana: Grafana's own `/api` has no rate limit, API-FACTS §0).
    RetryAfter(u64),
    /// Process the request (it lands), then answer this status instead of the real
    /// answer: a proxy timing out, or Grafana failing after the store committed.
    ProcessedThen(u16),
    /// Close the connection without an answer and without processing.
    DropBefore,
    /// Process the request (it lands), then close the connection without an answer.
    DropAfter,
    /// Never answer: hold the connection until the emulator stops.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path with query string.
    pub path: String,
    /// `X-Grafana-Org-Id` header, if sent.
    pub org: Option<String>,
    /// `bearer`, `basic` or `none`.
    pub auth: String,
    pub status: u16,
}

#[derive(Debug, Clone)]
struct Datasource {
    id: i64,
    uid: String,
    name: String,
    kind: String,
    access: String,
    url: String,
    user: String,
    database: String,
    basic_auth: bool,
    basic_auth_user: String,
    with_credentials: bool,
    is_default: bool,
    json_data: Value,
    secure: BTreeMap<String, String>,
    version: i64,
    read_only: bool,
}

#[derive(Debug, Clone)]
struct Folder {
    id: i64,
    uid: String,
    title: String,
    version: i64,
    /// Nested folders (API-FACTS §4.1 `parentUid`); "" at the root.
    parent: String,
}

#[derive(Debug, Clone)]
struct Dashboard {
    id: i64,
    uid: String,
    title: String,
    folder_uid: String,
    version: i64,
    data: Value,
    messages: Vec<String>,
    /// The schema it is stored in: `v1` (classic) or `v2` (12-13 §5.3).
    schema: &'static str,
    /// `/apis` identity and optimistic-concurrency token (12-13 §5.1).
    k8s_uid: String,
    resource_version: u64,
}

struct State {
    datasources: Vec<Datasource>,
    folders: BTreeMap<String, Folder>,
    dashboards: BTreeMap<String, Dashboard>,
    next_id: i64,
    role: Role,
    database_ok: bool,
    health_failures: usize,
    faults: Vec<(String, Fault, usize)>,
    log: Vec<Logged>,
    /// The Grafana version served in `/api/health` and the behaviour that goes with it.
    version: (u32, u32),
    version_text: String,
    /// `[dashboards] min_refresh_interval` (default 5s).
    min_refresh: Duration,
    /// Counter for `resourceVersion`s.
    next_rv: u64,
    /// The basic-auth admin (`[security] admin_user` / `admin_password`).
    admin: (String, String),
    /// Service accounts (id, name, role) and the tokens issued for them.
    service_accounts: Vec<(i64, String, String)>,
    issued_tokens: Vec<String>,
}

/// The running emulator; stopped on drop.
pub struct Emulator {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    requests: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Listen on 127.0.0.1 with a port from the OS, as Grafana 11.2.0.
    pub fn start() -> Emulator {
        Self::start_with(None)
    }

    /// The same as a given Grafana version (`"11.2.0"`, `"12.1.0"`, `"13.0.0"`): 12+
    /// serves dashboards through `/apis` too (v1beta1 + v2beta1 on 12, v1 + v2 on 13,
    /// 12-13 §5.1), validates datasource uids (API-FACTS §2.2, 12.0), allows duplicate
    /// titles (11.3+, API-FACTS §3.1 step 6) and migrates schemaVersion further.
    pub fn start_version(version: &str) -> Emulator {
        let e = Self::start_with(None);
        {
            let mut st = e.state.lock().unwrap();
            let mut it = version.split('.');
            let major = it.next().and_then(|v| v.parse().ok()).unwrap_or(11);
            let minor = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            st.version = (major, minor);
            st.version_text = version.to_string();
        }
        e
    }

    /// `[dashboards] min_refresh_interval` (API-FACTS §3.1 step 4).
    pub fn set_min_refresh(&self, d: Duration) {
        self.state.lock().unwrap().min_refresh = d;
    }

    /// Store a dashboard as a person editing it in Grafana 13's UI would: in the v2
    /// schema (12-13 §5.3), bypassing the API. Its version moves.
    pub fn store_v2(&self, uid: &str, spec: Value, folder_uid: &str) {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        st.next_rv += 1;
        let (id, rv) = (st.next_id, st.next_rv);
        let title = str_field(&spec, "title");
        let prev = st.dashboards.get(uid).cloned();
        let d = Dashboard {
            id: prev.as_ref().map_or(id, |p| p.id),
            uid: uid.to_string(),
            title,
            folder_uid: folder_uid.to_string(),
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            data: spec,
            messages: prev.as_ref().map(|p| p.messages.clone()).unwrap_or_default(),
            schema: "v2",
            k8s_uid: prev.map_or(format!("k8s-{id}"), |p| p.k8s_uid),
            resource_version: rv,
        };
        st.dashboards.insert(uid.to_string(), d);
    }

    /// The schema a dashboard is stored in (`v1` or `v2`).
    pub fn dashboard_schema(&self, uid: &str) -> Option<&'static str> {
        self.state.lock().unwrap().dashboards.get(uid).map(|d| d.schema)
    }

    /// Parent uid of a folder ("" at the root).
    pub fn folder_parent(&self, uid: &str) -> Option<String> {
        self.state.lock().unwrap().folders.get(uid).map(|f| f.parent.clone())
    }

    /// The same over HTTPS, with the certificate in tests/fixtures/tls (for
    /// 127.0.0.1, signed by the CA in [`Emulator::tls_ca`]).
    pub fn start_tls() -> Emulator {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("server.pem"))
                .expect("server.pem")
                .map(|c| c.expect("certificate"))
                .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
        Self::start_with(Some(Arc::new(config)))
    }

    /// The CA that signed the HTTPS emulator's certificate (for `grafana.ca_file`).
    pub fn tls_ca() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem")
    }

    /// Listen on `addr` (Grafana's `http_addr:http_port`) with this admin, as
    /// `version`: the stand-in `grafana server` of the install tests.
    pub fn start_at(addr: &str, admin_user: &str, admin_password: &str, version: &str) -> Emulator {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let e = Self::start_on(listener, None);
        {
            let mut st = e.state.lock().unwrap();
            st.admin = (admin_user.to_string(), admin_password.to_string());
            let mut it = version.split('.');
            st.version.0 = it.next().and_then(|v| v.parse().ok()).unwrap_or(11);
            st.version.1 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            st.version_text = version.to_string();
        }
        e
    }

    /// Service accounts created through the API (name, role).
    pub fn service_accounts(&self) -> Vec<(String, String)> {
        let st = self.state.lock().unwrap();
        st.service_accounts.iter().map(|(_, n, r)| (n.clone(), r.clone())).collect()
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Emulator {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        Self::start_on(listener, tls)
    }

    fn start_on(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> Emulator {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State {
            datasources: Vec::new(),
            folders: BTreeMap::new(),
            dashboards: BTreeMap::new(),
            next_id: 1,
            role: Role::Admin,
            database_ok: true,
            health_failures: 0,
            faults: Vec::new(),
            log: Vec::new(),
            version: (11, 2),
            version_text: "11.2.0".into(),
            min_refresh: Duration::from_secs(5),
            next_rv: 1000,
            admin: (ADMIN_USER.to_string(), ADMIN_PASSWORD.to_string()),
            service_accounts: Vec::new(),
            issued_tokens: Vec::new(),
        }));
        let requests = Arc::new(AtomicUsize::new(0));
        let writes = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, rq, wr, sp) = (state.clone(), requests.clone(), writes.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !sp.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (st, rq, wr, sp) = (st.clone(), rq.clone(), wr.clone(), sp.clone());
                        let tls = tls.clone();
                        conns.push(std::thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_nodelay(true);
                            let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                            match tls {
                                None => {
                                    let _ = serve(stream, &st, &rq, &wr, &sp);
                                }
                                Some(cfg) => {
                                    let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                                        return;
                                    };
                                    let tls = rustls::StreamOwned::new(conn, stream);
                                    let _ = serve(tls, &st, &rq, &wr, &sp);
                                }
                            }
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Emulator { addr, state, requests, writes, stop, threads: vec![accept] }
    }

    /// Base URL for `grafana.url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A URL that answers like a healthy Prometheus (`/api/v1/query`,
    /// `/api/v1/status/buildinfo`), for `grafana.datasource.url`, so the datasource
    /// health check passes.
    pub fn prometheus_url(&self) -> String {
        format!("http://{}/fake-prometheus", self.addr)
    }

    /// Requests received (health included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// POST/PUT/DELETE requests received.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Zero the request and write counters and the log.
    pub fn reset_counters(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.writes.store(0, Ordering::SeqCst);
        self.state.lock().unwrap().log.clear();
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// Writes so far as `"METHOD /path"` strings.
    pub fn write_log(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| matches!(l.method.as_str(), "POST" | "PUT" | "DELETE"))
            .map(|l| format!("{} {}", l.method, l.path))
            .collect()
    }

    /// Apply `fault` to the next `times` requests whose `"METHOD /path?query"` contains
    /// `pattern` (`""` matches every request but health).
    pub fn fault(&self, pattern: &str, fault: Fault, times: usize) {
        self.state.lock().unwrap().faults.push((pattern.to_string(), fault, times));
    }

    /// Drop every pending fault.
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// The role accepted credentials act with (default Admin).
    pub fn set_role(&self, role: Role) {
        self.state.lock().unwrap().role = role;
    }

    /// Database health (API-FACTS §1: 503 `failing` when down).
    pub fn set_database_ok(&self, ok: bool) {
        self.state.lock().unwrap().database_ok = ok;
    }

    /// The next `n` health checks report the database failing (a starting Grafana).
    pub fn fail_health(&self, n: usize) {
        self.state.lock().unwrap().health_failures = n;
    }

    /// Datasources as `GET /api/datasources/uid/:uid` returns them, plus `"_secrets"`
    /// (the stored secure values, which the real API never returns).
    pub fn datasources(&self) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        st.datasources
            .iter()
            .map(|d| {
                let mut v = ds_dto(d);
                v["_secrets"] = json!(d.secure);
                v
            })
            .collect()
    }

    /// Mark a datasource read-only, as if provisioned from a file.
    pub fn set_datasource_read_only(&self, uid: &str) {
        let mut st = self.state.lock().unwrap();
        for d in st.datasources.iter_mut().filter(|d| d.uid == uid) {
            d.read_only = true;
        }
    }

    /// The stored model of a dashboard (with id, uid, version as Grafana keeps them).
    pub fn dashboard(&self, uid: &str) -> Option<Value> {
        self.state.lock().unwrap().dashboards.get(uid).map(stored_model)
    }

    /// Stored version and folder uid of a dashboard.
    pub fn dashboard_meta(&self, uid: &str) -> Option<(i64, String)> {
        self.state.lock().unwrap().dashboards.get(uid).map(|d| (d.version, d.folder_uid.clone()))
    }

    /// Commit messages of every save of a dashboard.
    pub fn dashboard_messages(&self, uid: &str) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .dashboards
            .get(uid)
            .map(|d| d.messages.clone())
            .unwrap_or_default()
    }

    /// Dashboard uids, sorted.
    pub fn dashboard_uids(&self) -> Vec<String> {
        self.state.lock().unwrap().dashboards.keys().cloned().collect()
    }

    /// Folders as `(uid, title)`.
    pub fn folders(&self) -> Vec<(String, String)> {
        let st = self.state.lock().unwrap();
        st.folders.values().map(|f| (f.uid.clone(), f.title.clone())).collect()
    }

    /// Call the emulator's API as the admin (basic auth), e.g. to seed objects the way
    /// a person or the old script would. Counted like any request.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::blocking::Client::new();
        let mut rq = client
            .request(method.parse().unwrap(), format!("{}{}", self.url(), path))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD));
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq.send().expect("emulator reachable");
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ------------------------------------------------------------------ plumbing

struct Reply {
    status: u16,
    body: String,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
}

fn reply(status: u16, body: Value) -> Reply {
    // API-FACTS §0: Content-Type application/json; Go sorts map keys, and so does
    // serde_json::Value built with json! (keys are inserted in sorted order below).
    Reply { status, body: body.to_string(), content_type: "application/json", headers: Vec::new() }
}

/// `response.Error(status, msg, err)` with an err: `{"message", "traceID": ""}` (§0).
fn err_traced(status: u16, msg: &str) -> Reply {
    reply(status, json!({"message": msg, "traceID": ""}))
}

/// `response.Error(status, msg, nil)`: `{"message"}` only (§0).
fn err_plain(status: u16, msg: &str) -> Reply {
    reply(status, json!({"message": msg}))
}

/// Middleware errutil shape (§0, §5.2).
fn err_middleware(status: u16, id: &str, msg: &str) -> Reply {
    reply(
        status,
        json!({"extra": null, "message": msg, "messageId": id, "statusCode": status, "traceID": ""}),
    )
}

/// RBAC 403 (§5.3).
fn err_rbac(perm: &str) -> Reply {
    reply(
        403,
        json!({
            "accessErrorId": "ACE0123456789",
            "message": format!("You'll need additional permissions to perform this action. Permissions needed: {perm}"),
            "title": "Access denied",
        }),
    )
}

/// One keep-alive connection. `TCP_NODELAY` is set, as Go's net/http does, so a
/// response written in pieces is not held back by Nagle's algorithm.
fn serve(
    mut stream: impl Read + Write,
    state: &Mutex<State>,
    requests: &AtomicUsize,
    writes: &AtomicUsize,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        // Read one request: head up to CRLFCRLF, then Content-Length bytes.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split_whitespace();
        let method = first.next().unwrap_or("GET").to_uppercase();
        let target = first.next().unwrap_or("/").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while buf.len() < head_end + len {
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
        buf.drain(..head_end + len);
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let out = handle(&method, &target, &header, &body, state, requests, writes, stop);
        if out.status == 0 {
            // A dropped connection: no answer at all.
            return Ok(());
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", out.status, reason(out.status));
        let mut hs: Vec<(&str, String)> = vec![
            ("Content-Type", out.content_type.to_string()),
            // API-FACTS §0: headers typical of /api/* answers.
            ("Cache-Control", "no-store".into()),
            ("X-Content-Type-Options", "nosniff".into()),
            ("X-Frame-Options", "deny".into()),
            ("X-Xss-Protection", "1; mode=block".into()),
            ("Content-Length", out.body.len().to_string()),
        ];
        hs.extend(out.headers);
        for (k, v) in hs {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if method != "HEAD" {
            bytes.extend_from_slice(out.body.as_bytes());
        }
        stream.write_all(&bytes)?;
        stream.flush()?;
        if close {
            return Ok(());
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        201 => "Created",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Count, log, apply faults and route one request. Status 0 = drop the connection.
#[allow(clippy::too_many_arguments)]
fn handle(
    method: &str,
    full: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &str,
    state: &Mutex<State>,
    requests: &AtomicUsize,
    writes: &AtomicUsize,
    stop: &AtomicBool,
) -> Reply {
    let method = method.to_string();
    let full = full.to_string();
    // The stand-in Prometheus shares the port but is not part of the Grafana API:
    // it is neither counted nor logged.
    let counted = !full.starts_with("/fake-prometheus");
    if counted {
        requests.fetch_add(1, Ordering::SeqCst);
        if matches!(method.as_str(), "POST" | "PUT" | "DELETE") {
            writes.fetch_add(1, Ordering::SeqCst);
        }
    }
    let authz = header("authorization");
    let org = header("x-grafana-org-id");
    let (path, query) = match full.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (full.clone(), String::new()),
    };

    let key = format!("{method} {full}");
    let fault = if path == "/api/health" {
        None
    } else {
        let mut st = state.lock().unwrap();
        let pos = st.faults.iter().position(|(p, _, n)| *n > 0 && key.contains(p.as_str()));
        pos.map(|i| {
            st.faults[i].2 -= 1;
            let f = st.faults[i].1.clone();
            if st.faults[i].2 == 0 {
                st.faults.remove(i);
            }
            f
        })
    };
    let auth_scheme = match authz.as_deref() {
        Some(a) if a.to_lowercase().starts_with("bearer ") => "bearer",
        Some(a) if a.to_lowercase().starts_with("basic ") => "basic",
        Some(_) => "other",
        None => "none",
    };
    let go = || route(state, &method, &path, &query, authz.as_deref(), body);
    let out = match fault {
        Some(Fault::Status(code)) => fault_reply(code),
        Some(Fault::RetryAfter(secs)) => {
            let mut r = err_plain(429, "Too Many Requests");
            r.headers.push(("Retry-After", secs.to_string()));
            r
        }
        Some(Fault::ProcessedThen(code)) => {
            let _ = go();
            fault_reply(code)
        }
        Some(Fault::DropBefore) => dropped(),
        Some(Fault::DropAfter) => {
            let _ = go();
            dropped()
        }
        Some(Fault::Hang) => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            dropped()
        }
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            go()
        }
        None => go(),
    };
    if counted {
        state.lock().unwrap().log.push(Logged {
            method,
            path: full,
            org,
            auth: auth_scheme.to_string(),
            status: out.status,
        });
    }
    out
}

fn dropped() -> Reply {
    Reply { status: 0, body: String::new(), content_type: "", headers: Vec::new() }
}

/// Bodies for forced statuses, shaped as Grafana sends them.
fn fault_reply(code: u16) -> Reply {
    match code {
        // API-FACTS §5.2: invalid token.
        401 => err_middleware(401, "api-key.invalid", "Invalid API key"),
        // API-FACTS §5.3: RBAC denial.
        403 => err_rbac("datasources:read"),
        // No /api rate limit in Grafana itself (§0); a proxy in front may send 429.
        429 => {
            let mut r = err_plain(429, "Too Many Requests");
            r.headers.push(("Retry-After", "0".into()));
            r
        }
        // §0: default 500 message.
        500 => err_traced(500, "Internal Server Error"),
        c => err_plain(c, "injected fault"),
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// API-FACTS §5.2: 401 bodies by case; `Ok` when the credentials are accepted.
fn authenticate(authz: Option<&str>, state: &Mutex<State>) -> Result<(), Reply> {
    let (admin, issued) = {
        let st = state.lock().unwrap();
        (st.admin.clone(), st.issued_tokens.clone())
    };
    let Some(a) = authz else {
        return Err(err_middleware(401, "auth.unauthorized", "Unauthorized"));
    };
    let (scheme, rest) = a.split_once(' ').unwrap_or((a, ""));
    match scheme.to_lowercase().as_str() {
        "bearer" => {
            if rest.trim() == TOKEN || issued.iter().any(|t| t == rest.trim()) {
                Ok(())
            } else {
                Err(err_middleware(401, "api-key.invalid", "Invalid API key"))
            }
        }
        "basic" => {
            let Some(decoded) = decode_b64(rest).and_then(|b| String::from_utf8(b).ok()) else {
                return Err(err_middleware(
                    400,
                    "basic-auth.invalid-header",
                    "Invalid Basic Auth Header",
                ));
            };
            let Some((user, pw)) = decoded.split_once(':') else {
                return Err(err_middleware(
                    400,
                    "basic-auth.invalid-header",
                    "Invalid Basic Auth Header",
                ));
            };
            if user == "api_key" && pw == TOKEN {
                return Ok(()); // §5.1: legacy `Basic api_key:<token>`
            }
            if user == admin.0 && pw == admin.1 {
                Ok(())
            } else {
                Err(err_middleware(401, "password-auth.failed", "Invalid username or password"))
            }
        }
        _ => Err(err_middleware(401, "auth.unauthorized", "Unauthorized")),
    }
}

fn query_params(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn pct_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `util.ValidateUID` (§2.2, §3.1).
fn valid_uid(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Grafana-like slug of a title (`/d/<uid>/<slug>`).
fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

// ------------------------------------------------------------------ routes

fn route(
    state: &Mutex<State>,
    method: &str,
    path: &str,
    query: &str,
    authz: Option<&str>,
    body: &str,
) -> Reply {
    // API-FACTS §1: /api/health needs no auth; exact path, GET/HEAD only.
    if path == "/api/health" && matches!(method, "GET" | "HEAD") {
        let mut st = state.lock().unwrap();
        let ok = st.database_ok && st.health_failures == 0;
        st.health_failures = st.health_failures.saturating_sub(1);
        let body = format!(
            "{{\n  \"database\": \"{}\",\n  \"version\": \"{}\",\n  \"commit\": \"emulator\"\n}}",
            if ok { "ok" } else { "failing" },
            st.version_text
        );
        return Reply {
            status: if ok { 200 } else { 503 },
            body,
            content_type: "application/json; charset=UTF-8",
            headers: Vec::new(),
        };
    }
    if let Some(rest) = path.strip_prefix("/fake-prometheus") {
        return fake_prometheus(rest);
    }
    if let Err(r) = authenticate(authz, state) {
        return r;
    }
    let parsed: Result<Value, ()> = if body.trim().is_empty() {
        Ok(json!({})) // §0: an empty body binds as an empty struct
    } else {
        serde_json::from_str(body).map_err(|_| ())
    };
    let bad_request = || err_traced(400, "bad request data");
    let mut st = state.lock().unwrap();
    let role = st.role;
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // §2.1 / §5.4: datasource routes need Admin.
    let ds_perm = |perm: &str| -> Option<Reply> { (role != Role::Admin).then(|| err_rbac(perm)) };
    match (method, segs.as_slice()) {
        // Service accounts and their tokens (12-13 §5.4), Admin only.
        ("GET", ["api", "serviceaccounts", "search"]) => {
            if role != Role::Admin {
                return err_rbac("serviceaccounts:read");
            }
            let q = query_params(query)
                .into_iter()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v)
                .unwrap_or_default();
            let list: Vec<Value> = st
                .service_accounts
                .iter()
                .filter(|(_, n, _)| n.contains(&q))
                .map(|(id, n, r)| {
                    json!({"id": id, "name": n, "login": format!("sa-1-{n}"), "orgId": 1,
                           "isDisabled": false, "role": r, "tokens": 0})
                })
                .collect();
            reply(
                200,
                json!({"totalCount": list.len(), "serviceAccounts": list, "page": 1, "perPage": 1000}),
            )
        }
        ("POST", ["api", "serviceaccounts"]) => {
            if role != Role::Admin {
                return err_rbac("serviceaccounts:create");
            }
            let Ok(b) = parsed else { return bad_request() };
            let name = str_field(&b, "name");
            if name.is_empty() {
                return err_traced(400, "required value is missing: name");
            }
            if st.service_accounts.iter().any(|(_, n, _)| *n == name) {
                return err_traced(400, "service account already exists");
            }
            st.next_id += 1;
            let id = st.next_id;
            let r = b.get("role").and_then(Value::as_str).unwrap_or("Viewer").to_string();
            st.service_accounts.push((id, name.clone(), r.clone()));
            reply(
                201,
                json!({"id": id, "name": name, "login": format!("sa-1-{name}"),
                              "orgId": 1, "isDisabled": false, "role": r, "tokens": 0}),
            )
        }
        ("POST", ["api", "serviceaccounts", id, "tokens"]) => {
            if role != Role::Admin {
                return err_rbac("serviceaccounts:write");
            }
            let Ok(b) = parsed else { return bad_request() };
            if !st.service_accounts.iter().any(|(i, _, _)| i.to_string() == *id) {
                return err_traced(404, "service account not found");
            }
            st.next_id += 1;
            let tid = st.next_id;
            let key = format!("glsa_emulatorIssued{tid:08}_{:08x}", st.next_rv * 2654435761);
            st.issued_tokens.push(key.clone());
            reply(200, json!({"id": tid, "name": str_field(&b, "name"), "key": key}))
        }
        ("GET", ["api", "datasources"]) => {
            if let Some(r) = ds_perm("datasources:read") {
                return r;
            }
            let mut list: Vec<&Datasource> = st.datasources.iter().collect();
            list.sort_by_key(|d| d.name.to_lowercase());
            reply(200, Value::Array(list.into_iter().map(ds_list_item).collect()))
        }
        ("POST", ["api", "datasources"]) => {
            if let Some(r) = ds_perm("datasources:create") {
                return r;
            }
            let Ok(b) = parsed else { return bad_request() };
            ds_create(&mut st, &b)
        }
        ("GET", ["api", "datasources", "uid", uid]) => {
            if let Some(r) = ds_perm("datasources:read") {
                return r;
            }
            match st.datasources.iter().find(|d| d.uid == *uid) {
                Some(d) => reply(200, ds_dto(d)),
                // §2.4: 404 without traceID.
                None => err_plain(404, "Data source not found"),
            }
        }
        ("GET", ["api", "datasources", "name", name]) => {
            if let Some(r) = ds_perm("datasources:read") {
                return r;
            }
            let name = pct_decode(name);
            match st.datasources.iter().find(|d| d.name == name) {
                Some(d) => reply(200, ds_dto(d)),
                None => err_plain(404, "Data source not found"),
            }
        }
        ("PUT", ["api", "datasources", "uid", uid]) => {
            if let Some(r) = ds_perm("datasources:write") {
                return r;
            }
            let Ok(b) = parsed else { return bad_request() };
            ds_update(&mut st, uid, &b)
        }
        ("DELETE", ["api", "datasources", "uid", uid]) => {
            if let Some(r) = ds_perm("datasources:delete") {
                return r;
            }
            // §2.6
            match st.datasources.iter().position(|d| d.uid == *uid) {
                None => err_plain(404, "Data source not found"),
                Some(i) if st.datasources[i].read_only => {
                    err_plain(403, "Cannot delete read-only data source")
                }
                Some(i) => {
                    let d = st.datasources.remove(i);
                    reply(200, json!({"id": d.id, "message": "Data source deleted"}))
                }
            }
        }
        ("GET", ["api", "datasources", "uid", uid, "health"]) => {
            if let Some(r) = ds_perm("datasources:query") {
                return r;
            }
            // §2.7
            if !valid_uid(uid) || uid.len() > 40 {
                return err_plain(400, "UID is invalid");
            }
            let Some(d) = st.datasources.iter().find(|d| d.uid == *uid).cloned() else {
                return err_traced(500, "Unable to load datasource metadata");
            };
            drop(st); // the check makes a network call
            prometheus_health(&d)
        }
        ("GET", ["api", "folders", uid]) => match st.folders.get(*uid) {
            Some(f) => reply(200, folder_dto(f)),
            // §4.2
            None => reply(404, json!({"message": "folder not found", "status": "not-found"})),
        },
        ("GET", ["api", "folders"]) => {
            // Nested folders: the children of `parentUid` (the root without it).
            let parent = query_params(query)
                .into_iter()
                .find(|(k, _)| k == "parentUid")
                .map(|(_, v)| v)
                .unwrap_or_default();
            let list: Vec<Value> = st
                .folders
                .values()
                .filter(|f| f.parent == parent)
                .map(|f| json!({"id": f.id, "title": f.title, "uid": f.uid}))
                .collect();
            reply(200, Value::Array(list))
        }
        ("POST", ["api", "folders", uid, "move"]) => {
            if role == Role::Viewer {
                return err_rbac("folders:write");
            }
            let Ok(b) = parsed else { return bad_request() };
            let to = str_field(&b, "parentUid");
            if !to.is_empty() && !st.folders.contains_key(&to) {
                return reply(404, json!({"message": "folder not found", "status": "not-found"}));
            }
            let Some(f) = st.folders.get_mut(*uid) else {
                return reply(404, json!({"message": "folder not found", "status": "not-found"}));
            };
            f.parent = to;
            f.version += 1;
            let f = f.clone();
            reply(200, folder_dto(&f))
        }
        ("POST", ["api", "folders"]) => {
            if role == Role::Viewer {
                return err_rbac("folders:create");
            }
            let Ok(b) = parsed else { return bad_request() };
            folder_create(&mut st, &b)
        }
        ("PUT", ["api", "folders", uid]) => {
            if role == Role::Viewer {
                return err_rbac("folders:write");
            }
            let Ok(b) = parsed else { return bad_request() };
            let Some(f) = st.folders.get_mut(*uid) else {
                return reply(404, json!({"message": "folder not found", "status": "not-found"}));
            };
            let overwrite = b.get("overwrite").and_then(Value::as_bool).unwrap_or(false);
            let version = b.get("version").and_then(Value::as_i64).unwrap_or(0);
            if !overwrite && version != f.version {
                // §4.3: lower-case "the" in code.
                return reply(
                    412,
                    json!({"message": "the folder has been changed by someone else", "status": "version-mismatch"}),
                );
            }
            if let Some(t) = b.get("title").and_then(Value::as_str) {
                f.title = t.to_string();
            }
            f.version += 1;
            let f = f.clone();
            reply(200, folder_dto(&f))
        }
        ("DELETE", ["api", "folders", uid]) => {
            if role == Role::Viewer {
                return err_rbac("folders:delete");
            }
            if st.folders.remove(*uid).is_none() {
                return reply(404, json!({"message": "folder not found", "status": "not-found"}));
            }
            st.dashboards.retain(|_, d| d.folder_uid != *uid);
            // §4.4 (11.x)
            reply(200, json!({"message": "Folder deleted"}))
        }
        ("POST", ["api", "dashboards", "db"]) => {
            if role == Role::Viewer {
                // §3.1 permission
                return err_rbac("any of dashboards:create, dashboards:write");
            }
            let Ok(b) = parsed else { return bad_request() };
            dashboard_save(&mut st, &b)
        }
        ("GET", ["api", "dashboards", "uid", uid]) => match st.dashboards.get(*uid) {
            Some(d) => {
                let d = d.clone();
                let folder = st.folders.get(&d.folder_uid).cloned();
                reply(200, dashboard_get(&d, folder.as_ref()))
            }
            // §3.2: handler 404 with traceID.
            None => err_traced(404, "Dashboard not found"),
        },
        ("DELETE", ["api", "dashboards", "uid", uid]) => {
            if role == Role::Viewer {
                return err_rbac("dashboards:delete");
            }
            // §3.3 (11.x body)
            match st.dashboards.remove(*uid) {
                Some(d) => reply(
                    200,
                    json!({"message": format!("Dashboard {} deleted", d.title), "title": d.title, "uid": d.uid}),
                ),
                None => err_traced(404, "Dashboard not found"),
            }
        }
        ("GET", ["api", "search"]) => search(&st, query),
        (_, ["apis", "dashboard.grafana.app", rest @ ..]) => {
            let Ok(b) = parsed else {
                return k8s_status(400, "BadRequest", "bad request body", "");
            };
            k8s_dashboards(&mut st, method, rest, &b)
        }
        _ => err_plain(404, "Not found"),
    }
}

// ------------------------------------------------------------------ datasources

/// §2.2 DTO (keys sorted, as Go's encoder emits a struct's fields in declaration
/// order; clients must not depend on order either way).
fn ds_dto(d: &Datasource) -> Value {
    let fields: Map<String, Value> = d
        .secure
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| (k.clone(), json!(true)))
        .collect();
    json!({
        "id": d.id, "uid": d.uid, "orgId": 1, "name": d.name, "type": d.kind,
        "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
        "access": d.access, "url": d.url, "user": d.user, "database": d.database,
        "basicAuth": d.basic_auth, "basicAuthUser": d.basic_auth_user,
        "withCredentials": d.with_credentials, "isDefault": d.is_default,
        "jsonData": d.json_data, "secureJsonFields": fields, "version": d.version,
        "readOnly": d.read_only, "apiVersion": "",
    })
}

/// §2.3: no version, secureJsonFields, basicAuthUser or withCredentials.
fn ds_list_item(d: &Datasource) -> Value {
    json!({
        "id": d.id, "uid": d.uid, "orgId": 1, "name": d.name, "type": d.kind,
        "typeName": "Prometheus", "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
        "access": d.access, "url": d.url, "user": d.user, "database": d.database,
        "basicAuth": d.basic_auth, "isDefault": d.is_default, "jsonData": d.json_data,
        "readOnly": d.read_only,
    })
}

fn str_field(b: &Value, k: &str) -> String {
    b.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// §2.2 step 2: `ValidateURL` (scheme added when missing, then parsed).
fn url_ok(u: &str) -> bool {
    let full = if u.contains("://") { u.to_string() } else { format!("http://{u}") };
    url::Url::parse(&full).is_ok()
}

fn secrets_of(b: &Value) -> BTreeMap<String, String> {
    b.get("secureJsonData")
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

fn new_uid(st: &mut State) -> String {
    st.next_id += 1;
    format!("e{:08x}{}", st.next_id * 2654435761 % 0xffff_ffff, st.next_id)
}

/// API-FACTS §2.2 "Invalid uid": from 12.0 a uid outside `^[a-zA-Z0-9\-\_]*$` or
/// longer than 40 is refused (before: accepted with a warning log).
fn ds_uid_invalid(st: &State, uid: &str) -> Option<Reply> {
    (st.version.0 >= 12 && (!valid_uid(uid) || uid.len() > 40)).then(|| {
        reply(
            400,
            json!({"message": "Invalid datasource UID.", "messageId": "datasource.uidInvalid", "statusCode": 400, "traceID": ""}),
        )
    })
}

fn ds_create(st: &mut State, b: &Value) -> Reply {
    // §2.2: type and access are binding:"Required".
    let kind = str_field(b, "type");
    let access = str_field(b, "access");
    if kind.is_empty() || access.is_empty() {
        return err_traced(400, "bad request data");
    }
    let url = str_field(b, "url");
    if !url.is_empty() && !url_ok(&url) {
        return err_traced(400, "Validation error, invalid URL");
    }
    let mut name = str_field(b, "name");
    if name.len() > 190 {
        return reply(
            400,
            json!({"message": "Invalid datasource name.", "messageId": "datasource.nameInvalid", "statusCode": 400, "traceID": ""}),
        );
    }
    if name.is_empty() {
        // 11.x: first free `<type>`, `<type>-1`, ... (case-insensitive).
        let taken = |n: &str| st.datasources.iter().any(|d| d.name.eq_ignore_ascii_case(n));
        name = kind.clone();
        let mut i = 1;
        while taken(&name) {
            name = format!("{kind}-{i}");
            i += 1;
        }
    }
    // §2.2 step 5: the name check runs first.
    if st.datasources.iter().any(|d| d.name == name) {
        return err_traced(409, "data source with the same name already exists");
    }
    let mut uid = str_field(b, "uid");
    if let Some(r) = ds_uid_invalid(st, &uid) {
        return r;
    }
    if !uid.is_empty() && st.datasources.iter().any(|d| d.uid == uid) {
        return err_traced(409, "data source with the same uid already exists");
    }
    if uid.is_empty() {
        uid = new_uid(st);
    }
    st.next_id += 1;
    let id = st.next_id;
    // §2.2: the first datasource in an org is forced to default (11.x).
    let is_default =
        b.get("isDefault").and_then(Value::as_bool).unwrap_or(false) || st.datasources.is_empty();
    if is_default {
        // §2.2 isDefault: last writer wins, only one default.
        for d in st.datasources.iter_mut() {
            d.is_default = false;
        }
    }
    let d = Datasource {
        id,
        uid,
        name: name.clone(),
        kind,
        access,
        url,
        user: str_field(b, "user"),
        database: str_field(b, "database"),
        basic_auth: b.get("basicAuth").and_then(Value::as_bool).unwrap_or(false),
        basic_auth_user: str_field(b, "basicAuthUser"),
        with_credentials: b.get("withCredentials").and_then(Value::as_bool).unwrap_or(false),
        is_default,
        json_data: b.get("jsonData").filter(|v| v.is_object()).cloned().unwrap_or(json!({})),
        secure: secrets_of(b),
        version: 1,
        read_only: false,
    };
    let dto = ds_dto(&d);
    st.datasources.push(d);
    reply(200, json!({"datasource": dto, "id": id, "message": "Datasource added", "name": name}))
}

fn ds_update(st: &mut State, uid: &str, b: &Value) -> Reply {
    // §2.5 order: bind (name, type, access required), validateURL always, lookup, readOnly.
    let (name, kind, access) = (str_field(b, "name"), str_field(b, "type"), str_field(b, "access"));
    if name.is_empty() || kind.is_empty() || access.is_empty() {
        return err_traced(400, "bad request data");
    }
    let url = str_field(b, "url");
    if url.is_empty() || !url_ok(&url) {
        return err_traced(400, "Validation error, invalid URL");
    }
    let Some(i) = st.datasources.iter().position(|d| d.uid == uid) else {
        return err_plain(404, "Data source not found");
    };
    if st.datasources[i].read_only {
        return err_plain(403, "Cannot update read-only data source");
    }
    let id = st.datasources[i].id;
    if st.datasources.iter().any(|d| d.id != id && d.name == name) {
        return err_traced(
            409,
            "Failed to update datasource: data source with the same name already exists",
        );
    }
    let new_uid_v = str_field(b, "uid");
    if let Some(r) = ds_uid_invalid(st, &new_uid_v) {
        return r;
    }
    if !new_uid_v.is_empty() && st.datasources.iter().any(|d| d.id != id && d.uid == new_uid_v) {
        return err_traced(
            409,
            "Failed to update datasource: data source with the same uid already exists",
        );
    }
    // §2.5 optimistic locking: version 0/absent is unconditional; else stored must be <= body.
    let body_version = b.get("version").and_then(Value::as_i64).unwrap_or(0);
    if body_version != 0 && st.datasources[i].version > body_version {
        return err_traced(
            409,
            "Datasource has already been updated by someone else. Please reload and try again",
        );
    }
    let is_default = b.get("isDefault").and_then(Value::as_bool).unwrap_or(false);
    if is_default {
        for d in st.datasources.iter_mut() {
            d.is_default = false;
        }
    }
    let d = &mut st.datasources[i];
    // §2.5: a full replace; omitted fields are zeroed; secrets merge ("" unsets).
    d.name = name.clone();
    d.kind = kind;
    d.access = access;
    d.url = url;
    d.user = str_field(b, "user");
    d.database = str_field(b, "database");
    d.basic_auth = b.get("basicAuth").and_then(Value::as_bool).unwrap_or(false);
    d.basic_auth_user = str_field(b, "basicAuthUser");
    d.with_credentials = b.get("withCredentials").and_then(Value::as_bool).unwrap_or(false);
    d.is_default = is_default;
    d.json_data = b.get("jsonData").filter(|v| v.is_object()).cloned().unwrap_or(json!({}));
    for (k, v) in secrets_of(b) {
        if v.is_empty() {
            d.secure.remove(&k);
        } else {
            d.secure.insert(k, v);
        }
    }
    // §2.5: the body uid renames the datasource.
    if !new_uid_v.is_empty() {
        d.uid = new_uid_v;
    }
    d.version = body_version + 1;
    let dto = ds_dto(d);
    reply(200, json!({"datasource": dto, "id": id, "message": "Datasource updated", "name": name}))
}

/// §2.7 Prometheus check: instant query `1+1` at time 4, then buildinfo heuristics,
/// through "the normal query client", i.e. with the datasource's own HTTP settings:
/// `basicAuth` + `basicAuthUser` + secure `basicAuthPassword`, and the CA of
/// `jsonData.tlsAuthWithCACert` + secure `tlsCACert` (or `jsonData.tlsSkipVerify`).
fn prometheus_health(d: &Datasource) -> Reply {
    let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(3));
    if d.json_data.get("tlsAuthWithCACert").and_then(Value::as_bool) == Some(true) {
        let pem = d.secure.get("tlsCACert").cloned().unwrap_or_default();
        match reqwest::Certificate::from_pem(pem.as_bytes()) {
            Ok(ca) => builder = builder.add_root_certificate(ca),
            Err(e) => {
                let msg = format!("failed to add CA certificate: {e}");
                return reply(400, json!({"message": msg, "status": "ERROR"}));
            }
        }
    }
    if d.json_data.get("tlsSkipVerify").and_then(Value::as_bool) == Some(true) {
        builder = builder.danger_accept_invalid_certs(true);
    }
    let client = builder.build().expect("client");
    let auth = |req: reqwest::blocking::RequestBuilder| match d.basic_auth {
        true => req.basic_auth(&d.basic_auth_user, d.secure.get("basicAuthPassword")),
        false => req,
    };
    let base = d.url.trim_end_matches('/');
    let q = auth(client.post(format!("{base}/api/v1/query")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("query=1%2B1&time=4")
        .send();
    let err = match q {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("bad response code: {}", r.status().as_u16())),
        Err(e) => Some(format!("Post \"{base}/api/v1/query\": {e}")),
    };
    if let Some(e) = err {
        return reply(
            400,
            json!({"message": format!("{e} - There was an error returned querying the Prometheus API."), "status": "ERROR"}),
        );
    }
    let mut body = json!({"message": "Successfully queried the Prometheus API.", "status": "OK"});
    if let Ok(r) = auth(client.get(format!("{base}/api/v1/status/buildinfo"))).send() {
        if let Ok(v) = r.json::<Value>() {
            let features = v.pointer("/data/features").and_then(Value::as_object);
            let mimir = features.is_some_and(|f| !f.is_empty());
            body["details"] = json!({
                "application": if mimir { "Mimir" } else { "Prometheus" },
                "features": {"rulerApiEnabled": mimir},
            });
        }
    }
    reply(200, body)
}

/// A stand-in Prometheus for the datasource health check.
fn fake_prometheus(rest: &str) -> Reply {
    match rest {
        "/api/v1/query" => reply(
            200,
            json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}),
        ),
        "/api/v1/status/buildinfo" => {
            reply(200, json!({"status": "success", "data": {"version": "2.45.0", "features": {}}}))
        }
        _ => err_plain(404, "Not found"),
    }
}

// ------------------------------------------------------------------ folders

fn folder_dto(f: &Folder) -> Value {
    let mut v = folder_dto_flat(f);
    if !f.parent.is_empty() {
        v["parentUid"] = json!(f.parent);
    }
    v
}

fn folder_dto_flat(f: &Folder) -> Value {
    json!({
        "id": f.id, "uid": f.uid, "orgId": 1, "title": f.title,
        "url": format!("/dashboards/f/{}/{}", f.uid, slugify(&f.title)),
        "hasAcl": false, "canSave": true, "canEdit": true, "canAdmin": true, "canDelete": true,
        "createdBy": "admin", "created": "2024-01-01T00:00:00Z", "updatedBy": "admin",
        "updated": "2024-01-01T00:00:00Z", "version": f.version,
    })
}

fn folder_create(st: &mut State, b: &Value) -> Reply {
    // §4.1 errors, in handler order.
    let title = str_field(b, "title").trim().to_string();
    if title.is_empty() {
        return err_plain(400, "folder title cannot be empty");
    }
    let mut uid = str_field(b, "uid");
    if !valid_uid(&uid) {
        return err_plain(400, "uid contains illegal characters");
    }
    if uid.len() > 40 {
        return err_plain(400, "uid too long, max 40 characters");
    }
    if title.eq_ignore_ascii_case("general") {
        return err_traced(400, "A folder with that name already exists");
    }
    if !uid.is_empty() && (st.folders.contains_key(&uid) || st.dashboards.contains_key(&uid)) {
        return err_plain(409, "a folder/dashboard with the same uid already exists");
    }
    let parent = str_field(b, "parentUid");
    if !parent.is_empty() && !st.folders.contains_key(&parent) {
        return reply(404, json!({"message": "folder not found", "status": "not-found"}));
    }
    // ≤ 11.2: titles unique at the same level; 11.3+ allows duplicates (PR #90687).
    if st.version < (11, 3)
        && st.folders.values().any(|f| f.parent == parent && f.title.eq_ignore_ascii_case(&title))
    {
        return err_plain(
            409,
            "a folder or dashboard in the general folder with the same name already exists",
        );
    }
    if uid.is_empty() {
        uid = new_uid(st);
    }
    st.next_id += 1;
    let f = Folder { id: st.next_id, uid: uid.clone(), title, version: 1, parent };
    let dto = folder_dto(&f);
    st.folders.insert(uid, f);
    reply(200, dto)
}

// ------------------------------------------------------------------ dashboards

/// The highest dashboard schemaVersion a Grafana release migrates to (12-13 §5.3: "42
/// in v13.2.1"; 41 for 12.x and 39 for 11.x are this emulator's choice of a lower
/// number per release).
fn latest_schema(v: (u32, u32)) -> i64 {
    match v.0 {
        0..=11 => 39,
        12 => 41,
        _ => 42,
    }
}

fn parse_interval(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    Some(Duration::from_secs(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return None,
    }))
}

/// What Grafana rewrites when it saves a dashboard: the title trimmed (API-FACTS §3.1
/// step 1), a refresh below `min_refresh_interval` raised to it (§3.1 step 4), an old
/// schemaVersion migrated (12-13 §5.3).
fn normalise_on_save(st: &State, dash: &mut Value, v2: bool) {
    let title = str_field(dash, "title").trim().to_string();
    dash["title"] = json!(title);
    if v2 {
        return;
    }
    if let Some(r) = dash.get("refresh").and_then(Value::as_str).and_then(parse_interval) {
        if r < st.min_refresh {
            let m = st.min_refresh.as_secs();
            dash["refresh"] =
                json!(if m % 60 == 0 { format!("{}m", m / 60) } else { format!("{m}s") });
        }
    }
    let latest = latest_schema(st.version);
    if dash.get("schemaVersion").and_then(Value::as_i64).is_some_and(|v| v < latest) {
        dash["schemaVersion"] = json!(latest);
    }
}

fn stored_model(d: &Dashboard) -> Value {
    if d.schema == "v2" {
        // 12-13 §5.3: the legacy API down-converts a v2 dashboard to v1, lossily.
        return json!({"id": d.id, "uid": d.uid, "version": d.version, "title": d.title,
            "panels": [], "schemaVersion": 42});
    }
    let mut m = d.data.clone();
    // §3.2: id and uid from the DB; version overwritten with the DB version.
    m["id"] = json!(d.id);
    m["uid"] = json!(d.uid);
    m["version"] = json!(d.version);
    m
}

fn dashboard_get(d: &Dashboard, folder: Option<&Folder>) -> Value {
    let slug = slugify(&d.title);
    let mut meta = json!({
        "type": "db", "canSave": true, "canEdit": true, "canAdmin": true, "canStar": true,
        "canDelete": true, "slug": slug, "url": format!("/d/{}/{slug}", d.uid),
        "expires": "0001-01-01T00:00:00Z", "created": "2024-01-01T00:00:00Z",
        "updated": "2024-01-01T00:00:00Z", "updatedBy": "Anonymous", "createdBy": "Anonymous",
        "version": d.version, "hasAcl": false, "isFolder": false,
        "folderId": folder.map(|f| f.id).unwrap_or(0),
        "folderTitle": folder.map(|f| f.title.clone()).unwrap_or_else(|| "General".into()),
        "provisioned": false, "provisionedExternalId": "", "publicDashboardEnabled": false,
    });
    // §3.2: folderUid/folderUrl absent at the root.
    if let Some(f) = folder {
        meta["folderUid"] = json!(f.uid);
        meta["folderUrl"] = json!(format!("/dashboards/f/{}/{}", f.uid, slugify(&f.title)));
    }
    json!({"dashboard": stored_model(d), "meta": meta})
}

fn dashboard_save(st: &mut State, b: &Value) -> Reply {
    if b.get("isFolder").and_then(Value::as_bool).unwrap_or(false) {
        return err_plain(400, "Use folders endpoint for saving folders.");
    }
    let mut dash = b.get("dashboard").cloned().unwrap_or(json!({}));
    if !dash.is_object() {
        return err_traced(400, "bad request data");
    }
    let overwrite = b.get("overwrite").and_then(Value::as_bool).unwrap_or(false);
    let message = str_field(b, "message");
    let folder_uid = str_field(b, "folderUid");
    if st.version.0 >= 13 && dash.get("elements").is_some() {
        // 12-13 §5.3: Grafana 13 takes a v2 dashboard only as a k8s-style resource.
        return err_traced(
            400,
            "invalid dashboard json: v2 dashboards must use the dashboard.grafana.app API",
        );
    }
    // §3.1 step 1-3.
    let title = str_field(&dash, "title").trim().to_string();
    if title.is_empty() {
        return reply(
            400,
            json!({"message": "Dashboard title cannot be empty", "status": "empty-name"}),
        );
    }
    let mut uid = str_field(&dash, "uid").trim().to_string();
    if !valid_uid(&uid) {
        return err_plain(400, "uid contains illegal characters");
    }
    if uid.len() > 40 {
        return err_plain(400, "uid too long, max 40 characters");
    }
    if message.chars().count() > 500 {
        return err_plain(400, "message too long, max 500 characters");
    }
    // §3.1 step 5 (11.x): an unknown folder is a 400 "folder not found".
    if !folder_uid.is_empty() && !st.folders.contains_key(&folder_uid) {
        return err_plain(400, "folder not found");
    }
    // §3.1 step 6: store checks.
    let id = dash.get("id").and_then(Value::as_i64).unwrap_or(0);
    let mut version = dash.get("version").and_then(Value::as_i64).unwrap_or(0);
    let mut existing: Option<Dashboard> = None;
    if id > 0 {
        match st.dashboards.values().find(|d| d.id == id) {
            None => {
                return reply(404, json!({"message": "Dashboard not found", "status": "not-found"}))
            }
            Some(d) if !uid.is_empty() && d.uid != uid => {
                return err_plain(400, "A dashboard with the same uid already exists")
            }
            Some(d) => existing = Some(d.clone()),
        }
    } else if let Some(d) = st.dashboards.get(&uid) {
        existing = Some(d.clone()); // only the uid matches: adopt its id (an update)
    }
    if !uid.is_empty() && st.folders.contains_key(&uid) {
        return err_plain(400, "Dashboard cannot be changed to a folder");
    }
    if let Some(e) = &existing {
        if version != e.version {
            if !overwrite {
                return reply(
                    412,
                    json!({"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}),
                );
            }
            version = e.version;
        }
    }
    // Title clash (≤ 11.2): same slug in the same folder, different dashboard;
    // 11.3+ creates a duplicate (§3.1 step 6, PR #90687).
    let slug = slugify(&title);
    let my_id = existing.as_ref().map(|e| e.id);
    let clash = st
        .dashboards
        .values()
        .find(|d| d.folder_uid == folder_uid && slugify(&d.title) == slug && Some(d.id) != my_id)
        .filter(|_| st.version < (11, 3))
        .cloned();
    if let Some(c) = clash {
        if !overwrite {
            return reply(
                412,
                json!({"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"}),
            );
        }
        // overwrite: its id, uid and version are taken over (the row matched by
        // uid, if any, is left as it was).
        uid = c.uid.clone();
        version = c.version;
        existing = Some(c);
    }
    if folder_uid.is_empty() && st.folders.values().any(|f| slugify(&f.title) == slug) {
        return reply(
            400,
            json!({"message": "Dashboard name cannot be the same as folder", "status": "name-match"}),
        );
    }
    let (id, new_version, mut messages) = match existing {
        // §3.1: insert => version 1 whatever the payload says.
        None => {
            st.next_id += 1;
            (st.next_id, 1, Vec::new())
        }
        Some(e) => (e.id, version + 1, e.messages),
    };
    if uid.is_empty() {
        uid = new_uid(st);
    }
    messages.push(message);
    dash["uid"] = json!(uid);
    normalise_on_save(st, &mut dash, false);
    st.next_rv += 1;
    let k8s_uid = st.dashboards.get(&uid).map_or(format!("k8s-{id}"), |d| d.k8s_uid.clone());
    let d = Dashboard {
        id,
        uid: uid.clone(),
        title: title.clone(),
        folder_uid: folder_uid.clone(),
        version: new_version,
        data: dash,
        messages,
        schema: "v1",
        k8s_uid,
        resource_version: st.next_rv,
    };
    st.dashboards.insert(uid.clone(), d);
    // §3.1 200 response (11.x adds folderUid).
    reply(
        200,
        json!({
            "folderUid": folder_uid, "id": id, "slug": slug, "status": "success", "uid": uid,
            "url": format!("/d/{uid}/{slug}"), "version": new_version,
        }),
    )
}

/// §3.4 search.
fn search(st: &State, query: &str) -> Reply {
    let params = query_params(query);
    let get = |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone());
    let all = |k: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(p, _)| p == k)
            .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
            .collect()
    };
    let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(1000);
    if limit > 5000 {
        return err_plain(
            422,
            "Limit is above maximum allowed (5000), use page parameter to access hits beyond limit",
        );
    }
    if get("dashboardIds").is_some() && get("dashboardUIDs").is_some() {
        return err_plain(400, "search supports UIDs or IDs, not both");
    }
    let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let text = get("query").unwrap_or_default().to_lowercase();
    let kind = get("type");
    let uids = all("dashboardUIDs");
    let folder_uids = all("folderUIDs");
    let tags = all("tag");
    let mut hits: Vec<(String, Value)> = Vec::new();
    if kind.as_deref() != Some("dash-db") {
        for f in st.folders.values() {
            if !f.title.to_lowercase().contains(&text) || !tags.is_empty() {
                continue;
            }
            if !uids.is_empty() && !uids.contains(&f.uid) {
                continue;
            }
            let slug = slugify(&f.title);
            hits.push((
                f.title.to_lowercase(),
                json!({
                    "id": f.id, "uid": f.uid, "orgId": 1, "title": f.title, "uri": format!("db/{slug}"),
                    "url": format!("/dashboards/f/{}/{slug}", f.uid), "slug": slug,
                    "type": "dash-folder", "tags": [], "isStarred": false, "sortMeta": 0,
                }),
            ));
        }
    }
    if kind.as_deref() != Some("dash-folder") {
        for d in st.dashboards.values() {
            if !d.title.to_lowercase().contains(&text) {
                continue;
            }
            if !uids.is_empty() && !uids.contains(&d.uid) {
                continue;
            }
            if !folder_uids.is_empty() && !folder_uids.contains(&d.folder_uid) {
                continue;
            }
            let dtags: Vec<String> = d
                .data
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if !tags.iter().all(|t| dtags.contains(t)) {
                continue;
            }
            let slug = slugify(&d.title);
            let mut h = json!({
                "id": d.id, "uid": d.uid, "orgId": 1, "title": d.title, "uri": format!("db/{slug}"),
                "url": format!("/d/{}/{slug}", d.uid), "slug": slug, "type": "dash-db",
                "tags": dtags, "isStarred": false, "sortMeta": 0,
            });
            // folder* omitted at the root.
            if let Some(f) = st.folders.get(&d.folder_uid) {
                h["folderId"] = json!(f.id);
                h["folderUid"] = json!(f.uid);
                h["folderTitle"] = json!(f.title);
                h["folderUrl"] = json!(format!("/dashboards/f/{}/{}", f.uid, slugify(&f.title)));
            }
            hits.push((d.title.to_lowercase(), h));
        }
    }
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    if get("sort").as_deref() == Some("alpha-desc") {
        hits.reverse();
    }
    let page_hits: Vec<Value> =
        hits.into_iter().skip((page - 1) * limit).take(limit).map(|(_, h)| h).collect();
    reply(200, Value::Array(page_hits))
}

// ------------------------------------------------------------------ /apis (12+)

/// The dashboard API versions a release serves (12-13 §5.1: v1beta1 on 12, v1 and v2
/// on 13; the v2 schema exists from 12 as v2alpha1/v2beta1).
fn served_versions(v: (u32, u32)) -> Vec<&'static str> {
    match v.0 {
        0..=11 => vec![],
        12 => vec!["v0alpha1", "v1beta1", "v2alpha1", "v2beta1"],
        _ => vec!["v0alpha1", "v1beta1", "v1", "v2beta1", "v2"],
    }
}

/// A Kubernetes `Status` error body (`kind: Status`, `reason`, `code`).
fn k8s_status(code: u16, reason: &str, message: &str, name: &str) -> Reply {
    reply(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason,
            "details": {"name": name, "group": "dashboard.grafana.app", "kind": "dashboards"},
            "code": code}),
    )
}

/// The stored dashboard as an `/apis` object at API version `ver`. Read at another
/// schema than stored, it is converted and `status.conversion.storedVersion` says what
/// it is stored as (12-13 §5.3, the mcp-grafana detection recipe).
fn k8s_object(st: &State, d: &Dashboard, ver: &str) -> Value {
    let want_v2 = ver.starts_with("v2");
    let stored_v2 = d.schema == "v2";
    let spec = if want_v2 == stored_v2 {
        let mut m = d.data.clone();
        if let Some(o) = m.as_object_mut() {
            for k in ["id", "uid", "version"] {
                o.remove(k);
            }
        }
        m
    } else if stored_v2 {
        // Down-conversion loses the v2 layout (12-13 §5.3).
        json!({"title": d.title, "panels": [], "schemaVersion": latest_schema(st.version)})
    } else {
        json!({"title": d.title, "elements": {}, "layout": {"kind": "GridLayout", "spec": {"items": []}}})
    };
    let family = |v2: bool| -> &str {
        let served = served_versions(st.version);
        let pick =
            |c: &[&'static str]| c.iter().find(|x| served.contains(x)).copied().unwrap_or("");
        if v2 {
            pick(&["v2", "v2beta1"])
        } else {
            pick(&["v1", "v1beta1"])
        }
    };
    let mut annotations = json!({"grafana.app/updatedBy": "service-account:monstack"});
    if !d.folder_uid.is_empty() {
        annotations["grafana.app/folder"] = json!(d.folder_uid);
    }
    let mut obj = json!({
        "apiVersion": format!("dashboard.grafana.app/{ver}"), "kind": "Dashboard",
        "metadata": {"name": d.uid, "namespace": "default", "uid": d.k8s_uid,
            "resourceVersion": d.resource_version.to_string(), "generation": d.version,
            "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": annotations},
        "spec": spec,
        "status": {},
    });
    if want_v2 != stored_v2 {
        obj["status"] =
            json!({"conversion": {"failed": false, "storedVersion": family(stored_v2)}});
    }
    obj
}

/// `/apis/dashboard.grafana.app[/<ver>/namespaces/<ns>/dashboards[/<name>]]`.
fn k8s_dashboards(st: &mut State, method: &str, rest: &[&str], b: &Value) -> Reply {
    let served = served_versions(st.version);
    if served.is_empty() {
        return err_plain(404, "Not found");
    }
    if rest.is_empty() && method == "GET" {
        // Discovery (APIGroup).
        let versions: Vec<Value> = served
            .iter()
            .map(|v| json!({"groupVersion": format!("dashboard.grafana.app/{v}"), "version": v}))
            .collect();
        let preferred = versions
            .iter()
            .rev()
            .find(|v| !v["version"].as_str().unwrap_or("").starts_with("v2"))
            .cloned();
        return reply(
            200,
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": "dashboard.grafana.app",
                "versions": versions, "preferredVersion": preferred}),
        );
    }
    let (ver, ns, name) = match rest {
        [ver, "namespaces", ns, "dashboards"] => (*ver, *ns, None),
        [ver, "namespaces", ns, "dashboards", name] => (*ver, *ns, Some(*name)),
        _ => {
            return k8s_status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                "",
            )
        }
    };
    if !served.contains(&ver) || ns != "default" {
        return k8s_status(404, "NotFound", "the server could not find the requested resource", "");
    }
    if st.role == Role::Viewer && method != "GET" {
        return k8s_status(
            403,
            "Forbidden",
            "dashboards.dashboard.grafana.app is forbidden",
            name.unwrap_or(""),
        );
    }
    let v2 = ver.starts_with("v2");
    let not_found = |n: &str| {
        k8s_status(
            404,
            "NotFound",
            &format!("dashboards.dashboard.grafana.app \"{n}\" not found"),
            n,
        )
    };
    match (method, name) {
        ("GET", Some(n)) => match st.dashboards.get(n) {
            Some(d) => reply(200, k8s_object(st, d, ver)),
            None => not_found(n),
        },
        ("DELETE", Some(n)) => match st.dashboards.remove(n) {
            Some(_) => reply(
                200,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success",
                "details": {"name": n, "group": "dashboard.grafana.app", "kind": "dashboards"}}),
            ),
            None => not_found(n),
        },
        ("POST", None) | ("PUT", Some(_)) => {
            let meta = b.get("metadata").cloned().unwrap_or(json!({}));
            let n = str_field(&meta, "name");
            if n.is_empty() || !valid_uid(&n) || n.len() > 40 || name.is_some_and(|x| x != n) {
                return k8s_status(400, "BadRequest", "metadata.name: Invalid value", &n);
            }
            let mut spec = b.get("spec").cloned().unwrap_or(json!({}));
            if !spec.is_object() || str_field(&spec, "title").trim().is_empty() {
                return k8s_status(400, "BadRequest", "spec.title: Required value", &n);
            }
            let folder = meta
                .pointer("/annotations/grafana.app~1folder")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !folder.is_empty() && !st.folders.contains_key(&folder) {
                return k8s_status(400, "BadRequest", "folder not found", &n);
            }
            let existing = st.dashboards.get(&n).cloned();
            match (method, &existing) {
                ("POST", Some(_)) => {
                    return k8s_status(
                        409,
                        "AlreadyExists",
                        &format!("dashboards.dashboard.grafana.app \"{n}\" already exists"),
                        &n,
                    )
                }
                ("PUT", None) => return not_found(&n),
                _ => {}
            }
            if let (Some(e), Some(rv)) =
                (&existing, meta.get("resourceVersion").and_then(Value::as_str))
            {
                if rv != e.resource_version.to_string() {
                    return k8s_status(409, "Conflict", &format!("Operation cannot be fulfilled on dashboards.dashboard.grafana.app \"{n}\": the object has been modified; please apply your changes to the latest version and try again"), &n);
                }
            }
            normalise_on_save(st, &mut spec, v2);
            if !v2 {
                spec["uid"] = json!(n);
            }
            st.next_rv += 1;
            st.next_id += 1;
            let message = meta
                .pointer("/annotations/grafana.app~1message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let d = match existing {
                Some(e) => Dashboard {
                    title: str_field(&spec, "title"),
                    folder_uid: folder,
                    version: e.version + 1,
                    data: spec,
                    messages: [e.messages.clone(), vec![message]].concat(),
                    schema: if v2 { "v2" } else { "v1" },
                    resource_version: st.next_rv,
                    ..e
                },
                None => Dashboard {
                    id: st.next_id,
                    uid: n.clone(),
                    title: str_field(&spec, "title"),
                    folder_uid: folder,
                    version: 1,
                    data: spec,
                    messages: vec![message],
                    schema: if v2 { "v2" } else { "v1" },
                    k8s_uid: format!("k8s-{}", st.next_id),
                    resource_version: st.next_rv,
                },
            };
            st.dashboards.insert(n.clone(), d);
            let obj = k8s_object(st, &st.dashboards[&n], ver);
            reply(if method == "POST" { 201 } else { 200 }, obj)
        }
        _ => k8s_status(405, "MethodNotAllowed", "method not allowed", ""),
    }
}
