//! `grafana.mode: files`: Grafana's own provisioning files for hosts that run Grafana
//! locally and do not want the API — a datasource file, a file-based dashboard
//! provider pointing at `dashboards_dir`, and one JSON file per dashboard.

use serde_json::{json, Value};

use super::{dashboard, datasource};
use crate::config::Loaded;
use crate::hostfile::{FileRole, RenderedFile};

/// The provisioning files as host files (absolute paths, not yet under `--root`).
/// The datasource file holds secrets when `secure_json_data` is set: it is then mode
/// 0640, group `grafana`, and its secret values are listed for masking.
pub fn provisioning_files(loaded: &Loaded) -> crate::error::Result<Vec<RenderedFile>> {
    let g = &loaded.config.grafana;
    if !g.enabled || g.mode != crate::config::GrafanaMode::Files {
        return Ok(Vec::new());
    }
    let ds = datasource::Desired::from_config(loaded)?;
    let dashboards = dashboard::load_desired(loaded)?;

    let mut entry = json!({
        "name": ds.name,
        "uid": ds.uid,
        "type": ds.kind,
        "access": ds.access,
        "url": ds.url,
        "isDefault": ds.is_default,
        "jsonData": Value::Object(ds.json_data.clone()),
        // Edits belong in monstack.yaml; the UI shows the datasource read-only.
        "editable": false,
    });
    if !ds.secrets.is_empty() {
        entry["secureJsonData"] = json!(ds.secrets);
    }
    if let Some(user) = &ds.basic_auth_user {
        entry["basicAuth"] = json!(true);
        entry["basicAuthUser"] = json!(user);
    }
    let mut ds_file = json!({"apiVersion": 1, "datasources": [entry]});
    if let Some(org) = g.org_id {
        ds_file["datasources"][0]["orgId"] = json!(org);
    }
    let secrets: Vec<String> = ds.secrets.values().cloned().collect();
    let mut out = vec![RenderedFile {
        path: g.provisioning_dir.join("datasources/monstack.yaml"),
        content: yaml("datasource provisioning", &ds_file),
        mode: if secrets.is_empty() { 0o644 } else { 0o640 },
        owner: None,
        group: (!secrets.is_empty()).then(|| "grafana".to_string()),
        role: FileRole::GrafanaProvisioning,
        secrets,
    }];

    // The file provider: Grafana creates the folder by uid and, with prune, deletes
    // dashboards whose file is gone (disableDeletion: false).
    let mut provider = json!({
        "name": "monstack",
        "type": "file",
        "folder": g.folder.title,
        "folderUid": g.folder.uid,
        "disableDeletion": !g.prune,
        "allowUiUpdates": false,
        "updateIntervalSeconds": 30,
        "options": {"path": g.dashboards_dir.display().to_string(), "foldersFromFilesStructure": false},
    });
    if let Some(org) = g.org_id {
        provider["orgId"] = json!(org);
    }
    out.push(RenderedFile {
        path: g.provisioning_dir.join("dashboards/monstack.yaml"),
        content: yaml("dashboard provider", &json!({"apiVersion": 1, "providers": [provider]})),
        mode: 0o644,
        owner: None,
        group: None,
        role: FileRole::GrafanaProvisioning,
        secrets: Vec::new(),
    });
    for d in dashboards {
        if d.schema == dashboard::Schema::V2 {
            // The file provider reads classic dashboard JSON; a v2 model written there
            // would not load as v2 (INSTALL-AND-12-13 §5.3), so it is refused, not
            // flattened.
            return Err(loaded
                .error_at(
                    "grafana.dashboards",
                    format!(
                        "dashboard `{}` in `{}` uses the v2 schema, which `grafana.mode: files` cannot provision; use `grafana.mode: api` (Grafana 12+), or export it as classic JSON",
                        d.uid, d.source
                    ),
                )
                .into());
        }
        let mut content = serde_json::to_vec_pretty(&d.model).expect("model serialises");
        content.push(b'\n');
        out.push(RenderedFile {
            path: g.dashboards_dir.join(format!("{}.json", d.uid)),
            content,
            mode: 0o644,
            owner: None,
            group: None,
            role: FileRole::GrafanaDashboard,
            secrets: Vec::new(),
        });
    }
    Ok(out)
}

fn yaml(what: &str, v: &Value) -> Vec<u8> {
    let body = serde_norway::to_string(v).unwrap_or_else(|e| panic!("{what} serialises: {e}"));
    format!("# Managed by monstack; edit monstack.yaml instead.\n{body}").into_bytes()
}
