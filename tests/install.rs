//! `monstack install`, `lock`, `bundle`, `rollback` against a loopback mirror of
//! release tarballs packed from the real Debian binaries.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/release.rs"]
mod release;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mirror::Mirror;
use release::Sandbox;

/// The Debian-built mirror plus a small fake prometheus 2.45.0, built once.
fn tree() -> &'static PathBuf {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("install-mirror");
        let _ = fs::remove_dir_all(&dir);
        mirror::build_mirror(&dir, &[]);
        release::good_prometheus(&dir, "2.45.0", 1000);
        release::debian_blackbox(&dir, "0.25.0");
        dir
    })
}

fn debian_prometheus() -> String {
    mirror::debian_versions().0
}

fn tarball(version: &str) -> PathBuf {
    release::release_dir(tree(), "prometheus", version)
        .join(format!("{}.tar.gz", release::top_dir("prometheus", version)))
}

#[test]
fn install_runs_the_real_binary_and_a_rerun_makes_no_request() {
    let m = Mirror::start(tree());
    let v = debian_prometheus();
    let s = Sandbox::new(&m.base_url(), &v);
    let r = s.run(&["install"]).ok();
    assert_eq!(r.stdout, format!("prometheus {v}: installed\n"));
    assert!(r.stderr.contains("verifying against"), "says it trusts sha256sums.txt: {}", r.stderr);
    assert!(s.prometheus_version().contains(&format!("version {v}")));
    assert_eq!(fs::read_link(s.opt("current")).unwrap(), Path::new("releases").join(&v));
    assert!(s.opt(&format!("releases/{v}/promtool")).is_file());
    assert!(s.opt("data").is_dir(), "data dir created");
    let record: serde_json::Value = serde_json::from_slice(
        &fs::read(s.root().join("var/lib/monstack/releases/prometheus.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["current"]["version"], v.as_str());
    assert_eq!(record["current"]["sha256"], release::sha256_file(&tarball(&v)).as_str());
    assert_eq!(record["current"]["arch"], release::arch().as_str());

    let before = m.requests();
    let r = s.run(&["install", "--output", "json"]).ok();
    assert_eq!(m.requests(), before, "no request when the same release is active");
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["components"][0]["status"], "unchanged");
    assert_eq!(json["components"][0]["component"], "prometheus");
}

#[test]
fn root_keeps_every_path_inside() {
    let m = Mirror::start(tree());
    let s = Sandbox::new(&m.base_url(), &debian_prometheus());
    // Every configured host path is unique to this run, so any write outside the root
    // (even into a directory that already existed) leaves it behind on the host.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let outside = std::env::temp_dir().join(format!(
        "monstack-outside-{}-{}",
        std::process::id(),
        nanos.as_nanos()
    ));
    let host = |sub: &str| outside.join(sub);
    s.write_config(
        &m.base_url(),
        &debian_prometheus(),
        &format!("  cache_dir: {}\n", host("cache").display()),
        &format!(
            "  user: mst-no-such-user\n  install_dir: {}\n  data_dir: {}\n",
            host("opt/prometheus").display(),
            host("data").display()
        ),
    );
    let mut yaml = fs::read_to_string(s.config()).unwrap();
    yaml.push_str(&format!("state_dir: {}\n", host("state").display()));
    fs::write(s.config(), yaml).unwrap();
    // The system dirs monstack writes under by default: not even touched.
    let system_dirs = ["/opt", "/var/lib", "/var/cache", "/etc/systemd/system"];
    let mtimes = || -> Vec<Option<std::time::SystemTime>> {
        system_dirs.iter().map(|d| fs::metadata(d).and_then(|m| m.modified()).ok()).collect()
    };
    let before = mtimes();
    s.run(&["install"]).ok();
    assert!(!outside.exists(), "{} was written outside --root", outside.display());
    assert_eq!(mtimes(), before, "a system dir changed: {system_dirs:?}");
    let inside = |sub: &str| s.root().join(host(sub).strip_prefix("/").unwrap());
    assert!(inside("opt/prometheus/current/prometheus").is_file());
    assert!(inside("state/releases/prometheus.json").is_file());
    assert!(inside("cache").read_dir().unwrap().next().is_some(), "tarball cached in the root");
    assert!(inside("data").is_dir());
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    assert!(!passwd.contains("mst-no-such-user:"), "no user created under --root");
    // Every symlink in the tree resolves inside the root.
    let root = s.root().canonicalize().unwrap();
    let mut stack = vec![root.clone()];
    let mut links = 0;
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                links += 1;
                let target = e.path().canonicalize().unwrap();
                assert!(
                    target.starts_with(&root),
                    "{} -> {}",
                    e.path().display(),
                    target.display()
                );
            } else if ft.is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(links >= 1, "the current symlink was checked");
}

