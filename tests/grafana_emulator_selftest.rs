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

#[test]
fn saves_are_normalised_as_grafana_does() {
    let g = Emulator::start();
    g.set_min_refresh(std::time::Duration::from_secs(10));
    let (st, _) = g.call("POST", "/api/folders", Some(json!({"uid": "f", "title": "F"})));
    assert_eq!(st, 200);
    let dash = json!({"uid": "n", "title": "  Padded  ", "refresh": "1s", "schemaVersion": 20});
    let (st, body) =
        g.call("POST", "/api/dashboards/db", Some(json!({"dashboard": dash, "folderUid": "f"})));
    assert_eq!((st, body["version"].as_i64()), (200, Some(1)));
    let stored = g.dashboard("n").unwrap();
    // API-FACTS §3.1 steps 1 and 4; INSTALL-AND-12-13 §5.3.
    assert_eq!(stored["title"], "Padded");
    assert_eq!(stored["refresh"], "10s");
    assert_eq!(stored["schemaVersion"], 39);
    let (_, body) = g.call("GET", "/api/dashboards/uid/n", None);
    assert_eq!(body["dashboard"]["version"], 1);
}

#[test]
fn faults_model_rate_limits_lost_answers_and_drops() {
    use grafana_emulator::Fault;
    let g = Emulator::start();
    let client = reqwest::blocking::Client::new();
    let get = || client.get(format!("{}/api/folders", g.url())).bearer_auth(TOKEN).send();
    g.fault("GET /api/folders", Fault::RetryAfter(7), 1);
    let r = get().unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    // Processed, then failed: the folder exists although the answer was a 500.
    g.fault("POST /api/folders", Fault::ProcessedThen(500), 1);
    let (st, _) = g.call("POST", "/api/folders", Some(json!({"uid": "p", "title": "P"})));
    assert_eq!(st, 500);
    assert_eq!(g.folders(), vec![("p".to_string(), "P".to_string())]);
    // Dropped after processing: no answer, but it landed.
    g.fault("POST /api/folders", Fault::DropAfter, 1);
    let r = client
        .post(format!("{}/api/folders", g.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"uid": "q", "title": "Q"}))
        .send();
    assert!(r.is_err(), "{r:?}");
    assert_eq!(g.folders().len(), 2);
    // Dropped before: no answer, nothing stored.
    g.fault("POST /api/folders", Fault::DropBefore, 1);
    let r = client
        .post(format!("{}/api/folders", g.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"uid": "r", "title": "R"}))
        .send();
    assert!(r.is_err());
    assert_eq!(g.folders().len(), 2);
}

#[test]
fn versions_12_and_13_serve_dashboards_through_apis() {
    let g11 = Emulator::start();
    assert_eq!(
        raw(&g11, "GET", "/apis/dashboard.grafana.app", Some(&format!("Bearer {TOKEN}"))).0,
        404
    );
    for (v, v1, v2) in [("12.1.0", "v1beta1", "v2beta1"), ("13.0.0", "v1", "v2")] {
        let g = Emulator::start_version(v);
        let (st, health) = raw(&g, "GET", "/api/health", None);
        assert_eq!((st, health["version"].as_str()), (200, Some(v)));
        let (st, disc) = g.call("GET", "/apis/dashboard.grafana.app", None);
        assert_eq!(st, 200);
        let served: Vec<&str> = disc["versions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["version"].as_str())
            .collect();
        assert!(served.contains(&v1) && served.contains(&v2), "{served:?}");
        let base = format!("/apis/dashboard.grafana.app/{v1}/namespaces/default/dashboards");
        let body = json!({"metadata": {"name": "k", "annotations": {}}, "spec": {"title": "K"}});
        let (st, obj) = g.call("POST", &base, Some(body.clone()));
        assert_eq!(st, 201);
        let rv = obj["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let (st, status) = g.call("POST", &base, Some(body));
        assert_eq!((st, status["reason"].as_str()), (409, Some("AlreadyExists")));
        // A stale resourceVersion is a conflict.
        let stale =
            json!({"metadata": {"name": "k", "resourceVersion": "1"}, "spec": {"title": "K2"}});
        let (st, _) = g.call("PUT", &format!("{base}/k"), Some(stale));
        assert_eq!(st, 409);
        let fresh =
            json!({"metadata": {"name": "k", "resourceVersion": rv}, "spec": {"title": "K2"}});
        let (st, _) = g.call("PUT", &format!("{base}/k"), Some(fresh));
        assert_eq!(st, 200);
        // Stored as v2 (edited in the UI): a v1 read says so (INSTALL-AND-12-13 §5.3).
        g.store_v2("k", json!({"title": "K", "elements": {}, "layout": {}}), "");
        let (_, obj) = g.call("GET", &format!("{base}/k"), None);
        assert!(obj["status"]["conversion"]["storedVersion"].as_str().unwrap().starts_with("v2"));
        assert_eq!(obj["spec"]["panels"], json!([]), "down-converted");
        let (_, legacy) = g.call("GET", "/api/dashboards/uid/k", None);
        assert_eq!(legacy["dashboard"]["panels"], json!([]), "the legacy API flattens it too");
    }
}
