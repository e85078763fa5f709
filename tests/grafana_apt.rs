//! `grafana_server.source: apt` on a real host (tests/support/realhost.rs): a signed
//! loopback apt repository built here (a gpg key made for the test, `Release` and a
//! clearsigned `InRelease` from `apt-ftparchive`), holding two versions of a small
//! `grafana` .deb built with `dpkg-deb`. Its binary is the stand-in server of the
//! tarball tests (`grafana-emulator server`, which reads grafana.ini); its unit is
//! `grafana-server.service`. apt-get, dpkg, gpgv and systemd are the host's own.
//!
//! Stood in, because the test host's `/usr` is this machine's, read-only: the package
//! installs under `/opt/grafana-deb` and puts its unit in `/etc/systemd/system` (the
//! real one uses `/usr/share/grafana` and `/usr/lib/systemd/system`), and the test gives
//! the fresh host an empty dpkg database (its `/var` starts empty).

#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/realhost.rs"]
mod realhost;
#[path = "support/stand_in.rs"]
mod stand_in;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use realhost::{Host, Options};
use sha2::{Digest, Sha256};

const BIN_DIR: &str = "/test/bin";
const CONFIG: &str = "/etc/monstack/monstack.yaml";
const KEY_INSIDE: &str = "/root/grafana-key.asc";
const PORT: u16 = 3000;

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(path: &Path, content: impl AsRef<[u8]>, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn deb_arch() -> String {
    String::from_utf8(run(Command::new("dpkg").arg("--print-architecture")).stdout)
        .unwrap()
        .trim()
        .to_string()
}

/// `grafana_<version>_<arch>.deb` into `pool`.
fn build_deb(work: &Path, pool: &Path, version: &str, server: &Path) {
    let arch = deb_arch();
    let d = work.join(format!("pkg-{version}"));
    write(
        &d.join("DEBIAN/control"),
        format!(
            "Package: grafana\nVersion: {version}\nArchitecture: {arch}\n\
             Maintainer: monstack tests <tests@localhost>\nSection: default\nPriority: optional\n\
             Description: stand-in Grafana for monstack's apt tests (not Grafana)\n"
        ),
        0o644,
    );
    // Like the real package: a system user and group, the data dir, no start.
    write(
        &d.join("DEBIAN/postinst"),
        "#!/bin/sh\nset -e\n\
         getent group grafana >/dev/null || groupadd --system grafana\n\
         getent passwd grafana >/dev/null || useradd --system -g grafana -d /opt/grafana-deb -s /bin/false grafana\n\
         mkdir -p /var/lib/grafana && chown grafana:grafana /var/lib/grafana\n",
        0o755,
    );
    let home = d.join("opt/grafana-deb");
    fs::create_dir_all(home.join("bin")).unwrap();
    fs::copy(server, home.join("bin/grafana")).unwrap();
    write(&home.join("VERSION"), format!("{version}\n"), 0o644);
    write(&home.join("conf/defaults.ini"), "[server]\nhttp_port = 3000\n", 0o644);
    write(
        &d.join("etc/systemd/system/grafana-server.service"),
        "[Unit]\nDescription=Grafana instance (stand-in package)\nAfter=network.target\n\n\
         [Service]\nUser=grafana\nGroup=grafana\n\
         ExecStart=/opt/grafana-deb/bin/grafana server --config=/etc/grafana/grafana.ini --homepath=/opt/grafana-deb\n\
         Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
        0o644,
    );
    fs::create_dir_all(pool).unwrap();
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "-z1", "--build"])
        .arg(&d)
        .arg(pool.join(format!("grafana_{version}_{arch}.deb"))));
}

/// A signed repository at `repo` (`dists/stable/main`); returns the armoured key.
fn build_repo(work: &Path, repo: &Path, versions: &[&str]) -> Vec<u8> {
    let server = stand_in::stand_in();
    for v in versions {
        build_deb(work, &repo.join("pool/main"), v, &server);
    }
    let arch = deb_arch();
    let bin_dir = repo.join(format!("dists/stable/main/binary-{arch}"));
    fs::create_dir_all(&bin_dir).unwrap();
    let packages = run(Command::new("apt-ftparchive").args(["packages", "pool"]).current_dir(repo));
    fs::write(bin_dir.join("Packages"), packages.stdout).unwrap();
    let release = run(Command::new("apt-ftparchive")
        .args([
            "-o",
            "APT::FTPArchive::Release::Origin=monstack-tests",
            "-o",
            "APT::FTPArchive::Release::Suite=stable",
            "-o",
            "APT::FTPArchive::Release::Codename=stable",
            "-o",
            "APT::FTPArchive::Release::Components=main",
            "-o",
            &format!("APT::FTPArchive::Release::Architectures={arch}"),
            "release",
            "dists/stable",
        ])
        .current_dir(repo));
    fs::write(repo.join("dists/stable/Release"), release.stdout).unwrap();
    let r = repo.join("dists/stable");
    gpg_key(
        &work.join("gnupg"),
        &[
            "--yes",
            "--clearsign",
            "-o",
            r.join("InRelease").to_str().unwrap(),
            r.join("Release").to_str().unwrap(),
        ],
    )
}