#[test]
fn lock_then_locked_install_and_a_stale_lock_is_an_error() {
    let m = Mirror::start(tree());
    let v = debian_prometheus();
    let s = Sandbox::new(&m.base_url(), &v);
    let r = s.run(&["install", "--locked"]).fails();
    assert!(r.stderr.contains("--locked: no lock file"), "{}", r.stderr);
    assert!(s.current().is_none());

    let r = s.run(&["lock"]).ok();
    let sha = release::sha256_file(&tarball(&v));
    assert!(r.stdout.contains(&sha), "{}", r.stdout);
    let lock = fs::read_to_string(s.lock()).unwrap();
    let parsed: serde_norway::Value = serde_norway::from_str(&lock).unwrap();
    let e = &parsed["components"][0];
    assert_eq!(e["component"].as_str(), Some("prometheus"));
    assert_eq!(e["version"].as_str(), Some(v.as_str()));
    assert_eq!(e["arch"].as_str(), Some(release::arch().as_str()));
    assert_eq!(e["sha256"].as_str(), Some(sha.as_str()));
    assert!(e["url"].as_str().unwrap().ends_with(&release::tarball_path("prometheus", &v)));

    let r = s.run(&["install", "--locked"]).ok();
    assert!(!r.stderr.contains("verifying against"), "the lock is trusted: {}", r.stderr);
    assert!(s.prometheus_version().contains(&v));

    // The config moves on, the lock does not.
    s.write_config(&m.base_url(), "2.45.0", "", "");
    let r = s.run(&["install", "--locked"]).fails();
    assert!(r.stderr.contains("is stale"), "{}", r.stderr);
    assert_eq!(s.current().as_deref(), Some(v.as_str()));

    // A lock whose digest is wrong stops the install: nothing installed.
    let bad = lock.replace(&sha, &"0".repeat(64));
    s.write_config(&m.base_url(), &v, "", "");
    fs::write(s.lock(), bad).unwrap();
    fs::remove_dir_all(s.root()).unwrap();
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    assert!(r.stderr.contains("monstack.lock"), "{}", r.stderr);
    assert!(s.current().is_none());
}

#[test]
fn bundle_feeds_an_offline_install_from_local_dir() {
    let m = Mirror::start(tree());
    let v = debian_prometheus();
    let s = Sandbox::new(&m.base_url(), &v);
    s.run(&["lock"]).ok();
    let out = s.dir.path().join("bundle");
    s.run(&["bundle", "--out", out.to_str().unwrap()]).ok();
    let name = format!("{}.tar.gz", release::top_dir("prometheus", &v));
    assert_eq!(release::sha256_file(&out.join(&name)), release::sha256_file(&tarball(&v)));
    let sums = fs::read_to_string(out.join("sha256sums.txt")).unwrap();
    assert!(sums.contains(&format!("  {name}\n")));

    // An air-gapped host: no mirror at all, the bundle as local_dir, --offline.
    let dead = "http://127.0.0.1:9";
    let air = Sandbox::new(dead, &v);
    air.write_config(dead, &v, &format!("  local_dir: {}\n", out.display()), "");
    let before = m.requests();
    let r = air.run(&["install", "--offline"]).ok();
    assert!(r.stdout.contains("installed"), "{}", r.stdout);
    assert!(air.prometheus_version().contains(&v));
    assert_eq!(m.requests(), before);

    // Offline with neither cache nor local_dir: a clear error, nothing installed.
    let bare = Sandbox::new(&m.base_url(), &v);
    fs::copy(s.lock(), bare.lock()).unwrap();
    let r = bare.run(&["install", "--offline"]).fails();
    assert!(r.stderr.contains("--offline"), "{}", r.stderr);
    assert!(bare.current().is_none());
    assert_eq!(m.requests(), before);
}

