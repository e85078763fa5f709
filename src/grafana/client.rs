//! The HTTP side of the Grafana integration: credentials (env var or file, never a flag),
//! TLS, the org header, readiness polling and retries. Nothing here knows about
//! datasources or dashboards; callers name the object each request is about so errors
//! can say what failed. Credentials never appear in errors, logs or `Debug` output.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::blocking::Client as Http;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::auth::Auth;
use super::Error;
use crate::config::{Grafana, Loaded};

/// A response the caller interprets (anything but 401/403 and exhausted transients).
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    /// The JSON body, or `Value::Null` when the body is not JSON.
    pub body: Value,
}

impl Response {
    /// Grafana's `message` field (API-FACTS §0: every error body carries one).
    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| self.status.to_string())
    }
    /// The `status` field of dashboard errors (`version-mismatch`, `name-exists`, ...).
    pub fn status_field(&self) -> &str {
        self.body.get("status").and_then(Value::as_str).unwrap_or("")
    }
}

/// What `/api/health` said about the server (API-FACTS §1: `version` is omitted when
/// `hide_version` is on, so it may be unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct ServerVersion {
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    /// `12.1.0`, `13.0.0-12345`, `11.2.0-pre` -> major and minor; `None` when absent.
    pub(crate) fn parse(s: &str) -> Option<ServerVersion> {
        let mut it = s.trim().trim_start_matches('v').split(['.', '-', '+']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        Some(ServerVersion { major, minor })
    }
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// How a request may be repeated after a failure.
pub(crate) enum Retry<'a> {
    /// Repeating it cannot do harm (GET, a PUT of a whole object, DELETE).
    Safe,
    /// A create (or a conditional write): after an ambiguous failure (5xx, timeout,
    /// a dropped connection) the server may have processed it, so `check` reads the
    /// object first. `Some(response)` means it landed as sent: that response stands in
    /// for the lost one. `None` means it is not there: the request is sent again.
    Verify(&'a (dyn Fn() -> Result<Option<Response>, Error> + Sync)),
}

/// A configured Grafana API client.
pub(crate) struct Client {
    http: Http,
    base: String,
    auth: Auth,
    org_id: Option<u64>,
    attempts: u32,
    backoff: Duration,
    request_timeout: Duration,
    max_retry_after: Duration,
    max_retry_after_label: String,
    /// The end of the Grafana phase (`grafana.timeout`), with its label for messages.
    deadline: Option<(Instant, String)>,
    version: OnceLock<Option<ServerVersion>>,
    notes: Mutex<Vec<(String, String)>>,
}

impl Client {
    /// Build a client from `grafana.*`: TLS verified unless `insecure_skip_verify`,
    /// an extra CA from `ca_file`, credentials from env or file.
    /// How requests authenticate now.
    pub(crate) fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Authenticate from now on with `auth`.
    pub(crate) fn set_auth(&mut self, auth: Auth) {
        self.auth = auth;
    }

    pub(crate) fn new(loaded: &Loaded) -> Result<Client, Error> {
        let g: &Grafana = &loaded.config.grafana;
        if url::Url::parse(&g.url).is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
        {
            return Err(Error::CredentialsInUrl);
        }
        let timeout = loaded.resolved.grafana_request_timeout;
        let mut b = crate::http::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(g.concurrency.max(1) * 2);
        if let Some(ca) = &g.ca_file {
            let path = loaded.resolve(ca);
            let pem = std::fs::read(&path)
                .map_err(|e| Error::Tls { path: path.clone(), reason: e.to_string() })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Tls { path: path.clone(), reason: e.to_string() })?;
            if certs.is_empty() {
                return Err(Error::Tls { path, reason: "no PEM certificate found".into() });
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if g.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        let http = b.build().map_err(|e| Error::Tls {
            path: PathBuf::from("(tls setup)"),
            reason: e.to_string(),
        })?;
        Ok(Client {
            http,
            base: g.url.trim_end_matches('/').to_string(),
            auth: Auth::from_config(loaded)?,
            org_id: g.org_id,
            attempts: g.retries.max(1),
            backoff: Duration::from_millis(200),
            request_timeout: timeout,
            max_retry_after: loaded.resolved.grafana_max_retry_after,
            max_retry_after_label: g.max_retry_after.clone(),
            deadline: None,
            version: OnceLock::new(),
            notes: Mutex::new(Vec::new()),
        })
    }

    /// Give every request from now on one shared deadline (`grafana.timeout`).
    pub(crate) fn set_deadline(&mut self, at: Instant, label: &str) {
        self.deadline = Some((at, label.to_string()));
    }

    /// Whether the phase deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.deadline.as_ref().is_some_and(|(at, _)| Instant::now() >= *at)
    }

    /// The error for work cut off by the deadline.
    pub(crate) fn deadline_error(&self, object: &str) -> Error {
        Error::Deadline {
            object: object.to_string(),
            timeout: self.deadline.as_ref().map(|(_, l)| l.clone()).unwrap_or_default(),
        }
    }

    fn remaining(&self) -> Option<Duration> {
        self.deadline.as_ref().map(|(at, _)| at.saturating_duration_since(Instant::now()))
    }

    /// The Grafana version `/api/health` reported (after `wait_ready` or `probe`).
    pub(crate) fn server_version(&self) -> Option<ServerVersion> {
        self.version.get().copied().flatten()
    }

    /// Keep the version from a `/api/health` body read elsewhere (`status`).
    pub(crate) fn remember_health(&self, body: &Value) {
        let v = body.get("version").and_then(Value::as_str).and_then(ServerVersion::parse);
        let _ = self.version.set(v);
    }

    /// Remarks worth showing in the report, per object (`Retry-After` cut short).
    pub(crate) fn take_notes(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.notes.lock().expect("notes lock"))
    }

    /// The base URL, for messages.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Whether requests authenticate with a bearer token that is not a service
    /// account token (`glsa_...`, API-FACTS §5.1): a legacy API key.
    pub(crate) fn uses_legacy_api_key(&self) -> bool {
        matches!(&self.auth, Auth::Bearer(t) if !t.starts_with("glsa_"))
    }

    /// Poll `GET /api/health` with backoff until the database is `ok` or `timeout` passes.
    /// API-FACTS §1: no auth needed; 200 + `"database":"ok"` when healthy, 503 +
    /// `"database":"failing"` when the database is down.
    pub(crate) fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        let start = Instant::now();
        let timeout = self.remaining().map_or(timeout, |r| r.min(timeout));
        let deadline = start + timeout;
        let mut delay = Duration::from_millis(50);
        let url = self.health_url();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let last = match self.health_once(&url, remaining.max(Duration::from_millis(100))) {
                Ok(()) => return Ok(()),
                Err(last) => last,
            };
            let now = Instant::now();
            if now >= deadline {
                if self.expired() {
                    return Err(self.deadline_error("grafana health"));
                }
                return Err(Error::NotReady {
                    url: url.clone(),
                    waited: humantime::format_duration(Duration::from_millis(
                        start.elapsed().as_millis() as u64,
                    ))
                    .to_string(),
                    last,
                });
            }
            std::thread::sleep(delay.min(deadline - now));
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// One `GET /api/health` bounded by `timeout`, for `plan`: it reports an absent
    /// Grafana at once instead of waiting `wait_timeout` as apply does.
    pub(crate) fn probe(&self, timeout: Duration) -> Result<(), Error> {
        let url = self.health_url();
        self.health_once(&url, timeout).map_err(|last| Error::Unreachable { url, last })
    }

    fn health_url(&self) -> String {
        format!("{}/api/health", self.base)
    }

    /// Ok when healthy (the version is kept), else what Grafana (or the connection) said.
    fn health_once(&self, url: &str, timeout: Duration) -> Result<(), String> {
        match self.http.get(url).timeout(timeout).send() {
            Ok(r) => {
                let status = r.status();
                let body: Value = r.json().unwrap_or(Value::Null);
                let db = body.get("database").and_then(Value::as_str).unwrap_or("");
                if status.is_success() && db == "ok" {
                    let v =
                        body.get("version").and_then(Value::as_str).and_then(ServerVersion::parse);
                    let _ = self.version.set(v);
                    return Ok(());
                }
                Err(format!("{status}, database {}", if db.is_empty() { "unknown" } else { db }))
            }
            Err(e) => Err(describe_transport(&e)),
        }
    }

    /// Send one request about `object`. GET, PUT and DELETE are retried on connection
    /// errors, 429 and 5xx; a POST only when it surely was not processed (connection
    /// refused, 429), since a repeated create meets its own first attempt.
    pub(crate) fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        object: &str,
    ) -> Result<Response, Error> {
        if method == Method::POST {
            let no_check = || -> Result<Option<Response>, Error> { Err(Error::Unverifiable) };
            return self.send_with(method, path, body, object, Retry::Verify(&no_check));
        }
        self.send_with(method, path, body, object, Retry::Safe)
    }

    /// [`Client::send`] with an explicit retry policy. 401 and 403 fail at once
    /// (retrying cannot fix credentials or roles). Every other status is returned for
    /// the caller to interpret. Each attempt is bounded by the phase deadline; a
    /// `Retry-After` longer than `grafana.max_retry_after` is cut to it, and the cut
    /// is noted for the report.
    pub(crate) fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        object: &str,
        retry: Retry<'_>,
    ) -> Result<Response, Error> {
        let url = format!("{}{}", self.base, path);
        let mut last = String::new();
        // A `Retry-After` cut short, said in the final error too.
        let mut cut = String::new();
        for attempt in 1..=self.attempts {
            let mut timeout = self.request_timeout;
            if let Some(rem) = self.remaining() {
                if rem.is_zero() {
                    return Err(self.deadline_error(object));
                }
                timeout = timeout.min(rem);
            }
            let req = self.request(method.clone(), &url, timeout, body);
            let mut retry_after = None;
            // Whether the server may have acted on the request before it failed.
            let ambiguous;
            match req.send() {
                Ok(r) => {
                    let status = r.status();
                    retry_after = r.headers().get("retry-after").and_then(parse_retry_after);
                    let text = match r.text() {
                        Ok(t) => t,
                        Err(e) => {
                            // The answer was cut off: the server got the request.
                            last = describe_transport(&e);
                            if self.expired() {
                                return Err(self.deadline_error(object));
                            }
                            match self.after_ambiguous(&retry, object, &mut last)? {
                                Some(r) => return Ok(r),
                                None => {
                                    if attempt < self.attempts {
                                        self.pause(attempt, None, object, &mut cut)?;
                                    }
                                    continue;
                                }
                            }
                        }
                    };
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let resp = Response { status, body };
                    match status.as_u16() {
                        401 => {
                            return Err(Error::Unauthorized {
                                object: object.to_string(),
                                url: self.base.clone(),
                                message: resp.message(),
                                hint: self.unauthorized_hint(),
                            })
                        }
                        403 if is_permission_denial(&resp) => {
                            return Err(Error::Forbidden {
                                object: object.to_string(),
                                message: resp.message(),
                            })
                        }
                        // A rate limit refuses the request before it is handled.
                        429 => {
                            last = format!("429 {}", resp.message());
                            ambiguous = false;
                        }
                        500..=599 => {
                            last = format!("{} {}", status.as_u16(), resp.message());
                            ambiguous = true;
                        }
                        _ => return Ok(resp),
                    }
                }
                Err(e) => {
                    last = describe_transport(&e);
                    if self.expired() {
                        return Err(self.deadline_error(object));
                    }
                    // Refused before anything was sent: surely not processed.
                    ambiguous = !e.is_connect();
                }
            }
            if ambiguous {
                if let Some(r) = self.after_ambiguous(&retry, object, &mut last)? {
                    return Ok(r);
                }
            }
            if attempt < self.attempts {
                self.pause(attempt, retry_after, object, &mut cut)?;
            }
        }
        last.push_str(&cut);
        Err(Error::Transient { object: object.to_string(), attempts: self.attempts, last })
    }

    /// One attempt's request: credentials, the org header, the JSON body.
    fn request(
        &self,
        method: Method,
        url: &str,
        timeout: Duration,
        body: Option<&Value>,
    ) -> reqwest::blocking::RequestBuilder {
        let mut req =
            self.http.request(method, url).timeout(timeout).header("Accept", "application/json");
        match &self.auth {
            Auth::Bearer(t) => req = req.bearer_auth(t),
            Auth::Basic { user, password } => req = req.basic_auth(user, Some(password)),
        }
        if let Some(org) = self.org_id {
            // API-FACTS §5.5: the org comes from X-Grafana-Org-Id; the user's
            // active org is never switched.
            req = req.header("X-Grafana-Org-Id", org.to_string());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req
    }

    /// After a failure that may have been processed: with `Retry::Verify`, read the
    /// object back. `Some` = it landed; `None` = send again.
    fn after_ambiguous(
        &self,
        retry: &Retry<'_>,
        object: &str,
        last: &mut String,
    ) -> Result<Option<Response>, Error> {
        match retry {
            Retry::Safe => Ok(None),
            Retry::Verify(check) => match check() {
                Ok(Some(r)) => Ok(Some(r)),
                Ok(None) => {
                    last.push_str("; read back: not there, sent again");
                    Ok(None)
                }
                Err(Error::Unverifiable) => {
                    Err(Error::Ambiguous { object: object.to_string(), last: last.clone() })
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Sleep before the next attempt: the server's `Retry-After` (cut to
    /// `max_retry_after`, which is noted) or exponential backoff, never past the
    /// deadline.
    fn pause(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        object: &str,
        last: &mut String,
    ) -> Result<(), Error> {
        let backoff = self.backoff * 2u32.saturating_pow(attempt - 1);
        let wait = match retry_after {
            Some(asked) if asked > self.max_retry_after => {
                let note = format!(
                    "grafana asked to wait {} before retrying (Retry-After); waited {} (`grafana.max_retry_after`)",
                    humantime::format_duration(asked),
                    self.max_retry_after_label
                );
                if !last.contains(&note) {
                    last.push_str(&format!("; {note}"));
                }
                self.notes.lock().expect("notes lock").push((object.to_string(), note));
                self.max_retry_after
            }
            Some(asked) => asked,
            None => backoff.min(Duration::from_secs(5)),
        };
        if let Some(rem) = self.remaining() {
            if wait >= rem {
                std::thread::sleep(rem);
                return Err(self.deadline_error(object));
            }
        }
        std::thread::sleep(wait);
        Ok(())
    }

    /// What to tell the user after a 401.
    fn unauthorized_hint(&self) -> String {
        if self.uses_legacy_api_key() {
            // API keys are gone (INSTALL-AND-12-13 §5.4): new credentials are service
            // account tokens, `glsa_...`.
            "; this token is not a service account token (`glsa_...`): Grafana removed API keys, create a service account and a token for it".into()
        } else {
            String::new()
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(v: &reqwest::header::HeaderValue) -> Option<Duration> {
    let s = v.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(s).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// 403 bodies that mean "your role may not do this" (API-FACTS §5.3) as opposed to
/// handler-level refusals such as a read-only datasource (§2.5), which callers explain.
fn is_permission_denial(r: &Response) -> bool {
    let m = r.message();
    r.body.get("accessErrorId").is_some()
        || m.starts_with("You'll need additional permissions")
        || m == "Permission denied"
        || m.starts_with("Access denied")
}

/// A transport error as one line, without the URL's query or any header.
fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut last = String::from("connection failed");
        while let Some(s) = src {
            last = format!("connection failed: {s}");
            src = s.source();
        }
        last
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(grafana: &str, dir: &std::path::Path) -> Loaded {
        let path = dir.join("monstack.yaml");
        std::fs::write(&path, format!("grafana:\n{grafana}")).unwrap();
        crate::config::load(&path).unwrap()
    }

    #[test]
    fn versions_and_retry_after_parse() {
        let v = |s| ServerVersion::parse(s);
        assert_eq!(v("12.1.0"), Some(ServerVersion { major: 12, minor: 1 }));
        assert_eq!(v("13.0.0-16903967602"), Some(ServerVersion { major: 13, minor: 0 }));
        assert_eq!(v("11.2.0-pre"), Some(ServerVersion { major: 11, minor: 2 }));
        assert_eq!(v(""), None);
        let h = |s: &str| parse_retry_after(&reqwest::header::HeaderValue::from_str(s).unwrap());
        assert_eq!(h("120"), Some(Duration::from_secs(120)));
        // An HTTP date in the past means "now"; one in the future is the time until then.
        assert_eq!(h("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
        let d = h(&later).unwrap();
        assert!(d > Duration::from_secs(80) && d <= Duration::from_secs(90), "{d:?}");
        assert_eq!(h("soon"), None);
    }

    #[test]
    fn credentials_come_from_files_and_never_show_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "glsa_abc\n").unwrap();
        let l = loaded("  auth:\n    token_file: tok\n", dir.path());
        let a = Auth::from_config(&l).unwrap();
        assert!(matches!(&a, Auth::Bearer(t) if t == "glsa_abc"));
        assert!(!format!("{a:?}").contains("abc"));
        std::fs::write(dir.path().join("pw"), "pa55\n").unwrap();
        let l = loaded("  auth:\n    user: ops\n    password_file: pw\n", dir.path());
        let a = Auth::from_config(&l).unwrap();
        assert_eq!(format!("{a:?}"), "Basic(ops:<hidden>)");
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let l = loaded("  auth:\n    token_file: empty\n", dir.path());
        assert!(Auth::from_config(&l).unwrap_err().to_string().contains("file is empty"));
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "t").unwrap();
        // The config check refuses them first (exit 78)...
        let path = dir.path().join("monstack.yaml");
        std::fs::write(&path, "grafana:\n  url: http://admin:admin@localhost:3000\n").unwrap();
        let e = crate::config::load(&path).unwrap_err().to_string();
        assert!(e.contains("credentials in the URL are refused") && !e.contains("admin:admin"));
        // ...and the client would too, for a config built in code.
        let mut l = loaded("  auth:\n    token_file: tok\n", dir.path());
        l.config.grafana.url = "http://admin:admin@localhost:3000".into();
        let e = Client::new(&l).err().expect("refused");
        assert!(!e.to_string().contains("admin:admin"), "{e}");
    }
}
