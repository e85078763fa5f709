//! Malicious release tarballs (whose digest matches sha256sums.txt, so only the
//! extractor stands between them and the host): every escape kind is refused,
//! naming the entry, with the previous release intact and no staging dir left.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/release.rs"]
mod release;

use std::path::PathBuf;
use std::sync::OnceLock;

use mirror::Mirror;
use release::{add_file, add_raw, Sandbox, Tar};
use tar::EntryType;

const GOOD: &str = "2.44.0";

/// One malicious case: a version in the mirror, and the entry the error must name.
struct Case {
    version: &'static str,
    entry: String,
    reason: &'static str,
}

type Build = fn(&mut Tar, &str);

fn cases() -> Vec<(&'static str, &'static str, &'static str, Build)> {
    // (version, entry name with TOP for the top dir, reason fragment, builder)
    vec![
        ("9.0.1", "/tmp/monstack-escape-abs", "absolute path", |b, _| {
            add_raw(b, EntryType::Regular, "/tmp/monstack-escape-abs", None, b"x")
        }),
        ("9.0.2", "TOP/../../escape-dotdot", "`..` in the path", |b, top| {
            add_raw(b, EntryType::Regular, &format!("{top}/../../escape-dotdot"), None, b"x")
        }),
        ("9.0.3", "TOP/link", "points outside the release", |b, top| {
            add_raw(b, EntryType::Symlink, &format!("{top}/link"), Some("../../../etc"), &[])
        }),
        ("9.0.4", "TOP/passwd", "symlink to absolute path", |b, top| {
            add_raw(b, EntryType::Symlink, &format!("{top}/passwd"), Some("/etc/passwd"), &[])
        }),
        ("9.0.5", "TOP/sub/evil", "goes through the symlink", |b, top| {
            add_raw(b, EntryType::Directory, &format!("{top}/real/"), None, &[]);
            add_raw(b, EntryType::Symlink, &format!("{top}/sub"), Some("real"), &[]);
            add_raw(b, EntryType::Regular, &format!("{top}/sub/evil"), None, b"x")
        }),
        ("9.0.6", "TOP/shadow", "outside the release", |b, top| {
            add_raw(b, EntryType::Link, &format!("{top}/shadow"), Some("/etc/shadow"), &[])
        }),
        ("9.0.7", "TOP/hl", "outside the release", |b, top| {
            add_raw(b, EntryType::Link, &format!("{top}/hl"), Some(&format!("{top}/../../x")), &[])
        }),
        ("9.0.8", "TOP/null", "device file", |b, top| {
            add_raw(b, EntryType::Char, &format!("{top}/null"), None, &[])
        }),
        ("9.0.9", "TOP/disk", "device file", |b, top| {
            add_raw(b, EntryType::Block, &format!("{top}/disk"), None, &[])
        }),
        ("9.0.10", "TOP/pipe", "fifo", |b, top| {
            add_raw(b, EntryType::Fifo, &format!("{top}/pipe"), None, &[])
        }),
        ("9.0.11", "other-top/prometheus", "outside the expected top-level directory", |b, _| {
            add_file(b, "other-top/prometheus", 0o755, b"#!/bin/sh\n")
        }),
        ("9.0.12", "TOP/huge.bin", "tar bomb", |b, top| {
            add_file(b, &format!("{top}/huge.bin"), 0o644, &vec![0u8; 300_000])
        }),
    ]
}

/// The mirror tree with the good release and every malicious one, built once.
fn tree() -> &'static (PathBuf, Vec<Case>) {
    static TREE: OnceLock<(PathBuf, Vec<Case>)> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("install-malicious-mirror");
        let _ = std::fs::remove_dir_all(&dir);
        release::good_prometheus(&dir, GOOD, 1000);
        let mut out = Vec::new();
        for (version, entry, reason, build) in cases() {
            release::write_release(&dir, "prometheus", version, |b, top| {
                // Real binaries first, so only the bad entry is to blame.
                add_file(b, &format!("{top}/prometheus"), 0o755, b"#!/bin/sh\necho bad\n");
                add_file(b, &format!("{top}/promtool"), 0o755, b"#!/bin/sh\n");
                build(b, top)
            });
            let entry = entry.replace("TOP", &release::top_dir("prometheus", version));
            out.push(Case { version, entry, reason });
        }
        (dir, out)
    })
}

#[test]
fn every_escape_kind_is_refused_naming_the_entry() {
    let (dir, cases) = tree();
    let m = Mirror::start(dir);
    let s = Sandbox::new(&m.base_url(), GOOD);
    s.run(&["install"]).ok();
    let outside = s.dir.path().join("escape-dotdot");
    for case in cases {
        s.write_config(&m.base_url(), case.version, "  max_extract_bytes: 200000\n", "");
        let r = s.run(&["install"]).fails();
        let want = format!("refusing archive entry `{}`", case.entry);
        assert!(r.stderr.contains(&want), "{}: want {want:?} in:\n{}", case.version, r.stderr);
        assert!(
            r.stderr.contains(case.reason),
            "{}: want {:?} in:\n{}",
            case.version,
            case.reason,
            r.stderr
        );
        assert_eq!(s.current().as_deref(), Some(GOOD), "{}", case.version);
        assert!(s.prometheus_version().contains(GOOD));
        assert_eq!(s.releases(), vec![GOOD.to_string()], "{}: nothing left behind", case.version);
    }
    assert!(!outside.exists());
    assert!(!std::path::Path::new("/tmp/monstack-escape-abs").exists());
}

#[test]
fn refused_tarball_makes_no_second_download() {
    // The digest matched, so the tarball is cached: the verdict repeats offline.
    let (dir, cases) = tree();
    let m = Mirror::start(dir);
    let s = Sandbox::new(&m.base_url(), cases[0].version);
    s.run(&["install"]).fails();
    let lock = s.run(&["lock"]).ok();
    assert!(lock.stdout.contains(cases[0].version));
    let before = m.requests();
    let r = s.run(&["install", "--offline"]).fails();
    assert!(r.stderr.contains(&cases[0].entry), "{}", r.stderr);
    assert_eq!(m.requests(), before);
}
