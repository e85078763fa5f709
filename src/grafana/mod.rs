//! Grafana: the Prometheus datasource, the managed folder and the dashboards, made to
//! match the config over the HTTP API (`grafana.mode: api`), or rendered as Grafana's
//! own provisioning files (`grafana.mode: files`).
//!
//! `plan` only reads; `apply` writes only what differs, so a re-apply makes no writes.
//! Credentials come from env vars or files and never appear in a plan, diff or error.
//! The HTTP behaviour relied on is documented in the Grafana API facts the test
//! emulator follows (sections cited as `API-FACTS §n`).

pub mod bootstrap;
mod client;
mod dashboard;
mod datasource;
mod files;
mod fingerprint;
mod health;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{GrafanaMode, Loaded};
use crate::report::Change;

pub use files::provisioning_files;
pub use health::{health, Health};

/// Built-in dashboard (the runbook's, fixed); `${DS_PROMETHEUS}` is replaced by the
/// configured datasource uid.
pub const BUILTIN_DASHBOARD: &str = include_str!("../../assets/dashboards/snowflake-mcp.json");

/// What can go wrong talking to Grafana. Messages name the object and say what to do;
/// none contains a credential or secret value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No token and no user/password configured.
    #[error("no Grafana credentials: {detail}")]
    NoCredentials { detail: String },
    /// `grafana.url` carries a user or password (it would leak into messages).
    #[error("`grafana.url` must not contain credentials; use `grafana.auth` (token or password from an env var or file)")]
    CredentialsInUrl,
    /// A secret file could not be read.
    #[error("cannot read secret file `{}`: {reason}", path.display())]
    SecretFile { path: PathBuf, reason: String },
    /// A secret env var is unset.
    #[error("environment variable `{name}` (for `{field}`) is not set")]
    SecretEnv { name: String, field: String },
    /// The CA file or TLS setup failed.
    #[error("cannot set up TLS with `{}`: {reason}", path.display())]
    Tls { path: PathBuf, reason: String },
    /// `/api/health` never reported a healthy database.
    #[error("grafana at `{url}` was not ready after {waited} (last answer: {last}); check that grafana-server is running or raise `grafana.wait_timeout`")]
    NotReady { url: String, waited: String, last: String },
    /// `plan`'s single health probe failed (apply would wait `wait_timeout`).
    #[error("grafana at `{url}` is not reachable ({last}); start Grafana, or set `grafana.enabled: false` if this host has none (apply waits up to `grafana.wait_timeout` for it)")]
    Unreachable { url: String, last: String },
    /// 401: bad or expired credentials. Not retried.
    #[error("grafana at `{url}` rejected the credentials while reading or writing {object} (401: {message}); check the token or user and password{hint}")]
    Unauthorized { object: String, url: String, message: String, hint: String },
    /// 403: authenticated, but the role lacks a permission. Not retried.
    #[error("grafana denied access to {object} (403: {message}); the token's role lacks permission: datasources need Admin, folders and dashboards need Editor")]
    Forbidden { object: String, message: String },
    /// 429, 5xx or connection errors that outlasted the retries.
    #[error("{object}: gave up after {attempts} attempt(s); last error: {last}")]
    Transient { object: String, attempts: u32, last: String },
    /// `grafana.timeout` passed before this object was done.
    #[error("{object}: `grafana.timeout` ({timeout}) passed before it was done")]
    Deadline { object: String, timeout: String },
    /// A write failed in a way that may have been processed and could not be read back.
    #[error("{object}: the write may or may not have been processed ({last}); check it in Grafana and re-run `monstack apply`")]
    Ambiguous { object: String, last: String },
    /// Internal: no read-back exists for this write.
    #[error("no read-back for this request")]
    Unverifiable,
    /// monstack will not do this (it would lose data); the reason says what to do.
    #[error("{object}: {reason}")]
    Refused { object: String, reason: String },
    /// Any other unexpected answer.
    #[error("{object}: grafana answered {status}: {message}{hint}")]
    Api { object: String, status: u16, message: String, hint: String },
    /// The state dir (secret fingerprints) could not be written.
    #[error("cannot write grafana state `{}`: {reason}", path.display())]
    State { path: PathBuf, reason: String },
}

impl Error {
    fn api(object: &str, r: &client::Response, hint: &str) -> Error {
        Error::Api {
            object: object.to_string(),
            status: r.status.as_u16(),
            message: r.message(),
            hint: if hint.is_empty() { String::new() } else { format!("; {hint}") },
        }
    }

    /// Credentials or permissions: every further request would fail the same way.
    fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Unauthorized { .. } | Error::Forbidden { .. } | Error::Deadline { .. }
        )
    }
}