/// A new signing key in its own gpg home `home`; `sign` (gpg arguments) is run with it
/// first when not empty. Returns the armoured public key.
fn gpg_key(home: &Path, sign: &[&str]) -> Vec<u8> {
    fs::create_dir_all(home).unwrap();
    fs::set_permissions(home, fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let mut c = Command::new("gpg");
        c.arg("--homedir").arg(home).args(["--batch", "--pinentry-mode", "loopback"]);
        c.args(["--passphrase", ""]).args(args);
        run(&mut c)
    };
    gpg(&["--quick-gen-key", "monstack apt test <apt@localhost>", "ed25519", "sign", "never"]);
    if !sign.is_empty() {
        gpg(sign);
    }
    let key = gpg(&["--armor", "--export"]).stdout;
    // gpg-agent was started for this home dir: end it with the test.
    let _ =
        Command::new("gpgconf").arg("--homedir").arg(home).args(["--kill", "gpg-agent"]).status();
    key
}

struct Rig {
    host: Host,
    repo_url: String,
    key_sha: String,
    _mirror: mirror::Mirror,
}

impl Rig {
    fn config(&self, version: &str) {
        let text = format!(
            "prometheus:\n  enabled: false\nalertmanager:\n  enabled: false\n\
             node_exporter:\n  enabled: false\nlogrotate:\n  enabled: false\nrsyslog:\n  enabled: false\n\
             grafana_server:\n  enabled: true\n  source: apt\n  version: {version}\n  \
             listen_address: 127.0.0.1:{PORT}\n  admin_password_file: /etc/monstack/grafana-admin\n  \
             apt_repository: {} stable main\n  apt_key: {KEY_INSIDE}\n  apt_key_sha256: {}\n\
             grafana:\n  wait_timeout: 60s\n",
            self.repo_url, self.key_sha
        );
        self.host.write(CONFIG, text, 0o644);
    }

    /// `monstack ARGS`; asserts exit `code`; stdout.
    fn monstack(&self, args: &[&str], code: i32) -> String {
        let bin = format!("{BIN_DIR}/monstack");
        let mut argv = vec![bin.as_str()];
        argv.extend_from_slice(args);
        let out = self.host.run(&argv);
        assert_eq!(
            out.status.code(),
            Some(code),
            "on {}: monstack {args:?}:\n{}\n{}\n{}",
            self.host.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.host.journal()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply(&self) -> Vec<String> {
        let out = self.monstack(&["apply", "--output", "json"], 0);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] != "unchanged")
            .map(|r| format!("{} {} {}", r["kind"], r["name"], r["action"]).replace('"', ""))
            .collect()
    }

    fn health_version(&self) -> String {
        let (code, body) = self.host.http_get(&format!("http://127.0.0.1:{PORT}/api/health"));
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["version"].as_str().unwrap_or_default().to_string()
    }
}

