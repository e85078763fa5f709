//! Dashboards and their folder: load the desired models (built-in asset and user
//! files), find out whether Grafana's copy is still what monstack wrote (the ledger:
//! desired fingerprint + Grafana's version), else compare it after dropping the fields
//! Grafana manages or rewrites, and write only those that differ. Optional pruning of
//! the managed folder.
//!
//! Two APIs: the legacy `/api/dashboards` (Grafana <= 11) and the Kubernetes-style
//! `/apis/dashboard.grafana.app` (Grafana >= 12, INSTALL-AND-12-13 §5.1), which is the
//! only one used where it exists, so a v2 dashboard is never read down-converted and
//! written back flattened (§5.3).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, Response, Retry};
use super::fingerprint::{digest, sorted, Ledger, Written};
use super::Error;
use crate::config::{valid_uid, Loaded};
use crate::report::{Action, Change};

/// Change kinds in reports.
pub(crate) const KIND: &str = "grafana_dashboard";
pub(crate) const FOLDER_KIND: &str = "grafana_folder";

/// The dashboard commit message (API-FACTS §3.1: stored as the version's message).
const MESSAGE: &str = concat!("provisioned by monstack ", env!("CARGO_PKG_VERSION"));

/// The dashboard schema a model is written in (INSTALL-AND-12-13 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    /// The classic JSON model (`panels`, `schemaVersion`).
    V1,
    /// Grafana 12+'s v2 schema (`elements`, `layout`), served only by `/apis`.
    V2,
}

/// One dashboard monstack manages.
#[derive(Debug, Clone)]
pub(crate) struct Desired {
    pub uid: String,
    pub title: String,
    /// The model without `id` and `version` (for v2: the `spec`).
    pub model: Value,
    pub schema: Schema,
    /// Where it came from (`built-in` or a file path), for messages.
    pub source: String,
    /// Its own folder's uid (a grafana.com dashboard's `folder`); `None`: `grafana.folder`.
    pub folder: Option<String>,
}

/// Keys Grafana manages itself (API-FACTS §3.2: `id` and `uid` are set from the
/// database and `version` is overwritten with the stored version).
const SERVER_MANAGED: [&str; 2] = ["id", "version"];

/// Drop server-managed keys so the desired and stored models compare equal.
pub(crate) fn normalise(model: &Value) -> Value {
    let mut m = model.clone();
    if let Some(o) = m.as_object_mut() {
        for k in SERVER_MANAGED {
            o.remove(k);
        }
    }
    m
}

/// How strictly [`comparable`] treats what Grafana rewrites on save.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tolerance {
    /// For plan: ignore identity, `schemaVersion` (migrated, INSTALL-AND-12-13 §5.3)
    /// and surrounding blanks of the title (trimmed, API-FACTS §3.1 step 1).
    Content,
    /// For reading back a write whose answer was lost: also ignore `refresh`, which
    /// Grafana raises to `min_refresh_interval` (API-FACTS §3.1 step 4).
    ReadBack,
}

/// A model with the fields Grafana manages or rewrites taken out.
fn comparable(model: &Value, t: Tolerance) -> Value {
    let mut m = normalise(model);
    if let Some(o) = m.as_object_mut() {
        o.remove("uid");
        o.remove("schemaVersion");
        if let Some(Value::String(title)) = o.get_mut("title") {
            *title = title.trim().to_string();
        }
        if t == Tolerance::ReadBack {
            o.remove("refresh");
        }
    }
    m
}

/// The desired dashboards: the built-in one (when enabled) and every user file or
/// `*.json` in a listed directory. `${DS_PROMETHEUS}` becomes the datasource uid.
/// A file without a valid uid, or two files with one uid, is a config error.
pub(crate) fn load_desired(loaded: &Loaded) -> crate::error::Result<Vec<Desired>> {
    let g = &loaded.config.grafana;
    let ds_uid = &g.datasource.uid;
    let mut out = Vec::new();
    if g.builtin_dashboard {
        let text = super::BUILTIN_DASHBOARD.replace("${DS_PROMETHEUS}", ds_uid);
        let model: Value = serde_json::from_str(&text).expect("built-in dashboard is valid JSON");
        out.push(desired_from(model, "built-in".into()).expect("built-in dashboard has a uid"));
    }
    let mut seen: BTreeMap<String, String> =
        out.iter().map(|d| (d.uid.clone(), d.source.clone())).collect();
    for (i, entry) in g.dashboards.iter().enumerate() {
        let field = format!("grafana.dashboards[{i}]");
        let entry = match entry {
            crate::config::DashboardEntry::Path(p) => p,
            crate::config::DashboardEntry::Gnet(n) => {
                let d = gnet_desired(loaded, n).map_err(|msg| loaded.error_at(&field, msg))?;
                if let Some(other) = seen.insert(d.uid.clone(), d.source.clone()) {
                    return Err(loaded
                        .error_at(
                            &field,
                            format!(
                                "dashboard uid `{}` of {} is also used by {other}",
                                d.uid, d.source
                            ),
                        )
                        .into());
                }
                out.push(d);
                continue;
            }
        };
        let path = loaded.resolve(entry);
        let files = if path.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| {
                    loaded.error_at(&field, format!("cannot read `{}`: {e}", path.display()))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            v.sort();
            v
        } else {
            vec![path]
        };
        for file in files {
            let d = load_file(&file).map_err(|msg| loaded.error_at(&field, msg))?;
            if let Some(other) = seen.insert(d.uid.clone(), d.source.clone()) {
                return Err(loaded
                    .error_at(
                        &field,
                        format!(
                            "dashboard uid `{}` in `{}` is also used by {other}",
                            d.uid, d.source
                        ),
                    )
                    .into());
            }
            out.push(d.with_ds(ds_uid));
        }
    }
    Ok(out)
}

