//! The desired dashboards: the built-in asset, user files and locked grafana.com
//! revisions, as normalised models, and what of a model is compared with Grafana's copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::super::fingerprint::digest;
use crate::config::{valid_uid, Loaded};

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
pub(super) enum Tolerance {
    /// For plan: ignore identity, `schemaVersion` (migrated, INSTALL-AND-12-13 §5.3)
    /// and surrounding blanks of the title (trimmed, API-FACTS §3.1 step 1).
    Content,
    /// For reading back a write whose answer was lost: also ignore `refresh`, which
    /// Grafana raises to `min_refresh_interval` (API-FACTS §3.1 step 4).
    ReadBack,
}

/// A model with the fields Grafana manages or rewrites taken out.
pub(super) fn comparable(model: &Value, t: Tolerance) -> Value {
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
        let text = super::super::BUILTIN_DASHBOARD.replace("${DS_PROMETHEUS}", ds_uid);
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
    pub(super) fn key(&self) -> String {
        format!("dashboard/{}", self.uid)
    }

    /// Fingerprint of what is written: the model, its schema and its folder.
    pub(super) fn fingerprint(&self, folder_uid: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
