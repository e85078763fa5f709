//! How errors reach the user (issue 16): each once, on stderr, complete; with
//! `--output json` every outcome is exactly one document on stdout with
//! `format_version` and `errors[]`; all config errors of a file at once.

#[path = "support/bin.rs"]
mod bin;

use std::path::Path;

use bin::Monstack;
use serde_json::Value;

/// Run `monstack ARGS` in `dir` (config `monstack.yaml` there, root `root/`).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Monstack::new().dir(dir).root(dir.join("root")).args(args).output();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// stdout as exactly one JSON document with `format_version` and `errors[]`.
fn one_document(stdout: &str, what: &str) -> Value {
    let mut docs = serde_json::Deserializer::from_str(stdout).into_iter::<Value>();
    let doc = docs
        .next()
        .unwrap_or_else(|| panic!("{what}: no JSON document on stdout"))
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}): {stdout}"));
    assert!(docs.next().is_none(), "{what}: more than one document: {stdout}");
    assert_eq!(doc["format_version"], 2, "{what}: {doc:#}");
    assert!(doc["errors"].is_array(), "{what}: {doc:#}");
    doc
}

/// Mistakes in several sections: unknown keys, type errors and a value check.
const BROKEN: &str = "\
prometheus:
  version: 2.45.0
  scrape_intervall: 5s
  retention_time: [15d]
alertmanager:
  listen_adress: 127.0.0.1:9093
downloads:
  retries: -1
grafana:
  url: localhost:3000
  enabled: maybe
bogus: 1
";

/// (line, column, key) of each mistake in [`BROKEN`], in file order.
const EXPECTED: [(u64, u64, &str); 7] = [
    (3, 3, "prometheus.scrape_intervall"),
    (4, 3, "prometheus.retention_time"),
    (6, 3, "alertmanager.listen_adress"),
    (8, 3, "downloads.retries"),
    (10, 3, "grafana.url"),
    (11, 3, "grafana.enabled"),
    (12, 1, "bogus"),
];

#[test]
fn every_config_error_of_a_file_is_reported_at_once() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("monstack.yaml"), BROKEN).unwrap();

    let (code, stdout, stderr) = run(d.path(), &["render", "--out", "out"]);
    assert_eq!(code, Some(78), "{stderr}");
    assert_eq!(stdout, "", "errors go to stderr only");
    assert_eq!(stderr.matches("error: ").count(), 1, "one error block: {stderr}");
    for (line, col, key) in EXPECTED {
        let at = format!("monstack.yaml:{line}:{col}: `{key}`: ");
        assert_eq!(stderr.matches(&at).count(), 1, "{at} once in: {stderr}");
    }
    assert!(stderr.contains("unknown field `scrape_intervall`"), "{stderr}");
    assert!(stderr.contains("expected true or false"), "{stderr}");
    assert!(stderr.contains("`localhost:3000` is not an http(s) URL"), "{stderr}");
    assert!(!d.path().join("out").exists(), "nothing written");

    let (code, stdout, _) = run(d.path(), &["render", "--out", "out", "--output", "json"]);
    assert_eq!(code, Some(78));
    let doc = one_document(&stdout, "render");
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), EXPECTED.len(), "{doc:#}");
    for (e, (line, col, key)) in errors.iter().zip(EXPECTED) {
        assert_eq!(e["code"], 78, "{e}");
        assert_eq!(e["file"], "./monstack.yaml", "{e}");
        assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(line), Some(col)), "{e}");
        assert_eq!(e["key"], key, "{e}");
        assert!(e["hint"].is_null(), "{e}");
    }
}

