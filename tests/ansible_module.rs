//! monstack run as Ansible runs a binary module: `monstack <args file>`, the file a
//! flat JSON object of the task's options and `_ansible_*` keys, one JSON object back
//! on stdout. Under a temp root with `direct` services and the loopback mirror:
//! check mode plans and writes nothing, diff mode returns Ansible's before/after
//! list, normal mode applies (the inline config lands with mode 0600), a re-run
//! changes nothing, a broken config fails naming the key and changes nothing.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{json, Value};
use stack::Stack;

/// The stack's config file as the `config` dict a playbook would carry.
fn config_dict(s: &Stack) -> Value {
    let text = std::fs::read_to_string(&s.config).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Run the binary with an args file holding `args`; exit code and the parsed object.
fn module(s: &Stack, args: Value) -> (i32, Value) {
    let file = s.dir.path().join("args");
    std::fs::write(&file, args.to_string()).unwrap();
    let out = bin::Monstack::new().args([&file]).output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.stderr.is_empty(), "nothing on stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"));
    (out.status.code().unwrap_or(-1), v)
}

fn task(s: &Stack, config: Value, extra: Value) -> Value {
    let mut a = json!({
        "config": config,
        "root": s.root,
        "service_manager": "direct",
        "_ansible_check_mode": false,
        "_ansible_diff": false,
        "_ansible_no_log": false,
        "_ansible_verbosity": 0,
        "_ansible_version": "2.18.19",
        "_ansible_module_name": "monstack.stack.apply",
        "_ansible_tmpdir": "/tmp/ansible-tmp-1/",
        "_ansible_a_key_from_a_future_release": {"x": [1]},
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn changed_resources(v: &Value) -> Vec<String> {
    stack::changes(v)
}

#[test]
fn check_diff_apply_rerun_and_a_broken_config() {
    let s = Stack::new();
    let cfg = config_dict(&s);
    let written = s.root.join("etc/monstack/monstack.yaml");

    // Check mode + diff on a fresh host: changes predicted, diff per file, nothing written.
    let (code, v) = module(
        &s,
        task(&s, cfg.clone(), json!({"_ansible_check_mode": true, "_ansible_diff": true})),
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["changed"], true, "{v:#}");
    assert_eq!(v["failed"], false);
    assert!(v["msg"].as_str().unwrap().starts_with("check mode: "), "{v:#}");
    assert!(changed_resources(&v).contains(&"release prometheus create".to_string()), "{v:#}");
    let diff = v["diff"].as_array().unwrap();
    let headers: Vec<&str> = diff.iter().filter_map(|d| d["after_header"].as_str()).collect();
    assert_eq!(headers[0], written.to_str().unwrap(), "the config file comes first: {headers:?}");
    assert!(headers.contains(&"/opt/prometheus/prometheus.yml"), "{headers:?}");
    let prom = diff.iter().find(|d| d["after_header"] == "/opt/prometheus/prometheus.yml").unwrap();
    assert_eq!(prom["before"], "");
    assert!(prom["after"].as_str().unwrap().contains("job_name"), "{prom:#}");
    assert!(!s.root.exists(), "check mode wrote nothing under the root");

    // Normal mode: applied, the config landed 0600, services up.
    let (code, v) = module(&s, task(&s, cfg.clone(), json!({})));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["changed"], true);
    assert_eq!(v["config_changed"], true);
    assert!(v.get("diff").is_none(), "no diff unless asked");
    let ch = changed_resources(&v);
    for want in
        ["release prometheus create", "service prometheus start", "service node_exporter start"]
    {
        assert!(ch.contains(&want.to_string()), "missing `{want}` in {ch:#?}");
    }
    assert_eq!(std::fs::metadata(&written).unwrap().permissions().mode() & 0o777, 0o600);
    s.wait_up(&["prometheus", "node"]);

    // Second run: nothing changes.
    let (code, v) = module(&s, task(&s, cfg.clone(), json!({})));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["changed"], false, "{v:#}");
    assert_eq!(v["changed_count"], 0);
    assert!(v["msg"].as_str().unwrap().starts_with("apply: 0 changed"), "{v:#}");

    // An edit in check + diff mode: changed, diff of the config and prometheus.yml,
    // the host untouched.
    let mut edited = cfg.clone();
    edited["prometheus"]["global"]["scrape_interval"] = json!("2s");
    let before = s.snapshot();
    let (code, v) = module(
        &s,
        task(&s, edited.clone(), json!({"_ansible_check_mode": true, "_ansible_diff": true})),
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["changed"], true);
    let diff = v["diff"].as_array().unwrap();
    let prom = diff.iter().find(|d| d["after_header"] == "/opt/prometheus/prometheus.yml").unwrap();
    assert!(prom["before"].as_str().unwrap().contains("scrape_interval: \"1s\""), "{prom:#}");
    assert!(prom["after"].as_str().unwrap().contains("scrape_interval: \"2s\""), "{prom:#}");
    assert!(changed_resources(&v).contains(&"service prometheus reload".to_string()), "{v:#}");
    assert_eq!(s.snapshot(), before, "check mode changed nothing");

    // A broken config: the task fails naming the key, exit 1, nothing changes (the
    // config file on the target included).
    let mut broken = cfg.clone();
    broken["prometheus"]["scrape_intervall"] = json!("5s");
    let (code, v) = module(&s, task(&s, broken, json!({})));
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["failed"], true);
    assert_eq!(v["changed"], false);
    assert_eq!(v["rc"], 78);
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("scrape_intervall") && msg.contains("monstack.yaml"), "{msg}");
    assert_eq!(s.snapshot(), before, "a config error changes nothing");

    // A component's mirror that does not answer: the task fails naming the URL.
    let dead = format!("http://127.0.0.1:{}", stack::free_port());
    let mut moved = cfg.clone();
    moved["prometheus"]["version"] = json!(stack::PROM_NEXT);
    moved["prometheus"]["base_url"] = json!(dead);
    moved["downloads"]["retries"] = json!(0);
    let (code, v) = module(&s, task(&s, moved.clone(), json!({})));
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["failed"], true);
    assert!(v["msg"].as_str().unwrap().contains(&dead), "{v:#}");
    assert_eq!(v["rc"], 1);
}

