//! `grafana_server`: Grafana installed through the artifact path into a fresh `--root`
//! sandbox and run by `--service-manager direct`. The release tarball has Grafana's
//! real layout (`grafana-<v>/bin/grafana`, `conf/defaults.ini`, `public/`, `VERSION`)
//! and is served with its `.sha256` (12.4.3 format) from a loopback mirror in
//! dl.grafana.com's path layout; its `bin/grafana` is the stand-in
//! `grafana-emulator server`, which reads the rendered grafana.ini (port, admin user,
//! `$__file{}` password) and serves the test emulator's Grafana API.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stand_in.rs"]
mod stand_in;

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::write::GzEncoder;
use serde_json::Value;
use sha2::{Digest, Sha256};

const VERSION: &str = "12.2.0";
const BUILD: &str = "17949786146";
const ADMIN_PW: &str = "s3cret-admin-pw-for-the-sandbox";

fn arch() -> String {
    monstack::artifact::host_arch()
}

fn file_name() -> String {
    name_of(VERSION, BUILD)
}

fn name_of(version: &str, build: &str) -> String {
    format!("grafana_{version}_{build}_linux_{}.tar.gz", arch())
}

fn add(b: &mut tar::Builder<GzEncoder<File>>, path: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, path, data).unwrap();
}

/// `{mirror}/grafana/release/{v}/{file}` and `{file}.sha256` (`<hash>  dist/<file>`).
fn publish(mirror_root: &Path) -> (PathBuf, String) {
    publish_version(mirror_root, VERSION, BUILD)
}

fn publish_version(mirror_root: &Path, version: &str, build: &str) -> (PathBuf, String) {
    let file = name_of(version, build);
    let dir = mirror_root.join(format!("grafana/release/{version}"));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(&file);
    let mut b = tar::Builder::new(GzEncoder::new(
        File::create(&path).unwrap(),
        flate2::Compression::fast(),
    ));
    let top = format!("grafana-{version}");
    add(&mut b, &format!("{top}/bin/grafana"), 0o755, &fs::read(stand_in::stand_in()).unwrap());
    add(&mut b, &format!("{top}/conf/defaults.ini"), 0o644, b"[server]\nhttp_port = 3000\n");
    add(&mut b, &format!("{top}/public/index.html"), 0o644, b"<html>grafana</html>\n");
    add(&mut b, &format!("{top}/VERSION"), 0o644, format!("{version}\n").as_bytes());
    b.into_inner().unwrap().finish().unwrap();
    let sha = hex::encode(Sha256::digest(fs::read(&path).unwrap()));
    // 12.4.3's format (`<hash>  dist/<file>`); older releases publish the bare hash.
    let sidecar =
        if version == VERSION { format!("{sha}  dist/{file}\n") } else { format!("{sha}\n") };
    fs::write(dir.join(format!("{file}.sha256")), sidecar).unwrap();
    (path, sha)
}

