//! The documented `#cloud-config` (cloud-init/user-data.yaml) is valid for Debian's
//! cloud-init (`cloud-init schema`), the monstack.yaml it writes is a config monstack
//! accepts and renders, its systemd units pass `systemd-analyze verify`, and it
//! bootstraps a fresh real host (NoCloud seed, cloud-init's stages run in the host).
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/realhost.rs"]
mod realhost;
#[path = "support/stack.rs"]
mod stack;

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
fn written(doc: &serde_norway::Value, path: &str) -> (String, String) {
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
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (config, mode) = written(&doc, "/etc/monstack/monstack.yaml");
    assert_eq!(mode, "0600");
    let cfg = dir.path().join("monstack.yaml");
    std::fs::write(&cfg, &config).unwrap();
    let out = bin::Monstack::new()
        .config(&cfg)
        .args(["render", "--out"])
        .args([dir.path().join("out")])
        .output();
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
    let runcmd = serde_norway::to_string(&doc["runcmd"]).unwrap();
    assert!(runcmd.contains("sha256sum -c"), "{runcmd}");
    assert!(runcmd.contains("/usr/local/bin/monstack"), "{runcmd}");
}

/// A fresh real host booted with the documented user-data as its NoCloud seed
/// (placeholders filled in: the binary and the release mirror served on the host's
/// loopback; `sha256` replaces the binary's digest when given) and cloud-init's four
/// stages run in it.
struct Bootstrapped {
    h: realhost::Host,
    stages: Vec<(String, std::process::Output)>,
    _bins: mirror::Mirror,
    _releases: mirror::Mirror,
    _files: tempfile::TempDir,
}

fn bootstrap(sha256: Option<&str>) -> Option<Bootstrapped> {
    let _ = stack::mirror_dir();
    let h = realhost::boot(realhost::Options::default())?;

    // The binary, served on the host's loopback as a download (what MONSTACK_URL points at).
    let files = tempfile::tempdir().unwrap();
    let bin = files.path().join("monstack");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&bin)
        .arg(env!("CARGO_BIN_EXE_monstack"))
        .status()
        .unwrap();
    assert!(strip.success());
    let sum = Command::new("sha256sum").arg(&bin).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap().to_string();
    let sum = sha256.map(str::to_string).unwrap_or(sum);
    let l = h.listen(0);
    let bin_url = format!("http://127.0.0.1:{}/monstack", l.local_addr().unwrap().port());
    let bins = mirror::Mirror::start_on(l, files.path());
    let l = h.listen(0);
    let releases = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    let releases_mirror = mirror::Mirror::start_on(l, stack::mirror_dir());
    // The documented user-data with its placeholders filled in and the mirror's versions.
    let mut text = std::fs::read_to_string(user_data()).unwrap();
    for (from, to) in [
        ("MONSTACK_URL", bin_url.clone()),
        ("MONSTACK_SHA256", sum),
        ("base_url: https://github.com", format!("base_url: {releases}")),
        ("      prometheus:\n", format!("      prometheus:\n        version: {}\n", stack::PROM)),
        ("      alertmanager:\n", format!("      alertmanager:\n        version: {}\n", stack::AM)),
        (
            "      node_exporter:\n",
            format!("      node_exporter:\n        version: {}\n", stack::NODE),
        ),
    ] {
        assert!(text.contains(from), "user-data lacks `{from}`");
        text = text.replace(from, &to);
    }
    h.write("/var/lib/cloud/seed/nocloud/user-data", &text, 0o600);
    h.write("/var/lib/cloud/seed/nocloud/meta-data", "instance-id: monstack-test-1\n", 0o600);
    // The test host: the seed as datasource; its /usr is read-only, so no locale generation.
    h.write(
        "/etc/cloud/cloud.cfg.d/99-monstack-test.cfg",
        "datasource_list: [NoCloud, None]\nlocale: false\n",
        0o644,
    );

    // The test host's /usr is this machine's, read-only: give it a writable /usr/local.
    h.ok("mount -t tmpfs tmpfs /usr/local && mkdir -p /usr/local/bin");

    // cloud-init's four stages, as its units run them at boot.
    let mut stages = Vec::new();
    for stage in [
        &["cloud-init", "init", "--local"][..],
        &["cloud-init", "init"],
        &["cloud-init", "modules", "--mode", "config"],
        &["cloud-init", "modules", "--mode", "final"],
    ] {
        stages.push((stage.join(" "), h.run_timeout(stage, std::time::Duration::from_secs(300))));
    }
    Some(Bootstrapped { h, stages, _bins: bins, _releases: releases_mirror, _files: files })
}

/// cloud-init's `result.json` errors.
fn errors(h: &realhost::Host) -> serde_json::Value {
    let result: serde_json::Value =
        serde_json::from_str(&h.read("/var/lib/cloud/data/result.json")).unwrap();
    result["v1"]["errors"].clone()
}

#[test]
fn it_bootstraps_a_fresh_host() {
    let Some(b) = bootstrap(None) else { return };
    let h = &b.h;
    for (stage, out) in &b.stages {
        assert!(
            out.status.success(),
            "{stage}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            h.sh("tail -40 /var/log/cloud-init-output.log").stdout.escape_ascii()
        );
    }
    assert_eq!(errors(h), serde_json::json!([]));
    assert_eq!(h.ok("stat -c %a /etc/monstack/monstack.yaml").trim(), "600");
    h.ok("test -x /usr/local/bin/monstack");
    h.ok("systemctl is-active prometheus.service alertmanager.service node_exporter.service");
    h.ok("systemctl is-enabled monstack-apply.timer && systemctl is-active monstack-apply.timer");
    assert_eq!(h.http_get("http://127.0.0.1:9090/-/ready").0, 200);
    // The timer's service converges again without changes.
    h.ok("systemctl start monstack-apply.service");
    let log = h.ok("journalctl -u monstack-apply.service --no-pager -o cat");
    assert!(log.contains("apply: 0 changed"), "{log}");
}

#[test]
fn a_binary_with_another_digest_is_refused() {
    let Some(b) = bootstrap(Some(&"0".repeat(64))) else { return };
    let h = &b.h;
    let (stage, out) = &b.stages[3];
    let errs = errors(h);
    assert!(
        !out.status.success() && errs.to_string().contains("runcmd"),
        "{stage} must fail on runcmd: {errs}"
    );
    let log = h.read("/var/log/cloud-init-output.log");
    assert!(log.contains("FAILED"), "sha256sum says why: {log}");
    assert!(!h.path("/usr/local/bin/monstack").exists(), "nothing installed");
    assert!(h.ok("ls -A /usr/local/bin").trim().is_empty(), "no temp file left");
    assert!(!h.path("/opt/prometheus").exists(), "no apply ran");
    assert!(!h.sh("systemctl is-enabled monstack-apply.timer").status.success());
}