/// A grafana.com dashboard (fetched and verified by `artifact::gnet`): its export
/// JSON with every `${DS_*}` input of type datasource rewritten to the managed
/// datasource's uid, and the export's `__inputs`/`__requires`/`__elements` dropped.
fn gnet_desired(loaded: &Loaded, n: &crate::config::GnetDashboard) -> Result<Desired, String> {
    let source = format!("grafana.com dashboard {} revision {}", n.gnet_id, n.revision);
    let text = loaded.resolved.gnet.get(&(n.gnet_id, n.revision)).ok_or_else(|| {
        format!("{source} was not fetched (it is fetched by plan and apply; `monstack lock` records its digest)")
    })?;
    let mut model: Value =
        serde_json::from_str(text).map_err(|e| format!("{source} is not JSON: {e}"))?;
    let ds_uid = &loaded.config.grafana.datasource.uid;
    let mut text = model.to_string();
    if let Some(inputs) = model.get("__inputs").and_then(Value::as_array) {
        for input in inputs {
            let name = input.get("name").and_then(Value::as_str).unwrap_or("");
            let is_ds = input.get("type").and_then(Value::as_str) == Some("datasource");
            if is_ds && !name.is_empty() {
                text = text.replace(&format!("${{{name}}}"), ds_uid);
            }
        }
    }
    model = serde_json::from_str(&text).map_err(|e| format!("{source}: {e}"))?;
    if let Some(m) = model.as_object_mut() {
        for k in ["__inputs", "__requires", "__elements", "id"] {
            m.remove(k);
        }
        // grafana.com exports may carry no uid: a stable one from the id.
        if m.get("uid").and_then(Value::as_str).map_or(true, str::is_empty) {
            m.insert("uid".into(), Value::String(format!("gnet-{}", n.gnet_id)));
        }
    }
    let mut d = desired_from(model, source)?;
    d.folder = n.folder.as_ref().map(|f| f.uid.clone());
    Ok(d)
}

impl Desired {
    /// The uid of the folder it goes in.
    pub(crate) fn folder_uid<'a>(&'a self, managed: &'a str) -> &'a str {
        self.folder.as_deref().unwrap_or(managed)
    }

    fn with_ds(mut self, ds_uid: &str) -> Desired {
        let text = self.model.to_string();
        if text.contains("${DS_PROMETHEUS}") {
            self.model = serde_json::from_str(&text.replace("${DS_PROMETHEUS}", ds_uid))
                .expect("substitution keeps JSON valid");
        }
        self
    }

    /// The ledger key.
    fn key(&self) -> String {
        format!("dashboard/{}", self.uid)
    }

    /// Fingerprint of what is written: the model, its schema and its folder.
    fn fingerprint(&self, folder_uid: &str) -> String {
        digest(&json!({"model": self.model, "v2": self.schema == Schema::V2, "folder": folder_uid}))
    }
}

fn load_file(file: &Path) -> Result<Desired, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read dashboard `{}`: {e}", file.display()))?;
    let model: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "dashboard `{}` is not valid JSON (line {}, column {}): {e}",
            file.display(),
            e.line(),
            e.column()
        )
    })?;
    // Accept the API envelope (`{"dashboard": {...}}`) too, as the old setup script used it.
    let model = match model {
        Value::Object(mut o) if o.get("dashboard").is_some_and(Value::is_object) => {
            o.remove("dashboard").expect("checked")
        }
        m => m,
    };
    desired_from(model, file.display().to_string())
}

/// A model, or a Kubernetes-style resource (`apiVersion`, `kind: Dashboard`,
/// `metadata.name`, `spec`; INSTALL-AND-12-13 §5.1) as Grafana 12+ exports it.
fn desired_from(model: Value, source: String) -> Result<Desired, String> {
    let Some(o) = model.as_object() else {
        return Err(format!("dashboard `{source}` must be a JSON object"));
    };
    if o.get("kind").and_then(Value::as_str) == Some("Dashboard") && o.contains_key("spec") {
        let api = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let uid = model.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let spec = o.get("spec").cloned().unwrap_or(Value::Null);
        if !spec.is_object() {
            return Err(format!("dashboard `{source}`: `spec` must be a JSON object"));
        }
        let schema = if api.starts_with("dashboard.grafana.app/v2") || is_v2(&spec) {
            Schema::V2
        } else {
            Schema::V1
        };
        let mut spec = spec;
        if schema == Schema::V1 {
            spec["uid"] = json!(uid);
        }
        return desired_checked(spec, uid, schema, source);
    }
    let uid = o.get("uid").and_then(Value::as_str).unwrap_or("").to_string();
    let schema = if is_v2(&model) { Schema::V2 } else { Schema::V1 };
    desired_checked(model, &uid, schema, source)
}

