//! Dashboards and their folder: load the desired models (built-in asset and user
//! files), compare each with Grafana's copy after dropping server-managed fields, and
//! write only those that differ. Optional pruning of the managed folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::Client;
use super::Error;
use crate::config::{valid_uid, Loaded};
use crate::report::{Action, Change};

/// Change kinds in reports.
pub(crate) const KIND: &str = "grafana_dashboard";
pub(crate) const FOLDER_KIND: &str = "grafana_folder";

/// The dashboard commit message (API-FACTS §3.1: stored as the version's message).
const MESSAGE: &str = concat!("provisioned by monstack ", env!("CARGO_PKG_VERSION"));

/// One dashboard monstack manages.
#[derive(Debug, Clone)]
pub(crate) struct Desired {
    pub uid: String,
    pub title: String,
    /// The model without `id` and `version`.
    pub model: Value,
    /// Where it came from (`built-in` or a file path), for messages.
    pub source: String,
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

/// The desired dashboards: the built-in one (when enabled) and every user file or
/// `*.json` in a listed directory. `${DS_PROMETHEUS}` becomes the datasource uid.
/// A file without a valid uid, or two files with one uid, is a config error.
pub(crate) fn load_desired(loaded: &Loaded) -> anyhow::Result<Vec<Desired>> {
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

impl Desired {
    fn with_ds(mut self, ds_uid: &str) -> Desired {
        let text = self.model.to_string();
        if text.contains("${DS_PROMETHEUS}") {
            self.model = serde_json::from_str(&text.replace("${DS_PROMETHEUS}", ds_uid))
                .expect("substitution keeps JSON valid");
        }
        self
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

fn desired_from(model: Value, source: String) -> Result<Desired, String> {
    let Some(o) = model.as_object() else {
        return Err(format!("dashboard `{source}` must be a JSON object"));
    };
    let uid = match o.get("uid") {
        Some(Value::String(u)) if valid_uid(u) => u.clone(),
        Some(Value::String(u)) if !u.is_empty() => {
            return Err(format!(
                "dashboard `{source}` has uid `{u}`, which is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)"
            ))
        }
        _ => {
            return Err(format!(
                "dashboard `{source}` has no `uid`; add a stable \"uid\" so monstack can find it again"
            ))
        }
    };
    let title = o.get("title").and_then(Value::as_str).unwrap_or("").trim().to_string();
    if title.is_empty() {
        // API-FACTS §3.1 step 1: Grafana would answer 400 empty-name.
        return Err(format!("dashboard `{source}` has no `title`"));
    }
    Ok(Desired { uid, title, model: normalise(&model), source })
}

fn object(uid: &str) -> String {
    format!("dashboard `{uid}`")
}

// ---------------------------------------------------------------- folder

/// The folder's observed state.
#[derive(Debug)]
pub(crate) struct FolderPlan {
    pub action: Action,
    version: Option<i64>,
    detail: Option<String>,
}

impl FolderPlan {
    pub(crate) fn change(&self, uid: &str) -> Change {
        let mut c = Change::new(FOLDER_KIND, uid, self.action);
        c.detail = self.detail.clone();
        c
    }
}

/// `GET /api/folders/{uid}`: API-FACTS §4.2, 200 DTO or 404 not-found.
pub(crate) fn observe_folder(client: &Client, uid: &str, title: &str) -> Result<FolderPlan, Error> {
    let obj = format!("folder `{uid}`");
    let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
    match r.status.as_u16() {
        200 => {
            let have = r.body.get("title").and_then(Value::as_str).unwrap_or("");
            let version = r.body.get("version").and_then(Value::as_i64);
            if have == title {
                Ok(FolderPlan { action: Action::Unchanged, version, detail: None })
            } else {
                Ok(FolderPlan {
                    action: Action::Update,
                    version,
                    detail: Some(format!("title \"{have}\" -> \"{title}\"")),
                })
            }
        }
        404 => Ok(FolderPlan {
            action: Action::Create,
            version: None,
            detail: Some(format!("title \"{title}\"")),
        }),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// Create or retitle the folder.
pub(crate) fn apply_folder(
    client: &Client,
    uid: &str,
    title: &str,
    plan: &FolderPlan,
) -> Result<Change, Error> {
    let obj = format!("folder `{uid}`");
    match plan.action {
        Action::Create => {
            let body = json!({"uid": uid, "title": title});
            let r = client.send(Method::POST, "/api/folders", Some(&body), &obj)?;
            match r.status.as_u16() {
                200 => {}
                // API-FACTS §4.1: uid taken (409 since 10.2, 412 before) or, up to 11.2,
                // the title already used by another folder (409).
                409 | 412 if r.message().contains("same name") => {
                    return Err(Error::api(&obj, &r, &format!(
                        "a folder titled \"{title}\" already exists with another uid; set `grafana.folder.uid` to its uid or choose another `grafana.folder.title`"
                    )))
                }
                409 | 412 => {
                    return Err(Error::api(&obj, &r, "the folder was created by someone else since it was read; re-run `monstack apply`"))
                }
                _ => return Err(Error::api(&obj, &r, "")),
            }
        }
        Action::Update => {
            // API-FACTS §4.3: PUT with the version read; 412 when stale.
            let body = json!({"title": title, "version": plan.version, "overwrite": false});
            let r = client.send(Method::PUT, &format!("/api/folders/{uid}"), Some(&body), &obj)?;
            match r.status.as_u16() {
                200 => {}
                412 => {
                    return Err(Error::api(&obj, &r, "the folder was changed in Grafana while monstack applied; re-run `monstack apply`"))
                }
                _ => return Err(Error::api(&obj, &r, "")),
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
    /// Stored version (for updates).
    version: Option<i64>,
    /// The stored title differs (an update then must not take over a same-titled one).
    retitled: bool,
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

/// `GET /api/dashboards/uid/{uid}` and compare (API-FACTS §3.2).
pub(crate) fn observe(client: &Client, d: &Desired, folder_uid: &str) -> Result<DashPlan, Error> {
    let obj = object(&d.uid);
    let r = client.send(Method::GET, &format!("/api/dashboards/uid/{}", d.uid), None, &obj)?;
    match r.status.as_u16() {
        404 => Ok(DashPlan {
            action: Action::Create,
            version: None,
            retitled: false,
            diff: None,
            detail: Some(format!("\"{}\" from {}", d.title, d.source)),
        }),
        200 => {
            let stored = r.body.get("dashboard").cloned().unwrap_or(Value::Null);
            let meta = r.body.get("meta").cloned().unwrap_or(Value::Null);
            let version = stored.get("version").and_then(Value::as_i64);
            let have = normalise(&stored);
            let have_folder = meta.get("folderUid").and_then(Value::as_str).unwrap_or("");
            let moved = have_folder != folder_uid;
            if have == d.model && !moved {
                return Ok(DashPlan {
                    action: Action::Unchanged,
                    version,
                    retitled: false,
                    diff: None,
                    detail: None,
                });
            }
            let retitled = have.get("title") != d.model.get("title");
            let diff = (have != d.model).then(|| json_diff(&have, &d.model, &d.uid));
            let detail = moved.then(|| {
                format!(
                    "move from folder `{}` to `{folder_uid}`",
                    if have_folder.is_empty() { "General" } else { have_folder }
                )
            });
            Ok(DashPlan { action: Action::Update, version, retitled, diff, detail })
        }
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// `POST /api/dashboards/db` when the plan says so (API-FACTS §3.1).
pub(crate) fn apply(
    client: &Client,
    d: &Desired,
    folder_uid: &str,
    plan: &DashPlan,
) -> Result<Change, Error> {
    if plan.action == Action::Unchanged {
        return Ok(plan.change(&d.uid));
    }
    let obj = object(&d.uid);
    let mut model = d.model.as_object().cloned().unwrap_or_default();
    // id null: Grafana matches on uid (an update keeps the stored id).
    model.insert("id".into(), Value::Null);
    // A create uses overwrite=false so that (Grafana <= 11.2) a same-titled dashboard
    // with another uid gives 412 name-exists instead of being taken over silently; so
    // does a retitle. Other updates overwrite: monstack owns the uids it manages.
    let overwrite = plan.action == Action::Update && !plan.retitled;
    if let Some(v) = plan.version {
        model.insert("version".into(), json!(v));
    }
    let body = json!({
        "dashboard": Value::Object(model),
        "folderUid": folder_uid,
        "overwrite": overwrite,
        "message": MESSAGE,
    });
    let r = client.send(Method::POST, "/api/dashboards/db", Some(&body), &obj)?;
    match (r.status.as_u16(), r.status_field()) {
        (200, _) => Ok(plan.change(&d.uid)),
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

/// `DELETE /api/dashboards/uid/{uid}` (API-FACTS §3.3); already gone counts as done.
pub(crate) fn delete(client: &Client, uid: &str, title: &str) -> Result<Change, Error> {
    let obj = object(uid);
    let r = client.send(Method::DELETE, &format!("/api/dashboards/uid/{uid}"), None, &obj)?;
    match r.status.as_u16() {
        200 | 404 => Ok(prune_change(uid, title)),
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

/// Keys sorted at every level, so the diff shows content changes, not key order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter().map(|k| (k.clone(), sorted(&o[k]))).collect::<Map<_, _>>(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        v => v.clone(),
    }
}