#[test]
fn reinstall_after_removal_uses_the_cache_offline() {
    let m = Mirror::start(tree());
    let v = debian_prometheus();
    let s = Sandbox::new(&m.base_url(), &v);
    s.run(&["lock"]).ok();
    s.run(&["install"]).ok();
    fs::remove_dir_all(s.root().join("opt")).unwrap();
    let before = m.requests();
    let r = s.run(&["install", "--offline"]).ok();
    assert!(r.stderr.contains("using cached"), "{}", r.stderr);
    assert_eq!(m.requests(), before);
    assert!(s.prometheus_version().contains(&v));
}

#[test]
fn rollback_switches_back_and_forth_without_network() {
    let m = Mirror::start(tree());
    let v = debian_prometheus();
    let s = Sandbox::new(&m.base_url(), &v);
    let r = s.run(&["rollback", "prometheus"]).fails();
    assert!(r.stderr.contains("no previous release"), "{}", r.stderr);

    s.run(&["install"]).ok();
    s.write_config(&m.base_url(), "2.45.0", "", "");
    let r = s.run(&["install"]).ok();
    assert_eq!(r.stdout, format!("prometheus 2.45.0: installed (was {v})\n"));
    assert!(s.prometheus_version().contains("2.45.0"));

    let before = m.requests();
    let r = s.run(&["rollback", "prometheus"]).ok();
    assert_eq!(r.stdout, format!("prometheus: rolled back to {v} (was 2.45.0)\n"));
    // The config still says 2.45.0: say what apply would do and how to stay.
    assert!(
        r.stderr.contains(&format!(
            "hint: the next `monstack apply` reinstalls the configured 2.45.0; \
             to stay on {v}, set `prometheus.version: {v}` in {}",
            s.config().display()
        )),
        "{}",
        r.stderr
    );
    assert!(s.prometheus_version().contains(&format!("version {v}")));
    // The record follows: an install of the configured 2.45.0 switches back with
    // no download (the release is still on disk).
    let r = s.run(&["install"]).ok();
    assert!(r.stdout.contains(&format!("installed (was {v})")), "{}", r.stdout);
    assert!(s.prometheus_version().contains("2.45.0"));
    assert_eq!(m.requests(), before);
    // With the config already at the rolled-back version, only the restart is left.
    s.write_config(&m.base_url(), &v, "", "");
    let r = s.run(&["rollback", "prometheus", "--output", "json"]).ok();
    assert!(
        r.stderr.contains(&format!(
            "hint: prometheus was not running; `monstack apply` starts it on {v}"
        )),
        "{}",
        r.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["version"], v.as_str());
    assert_eq!(json["previous"], "2.45.0");
}