#[test]
fn unknown_options_fail_and_a_plain_file_is_still_a_usage_error() {
    let s = Stack::new();
    let (code, v) = module(&s, task(&s, json!({}), json!({"confg_file": "/x"})));
    assert_eq!(code, 1);
    assert_eq!(v["failed"], true);
    assert!(v["msg"].as_str().unwrap().contains("Unsupported parameters"), "{v:#}");
    assert!(!s.root.exists());

    // Not a module call: a YAML file, or JSON without `_ansible_` keys.
    for (name, text) in [("monstack.yaml", "prometheus: {}\n"), ("args.json", r#"{"config": {}}"#)]
    {
        let f = s.dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        let out = bin::Monstack::new().args([&f]).output();
        assert_eq!(out.status.code(), Some(64), "{name}: CLI usage error");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"), "{name}");
    }
    assert!(!Path::new(&s.root).exists());
}

#[test]
fn config_file_on_the_target_and_env_secrets_stay_hidden() {
    let s = Stack::new();
    // Alertmanager with an SMTP password from an env var the `env` option sets.
    *s.alertmanager_extra.lock().unwrap() = "  smtp:\n    smarthost: 127.0.0.1:25\n    auth_username: am\n    password_env: MONSTACK_TEST_SMTP\n".into();
    s.write_config(stack::PROM, &[], "");
    let args = json!({
        "config_file": s.config,
        "root": s.root,
        "service_manager": "none",
        "env": {"MONSTACK_TEST_SMTP": "pw-7d1c0ffee"},
        "_ansible_check_mode": true,
        "_ansible_diff": true,
    });
    let (code, v) = module(&s, args);
    assert_eq!(code, 0, "{v:#}");
    let text = v.to_string();
    assert!(!text.contains("pw-7d1c0ffee"), "the secret never leaves: {text}");
    let am = v["diff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["after_header"] == "/opt/alertmanager/alertmanager.yml")
        .unwrap();
    assert!(am["after"].as_str().unwrap().contains("smtp_auth_password: ********"), "{am:#}");
    assert_eq!(v["config_changed"], false, "a config_file is used as it is");
    assert!(!s.root.exists());
}