/// grafana.com's API shape: `/api/dashboards/1860/revisions/37/download`, an export
/// with a `${DS_PROMETHEUS}` datasource input.
fn publish_gnet(mirror_root: &Path) {
    // A second one, which the config puts in a folder of its own.
    let own = mirror_root.join("api/dashboards/3662/revisions/2");
    fs::create_dir_all(&own).unwrap();
    let export = serde_json::json!({"uid": "prom-overview", "title": "Prometheus 2.0 Overview",
        "schemaVersion": 39, "panels": []});
    fs::write(own.join("download"), serde_json::to_vec(&export).unwrap()).unwrap();
    let dir = mirror_root.join("api/dashboards/1860/revisions/37");
    fs::create_dir_all(&dir).unwrap();
    let export = serde_json::json!({
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "id": null,
        "uid": "rYdddlPWk",
        "title": "Node Exporter Full",
        "schemaVersion": 39,
        "panels": [{"id": 1, "type": "timeseries", "title": "CPU",
                    "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                    "targets": [{"expr": "node_load1", "refId": "A"}]}],
        "templating": {"list": []}
    });
    fs::write(dir.join("download"), serde_json::to_vec_pretty(&export).unwrap()).unwrap();
}

#[path = "support/ports.rs"]
mod ports;
use ports::free_port;

struct Sandbox {
    dir: tempfile::TempDir,
    port: u16,
}

impl Sandbox {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn config(&self) -> PathBuf {
        self.dir.path().join("monstack.yaml")
    }
    fn write_config(&self, base_url: &str, downloads_extra: &str) {
        self.write_config_version(base_url, downloads_extra, VERSION, BUILD);
    }
    fn write_config_version(
        &self,
        base_url: &str,
        downloads_extra: &str,
        version: &str,
        build: &str,
    ) {
        let pw = self.dir.path().join("admin-password");
        fs::write(&pw, format!("{ADMIN_PW}\n")).unwrap();
        let p = self.port;
        let text = format!(
            "downloads:\n  base_url: {base_url}\n  cache_dir: /var/cache/monstack\n{downloads_extra}\
             prometheus:\n  enabled: false\n\
             alertmanager:\n  enabled: false\n\
             node_exporter:\n  enabled: false\n\
             grafana_server:\n  enabled: true\n  version: {version}\n  build_id: \"{build}\"\n  \
             base_url: {base_url}\n  listen_address: 127.0.0.1:{p}\n  \
             admin_password_file: {pw}\n  settings:\n    users:\n      allow_sign_up: \"false\"\n\
             grafana:\n  wait_timeout: 30s\n  gnet_url: {base_url}\n  \
             dashboards:\n    - {{gnet_id: 1860, revision: 37}}\n    \
             - {{gnet_id: 3662, revision: 2, folder: {{uid: gnet-prom, title: Prometheus}}}}\n  \
             datasource:\n    url: http://127.0.0.1:{p}/fake-prometheus\n",
            pw = pw.display()
        );
        fs::write(self.config(), text).unwrap();
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = bin::Monstack::new().root(self.root()).config(self.config()).args(args).output();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    fn apply(&self, extra: &[&str]) -> Value {
        let mut args = vec!["apply", "--output", "json", "--service-manager", "direct"];
        args.extend_from_slice(extra);
        let (code, out, err) = self.run(&args);
        assert_eq!(code, 0, "apply failed: {err}\n{out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
    }
    fn pid(&self) -> Option<u32> {
        let f = self.root().join("var/lib/monstack/run/grafana_server.pid");
        fs::read_to_string(f).ok()?.lines().next()?.trim().parse().ok()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.run(&["stop", "--service-manager", "direct"]);
        if let Some(pid) = self.pid() {
            // SAFETY: a plain kill(2) of the process this test's apply started.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }
}

fn sandbox() -> Sandbox {
    Sandbox { dir: tempfile::tempdir().unwrap(), port: free_port() }
}

fn get(url: &str, auth: Option<(&str, &str)>, bearer: Option<&str>) -> (u16, Value) {
    let c = reqwest::blocking::Client::new();
    let mut r = c.get(url);
    if let Some((u, p)) = auth {
        r = r.basic_auth(u, Some(p));
    }
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn changes(report: &Value) -> Vec<String> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "unchanged")
        .map(|r| format!("{} {} {}", r["kind"], r["name"], r["action"]))
        .collect()
}

#[test]
/// `grafana.url` is not set: it defaults to `grafana_server.listen_address`.
fn one_apply_installs_starts_bootstraps_and_pushes_then_nothing_changes() {
    let mirror_root = tempfile::tempdir().unwrap();
    let (_, sha) = publish(mirror_root.path());
    publish_gnet(mirror_root.path());
    let m = mirror::Mirror::start(mirror_root.path());
    let s = sandbox();
    s.write_config(&m.base_url(), "");

    // lock: the digest from the `.sha256` beside the tarball, the full URL beside it.
    let (code, _, err) = s.run(&["lock"]);
    assert_eq!(code, 0, "{err}");
    let lock = fs::read_to_string(s.dir.path().join("monstack.lock")).unwrap();
    assert!(lock.contains(&sha), "{lock}");
    assert!(
        lock.contains(&format!("{}/grafana/release/{VERSION}/{}", m.base_url(), file_name())),
        "{lock}"
    );

    let started = Instant::now();
    let first = s.apply(&[]);
    let took = started.elapsed();
    let ch = changes(&first).join("\n");
    assert!(ch.contains("grafana_server"), "{ch}");
    // Versioned install, `current` -> the release, grafana.ini with the password by file.
    let root = s.root();
    assert!(root.join(format!("opt/grafana/releases/{VERSION}/bin/grafana")).is_file());
    assert_eq!(
        fs::read_link(root.join("opt/grafana/current")).unwrap().file_name().unwrap(),
        VERSION
    );
    let ini = fs::read_to_string(root.join("opt/grafana/grafana.ini")).unwrap();
    assert!(ini.contains(&format!("http_port = {}", s.port)), "{ini}");
    assert!(ini.contains("admin_password = $__file{"), "{ini}");
    assert!(ini.contains("reporting_enabled = false"), "{ini}");
    assert!(ini.contains("[users]\nallow_sign_up = false"), "{ini}");
    assert!(!ini.contains(ADMIN_PW));
    assert!(!first.to_string().contains(ADMIN_PW));

    // The running stand-in answers /api/health with the configured version.
    let base = format!("http://127.0.0.1:{}", s.port);
    let (st, health) = get(&format!("{base}/api/health"), None, None);
    assert_eq!((st, health["version"].as_str()), (200, Some(VERSION)));

    // Bootstrap: a service account `monstack` and its token in a 0600 file.
    let token_file = root.join("var/lib/monstack/grafana-token");
    let mode = fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert!(token.starts_with("glsa_"), "{token}");
    assert!(!first.to_string().contains(&token));
    let (_, sas) = get(
        &format!("{base}/api/serviceaccounts/search?query=monstack"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(sas["totalCount"], 1, "{sas}");
    assert_eq!(sas["serviceAccounts"][0]["role"], "Admin");
    // The datasource was pushed, and the token reads it.
    let (st, ds) = get(&format!("{base}/api/datasources"), None, Some(&token));
    assert_eq!(st, 200);
    assert_eq!(ds.as_array().map(Vec::len), Some(1), "{ds}");
    // The grafana.com dashboard, its `${DS_PROMETHEUS}` input now the managed datasource.
    let ds_uid = ds[0]["uid"].as_str().unwrap().to_string();
    let (st, dash) = get(&format!("{base}/api/dashboards/uid/rYdddlPWk"), None, Some(&token));
    assert_eq!(st, 200, "{dash}");
    assert_eq!(dash["dashboard"]["panels"][0]["datasource"]["uid"], ds_uid.as_str(), "{dash}");
    assert!(!dash.to_string().contains("${DS_"), "{dash}");
    assert!(dash["dashboard"].get("__inputs").is_none());
    assert_eq!(dash["meta"]["folderUid"], "monstack", "{dash}");
    // The second one in its own folder, created with its title.
    let (st, own) = get(&format!("{base}/api/dashboards/uid/prom-overview"), None, Some(&token));
    assert_eq!(st, 200, "{own}");
    assert_eq!(own["meta"]["folderUid"], "gnet-prom", "{own}");
    let (st, folder) = get(&format!("{base}/api/folders/gnet-prom"), None, Some(&token));
    assert_eq!((st, folder["title"].as_str()), (200, Some("Prometheus")), "{folder}");

    // Second apply: nothing changes, the token is reused (no second account/token file).
    let second = s.apply(&[]);
    assert_eq!(changes(&second), Vec::<String>::new(), "{second:#}");
    assert_eq!(fs::read_to_string(&token_file).unwrap().trim(), token);
    let (_, sas) = get(
        &format!("{base}/api/serviceaccounts/search?query=monstack"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(sas["totalCount"], 1);
    eprintln!("first apply {took:?}");

    // status: the service, /api/health with the configured version, the release.
    let (code, out, err) = s.run(&["status", "--output", "json", "--service-manager", "direct"]);
    let status: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let mine: Vec<String> = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["component"] == "grafana_server")
        .map(|c| format!("{} {}", c["check"].as_str().unwrap(), c["level"].as_str().unwrap()))
        .collect();
    assert!(mine.contains(&"health ok".to_string()), "{mine:?}\n{out}");
    assert!(mine.iter().any(|c| c.starts_with("release") && c.ends_with(" ok")), "{mine:?}");
    assert!(mine.iter().any(|c| c.starts_with("service") && c.ends_with(" ok")), "{mine:?}");
    let _ = code;
}

#[test]
fn bundle_and_offline_cover_grafana_then_upgrade_and_rollback() {
    let mirror_root = tempfile::tempdir().unwrap();
    publish(mirror_root.path());
    publish_gnet(mirror_root.path());
    publish_version(mirror_root.path(), "12.3.0", "19497075765");
    let m = mirror::Mirror::start(mirror_root.path());
    let s = sandbox();
    s.write_config(&m.base_url(), "");
    let (code, _, err) = s.run(&["lock"]);
    assert_eq!(code, 0, "{err}");
    let out = s.dir.path().join("bundle");
    let (code, _, err) = s.run(&["bundle", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join(file_name()).is_file());
    let sums = fs::read_to_string(out.join("sha256sums.txt")).unwrap();
    assert!(sums.contains(&file_name()), "{sums}");
    assert!(out.join("gnet-1860-37.json").is_file());
    assert!(out.join("gnet-3662-2.json").is_file());

    // An air-gapped sandbox: the bundle and the lock, a mirror that is gone, --offline.
    let air = sandbox();
    let dead = format!("http://127.0.0.1:{}", free_port());
    air.write_config(&dead, &format!("  local_dir: {}\n", out.display()));
    fs::copy(s.dir.path().join("monstack.lock"), air.dir.path().join("monstack.lock")).unwrap();
    let before = m.requests();
    let report = air.apply(&["--offline"]);
    assert!(changes(&report).join(" ").contains("grafana_server"), "{report:#}");
    assert_eq!(m.requests(), before, "an offline apply used the network");
    let (st, health) = get(&format!("http://127.0.0.1:{}/api/health", air.port), None, None);
    assert_eq!((st, health["version"].as_str()), (200, Some(VERSION)));

    // Upgrade to 12.3.0 (bare-hash sidecar) and roll back to 12.2.0 without network.
    s.apply(&[]);
    s.write_config_version(&m.base_url(), "", "12.3.0", "19497075765");
    let (code, _, err) = s.run(&["lock"]);
    assert_eq!(code, 0, "{err}");
    let up = s.apply(&[]);
    assert!(changes(&up).join(" ").contains("grafana_server"), "{up:#}");
    let base = format!("http://127.0.0.1:{}", s.port);
    assert_eq!(get(&format!("{base}/api/health"), None, None).1["version"], "12.3.0");
    let (code, _, err) = s.run(&["rollback", "grafana_server"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_link(s.root().join("opt/grafana/current")).unwrap().file_name().unwrap(),
        VERSION
    );
}

/// `source: apt`: the signed-by sources file and the version pin are rendered and
/// checked (no repository is reached); the tarball source's unit passes
/// `systemd-analyze verify` and grafana.ini monstack's own check.
#[test]
fn apt_files_rendered_and_checked_unit_verified() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    fs::write(&pw, "pw\n").unwrap();
    let config = dir.path().join("monstack.yaml");
    let write = |source: &str| {
        fs::write(
            &config,
            format!(
                "grafana_server:\n  enabled: true\n  source: {source}\n  version: 12.2.0\n  admin_password_file: {}\n",
                pw.display()
            ),
        )
        .unwrap();
    };
    let run = |args: &[&str]| {
        let o = bin::Monstack::new().config(&config).args(args).output();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    write("apt");
    let out = dir.path().join("out");
    let (code, text) = run(&["render", "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    let list = fs::read_to_string(out.join("etc/apt/sources.list.d/grafana.list")).unwrap();
    assert!(
        list.contains(
            "deb [signed-by=/etc/apt/keyrings/grafana.asc] https://apt.grafana.com stable main"
        ),
        "{list}"
    );
    let pin = fs::read_to_string(out.join("etc/apt/preferences.d/grafana")).unwrap();
    assert!(pin.contains("Package: grafana\nPin: version 12.2.0\n"), "{pin}");
    // The package runs Grafana: no unit and no release of monstack's.
    assert!(!out.join("etc/systemd/system/monstack-grafana.service").exists());
    let (code, text) = run(&["validate"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("/etc/apt/sources.list.d/grafana.list"), "{text}");

    write("tarball");
    let (code, text) = run(&["validate"]);
    assert_eq!(code, Some(0), "{text}");
    let line = |needle: &str| text.lines().any(|l| l.starts_with("ok") && l.contains(needle));
    assert!(line("systemd-analyze /etc/systemd/system/monstack-grafana.service"), "{text}");
    assert!(line("/opt/grafana/grafana.ini"), "{text}");

    // No admin password file: a config error naming the field, exit 78.
    fs::write(&config, "grafana_server:\n  enabled: true\n").unwrap();
    let (code, text) = run(&["validate"]);
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("grafana_server.admin_password_file"), "{text}");
}
