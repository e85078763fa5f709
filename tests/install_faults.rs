//! Network and trust faults during `monstack install`: each gives a clear error,
//! leaves the previous release active and no staging dir, or converges on re-run.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/release.rs"]
mod release;

use std::path::PathBuf;
use std::sync::OnceLock;

use mirror::{Fault, Mirror};
use release::Sandbox;

const OLD: &str = "2.44.0";
const NEW: &str = "2.45.0";
/// Large enough to cut the body a few times.
const BLOB: usize = 600_000;

/// A mirror tree with two small prometheus releases, built once.
fn tree() -> &'static PathBuf {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("install-faults-mirror");
        let _ = std::fs::remove_dir_all(&dir);
        release::good_prometheus(&dir, OLD, 1000);
        release::good_prometheus(&dir, NEW, BLOB);
        dir
    })
}

fn new_sha() -> String {
    release::sha256_file(
        &release::release_dir(tree(), "prometheus", NEW)
            .join(format!("{}.tar.gz", release::top_dir("prometheus", NEW))),
    )
}

/// A sandbox with OLD installed and the config switched to NEW.
fn with_old_installed(m: &Mirror) -> Sandbox {
    let s = Sandbox::new(&m.base_url(), OLD);
    s.run(&["install"]).ok();
    assert_eq!(s.current().as_deref(), Some(OLD));
    s.write_config(&m.base_url(), NEW, "", "");
    s
}

#[track_caller]
fn assert_old_intact(s: &Sandbox) {
    assert_eq!(s.current().as_deref(), Some(OLD));
    assert!(s.prometheus_version().contains(OLD));
    assert_eq!(s.releases(), vec![OLD.to_string()], "no staging dir or half release left");
}

#[test]
fn pinned_digest_mismatch_aborts_with_both_digests_and_the_url() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    let wrong = "ab".repeat(32);
    s.write_config(&m.base_url(), NEW, "", &format!("  sha256: {wrong}\n"));
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("checksum mismatch for `prometheus` 2.45.0"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("expected: {wrong} (pinned in")), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("computed: {}", new_sha())), "{}", r.stderr);
    assert!(r.stderr.contains(&release::tarball_path("prometheus", NEW)), "{}", r.stderr);
    assert_old_intact(&s);
    assert!(!s.cache_files().iter().any(|f| f.contains(NEW) || f.ends_with(".partial")));
}

#[test]
fn tampered_tarball_is_caught_against_sha256sums() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    let evil = release::noise(50_000);
    let evil_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&evil));
    m.fault(&release::tarball_path("prometheus", NEW), Fault::Body(evil));
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("expected: {}", new_sha())), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("computed: {evil_sha}")), "{}", r.stderr);
    assert_old_intact(&s);
    // The bad bytes are not kept: the next run downloads afresh and succeeds.
    s.run(&["install"]).ok();
    assert_eq!(s.current().as_deref(), Some(NEW));
}

#[test]
fn truncated_body_fails_clearly_then_rerun_resumes_with_range() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    s.write_config(&m.base_url(), NEW, "  retries: 1\n", "");
    // The first request and its one resume are both cut short.
    for _ in 0..2 {
        m.fault(&release::tarball_path("prometheus", NEW), Fault::Truncate(100_000));
    }
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("interrupted after 200000 of"), "{}", r.stderr);
    assert!(r.stderr.contains(&release::tarball_path("prometheus", NEW)), "{}", r.stderr);
    assert_old_intact(&s);
    assert!(s.cache_files().iter().any(|f| f.ends_with(".partial")), "partial kept for resume");

    // The re-run continues from byte 200000 of the kept partial.
    let r = s.run(&["install"]).ok();
    assert!(r.stdout.contains("installed (was 2.44.0)"), "{}", r.stdout);
    assert_eq!(s.current().as_deref(), Some(NEW));
    assert!(s.prometheus_version().contains(NEW));
    assert!(
        m.log().iter().any(|(_, range)| range.as_deref() == Some("bytes=200000-")),
        "resumed with Range: {:?}",
        m.log()
    );
    assert_eq!(s.releases(), vec![OLD.to_string(), NEW.to_string()]);
}