/// v2 models have `elements` and `layout` instead of `panels` (INSTALL-AND-12-13 §5.3).
fn is_v2(model: &Value) -> bool {
    model.get("elements").is_some() && model.get("layout").is_some()
}

fn desired_checked(
    model: Value,
    uid: &str,
    schema: Schema,
    source: String,
) -> Result<Desired, String> {
    if uid.is_empty() {
        return Err(format!(
            "dashboard `{source}` has no `uid`; add a stable \"uid\" (or `metadata.name`) so monstack can find it again"
        ));
    }
    if !valid_uid(uid) {
        return Err(format!(
            "dashboard `{source}` has uid `{uid}`, which is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)"
        ));
    }
    let title = model.get("title").and_then(Value::as_str).unwrap_or("").trim().to_string();
    if title.is_empty() {
        // API-FACTS §3.1 step 1: Grafana would answer 400 empty-name.
        return Err(format!("dashboard `{source}` has no `title`"));
    }
    Ok(Desired {
        uid: uid.to_string(),
        title,
        model: normalise(&model),
        schema,
        source,
        folder: None,
    })
}

fn object(uid: &str) -> String {
    format!("dashboard `{uid}`")
}

// ---------------------------------------------------------------- which API

/// Where dashboards are read and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/api/dashboards/...` (Grafana <= 11).
    Legacy,
    /// `/apis/dashboard.grafana.app/<version>/namespaces/<ns>/dashboards` (Grafana >= 12).
    K8s {
        ns: String,
        /// The API version for classic models (`v1` on 13, `v1beta1` on 12).
        v1: String,
        /// The API version for v2 models, when served (`v2` on 13, `v2beta1` on 12).
        v2: Option<String>,
    },
}

/// Pick the dashboard API. Grafana <= 11 (by `/api/health`) has only the legacy one;
/// otherwise the `/apis` discovery document says which versions are served
/// (INSTALL-AND-12-13 §5: "probe /apis discovery once per run").
pub(crate) fn discover(client: &Client, org_id: Option<u64>) -> Result<Api, Error> {
    if client.server_version().is_some_and(|v| v.major < 12) {
        return Ok(Api::Legacy);
    }
    let obj = "grafana API discovery";
    let r = client.send(Method::GET, "/apis/dashboard.grafana.app", None, obj)?;
    if r.status.as_u16() != 200 {
        return Ok(Api::Legacy);
    }
    let served: Vec<String> = r
        .body
        .get("versions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.get("version").and_then(Value::as_str))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let pick = |prefs: &[&str]| {
        prefs.iter().find(|p| served.iter().any(|s| s == *p)).map(|s| s.to_string())
    };
    let Some(v1) = pick(&["v1", "v1beta1", "v0alpha1"]) else { return Ok(Api::Legacy) };
    // API-FACTS §5.5 / INSTALL-AND-12-13 §5.1: org 1 is namespace `default`.
    let ns = match org_id {
        None | Some(1) => "default".to_string(),
        Some(n) => format!("org-{n}"),
    };
    Ok(Api::K8s { ns, v1, v2: pick(&["v2", "v2beta1", "v2alpha1"]) })
}

impl Api {
    fn k8s_path(ns: &str, version: &str, uid: Option<&str>) -> String {
        let base = format!("/apis/dashboard.grafana.app/{version}/namespaces/{ns}/dashboards");
        match uid {
            Some(u) => format!("{base}/{u}"),
            None => base,
        }
    }
}

// ---------------------------------------------------------------- folder

/// The folder's observed state.
#[derive(Debug)]
pub(crate) struct FolderPlan {
    pub action: Action,
    version: Option<i64>,
    /// Title differs.
    retitle: bool,
    /// The folder sits under another parent (nested folders).
    move_to: Option<String>,
    detail: Option<String>,
}

impl FolderPlan {
    pub(crate) fn change(&self, uid: &str) -> Change {
        let mut c = Change::new(FOLDER_KIND, uid, self.action);
        c.detail = self.detail.clone();
        c
    }
}

/// One parent folder of `folder.path` (nested folders, API-FACTS §4.1 `parentUid`).
#[derive(Debug, Clone)]
pub(crate) struct PathFolder {
    pub uid: String,
    pub title: String,
    /// Parent uid (`None`: the root).
    pub parent: Option<String>,
    /// Found in Grafana (else it is created).
    pub exists: bool,
}

/// The uid monstack gives a `folder.path` parent it creates: stable, so a re-run or a
/// read-back after a lost answer finds the same folder.
fn path_uid(prefix: &[&str]) -> String {
    let d = digest(&json!(prefix));
    format!("monstack-{}", &d[..16])
}