#[test]
fn unknown_component_is_a_usage_error() {
    let m = Mirror::start(tree());
    let s = Sandbox::new(&m.base_url(), &debian_prometheus());
    let r = s.run(&["install", "grafana"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(r.stderr.contains("unknown component `grafana`"));
    assert_eq!(m.requests(), 0);
}

#[test]
fn observe_reads_the_host_without_network() {
    use monstack::artifact::{observe, Observed};
    use monstack::config::ComponentKind::Prometheus;
    let m = Mirror::start(tree());
    let v = debian_prometheus();
    let s = Sandbox::new(&m.base_url(), &v);
    let root = monstack::paths::Root::new(s.root());
    let load = || monstack::config::load(&s.config()).unwrap();
    assert_eq!(
        observe(&root, &load(), Prometheus).unwrap(),
        Observed { installed: None, needs_install: true }
    );
    s.run(&["install"]).ok();
    let sha = release::sha256_file(&tarball(&v));
    let before = m.requests();
    assert_eq!(
        observe(&root, &load(), Prometheus).unwrap(),
        Observed { installed: Some((v.clone(), sha.clone())), needs_install: false }
    );
    // A different pinned digest or version means an install is needed.
    s.write_config(&m.base_url(), &v, "", &format!("  sha256: {}\n", "e".repeat(64)));
    assert!(observe(&root, &load(), Prometheus).unwrap().needs_install);
    s.write_config(&m.base_url(), "2.45.0", "", "");
    let o = observe(&root, &load(), Prometheus).unwrap();
    assert_eq!(o.installed, Some((v, sha)));
    assert!(o.needs_install);
    assert_eq!(m.requests(), before);
}

#[test]
fn install_takes_the_apply_lock() {
    use std::os::fd::AsRawFd;
    let m = Mirror::start(tree());
    let s = Sandbox::new(&m.base_url(), &debian_prometheus());
    let lock_path = s.root().join("var/lib/monstack/apply.lock");
    fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    fs::write(&lock_path, "4242\n").unwrap();
    let held = fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    // SAFETY: flock on an owned descriptor, as apply does.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let before = m.requests();
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("is running (pid 4242)"), "{}", r.stderr);
    assert_eq!(m.requests(), before, "nothing fetched while another run holds the lock");
    assert!(!s.opt("current").exists());
    drop(held);
    s.run(&["install"]).ok();
}

/// blackbox_exporter through the same artifact path: `lock` records it, `bundle`
/// copies it, an air-gapped `install --offline` takes it from the bundle, an upgrade
/// and `rollback blackbox_exporter` switch releases without network; the installed
/// binary is the real one.
#[test]
fn blackbox_exporter_goes_through_lock_bundle_offline_and_rollback() {
    let m = Mirror::start(tree());
    let deb = mirror::debian_blackbox_version();
    let config = |s: &Sandbox, base: &str, version: &str, downloads: &str| {
        let yaml = format!(
            "downloads:\n  base_url: {base}\n  retries: 2\n{downloads}prometheus:\n  enabled: false\n\
             alertmanager:\n  enabled: false\nnode_exporter:\n  enabled: false\n\
             blackbox_exporter:\n  enabled: true\n  version: {version}\n"
        );
        fs::write(s.config(), yaml).unwrap();
    };
    let bb_version = |s: &Sandbox| {
        let bin = s.root().join("opt/blackbox_exporter/current/blackbox_exporter");
        let out = std::process::Command::new(bin).arg("--version").output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let s = Sandbox::new(&m.base_url(), "0.0.0");
    config(&s, &m.base_url(), &deb, "");
    let r = s.run(&["lock"]).ok();
    let tarball = release::release_dir(tree(), "blackbox_exporter", &deb)
        .join(format!("{}.tar.gz", release::top_dir("blackbox_exporter", &deb)));
    let sha = release::sha256_file(&tarball);
    assert!(r.stdout.contains(&sha), "{}", r.stdout);
    let lock: serde_norway::Value =
        serde_norway::from_str(&fs::read_to_string(s.lock()).unwrap()).unwrap();
    assert_eq!(lock["components"][0]["component"].as_str(), Some("blackbox_exporter"));
    let out = s.dir.path().join("bundle");
    s.run(&["bundle", "--out", out.to_str().unwrap()]).ok();
    let name = format!("{}.tar.gz", release::top_dir("blackbox_exporter", &deb));
    assert_eq!(release::sha256_file(&out.join(&name)), sha);

    // Air-gapped: the bundle as local_dir, --offline, no request to the mirror.
    let dead = "http://127.0.0.1:9";
    let air = Sandbox::new(dead, "0.0.0");
    config(&air, dead, &deb, &format!("  local_dir: {}\n", out.display()));
    fs::copy(s.lock(), air.lock()).unwrap();
    let before = m.requests();
    let r = air.run(&["install", "--offline", "--locked"]).ok();
    assert!(r.stdout.contains(&format!("blackbox_exporter {deb}: installed")), "{}", r.stdout);
    assert!(bb_version(&air).contains(&format!("version {deb}")), "{}", bb_version(&air));
    assert_eq!(m.requests(), before);

    // Upgrade to another release, then roll back without network.
    s.run(&["install"]).ok();
    config(&s, &m.base_url(), "0.25.0", "");
    let r = s.run(&["install"]).ok();
    assert_eq!(r.stdout, format!("blackbox_exporter 0.25.0: installed (was {deb})\n"));
    let before = m.requests();
    let r = s.run(&["rollback", "blackbox_exporter"]).ok();
    assert_eq!(r.stdout, format!("blackbox_exporter: rolled back to {deb} (was 0.25.0)\n"));
    let current = fs::read_link(s.root().join("opt/blackbox_exporter/current")).unwrap();
    assert!(current.ends_with(&deb), "{}", current.display());
    assert_eq!(m.requests(), before);
}