#[test]
fn more_than_fifty_config_errors_end_with_a_count() {
    let d = tempfile::tempdir().unwrap();
    let keys: String = (0..60).map(|i| format!("  typo_{i}: 1\n")).collect();
    std::fs::write(d.path().join("monstack.yaml"), format!("prometheus:\n{keys}")).unwrap();
    let (code, stdout, _) = run(d.path(), &["validate", "--output", "json"]);
    assert_eq!(code, Some(78));
    let doc = one_document(&stdout, "validate");
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 51, "{doc:#}");
    assert_eq!(errors[49]["key"], "prometheus.typo_49");
    assert_eq!(errors[49]["line"], 51);
    assert_eq!(errors[50]["message"], "... and 10 more problems");
}

/// Every subcommand, with what it needs to get past clap.
const COMMANDS: &[&[&str]] = &[
    &["render", "--out", "out"],
    &["validate"],
    &["lock", "--offline"],
    &["bundle", "--out", "bundle", "--offline"],
    &["install", "--offline"],
    &["rollback", "prometheus"],
    &["plan", "--service-manager", "none"],
    &["apply", "--service-manager", "none"],
    &["status"],
];

#[test]
fn with_json_output_every_outcome_is_one_document() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("monstack.yaml"), "grafana:\n  url: [a]\n").unwrap();
    // A config error, whatever the command.
    for cmd in COMMANDS {
        let mut args = cmd.to_vec();
        args.extend(["--output", "json"]);
        let (code, stdout, stderr) = run(d.path(), &args);
        assert_eq!(code, Some(78), "{cmd:?}: {stderr}");
        let doc = one_document(&stdout, &format!("{cmd:?}"));
        let e = &doc["errors"][0];
        assert_eq!((e["code"].as_i64(), e["key"].as_str()), (Some(78), Some("grafana.url")));
        assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(2), Some(8)), "{e}");
        assert!(e["message"].as_str().unwrap().contains("expected a string"), "{e}");
        assert_eq!(stderr.matches("error: ").count(), 1, "{cmd:?} stderr: {stderr}");
    }
    // clap's own usage errors, for every subcommand too.
    for cmd in COMMANDS.iter().chain(&[&["init"][..], &["stop"][..]]) {
        let mut args = cmd.to_vec();
        args.extend(["--output", "json", "--no-such-flag"]);
        let (code, stdout, stderr) = run(d.path(), &args);
        assert_eq!(code, Some(64), "{cmd:?}: {stderr}");
        let doc = one_document(&stdout, &format!("{cmd:?} --no-such-flag"));
        let e = &doc["errors"][0];
        assert_eq!((e["code"].as_i64(), e["key"].as_str()), (Some(64), Some("--no-such-flag")));
        assert!(e["message"].as_str().unwrap().contains("unexpected argument"), "{e}");
        assert!(e["file"].is_null() && e["line"].is_null(), "{e}");
        assert!(stderr.contains("unexpected argument '--no-such-flag'"), "{stderr}");
    }
    // A usage error found after parsing (a template that overrides nothing).
    std::fs::write(d.path().join("monstack.yaml"), "").unwrap();
    std::fs::create_dir(d.path().join("tpl")).unwrap();
    std::fs::write(d.path().join("tpl/nothing.tera"), "x").unwrap();
    let (code, stdout, _) =
        run(d.path(), &["render", "--out", "out", "--templates", "tpl", "--output", "json"]);
    assert_eq!(code, Some(64));
    let doc = one_document(&stdout, "render --templates");
    assert_eq!(doc["errors"][0]["code"], 64, "{doc:#}");
    assert!(doc["errors"][0]["message"].as_str().unwrap().contains("unknown template"));

    // Success: the command's own fields, and an empty `errors`.
    let (code, stdout, stderr) = run(d.path(), &["render", "--out", "out", "--output", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc = one_document(&stdout, "render");
    assert_eq!(doc["errors"], serde_json::json!([]), "{doc:#}");
    assert_eq!(doc.as_object().unwrap().keys().next().unwrap(), "format_version");
    // A command with nothing to say still answers with one document.
    let (code, stdout, stderr) = run(d.path(), &["stop", "--output", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    one_document(&stdout, "stop");
}