#[test]
fn apt_source_installs_the_pinned_package_then_nothing_then_upgrades() {
    if which::which("apt-ftparchive").is_err() {
        // make deps installs apt-utils; under CI a missing tool is a failure.
        assert!(std::env::var_os("CI").is_none(), "apt-ftparchive not found (apt-utils)");
        eprintln!("SKIPPED (real host): apt-ftparchive not found; make deps installs apt-utils");
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_monstack")).parent().unwrap().to_path_buf();
    let Some(host) =
        realhost::boot(Options { bind_ro: vec![(bin, BIN_DIR.into())], ..Options::default() })
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let key = build_repo(work.path(), &repo, &["12.2.0", "12.3.0"]);
    let mirror = mirror::Mirror::start_on(host.listen(0), &repo);
    // A fresh host's dpkg database (the booted host's /var starts empty).
    host.ok("mkdir -p /var/lib/dpkg/info /var/lib/dpkg/updates /var/lib/dpkg/triggers \
         /var/lib/apt/lists/partial /var/cache/apt/archives/partial /var/log/apt && \
         touch /var/lib/dpkg/status /var/lib/dpkg/available");
    host.write(KEY_INSIDE, &key, 0o644);
    // Read by Grafana (user `grafana`, made by the package) through $__file{}.
    host.write("/etc/monstack/grafana-admin", "apt-admin-pw\n", 0o644);
    let mut rig = Rig {
        repo_url: mirror.base_url(),
        key_sha: hex::encode(Sha256::digest(&key)),
        host,
        _mirror: mirror,
    };

    // A key whose digest is not the pinned one: refused before apt trusts it.
    rig.host.write(KEY_INSIDE, b"not the key\n", 0o644);
    rig.config("12.2.0");
    let out = rig.host.run(&[&format!("{BIN_DIR}/monstack"), "apply"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("checksum mismatch for the apt key"), "{err}");
    assert!(!rig.host.path("/etc/apt/keyrings/grafana.asc").exists());

    // The pinned digest of another key: apt (gpgv) refuses the repository's signature,
    // and nothing is installed.
    let stranger = gpg_key(&work.path().join("stranger"), &[]);
    rig.host.write(KEY_INSIDE, &stranger, 0o644);
    rig.key_sha = hex::encode(Sha256::digest(&stranger));
    rig.config("12.2.0");
    let out = rig.host.run(&[&format!("{BIN_DIR}/monstack"), "apply"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`apt-get update` failed"), "{err}");
    assert!(rig.host.sh("dpkg-query -W grafana").stdout.is_empty());

    rig.host.write(KEY_INSIDE, &key, 0o644);
    rig.key_sha = hex::encode(Sha256::digest(&key));
    rig.config("12.2.0");

    let first = rig.apply();
    let joined = first.join("\n");
    for want in [
        "package grafana create",
        "service grafana_server start",
        "file /etc/apt/keyrings/grafana.asc update",
    ] {
        assert!(first.iter().any(|c| c == want), "{want} not in:\n{joined}");
    }
    assert_eq!(rig.host.ok("dpkg-query -W -f '${Version}' grafana"), "12.2.0");
    rig.host.ok(
        "systemctl is-active --quiet grafana-server && systemctl is-enabled --quiet grafana-server",
    );
    assert_eq!(rig.health_version(), "12.2.0");
    let list = rig.host.read("/etc/apt/sources.list.d/grafana.list");
    assert!(
        list.contains("deb [signed-by=/etc/apt/keyrings/grafana.asc] http://127.0.0.1:"),
        "{list}"
    );
    let ini = rig.host.read("/etc/grafana/grafana.ini");
    assert!(ini.contains(&format!("http_port = {PORT}")), "{ini}");
    assert!(!ini.contains("apt-admin-pw"));
    // grafana.ini is the group's (made by the package) and not world-readable.
    assert_eq!(
        rig.host.ok("stat -c '%U:%G %a' /etc/grafana/grafana.ini").trim(),
        "root:grafana 640"
    );
    // The token bootstrap and the datasource went to the package's Grafana (grafana.url
    // defaulted from listen_address).
    assert!(first.iter().any(|c| c.starts_with("grafana_datasource")), "{joined}");

    let requests = rig._mirror.requests();
    assert_eq!(rig.apply(), Vec::<String>::new(), "the second apply changed something");
    assert_eq!(rig._mirror.requests(), requests, "a converged apply went to the repository");
    // status: the package at the configured version, its unit, /api/health.
    let out = rig.host.run(&[&format!("{BIN_DIR}/monstack"), "status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine: Vec<String> = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["component"] == "grafana_server")
        .map(|c| format!("{} {} {}", c["check"], c["level"], c["reason"]).replace('"', ""))
        .collect();
    for want in ["package ok grafana 12.2.0 installed", "service ok grafana-server.service active"]
    {
        assert!(mine.iter().any(|c| c == want), "{want} not in {mine:#?}");
    }
    assert!(mine.iter().any(|c| c.starts_with("health ok")), "{mine:#?}");

    // A version bump upgrades and restarts onto it; status follows.
    rig.config("12.3.0");
    let up = rig.apply();
    assert!(up.iter().any(|c| c == "package grafana update"), "{up:?}");
    assert!(up.iter().any(|c| c == "service grafana_server restart"), "{up:?}");
    assert_eq!(rig.host.ok("dpkg-query -W -f '${Version}' grafana"), "12.3.0");
    assert_eq!(rig.health_version(), "12.3.0");
    let pin = rig.host.read("/etc/apt/preferences.d/grafana");
    assert!(pin.contains("Pin: version 12.3.0"), "{pin}");
}
