//! The documented `#cloud-config` (cloud-init/user-data.yaml) is valid for Debian's
//! cloud-init (`cloud-init schema`), the monstack.yaml it writes is a config monstack
//! accepts and renders, and its systemd units pass `systemd-analyze verify`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn user_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cloud-init/user-data.yaml")
}

fn schema(file: &Path) -> (bool, String) {
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(file)
        .output()
        .expect("cloud-init is installed (make deps)");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The `write_files` entry for `path`: its content and permissions.
fn written(doc: &serde_yaml::Value, path: &str) -> (String, String) {
    let entry = doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str() == Some(path))
        .unwrap_or_else(|| panic!("write_files has no {path}"));
    (
        entry["content"].as_str().unwrap().to_string(),
        entry["permissions"].as_str().unwrap().to_string(),
    )
}

#[test]
fn documented_cloud_config_is_valid() {
    let (ok, text) = schema(&user_data());
    assert!(ok, "cloud-init schema refused it:\n{text}");
    assert!(text.contains("Valid cloud-config"), "{text}");

    // The same check refuses a broken copy (a key cloud-init does not know).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let original = std::fs::read_to_string(user_data()).unwrap();
    std::fs::write(
        &bad,
        original.replace("    permissions: \"0600\"\n", "    permission: \"0600\"\n"),
    )
    .unwrap();
    let (ok, text) = schema(&bad);
    assert!(!ok && text.contains("permission"), "a broken copy must fail:\n{text}");
}

#[test]
fn its_monstack_config_renders_and_its_units_verify() {
    let text = std::fs::read_to_string(user_data()).unwrap();
    assert!(text.starts_with("#cloud-config\n"));
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (config, mode) = written(&doc, "/etc/monstack/monstack.yaml");
    assert_eq!(mode, "0600");
    let cfg = dir.path().join("monstack.yaml");
    std::fs::write(&cfg, &config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_monstack"))
        .arg("--config")
        .arg(&cfg)
        .args(["render", "--out"])
        .arg(dir.path().join("out"))
        .env_remove("MONSTACK_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let prom =
        std::fs::read_to_string(dir.path().join("out/opt/prometheus/prometheus.yml")).unwrap();
    assert!(prom.contains("localhost:9100"), "{prom}");

    // The apply service runs the installed binary with that config; verify both units
    // with the built binary standing in for /usr/local/bin/monstack.
    let units = dir.path().join("units");
    std::fs::create_dir_all(&units).unwrap();
    for name in ["monstack-apply.service", "monstack-apply.timer"] {
        let (content, mode) = written(&doc, &format!("/etc/systemd/system/{name}"));
        assert_eq!(mode, "0644");
        let content = content.replace("/usr/local/bin/monstack", env!("CARGO_BIN_EXE_monstack"));
        std::fs::write(units.join(name), content).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.join("monstack-apply.service"))
        .arg(units.join("monstack-apply.timer"))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("monstack-apply"),
        "systemd-analyze verify: {err}"
    );

    // runcmd: the binary is downloaded, its digest checked, then apply runs.
    let runcmd = serde_yaml::to_string(&doc["runcmd"]).unwrap();
    assert!(runcmd.contains("sha256sum -c"), "{runcmd}");
    assert!(runcmd.contains("/usr/local/bin/monstack"), "{runcmd}");
}