/// Resolve the parents of the managed folder: `folder.parent_uid` (must exist) or
/// `folder.path` (each level found by title under its parent, else to be created).
pub(crate) fn observe_parents(
    client: &Client,
    parent_uid: Option<&str>,
    path: Option<&str>,
) -> Result<Vec<PathFolder>, Error> {
    if let Some(p) = parent_uid {
        let obj = format!("folder `{p}` (grafana.folder.parent_uid)");
        let r = client.send(Method::GET, &format!("/api/folders/{p}"), None, &obj)?;
        return match r.status.as_u16() {
            200 => Ok(vec![PathFolder {
                uid: p.to_string(),
                title: r.body.get("title").and_then(Value::as_str).unwrap_or("").to_string(),
                parent: None,
                exists: true,
            }]),
            404 => Err(Error::Refused {
                object: obj,
                reason:
                    "no such folder in Grafana; create it first or fix `grafana.folder.parent_uid`"
                        .into(),
            }),
            _ => Err(Error::api(&obj, &r, "")),
        };
    }
    let Some(path) = path else { return Ok(Vec::new()) };
    let titles: Vec<&str> = path.split('/').map(str::trim).collect();
    let mut out: Vec<PathFolder> = Vec::new();
    let mut parent: Option<String> = None;
    let mut missing = false;
    for (i, title) in titles.iter().enumerate() {
        let found = if missing {
            None
        } else {
            // API-FACTS §4 (nested folders): children are listed per parent.
            let q = match &parent {
                Some(p) => {
                    format!("/api/folders?parentUid={}", super::datasource::encode_segment(p))
                }
                None => "/api/folders".to_string(),
            };
            let obj = format!("folder path `{}`", titles[..=i].join("/"));
            let r = client.send(Method::GET, &q, None, &obj)?;
            if r.status.as_u16() != 200 {
                return Err(Error::api(&obj, &r, ""));
            }
            r.body.as_array().and_then(|a| {
                a.iter()
                    .find(|f| f.get("title").and_then(Value::as_str) == Some(title))
                    .and_then(|f| f.get("uid").and_then(Value::as_str).map(String::from))
            })
        };
        let (uid, exists) = match found {
            Some(u) => (u, true),
            None => {
                missing = true;
                (path_uid(&titles[..=i]), false)
            }
        };
        out.push(PathFolder {
            uid: uid.clone(),
            title: title.to_string(),
            parent: parent.clone(),
            exists,
        });
        parent = Some(uid);
    }
    Ok(out)
}

/// The plan entries of parents to create.
pub(crate) fn parent_changes(parents: &[PathFolder]) -> Vec<Change> {
    parents
        .iter()
        .filter(|p| !p.exists)
        .map(|p| {
            let mut c = Change::new(FOLDER_KIND, &p.uid, Action::Create);
            c.detail = Some(format!("title \"{}\" (grafana.folder.path)", p.title));
            c
        })
        .collect()
}

/// Create the missing parents, outermost first.
pub(crate) fn apply_parents(client: &Client, parents: &[PathFolder]) -> Result<Vec<Change>, Error> {
    let mut out = Vec::new();
    for p in parents.iter().filter(|p| !p.exists) {
        create_folder(client, &p.uid, &p.title, p.parent.as_deref())?;
        out.extend(parent_changes(std::slice::from_ref(p)));
    }
    Ok(out)
}