/// An apply that failed part-way: what landed (for the report) and what failed.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct PartialFailure {
    /// Changes made (or found unchanged) before or besides the failures.
    pub landed: Vec<Change>,
    /// One message per failed object.
    pub failed: Vec<String>,
    /// Objects not tried after a credentials, permission or deadline error.
    pub not_attempted: Vec<String>,
    /// Remarks about requests (a `Retry-After` cut short).
    pub notes: Vec<String>,
}

impl PartialFailure {
    fn describe(&self) -> String {
        let written: Vec<&str> =
            self.landed.iter().filter(|c| c.action.is_change()).map(|c| c.name.as_str()).collect();
        let mut s = format!("grafana: {} object(s) failed", self.failed.len());
        for f in self.failed.iter().take(10) {
            s.push_str("\n  - ");
            s.push_str(f);
        }
        if self.failed.len() > 10 {
            s.push_str(&format!("\n  ... and {} more", self.failed.len() - 10));
        }
        if !self.not_attempted.is_empty() {
            let shown: Vec<&str> = self.not_attempted.iter().take(20).map(String::as_str).collect();
            s.push_str(&format!(
                "\nnot attempted: {} ({}{})",
                self.not_attempted.len(),
                shown.join(", "),
                if self.not_attempted.len() > 20 { ", ..." } else { "" }
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("\nnote: {n}"));
        }
        s.push_str(&format!(
            "\nlanded: {} written, {} already up to date",
            written.len(),
            self.landed.len() - written.len()
        ));
        if !written.is_empty() {
            let shown: Vec<&str> = written.iter().take(20).copied().collect();
            s.push_str(&format!(
                " ({}{})",
                shown.join(", "),
                if written.len() > 20 { ", ..." } else { "" }
            ));
        }
        s.push_str("\nre-run `monstack apply` to converge the rest");
        s
    }
}

/// Why [`apply`] failed: part-way, with what landed as data (for the report), or
/// before anything was worth reporting.
#[derive(Debug)]
pub enum PushError {
    Partial(PartialFailure),
    Failed(crate::error::Error),
}

impl PushError {
    /// Changes made (or found unchanged) before the failure.
    pub fn landed(&self) -> &[Change] {
        match self {
            PushError::Partial(p) => &p.landed,
            PushError::Failed(_) => &[],
        }
    }

    /// The partial failure, when the apply got that far.
    pub fn partial(&self) -> Option<&PartialFailure> {
        match self {
            PushError::Partial(p) => Some(p),
            PushError::Failed(_) => None,
        }
    }
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushError::Partial(p) => std::fmt::Display::fmt(p, f),
            PushError::Failed(e) => std::fmt::Display::fmt(e, f),
        }
    }
}

impl From<crate::error::Error> for PushError {
    fn from(e: crate::error::Error) -> Self {
        PushError::Failed(e)
    }
}

impl From<Error> for PushError {
    fn from(e: Error) -> Self {
        PushError::Failed(e.into())
    }
}

impl From<PushError> for crate::error::Error {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Partial(p) => p.into(),
            PushError::Failed(e) => e,
        }
    }
}

/// How long `monstack plan` gives Grafana to answer its one health probe.
pub const PLAN_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long to give Grafana to become healthy before reading or writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Poll up to `grafana.wait_timeout` (apply may run right after Grafana's install).
    Configured,
    /// One probe bounded by this timeout; failing is [`Error::Unreachable`].
    Probe(Duration),
}

/// What apply would change in Grafana (reads only). `state_dir` is the host path of
/// monstack's state dir (secret fingerprints and the ledger live there). Empty in
/// `files` mode or when Grafana is disabled: then the provisioning files carry the change.
pub fn plan(loaded: &Loaded, state_dir: &Path) -> crate::error::Result<Vec<Change>> {
    plan_with(loaded, state_dir, Wait::Configured)
}

