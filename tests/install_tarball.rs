//! `<component>.tarball`: one local release tarball installed with no network at all
//! (the mirror URL points at a closed loopback port), verified against a pin or the
//! lock, or trusted as given; its name must be the configured release's.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/release.rs"]
mod release;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use release::Sandbox;

/// The Debian-built release tarballs plus a small fake prometheus 2.45.0, built once.
fn tree() -> &'static PathBuf {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("install-tarball-mirror");
        let _ = fs::remove_dir_all(&dir);
        mirror::build_mirror(&dir, &[]);
        release::good_prometheus(&dir, "2.45.0", 1000);
        dir
    })
}

fn debian_prometheus() -> String {
    mirror::debian_versions().0
}

fn file_name(version: &str) -> String {
    format!("{}.tar.gz", release::top_dir("prometheus", version))
}

fn built(version: &str) -> PathBuf {
    release::release_dir(tree(), "prometheus", version).join(file_name(version))
}

/// A base URL nothing listens on: any network access fails.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Copy `version`'s tarball into the sandbox as `offline/{name}`.
fn place(s: &Sandbox, version: &str, name: &str) -> PathBuf {
    let dest = s.dir.path().join("offline").join(name);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(built(version), &dest).unwrap();
    dest
}

/// Config for prometheus `version` from `offline/{name}` with `extra` prometheus keys.
fn configure(s: &Sandbox, base: &str, version: &str, name: &str, extra: &str) {
    s.write_config(base, version, "", &format!("  tarball: offline/{name}\n{extra}"));
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            // install takes apply's lock, which records the pid of each run.
            if e.file_name() == "apply.lock" {
                continue;
            }
            let m = fs::symlink_metadata(e.path()).unwrap();
            out.push((e.path(), m.modified().ok()));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn tarball_installs_with_no_server_and_a_rerun_changes_nothing() {
    let base = closed_port();
    let v = debian_prometheus();
    let s = Sandbox::new(&base, &v);
    let src = place(&s, &v, &file_name(&v));
    configure(&s, &base, &v, &file_name(&v), "");
    let sha = release::sha256_file(&src);

    // No pin, no lock: --locked refuses, nothing installed.
    let r = s.run(&["install", "--locked"]).fails();
    assert!(r.stderr.contains("--locked: no lock file"), "{}", r.stderr);
    assert!(s.current().is_none());

    let r = s.run(&["install"]).ok();
    assert_eq!(r.stdout, format!("prometheus {v}: installed\n"));
    assert!(r.stderr.contains("trusted as given"), "says it trusts the file: {}", r.stderr);
    assert!(r.stderr.contains(&sha), "names the digest it trusted: {}", r.stderr);
    assert!(s.prometheus_version().contains(&format!("version {v}")));
    assert!(s.opt(&format!("releases/{v}/promtool")).is_file());
    assert_eq!(s.cache_files(), vec![format!("{sha}/{}", file_name(&v))], "cached by digest");
    let record: serde_json::Value = serde_json::from_slice(
        &fs::read(s.root().join("var/lib/monstack/releases/prometheus.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["current"]["sha256"], sha.as_str());

    let before = snapshot(&s.root());
    let r = s.run(&["install"]).ok();
    assert_eq!(r.stdout, format!("prometheus {v}: unchanged\n"));
    assert_eq!(snapshot(&s.root()), before, "a re-run touches nothing");

    // `lock` records the file's digest without network; --locked then passes.
    s.run(&["lock"]).ok();
    let lock = fs::read_to_string(s.lock()).unwrap();
    assert!(lock.contains(&format!("sha256: {sha}")), "{lock}");
    assert!(lock.contains("url: file:///"), "{lock}");
    let r = s.run(&["install", "--locked", "--offline"]).ok();
    assert_eq!(r.stdout, format!("prometheus {v}: unchanged\n"));
    assert_eq!(snapshot(&s.root()), before);
}

#[test]
fn wrong_pin_or_lock_installs_nothing_and_keeps_the_previous_release() {
    let base = closed_port();
    let v = debian_prometheus();
    let s = Sandbox::new(&base, &v);
    place(&s, &v, &file_name(&v));
    configure(&s, &base, &v, &file_name(&v), "");
    s.run(&["install"]).ok();

    let next = place(&s, "2.45.0", &file_name("2.45.0"));
    let sha = release::sha256_file(&next);
    let wrong = "0".repeat(64);
    configure(&s, &base, "2.45.0", &file_name("2.45.0"), &format!("  sha256: {wrong}\n"));
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("checksum mismatch for `prometheus` 2.45.0"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("expected: {wrong}")), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("computed: {sha}")), "{}", r.stderr);
    assert!(r.stderr.contains(&next.display().to_string()), "names the file: {}", r.stderr);
    assert_eq!(s.current().as_deref(), Some(v.as_str()), "previous release still current");
    assert!(s.prometheus_version().contains(&format!("version {v}")));
    assert_eq!(s.releases(), vec![v.clone()], "no staging dir, nothing new");
    assert!(!s.cache_files().iter().any(|f| f.contains("2.45.0")), "{:?}", s.cache_files());

    // A lock entry that disagrees is refused the same way.
    configure(&s, &base, "2.45.0", &file_name("2.45.0"), "");
    let entry = format!(
        "version: 1\ncomponents:\n- component: prometheus\n  version: 2.45.0\n  arch: {}\n  url: file:///x\n  sha256: {wrong}\n",
        release::arch()
    );
    fs::write(s.lock(), entry).unwrap();
    let r = s.run(&["install", "--locked"]).fails();
    assert!(r.stderr.contains(&format!("expected: {wrong}")), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("computed: {sha}")), "{}", r.stderr);
    assert_eq!(s.releases(), vec![v.clone()]);

    // The right pin installs it, verified (not "trusted as given").
    fs::remove_file(s.lock()).unwrap();
    configure(&s, &base, "2.45.0", &file_name("2.45.0"), &format!("  sha256: {sha}\n"));
    let r = s.run(&["install"]).ok();
    assert_eq!(r.stdout, format!("prometheus 2.45.0: installed (was {v})\n"));
    assert!(!r.stderr.contains("trusted as given"), "{}", r.stderr);
    assert!(s.prometheus_version().contains("version 2.45.0"));
}

#[test]
fn a_tarball_not_named_for_the_configured_release_is_refused() {
    let base = closed_port();
    let v = debian_prometheus();
    let s = Sandbox::new(&base, &v);
    let expected = file_name(&v);

    // Renamed file, and a real tarball of another version.
    for name in ["prometheus.tar.gz".to_string(), file_name("2.45.0")] {
        let version = if name == file_name("2.45.0") { "2.45.0" } else { v.as_str() };
        place(&s, version, &name);
        configure(&s, &base, &v, &name, "");
        let r = s.run(&["install"]).fails();
        assert!(
            r.stderr.contains(&format!("is not named `{expected}`")),
            "names the expected file: {}",
            r.stderr
        );
        assert!(r.stderr.contains("hint: "), "{}", r.stderr);
        assert!(s.current().is_none());
        assert!(s.releases().is_empty(), "{:?}", s.releases());
        let r = s.run(&["lock"]).fails();
        assert!(r.stderr.contains(&format!("is not named `{expected}`")), "{}", r.stderr);
        assert!(!s.lock().exists());
    }

    // The right name on the wrong content: the top-level dir check still applies.
    fs::copy(built("2.45.0"), s.dir.path().join("offline").join(&expected)).unwrap();
    configure(&s, &base, &v, &expected, "");
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains(&release::top_dir("prometheus", "2.45.0")), "{}", r.stderr);
    assert!(s.current().is_none());
    assert!(s.releases().is_empty(), "no staging left: {:?}", s.releases());
}

#[test]
fn a_missing_tarball_is_a_located_config_error() {
    let base = closed_port();
    let v = debian_prometheus();
    let s = Sandbox::new(&base, &v);
    configure(&s, &base, &v, &file_name(&v), "");
    let r = s.run(&["install"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    let want = format!(
        "monstack.yaml:8:3: `prometheus.tarball`: tarball `offline/{}` does not exist",
        file_name(&v)
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    assert!(!s.root().join("opt").exists() && !s.root().join("var").exists());
}
