//! The Grafana emulator answers as the Grafana API facts say (so a failure in the
//! Grafana tests is monstack's, not the emulator's).
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;

use grafana_emulator::{Emulator, Role, TOKEN};
use serde_json::{json, Value};

fn raw(g: &Emulator, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    let mut rq = reqwest::blocking::Client::new()
        .request(method.parse().unwrap(), format!("{}{}", g.url(), path));
    if let Some(a) = auth {
        rq = rq.header("Authorization", a);
    }
    let r = rq.send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn health_and_auth_bodies() {
    let g = Emulator::start();
    let (st, body) = raw(&g, "GET", "/api/health", None);
    assert_eq!((st, body["database"].as_str()), (200, Some("ok")));
    g.set_database_ok(false);
    let (st, body) = raw(&g, "GET", "/api/health", None);
    assert_eq!((st, body["database"].as_str()), (503, Some("failing")));

    let (st, body) = raw(&g, "GET", "/api/datasources", None);
    assert_eq!(st, 401);
    assert_eq!(body["messageId"], "auth.unauthorized");
    assert_eq!(body["extra"], Value::Null);
    let (st, body) = raw(&g, "GET", "/api/datasources", Some("Bearer glsa_nope"));
    assert_eq!((st, body["message"].as_str()), (401, Some("Invalid API key")));
    let (st, body) = raw(&g, "GET", "/api/datasources", Some("Basic YWRtaW46d3Jvbmc=")); // admin:wrong
    assert_eq!((st, body["messageId"].as_str()), (401, Some("password-auth.failed")));
    let (st, _) = raw(&g, "GET", "/api/datasources", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(st, 200);

    g.set_role(Role::Editor);
    let (st, body) = raw(&g, "POST", "/api/datasources", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(st, 403);
    assert_eq!(body["title"], "Access denied");
    assert!(body["message"].as_str().unwrap().ends_with("Permissions needed: datasources:create"));
}

#[test]
fn datasource_rules() {
    let g = Emulator::start();
    let ds = |name: &str, uid: &str, default: bool| json!({"name": name, "uid": uid, "type": "prometheus", "access": "proxy", "url": "http://p:9090", "isDefault": default});
    let (st, body) = g.call("POST", "/api/datasources", Some(json!({"name": "x"})));
    assert_eq!((st, body["message"].as_str()), (400, Some("bad request data")));
    let (st, body) = g.call("POST", "/api/datasources", Some(ds("A", "a", false)));
    assert_eq!(st, 200);
    assert_eq!(body["message"], "Datasource added");
    assert_eq!(body["datasource"]["isDefault"], true, "the first datasource is the default");
    assert_eq!(body["datasource"]["version"], 1);
    let (st, body) = g.call("POST", "/api/datasources", Some(ds("A", "other", false)));
    assert_eq!(
        (st, body),
        (409, json!({"message": "data source with the same name already exists", "traceID": ""}))
    );
    let (st, body) = g.call("POST", "/api/datasources", Some(ds("B", "a", false)));
    assert_eq!(
        (st, body["message"].as_str()),
        (409, Some("data source with the same uid already exists"))
    );
    let (st, _) = g.call("POST", "/api/datasources", Some(ds("B", "b", true)));
    assert_eq!(st, 200);
    let (_, a) = g.call("GET", "/api/datasources/uid/a", None);
    assert_eq!(a["isDefault"], false, "isDefault is exclusive");
    let (st, body) = g.call("GET", "/api/datasources/name/nope", None);
    assert_eq!((st, body), (404, json!({"message": "Data source not found"})));

    // PUT: full replace, secrets merge, optimistic version, uid rename.
    let mut put = ds("A", "a", false);
    put["secureJsonData"] = json!({"k1": "v1", "k2": "v2"});
    put["version"] = json!(1);
    let (st, body) = g.call("PUT", "/api/datasources/uid/a", Some(put.clone()));
    assert_eq!((st, body["datasource"]["version"].as_i64()), (200, Some(2)));
    assert_eq!(body["datasource"]["secureJsonFields"], json!({"k1": true, "k2": true}));
    assert!(body["datasource"].get("secureJsonData").is_none());
    let (st, body) = g.call("PUT", "/api/datasources/uid/a", Some(put.clone()));
    assert_eq!(st, 409, "stale version: {body}");
    put["version"] = json!(0);
    put["secureJsonData"] = json!({"k2": ""});
    put["uid"] = json!("renamed");
    let (st, body) = g.call("PUT", "/api/datasources/uid/a", Some(put));
    assert_eq!(st, 200);
    assert_eq!(body["datasource"]["version"], 1, "an omitted version resets to 1");
    assert_eq!(body["datasource"]["secureJsonFields"], json!({"k1": true}));
    assert_eq!(body["datasource"]["uid"], "renamed");
    let mut no_url = ds("A", "renamed", false);
    no_url["url"] = json!("");
    let (st, body) = g.call("PUT", "/api/datasources/uid/renamed", Some(no_url));
    assert_eq!((st, body["message"].as_str()), (400, Some("Validation error, invalid URL")));
}

#[test]
fn dashboard_and_folder_rules() {
    let g = Emulator::start();
    let (st, _) = g.call("POST", "/api/folders", Some(json!({"uid": "f", "title": "F"})));
    assert_eq!(st, 200);
    let (st, _) = g.call("POST", "/api/folders", Some(json!({"uid": "f", "title": "G"})));
    assert_eq!(st, 409);
    let (st, body) = g.call("GET", "/api/folders/nope", None);
    assert_eq!((st, body), (404, json!({"message": "folder not found", "status": "not-found"})));

    let save = |dash: Value, overwrite: bool, folder: &str| {
        g.call(
            "POST",
            "/api/dashboards/db",
            Some(json!({"dashboard": dash, "overwrite": overwrite, "folderUid": folder})),
        )
    };
    let (st, body) = save(json!({"uid": "d", "title": "D", "version": 7}), false, "f");
    assert_eq!(
        (st, body["version"].as_i64(), body["status"].as_str()),
        (200, Some(1), Some("success"))
    );
    let (st, body) = save(json!({"uid": "d", "title": "D"}), false, "f");
    assert_eq!((st, body["status"].as_str()), (412, Some("version-mismatch")));
    let (st, body) = save(json!({"uid": "d", "title": "D"}), true, "f");
    assert_eq!((st, body["version"].as_i64()), (200, Some(2)));
    let (st, body) = save(json!({"uid": "e", "title": "D"}), false, "f");
    assert_eq!((st, body["status"].as_str()), (412, Some("name-exists")));
    let (st, body) = save(json!({"uid": "e", "title": "E"}), false, "missing");
    assert_eq!((st, body["message"].as_str()), (400, Some("folder not found")));
    let (st, body) = save(json!({"uid": "e", "title": " "}), false, "f");
    assert_eq!((st, body["status"].as_str()), (400, Some("empty-name")));

    let (st, body) = g.call("GET", "/api/dashboards/uid/d", None);
    assert_eq!(st, 200);
    assert_eq!(body["dashboard"]["version"], 2);
    assert_eq!(body["meta"]["folderUid"], "f");
    let (st, body) = g.call("GET", "/api/search?type=dash-db&folderUIDs=f", None);
    assert_eq!((st, body.as_array().unwrap().len()), (200, 1));
    let (st, _) = g.call("GET", "/api/search?limit=5001", None);
    assert_eq!(st, 422);
    let (st, body) = g.call("DELETE", "/api/dashboards/uid/d", None);
    assert_eq!((st, body["message"].as_str()), (200, Some("Dashboard D deleted")));
    let (st, body) = g.call("DELETE", "/api/dashboards/uid/d", None);
    assert_eq!((st, body), (404, json!({"message": "Dashboard not found", "traceID": ""})));
}