#[test]
fn dropped_connection_mid_body_resumes_in_the_same_run() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    m.fault(&release::tarball_path("prometheus", NEW), Fault::DropAfter(150_000));
    let r = s.run(&["install"]).ok();
    assert!(r.stdout.contains("prometheus 2.45.0: installed (was 2.44.0)"), "{}", r.stdout);
    assert!(m.log().iter().any(|(_, range)| range.as_deref() == Some("bytes=150000-")));
    assert!(s.prometheus_version().contains(NEW));
}

#[test]
fn a_mirror_that_ignores_range_restarts_from_byte_zero_in_the_same_run() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    m.honor_range(false);
    let tarball = release::tarball_path("prometheus", NEW);
    m.fault(&tarball, Fault::DropAfter(150_000));
    let r = s.run(&["install"]).ok();
    assert!(r.stdout.contains("prometheus 2.45.0: installed (was 2.44.0)"), "{}", r.stdout);
    assert!(r.stderr.contains("downloading again from the start"), "{}", r.stderr);
    let log: Vec<_> = m.log().into_iter().filter(|(p, _)| p.contains(&tarball)).collect();
    assert_eq!(log.len(), 3, "first try, the refused resume, the restart from 0: {log:?}");
    assert_eq!(log[1].1.as_deref(), Some("bytes=150000-"));
    assert_eq!(log[2].1, None);
    assert!(s.prometheus_version().contains(NEW));
}

#[test]
fn not_found_names_the_url_and_is_not_retried() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    let pin = "cd".repeat(32);
    s.write_config(&m.base_url(), "2.46.0", "", &format!("  sha256: {pin}\n"));
    let before = m.requests();
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    assert!(r.stderr.contains("wrong version or arch?"), "{}", r.stderr);
    assert!(r.stderr.contains(&release::tarball_path("prometheus", "2.46.0")), "{}", r.stderr);
    assert_eq!(m.requests(), before + 1, "a 404 is not retried");
    assert_old_intact(&s);
}

#[test]
fn forbidden_is_not_retried() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    m.fault(&release::tarball_path("prometheus", NEW), Fault::Status(403));
    let before = m.requests();
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("403 Forbidden"), "{}", r.stderr);
    assert_eq!(m.requests(), before + 2, "sums, then one tarball request");
    assert_old_intact(&s);
}

#[test]
fn server_errors_are_retried_then_succeed() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    m.fault("sha256sums.txt", Fault::Status(503));
    m.fault(&release::tarball_path("prometheus", NEW), Fault::Status(429));
    m.fault(&release::tarball_path("prometheus", NEW), Fault::Status(500));
    let before = m.requests();
    s.run(&["install"]).ok();
    assert_eq!(m.requests(), before + 5, "sums 503 + 200, tarball 429 + 500 + 200");
    assert!(s.prometheus_version().contains(NEW));
}

#[test]
fn server_errors_beyond_the_retries_fail_with_the_status() {
    let m = Mirror::start(tree());
    let s = with_old_installed(&m);
    for _ in 0..3 {
        m.fault(&release::tarball_path("prometheus", NEW), Fault::Status(502));
    }
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("502"), "{}", r.stderr);
    assert_old_intact(&s);
}

#[test]
fn redirect_to_another_loopback_port_is_followed() {
    let m = Mirror::start(tree());
    let other = Mirror::start(tree());
    let s = with_old_installed(&m);
    let path = release::tarball_path("prometheus", NEW);
    m.fault(&path, Fault::Redirect(format!("{}{path}", other.base_url())));
    s.run(&["install"]).ok();
    assert_eq!(other.requests(), 1);
    assert!(s.prometheus_version().contains(NEW));
}

#[test]
fn tls_failure_names_the_url_and_is_not_retried() {
    // A plain-text server where an https mirror is configured: the handshake fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let base = format!("https://127.0.0.1:{port}");
    let s = Sandbox::new(&base, NEW);
    let r = s.run(&["install"]).fails();
    assert!(r.stderr.contains("TLS failure talking to"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{base}/prometheus/prometheus/releases/download/v{NEW}/")));
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1, "not retried");
    assert!(s.current().is_none());
}