/// [`plan`], waiting for Grafana as `wait` says.
pub fn plan_with(
    loaded: &Loaded,
    state_dir: &Path,
    wait: Wait,
) -> crate::error::Result<Vec<Change>> {
    let Some(ctx) = Session::open(loaded, state_dir, wait, false)? else { return Ok(Vec::new()) };
    let g = &loaded.config.grafana;
    let ds = datasource::observe(&ctx.client, &ctx.ds, &ctx.store, &ctx.ledger)?;
    let mut changes = vec![ds.change(&ctx.ds.uid)];
    for f in folders(loaded) {
        let parents = dashboard::observe_parents(&ctx.client, f.parent_uid, f.path)?;
        changes.extend(dashboard::parent_changes(&parents));
        let parent = parents.last().map(|p| p.uid.as_str());
        let folder = dashboard::observe_folder(&ctx.client, f.uid, f.title, parent)?;
        changes.push(folder.change(f.uid));
    }
    let abort = AtomicBool::new(false);
    let results = parallel(&ctx.client, &ctx.dashboards, g.concurrency, &abort, |d| {
        dashboard::observe(&ctx.client, &ctx.api, &ctx.ledger, d, d.folder_uid(&g.folder.uid))
            .map(|p| p.change(&d.uid))
    });
    for (d, r) in ctx.dashboards.iter().zip(results) {
        match r {
            Some(r) => changes.push(r?),
            None => {
                return Err(ctx.client.deadline_error(&format!("dashboard `{}`", d.uid)).into())
            }
        }
    }
    if g.prune {
        for (uid, title) in dashboard::observe_prune(&ctx.client, &g.folder.uid, &ctx.keep())? {
            changes.push(dashboard::prune_change(&uid, &title));
        }
    }
    Ok(changes)
}

/// Check every Grafana input without the network, before apply or plan changes or
/// reads anything: the dashboards load (JSON, uid, title), the credentials and the
/// datasource's secrets resolve, the CA file reads. Any failure is a config error
/// (exit 78) naming the field, so it is never found after the host has changed.
/// Nothing to check when Grafana is disabled or in `files` mode.
pub fn preflight(loaded: &Loaded) -> crate::error::Result<()> {
    let g = &loaded.config.grafana;
    if !g.enabled || g.mode == GrafanaMode::Files {
        return Ok(());
    }
    dashboard::load_desired(loaded)?;
    let as_config = |e: Error| -> crate::error::Error {
        let field = match &e {
            Error::NoCredentials { .. } => "grafana.auth".to_string(),
            Error::CredentialsInUrl => "grafana.url".to_string(),
            Error::SecretEnv { field, .. } => field.clone(),
            Error::Tls { .. } => "grafana.ca_file".to_string(),
            Error::SecretFile { path, .. } => secret_file_field(loaded, path),
            _ => "grafana".to_string(),
        };
        loaded.error_at(&field, e.to_string()).into()
    };
    datasource::Desired::from_config(loaded).map_err(as_config)?;
    client::Client::new(loaded).map_err(as_config)?;
    Ok(())
}

/// The config key that names a secret file, for messages.
fn secret_file_field(loaded: &Loaded, path: &Path) -> String {
    let g = &loaded.config.grafana;
    let is = |f: &Option<PathBuf>| f.as_ref().is_some_and(|f| loaded.resolve(f) == path);
    if is(&g.auth.token_file) {
        return "grafana.auth.token_file".into();
    }
    if is(&g.auth.password_file) {
        return "grafana.auth.password_file".into();
    }
    for (key, r) in &g.datasource.secure_json_data {
        if is(&r.file) {
            return format!("grafana.datasource.secure_json_data.{key}.file");
        }
    }
    if let Some(b) = &g.datasource.basic_auth {
        if is(&b.password.file) {
            return "grafana.datasource.basic_auth.password.file".into();
        }
    }
    for (name, r) in &g.datasource.http_headers {
        if is(&r.file) {
            return format!("grafana.datasource.http_headers.{name}.file");
        }
    }
    if is(&g.datasource.tls.ca_file) {
        return "grafana.datasource.tls.ca_file".into();
    }
    "grafana".into()
}

/// Converge Grafana; returns what was done. When some objects fail after others were
/// written, or `grafana.timeout` passes, the error is a [`PartialFailure`] listing what
/// landed and what did not.
pub fn apply(loaded: &Loaded, state_dir: &Path) -> Result<Vec<Change>, PushError> {
    let Some(ctx) = Session::open(loaded, state_dir, Wait::Configured, true)? else {
        return Ok(Vec::new());
    };
    let result = apply_session(loaded, &ctx);
    // What landed is remembered even when the run failed part-way.
    let saved = ctx.ledger.save();
    let mut notes = ctx.client.take_notes();
    match result {
        Ok(mut landed) => {
            saved?;
            attach_notes(&mut landed, &mut notes);
            Ok(landed)
        }
        Err(Failed { mut landed, failed, not_attempted }) => {
            attach_notes(&mut landed, &mut notes);
            let mut p = partial(landed, failed, not_attempted);
            if let PushError::Partial(pf) = &mut p {
                pf.notes = notes.into_iter().map(|(o, n)| format!("{o}: {n}")).collect();
            }
            Err(p)
        }
    }
}

