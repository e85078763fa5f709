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

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, Response, Retry};
use super::fingerprint::{sorted, Ledger, Written};
use super::Error;
use crate::report::{Action, Change};

/// Change kinds in reports.
pub(crate) const KIND: &str = "grafana_dashboard";
pub(crate) const FOLDER_KIND: &str = "grafana_folder";

/// The dashboard commit message (API-FACTS §3.1: stored as the version's message).
const MESSAGE: &str = concat!("provisioned by monstack ", env!("CARGO_PKG_VERSION"));

mod desired;
mod folder;

use desired::{comparable, Tolerance};
pub(crate) use desired::{load_desired, Desired, Schema};
pub(crate) use folder::{
    apply_folder, apply_parents, observe_folder, observe_parents, parent_changes,
};

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