/// `GET /api/folders/{uid}`: API-FACTS §4.2, 200 DTO or 404 not-found.
pub(crate) fn observe_folder(
    client: &Client,
    uid: &str,
    title: &str,
    parent: Option<&str>,
) -> Result<FolderPlan, Error> {
    let obj = format!("folder `{uid}`");
    let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
    match r.status.as_u16() {
        200 => {
            let have = r.body.get("title").and_then(Value::as_str).unwrap_or("");
            let version = r.body.get("version").and_then(Value::as_i64);
            let have_parent =
                r.body.get("parentUid").and_then(Value::as_str).filter(|p| !p.is_empty());
            let retitle = have.trim() != title.trim();
            let move_to = (have_parent != parent).then(|| parent.unwrap_or("").to_string());
            let mut detail = Vec::new();
            if retitle {
                detail.push(format!("title \"{have}\" -> \"{title}\""));
            }
            if let Some(to) = &move_to {
                detail.push(format!(
                    "move from `{}` to `{}`",
                    have_parent.unwrap_or("(root)"),
                    if to.is_empty() { "(root)" } else { to }
                ));
            }
            let action = if detail.is_empty() { Action::Unchanged } else { Action::Update };
            let detail = (!detail.is_empty()).then(|| detail.join("; "));
            Ok(FolderPlan { action, version, retitle, move_to, detail })
        }
        404 => Ok(FolderPlan {
            action: Action::Create,
            version: None,
            retitle: false,
            move_to: None,
            detail: Some(format!("title \"{title}\"")),
        }),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// `POST /api/folders`; after a lost answer the folder is read back (same title and
/// parent = it landed).
fn create_folder(
    client: &Client,
    uid: &str,
    title: &str,
    parent: Option<&str>,
) -> Result<(), Error> {
    let obj = format!("folder `{uid}`");
    let mut body = json!({"uid": uid, "title": title});
    if let Some(p) = parent {
        body["parentUid"] = json!(p);
    }
    let check = || -> Result<Option<Response>, Error> {
        let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
        let same = r.status.as_u16() == 200
            && r.body.get("title").and_then(Value::as_str).map(str::trim) == Some(title.trim())
            && r.body.get("parentUid").and_then(Value::as_str).filter(|p| !p.is_empty()) == parent;
        Ok(same.then_some(r))
    };
    let r =
        client.send_with(Method::POST, "/api/folders", Some(&body), &obj, Retry::Verify(&check))?;
    match r.status.as_u16() {
        200 => Ok(()),
        // API-FACTS §4.1: uid taken (409 since 10.2, 412 before) or, up to 11.2,
        // the title already used by another folder (409).
        409 | 412 if r.message().contains("same name") => Err(Error::api(&obj, &r, &format!(
            "a folder titled \"{title}\" already exists with another uid; set `grafana.folder.uid` to its uid or choose another `grafana.folder.title`"
        ))),
        409 | 412 => Err(Error::api(&obj, &r, "the folder was created by someone else since it was read; re-run `monstack apply`")),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// Create, retitle or move the folder.
pub(crate) fn apply_folder(
    client: &Client,
    uid: &str,
    title: &str,
    parent: Option<&str>,
    plan: &FolderPlan,
) -> Result<Change, Error> {
    let obj = format!("folder `{uid}`");
    match plan.action {
        Action::Create => create_folder(client, uid, title, parent)?,
        Action::Update => {
            if plan.retitle {
                // API-FACTS §4.3: PUT with the version read; 412 when stale.
                let body = json!({"title": title, "version": plan.version, "overwrite": false});
                let r =
                    client.send(Method::PUT, &format!("/api/folders/{uid}"), Some(&body), &obj)?;
                match r.status.as_u16() {
                    200 => {}
                    412 => {
                        return Err(Error::api(&obj, &r, "the folder was changed in Grafana while monstack applied; re-run `monstack apply`"))
                    }
                    _ => return Err(Error::api(&obj, &r, "")),
                }
            }
            if let Some(to) = &plan.move_to {
                // Nested folders: `POST /api/folders/{uid}/move` with the new parent
                // (empty = the root). Moving twice to the same place is harmless.
                let body = json!({"parentUid": to});
                let check = || -> Result<Option<Response>, Error> {
                    let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
                    let at = r.body.get("parentUid").and_then(Value::as_str).unwrap_or("");
                    Ok((r.status.as_u16() == 200 && at == to).then_some(r))
                };
                let r = client.send_with(
                    Method::POST,
                    &format!("/api/folders/{uid}/move"),
                    Some(&body),
                    &obj,
                    Retry::Verify(&check),
                )?;
                if r.status.as_u16() != 200 {
                    return Err(Error::api(&obj, &r, ""));
                }
            }
        }
        _ => {}
    }
    Ok(plan.change(uid))
}

// ---------------------------------------------------------------- dashboards

/// One dashboard's observed state.
#[derive(Debug)]
pub(crate) struct DashPlan {
    pub action: Action,
    /// Stored version (legacy) or resourceVersion (`/apis`), for optimistic updates.
    version: Option<Value>,
    /// The stored title differs (an update then must not take over a same-titled one).
    retitled: bool,
    /// Grafana's copy matches: only the ledger needs Grafana's current version.
    record: Option<Written>,
    diff: Option<String>,
    detail: Option<String>,
}

impl DashPlan {
    pub(crate) fn change(&self, uid: &str) -> Change {
        let mut c = Change::new(KIND, uid, self.action);
        c.diff = self.diff.clone();
        c.detail = self.detail.clone();
        c
    }
}

/// What Grafana holds for one dashboard, whichever API it came from.
struct Stored {
    model: Value,
    folder: String,
    /// For optimistic updates.
    version: Value,
    /// The ledger's version (`identity/version`).
    ledger_version: String,
}

/// Read one dashboard: `GET /api/dashboards/uid/{uid}` (API-FACTS §3.2) or the `/apis`
/// object. `None` when absent. A v2-stored dashboard asked for as v1 is refused: its
/// v1 view is a lossy down-conversion (INSTALL-AND-12-13 §5.3).
fn read(client: &Client, api: &Api, d: &Desired) -> Result<Option<Stored>, Error> {
    let obj = object(&d.uid);
    match api {
        Api::Legacy => {
            if d.schema == Schema::V2 {
                return Err(v2_unsupported(client, d));
            }
            let r =
                client.send(Method::GET, &format!("/api/dashboards/uid/{}", d.uid), None, &obj)?;
            match r.status.as_u16() {
                404 => Ok(None),
                200 => Ok(Some(stored_legacy(&r.body))),
                _ => Err(Error::api(&obj, &r, "")),
            }
        }
        Api::K8s { ns, v1, v2 } => {
            let version = match d.schema {
                Schema::V1 => v1,
                Schema::V2 => v2.as_ref().ok_or_else(|| v2_unsupported(client, d))?,
            };
            let r =
                client.send(Method::GET, &Api::k8s_path(ns, version, Some(&d.uid)), None, &obj)?;
            match r.status.as_u16() {
                404 => Ok(None),
                200 => {
                    let stored_as = r
                        .body
                        .pointer("/status/conversion/storedVersion")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if d.schema == Schema::V1 && stored_as.starts_with("v2") {
                        return Err(Error::Refused {
                            object: obj,
                            reason: format!(
                                "Grafana stores it in the v2 schema ({stored_as}), and {} holds a v1 model: monstack does not overwrite a v2 dashboard with a flattened v1 one; export it from Grafana as v2 (Kubernetes resource with `spec`) into {}, or delete it in Grafana to have monstack re-create it",
                                d.source, d.source
                            ),
                        });
                    }
                    Ok(Some(stored_k8s(&r.body)))
                }
                _ => Err(Error::api(&obj, &r, "")),
            }
        }
    }
}

fn v2_unsupported(client: &Client, d: &Desired) -> Error {
    let v =
        client.server_version().map(|v| format!("Grafana {v}")).unwrap_or("this Grafana".into());
    Error::Refused {
        object: object(&d.uid),
        reason: format!(
            "{} is a v2-schema dashboard, and {v} serves no v2 dashboard API (dashboard.grafana.app/v2*); it is not sent through the legacy API, which would flatten it: use Grafana 12+ with v2 dashboards enabled, or export the dashboard as classic JSON",
            d.source
        ),
    }
}

fn stored_legacy(body: &Value) -> Stored {
    let model = body.get("dashboard").cloned().unwrap_or(Value::Null);
    let meta = body.get("meta").cloned().unwrap_or(Value::Null);
    let version = model.get("version").cloned().unwrap_or(Value::Null);
    let id = model.get("id").cloned().unwrap_or(Value::Null);
    Stored {
        folder: meta.get("folderUid").and_then(Value::as_str).unwrap_or("").to_string(),
        ledger_version: format!("{id}/{version}"),
        version,
        model,
    }
}

fn stored_k8s(obj: &Value) -> Stored {
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
    let rv = meta.get("resourceVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let id = meta.get("uid").and_then(Value::as_str).unwrap_or("");
    Stored {
        model: obj.get("spec").cloned().unwrap_or(Value::Null),
        // The folder is an annotation on `/apis` objects.
        folder: meta
            .pointer("/annotations/grafana.app~1folder")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        ledger_version: format!("{id}/{rv}"),
        version: json!(rv),
    }
}

/// Read and compare one dashboard. Unchanged when the ledger says monstack wrote this
/// very desired object and Grafana's version has not moved since; otherwise the
/// content decides (without the fields Grafana rewrites), and a Grafana-side edit
/// shows as drift.
pub(crate) fn observe(
    client: &Client,
    api: &Api,
    ledger: &Ledger,
    d: &Desired,
    folder_uid: &str,
) -> Result<DashPlan, Error> {
    let Some(have) = read(client, api, d)? else {
        return Ok(DashPlan {
            action: Action::Create,
            version: None,
            retitled: false,
            record: None,
            diff: None,
            detail: Some(format!("\"{}\" from {}", d.title, d.source)),
        });
    };
    let fingerprint = d.fingerprint(folder_uid);
    let written = ledger.get(&d.key());
    let moved = have.folder != folder_uid;
    let unchanged = |record: Option<Written>| DashPlan {
        action: Action::Unchanged,
        version: Some(have.version.clone()),
        retitled: false,
        record,
        diff: None,
        detail: None,
    };
    let desired_same = written.as_ref().is_some_and(|w| w.desired == fingerprint);
    if desired_same && written.as_ref().is_some_and(|w| w.version == have.ledger_version) {
        return Ok(unchanged(None));
    }
    let want = comparable(&d.model, Tolerance::Content);
    let got = comparable(&have.model, Tolerance::Content);
    if got == want && !moved {
        // Same content: nothing to write; remember Grafana's version.
        let record = Written { desired: fingerprint, version: have.ledger_version.clone() };
        return Ok(unchanged(Some(record)));
    }
    let retitled = got.get("title") != want.get("title");
    let diff = (got != want).then(|| json_diff(&got, &want, &d.uid));
    let mut detail = Vec::new();
    if desired_same {
        // monstack wrote this desired object, and Grafana's copy changed since.
        detail.push(format!("changed in Grafana since monstack wrote it; restoring {}", d.source));
    }
    if moved {
        detail.push(format!(
            "move from folder `{}` to `{folder_uid}`",
            if have.folder.is_empty() { "General" } else { &have.folder }
        ));
    }
    Ok(DashPlan {
        action: Action::Update,
        version: Some(have.version),
        retitled,
        record: None,
        diff,
        detail: (!detail.is_empty()).then(|| detail.join("; ")),
    })
}

/// Write one dashboard when the plan says so, then record it in the ledger.
pub(crate) fn apply(
    client: &Client,
    api: &Api,
    ledger: &Ledger,
    d: &Desired,
    folder_uid: &str,
    plan: &DashPlan,
) -> Result<Change, Error> {
    if plan.action == Action::Unchanged {
        if let Some(r) = &plan.record {
            ledger.set(&d.key(), Some(r.clone()));
        }
        return Ok(plan.change(&d.uid));
    }
    let version = match api {
        Api::Legacy => write_legacy(client, d, folder_uid, plan)?,
        Api::K8s { ns, v1, v2 } => {
            let v = match d.schema {
                Schema::V1 => v1,
                Schema::V2 => v2.as_ref().ok_or_else(|| v2_unsupported(client, d))?,
            };
            write_k8s(client, ns, v, d, folder_uid, plan)?
        }
    };
    ledger.set(&d.key(), Some(Written { desired: d.fingerprint(folder_uid), version }));
    Ok(plan.change(&d.uid))
}

/// Whether Grafana's copy is the one just sent (for a write whose answer was lost).
fn landed(model: &Value, folder: &str, d: &Desired, folder_uid: &str) -> bool {
    folder == folder_uid
        && comparable(model, Tolerance::ReadBack) == comparable(&d.model, Tolerance::ReadBack)
}

/// `POST /api/dashboards/db` (API-FACTS §3.1); returns the ledger version.
fn write_legacy(
    client: &Client,
    d: &Desired,
    folder_uid: &str,
    plan: &DashPlan,
) -> Result<String, Error> {
    let obj = object(&d.uid);
    let mut model = d.model.as_object().cloned().unwrap_or_default();
    // id null: Grafana matches on uid (an update keeps the stored id).
    model.insert("id".into(), Value::Null);
    // A create uses overwrite=false so that (Grafana <= 11.2) a same-titled dashboard
    // with another uid gives 412 name-exists instead of being taken over silently; so
    // does a retitle. Other updates overwrite: monstack owns the uids it manages.
    let overwrite = plan.action == Action::Update && !plan.retitled;
    if let Some(v) = &plan.version {
        model.insert("version".into(), v.clone());
    }
    let body = json!({
        "dashboard": Value::Object(model),
        "folderUid": folder_uid,
        "overwrite": overwrite,
        "message": MESSAGE,
    });
    // After a lost answer: read back; the dashboard as sent (in its folder) = landed,
    // and Grafana's stored id and version stand in for the answer.
    let check = || -> Result<Option<Response>, Error> {
        let r = client.send(Method::GET, &format!("/api/dashboards/uid/{}", d.uid), None, &obj)?;
        if r.status.as_u16() != 200 {
            return Ok(None);
        }
        let s = stored_legacy(&r.body);
        if !landed(&s.model, &s.folder, d, folder_uid) {
            return Ok(None);
        }
        Ok(Some(Response {
            status: reqwest::StatusCode::OK,
            body: json!({"id": s.model.get("id"), "version": s.version}),
        }))
    };
    let r = client.send_with(
        Method::POST,
        "/api/dashboards/db",
        Some(&body),
        &obj,
        Retry::Verify(&check),
    )?;
    match (r.status.as_u16(), r.status_field()) {
        (200, _) => {
            let id = r.body.get("id").cloned().unwrap_or(Value::Null);
            let v = r.body.get("version").cloned().unwrap_or(Value::Null);
            Ok(format!("{id}/{v}"))
        }
        (412, "name-exists") => Err(Error::api(&obj, &r, &format!(
            "another dashboard titled \"{}\" is in folder `{folder_uid}` under a different uid; delete or rename it, or give {} its uid",
            d.title, d.source
        ))),
        (412, "version-mismatch") => Err(Error::api(
            &obj,
            &r,
            "the dashboard was changed in Grafana while monstack applied; re-run `monstack apply`",
        )),
        (412, "plugin-dashboard") => Err(Error::api(
            &obj,
            &r,
            "this uid belongs to a plugin's dashboard; give the file another uid",
        )),
        (400 | 404, _) if r.message().eq_ignore_ascii_case("folder not found") => Err(Error::api(
            &obj,
            &r,
            &format!("folder `{folder_uid}` was deleted while monstack applied; re-run `monstack apply` to recreate it"),
        )),
        (400, _) if r.message().contains("provisioned") => Err(Error::api(
            &obj,
            &r,
            "this uid is provisioned from a file in Grafana; remove that provisioning or use `grafana.mode: files`",
        )),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// `POST` (create) or `PUT` (update, with the `resourceVersion` read) of the `/apis`
/// object (INSTALL-AND-12-13 §5.1: `metadata.name` = uid, folder annotation, `spec`);
/// returns the ledger version.
fn write_k8s(
    client: &Client,
    ns: &str,
    version: &str,
    d: &Desired,
    folder_uid: &str,
    plan: &DashPlan,
) -> Result<String, Error> {
    let obj = object(&d.uid);
    let mut spec = d.model.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("uid");
    }
    let mut metadata = json!({
        "name": d.uid,
        "annotations": {"grafana.app/folder": folder_uid, "grafana.app/message": MESSAGE},
    });
    let create = plan.action == Action::Create;
    if !create {
        if let Some(rv) = &plan.version {
            metadata["resourceVersion"] = rv.clone();
        }
    }
    let body = json!({
        "apiVersion": format!("dashboard.grafana.app/{version}"),
        "kind": "Dashboard",
        "metadata": metadata,
        "spec": spec,
    });
    let item = Api::k8s_path(ns, version, Some(&d.uid));
    let check = || -> Result<Option<Response>, Error> {
        let r = client.send(Method::GET, &item, None, &obj)?;
        if r.status.as_u16() != 200 {
            return Ok(None);
        }
        let s = stored_k8s(&r.body);
        Ok(landed(&s.model, &s.folder, d, folder_uid).then_some(r))
    };
    let r = if create {
        let path = Api::k8s_path(ns, version, None);
        client.send_with(Method::POST, &path, Some(&body), &obj, Retry::Verify(&check))?
    } else {
        // With a resourceVersion a repeated PUT would meet its own first attempt
        // (409), so it is read back like a create.
        client.send_with(Method::PUT, &item, Some(&body), &obj, Retry::Verify(&check))?
    };
    match r.status.as_u16() {
        200 | 201 => Ok(stored_k8s(&r.body).ledger_version),
        409 if create => Err(Error::api(
            &obj,
            &r,
            "a dashboard with this uid was created by someone else since it was read; re-run `monstack apply`",
        )),
        409 => Err(Error::api(
            &obj,
            &r,
            "the dashboard was changed in Grafana while monstack applied; re-run `monstack apply`",
        )),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// Dashboards in the managed folder that the config no longer lists
/// (`GET /api/search?type=dash-db&folderUIDs=...`, API-FACTS §3.4), paged.
pub(crate) fn observe_prune(
    client: &Client,
    folder_uid: &str,
    keep: &BTreeSet<String>,
) -> Result<Vec<(String, String)>, Error> {
    let obj = format!("folder `{folder_uid}` (prune)");
    let mut out = Vec::new();
    for page in 1.. {
        let path = format!(
            "/api/search?type=dash-db&folderUIDs={}&limit=1000&page={page}",
            super::datasource::encode_segment(folder_uid)
        );
        let r = client.send(Method::GET, &path, None, &obj)?;
        if r.status.as_u16() != 200 {
            return Err(Error::api(&obj, &r, ""));
        }
        let hits = r.body.as_array().cloned().unwrap_or_default();
        for h in &hits {
            let uid = h.get("uid").and_then(Value::as_str).unwrap_or("");
            let in_folder = h.get("folderUid").and_then(Value::as_str) == Some(folder_uid);
            if !uid.is_empty() && in_folder && !keep.contains(uid) {
                let title = h.get("title").and_then(Value::as_str).unwrap_or("").to_string();
                out.push((uid.to_string(), title));
            }
        }
        if hits.len() < 1000 {
            break;
        }
    }
    Ok(out)
}

/// `DELETE /api/dashboards/uid/{uid}` (API-FACTS §3.3) or the `/apis` object; already
/// gone counts as done.
pub(crate) fn delete(
    client: &Client,
    api: &Api,
    ledger: &Ledger,
    uid: &str,
    title: &str,
) -> Result<Change, Error> {
    let obj = object(uid);
    let path = match api {
        Api::Legacy => format!("/api/dashboards/uid/{uid}"),
        Api::K8s { ns, v1, .. } => Api::k8s_path(ns, v1, Some(uid)),
    };
    let r = client.send(Method::DELETE, &path, None, &obj)?;
    match r.status.as_u16() {
        200 | 404 => {
            ledger.set(&format!("dashboard/{uid}"), None);
            Ok(prune_change(uid, title))
        }
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// The report entry of a pruned dashboard.
pub(crate) fn prune_change(uid: &str, title: &str) -> Change {
    let mut c = Change::new(KIND, uid, Action::Delete);
    c.detail = Some(format!("\"{title}\" is no longer in the config (prune: true)"));
    c
}

/// Unified diff of two models as pretty JSON.
fn json_diff(have: &Value, want: &Value, uid: &str) -> String {
    let a = serde_json::to_string_pretty(&sorted(have)).unwrap_or_default() + "\n";
    let b = serde_json::to_string_pretty(&sorted(want)).unwrap_or_default() + "\n";
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(&format!("grafana:{uid}"), &format!("monstack:{uid}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_style_files_and_v2_models_are_recognised() {
        let v2 = json!({"apiVersion": "dashboard.grafana.app/v2beta1", "kind": "Dashboard",
            "metadata": {"name": "ops"}, "spec": {"title": "Ops", "elements": {}, "layout": {}}});
        let d = desired_from(v2, "f.json".into()).unwrap();
        assert_eq!((d.uid.as_str(), d.schema), ("ops", Schema::V2));
        let v1 = json!({"apiVersion": "dashboard.grafana.app/v1beta1", "kind": "Dashboard",
            "metadata": {"name": "cl"}, "spec": {"title": "Classic", "panels": []}});
        let d = desired_from(v1, "g.json".into()).unwrap();
        assert_eq!((d.uid.as_str(), d.schema), ("cl", Schema::V1));
        let e = desired_from(json!({"kind": "Dashboard", "spec": {"title": "x"}}), "h.json".into());
        assert!(e.unwrap_err().contains("metadata.name"));
    }

    #[test]
    fn what_grafana_rewrites_is_left_out_of_the_comparison() {
        let want = json!({"uid": "a", "title": "A", "refresh": "1s", "schemaVersion": 36});
        let got = json!({"uid": "a", "id": 4, "version": 9, "title": " A ", "refresh": "5s", "schemaVersion": 41});
        assert_ne!(comparable(&want, Tolerance::Content), comparable(&got, Tolerance::Content));
        assert_eq!(comparable(&want, Tolerance::ReadBack), comparable(&got, Tolerance::ReadBack));
        let edited = json!({"uid": "a", "title": "B", "refresh": "5s"});
        assert_ne!(
            comparable(&want, Tolerance::ReadBack),
            comparable(&edited, Tolerance::ReadBack)
        );
    }
}