/// One folder monstack keeps: `grafana.folder`, or a grafana.com dashboard's own.
struct FolderSpec<'a> {
    uid: &'a str,
    title: &'a str,
    parent_uid: Option<&'a str>,
    path: Option<&'a str>,
}

/// `grafana.folder` first, then each grafana.com dashboard's own folder, once per uid.
fn folders(loaded: &Loaded) -> Vec<FolderSpec<'_>> {
    let g = &loaded.config.grafana;
    let mut out = vec![FolderSpec {
        uid: &g.folder.uid,
        title: &g.folder.title,
        parent_uid: g.folder.parent_uid.as_deref(),
        path: g.folder.path.as_deref(),
    }];
    for d in &g.dashboards {
        let crate::config::DashboardEntry::Gnet(n) = d else { continue };
        let Some(f) = &n.folder else { continue };
        if out.iter().all(|o| o.uid != f.uid) {
            out.push(FolderSpec {
                uid: &f.uid,
                title: &f.title,
                parent_uid: f.parent_uid.as_deref(),
                path: f.path.as_deref(),
            });
        }
    }
    out
}

/// The objects of a failed apply.
struct Failed {
    landed: Vec<Change>,
    failed: Vec<Error>,
    not_attempted: Vec<String>,
}

fn apply_session(loaded: &Loaded, ctx: &Session) -> Result<Vec<Change>, Failed> {
    let g = &loaded.config.grafana;
    let client = &ctx.client;
    let folders = folders(loaded);
    // What is not attempted when folder `i` fails (`itself`: that folder too).
    let rest = |i: usize, itself: bool| -> Vec<String> {
        let from = if itself { i } else { i + 1 };
        let mut v: Vec<String> =
            folders[from..].iter().map(|f| format!("folder `{}`", f.uid)).collect();
        v.extend(ctx.dashboards.iter().map(|d| format!("dashboard `{}`", d.uid)));
        v
    };
    let fail = |landed: Vec<Change>, e: Error, rest: Vec<String>| Failed {
        landed,
        failed: vec![e],
        not_attempted: rest,
    };
    let mut landed = Vec::new();
    let ds = datasource::observe(client, &ctx.ds, &ctx.store, &ctx.ledger)
        .and_then(|p| datasource::apply(client, &ctx.ds, &p, &ctx.store, &ctx.ledger));
    match ds {
        Ok(c) => landed.push(c),
        Err(e) => return Err(fail(landed, e, rest(0, true))),
    }
    for (i, f) in folders.iter().enumerate() {
        let parents = dashboard::observe_parents(client, f.parent_uid, f.path)
            .and_then(|p| dashboard::apply_parents(client, &p).map(|c| (p, c)));
        let parent = match parents {
            Ok((p, c)) => {
                landed.extend(c);
                p.last().map(|p| p.uid.clone())
            }
            Err(e) => return Err(fail(landed, e, rest(i, true))),
        };
        let folder = dashboard::observe_folder(client, f.uid, f.title, parent.as_deref())
            .and_then(|p| dashboard::apply_folder(client, f.uid, f.title, parent.as_deref(), &p));
        match folder {
            Ok(c) => landed.push(c),
            Err(e) => return Err(fail(landed, e, rest(i, false))),
        }
    }

    let abort = AtomicBool::new(false);
    let results = parallel(client, &ctx.dashboards, g.concurrency, &abort, |d| {
        let folder = d.folder_uid(&g.folder.uid);
        dashboard::observe(client, &ctx.api, &ctx.ledger, d, folder)
            .and_then(|p| dashboard::apply(client, &ctx.api, &ctx.ledger, d, folder, &p))
    });
    let mut failed = Vec::new();
    let mut not_attempted = Vec::new();
    for (d, r) in ctx.dashboards.iter().zip(results) {
        match r {
            Some(Ok(c)) => landed.push(c),
            Some(Err(e)) => failed.push(e),
            // Skipped after a credentials, permission or deadline error (in `failed`),
            // or the deadline passed before it started.
            None => not_attempted.push(format!("dashboard `{}`", d.uid)),
        }
    }
    if failed.is_empty() && not_attempted.is_empty() && g.prune {
        // Prune only after every listed dashboard landed: a half-applied config must
        // not delete anything.
        match dashboard::observe_prune(client, &g.folder.uid, &ctx.keep()) {
            Ok(stale) => {
                let deleted = parallel(client, &stale, g.concurrency, &abort, |(uid, title)| {
                    dashboard::delete(client, &ctx.api, &ctx.ledger, uid, title)
                });
                for ((uid, _), r) in stale.iter().zip(deleted) {
                    match r {
                        Some(Ok(c)) => landed.push(c),
                        Some(Err(e)) => failed.push(e),
                        None => not_attempted.push(format!("dashboard `{uid}` (prune)")),
                    }
                }
            }
            Err(e) => failed.push(e),
        }
    }
    if failed.is_empty() && not_attempted.is_empty() {
        return Ok(landed);
    }
    if failed.is_empty() {
        failed.push(client.deadline_error("grafana"));
    }
    Err(Failed { landed, failed, not_attempted })
}

/// Put each `Retry-After` note on its object's report entry.
fn attach_notes(changes: &mut [Change], notes: &mut Vec<(String, String)>) {
    notes.retain(|(object, note)| {
        let Some(c) = changes.iter_mut().find(|c| {
            let what = match c.kind.as_str() {
                datasource::KIND => "datasource",
                dashboard::FOLDER_KIND => "folder",
                _ => "dashboard",
            };
            *object == format!("{what} `{}`", c.name)
        }) else {
            return true;
        };
        c.detail = Some(match c.detail.take() {
            Some(d) => format!("{d}; {note}"),
            None => note.clone(),
        });
        false
    });
}

/// A single error when nothing else is worth reporting, else a [`PartialFailure`].
fn partial(landed: Vec<Change>, mut failed: Vec<Error>, not_attempted: Vec<String>) -> PushError {
    let wrote = landed.iter().any(|c| c.action.is_change());
    if failed.len() == 1 && !wrote && not_attempted.is_empty() {
        return failed.remove(0).into();
    }
    PushError::Partial(PartialFailure {
        landed,
        failed: failed.iter().map(ToString::to_string).collect(),
        not_attempted,
        notes: Vec::new(),
    })
}

/// What plan and apply share: the validated inputs and a ready client.
struct Session {
    client: client::Client,
    ds: datasource::Desired,
    dashboards: Vec<dashboard::Desired>,
    store: fingerprint::Store,
    ledger: fingerprint::Ledger,
    api: dashboard::Api,
}

impl Session {
    /// Load every input first (a bad dashboard file is a config error and nothing is
    /// sent), then wait for Grafana and find out which dashboard API it serves. The
    /// `grafana.timeout` deadline starts here. `None` when the API is not used.
    /// `write`: apply may create monstack's own service account token (bootstrap).
    fn open(
        loaded: &Loaded,
        state_dir: &Path,
        wait: Wait,
        write: bool,
    ) -> crate::error::Result<Option<Session>> {
        let g = &loaded.config.grafana;
        if !g.enabled || g.mode == GrafanaMode::Files {
            return Ok(None);
        }
        let dashboards = dashboard::load_desired(loaded)?;
        let ds = datasource::Desired::from_config(loaded)?;
        let mut client = client::Client::new(loaded)?;
        client.set_deadline(Instant::now() + loaded.resolved.grafana_timeout, &g.timeout);
        match wait {
            Wait::Configured => {
                client.wait_ready(loaded.resolved.grafana_wait_timeout)?;
            }
            Wait::Probe(limit) => client.probe(limit)?,
        }
        if bootstrap::applies(loaded) {
            bootstrap::authenticate(&mut client, state_dir, write)?;
        }
        let api = dashboard::discover(&client, g.org_id)?;
        let ledger = fingerprint::Ledger::open(
            state_dir,
            &format!("{}#{}", client.base(), g.org_id.unwrap_or(1)),
        );
        Ok(Some(Session {
            client,
            ds,
            dashboards,
            store: fingerprint::Store::new(state_dir),
            ledger,
            api,
        }))
    }

    fn keep(&self) -> BTreeSet<String> {
        self.dashboards.iter().map(|d| d.uid.clone()).collect()
    }
}

/// Run `f` over `items` on at most `bound` threads, results in input order. After a
/// credentials, permission or deadline error, or once the deadline has passed, the
/// remaining items are skipped (`None`).
fn parallel<T: Sync, R: Send>(
    client: &client::Client,
    items: &[T],
    bound: usize,
    abort: &AtomicBool,
    f: impl Fn(&T) -> Result<R, Error> + Sync,
) -> Vec<Option<Result<R, Error>>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, Error>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = bound.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() || abort.load(Ordering::SeqCst) || client.expired() {
                    break;
                }
                let r = f(&items[i]);
                if matches!(&r, Err(e) if e.is_fatal()) {
                    abort.store(true, Ordering::SeqCst);
                }
                results.lock().expect("no worker panics holding the lock")[i] = Some(r);
            });
        }
    });
    results.into_inner().expect("workers joined")
}
