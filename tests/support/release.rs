//! Helpers for the install tests: small release tarballs built in the test (good
//! ones with script binaries, and hand-made malicious ones), a sandbox with a config
//! and a `--root`, and a runner for the built binary. Include after `mirror`:
//! `#[path = "support/release.rs"] mod release;` (and `bin`).
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

pub type Tar = tar::Builder<GzEncoder<File>>;

/// The architecture name the mirror and monstack use on this host.
pub fn arch() -> String {
    let out = Command::new("dpkg").arg("--print-architecture").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `{project}-{version}.linux-{arch}`.
pub fn top_dir(project: &str, version: &str) -> String {
    format!("{project}-{version}.linux-{}", arch())
}

/// Release dir of a version in a mirror tree.
pub fn release_dir(mirror_root: &Path, project: &str, version: &str) -> PathBuf {
    mirror_root.join(format!("prometheus/{project}/releases/download/v{version}"))
}

/// URL path of a tarball (for faults).
pub fn tarball_path(project: &str, version: &str) -> String {
    format!(
        "/prometheus/{project}/releases/download/v{version}/{}.tar.gz",
        top_dir(project, version)
    )
}

pub fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(p).unwrap()))
}

/// Write a release tarball (entries from `build`) and its sha256sums.txt (with a
/// decoy line first) into the mirror tree; returns the tarball's path and digest.
pub fn write_release(
    mirror_root: &Path,
    project: &str,
    version: &str,
    build: impl FnOnce(&mut Tar, &str),
) -> (PathBuf, String) {
    let dir = release_dir(mirror_root, project, version);
    fs::create_dir_all(&dir).unwrap();
    let top = top_dir(project, version);
    let path = dir.join(format!("{top}.tar.gz"));
    let mut b = tar::Builder::new(GzEncoder::new(
        File::create(&path).unwrap(),
        flate2::Compression::fast(),
    ));
    build(&mut b, &top);
    b.into_inner().unwrap().finish().unwrap();
    let sha = sha256_file(&path);
    let sums = format!(
        "{}  {project}-{version}.darwin-{}.tar.gz\n{sha}  {top}.tar.gz\n",
        "0".repeat(64),
        arch()
    );
    fs::write(dir.join("sha256sums.txt"), sums).unwrap();
    (path, sha)
}

/// Append a regular file.
pub fn add_file(b: &mut Tar, path: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    raw_name(&mut h, path);
    b.append(&h, data).unwrap();
}

/// Append an entry with a raw name (no validation, for malicious archives).
pub fn add_raw(b: &mut Tar, kind: tar::EntryType, path: &str, link: Option<&str>, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    if let Some(l) = link {
        let field = &mut h.as_old_mut().linkname;
        field.fill(0);
        field[..l.len()].copy_from_slice(l.as_bytes());
    }
    raw_name(&mut h, path);
    b.append(&h, data).unwrap();
}

fn raw_name(h: &mut tar::Header, path: &str) {
    let field = &mut h.as_old_mut().name;
    assert!(path.len() < field.len(), "test entry names stay short");
    field.fill(0);
    field[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
}

/// Deterministic incompressible bytes, so a tarball has a body worth cutting.
pub fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A good, small prometheus release: script binaries that print the version, and
/// `blob_len` bytes of noise.
pub fn good_prometheus(mirror_root: &Path, version: &str, blob_len: usize) -> (PathBuf, String) {
    write_release(mirror_root, "prometheus", version, |b, top| {
        add_raw(b, tar::EntryType::Directory, &format!("{top}/"), None, &[]);
        for bin in ["prometheus", "promtool"] {
            let script = format!("#!/bin/sh\necho \"{bin}, version {version} (test build)\"\n");
            add_file(b, &format!("{top}/{bin}"), 0o755, script.as_bytes());
        }
        add_file(b, &format!("{top}/LICENSE"), 0o644, b"Apache License 2.0\n");
        add_file(b, &format!("{top}/blob.bin"), 0o644, &noise(blob_len));
    })
}

/// Debian's blackbox_exporter packed as release `version` in the upstream layout
/// (`blackbox_exporter-VERSION.linux-ARCH/`: the binary, blackbox.yml, LICENSE, NOTICE).
pub fn debian_blackbox(mirror_root: &Path, version: &str) -> (PathBuf, String) {
    let binary = fs::read("/usr/bin/prometheus-blackbox-exporter")
        .expect("prometheus-blackbox-exporter is required (run `make deps`)");
    write_release(mirror_root, "blackbox_exporter", version, |b, top| {
        add_raw(b, tar::EntryType::Directory, &format!("{top}/"), None, &[]);
        add_file(b, &format!("{top}/blackbox_exporter"), 0o755, &binary);
        add_file(
            b,
            &format!("{top}/blackbox.yml"),
            0o644,
            b"modules:\n  http_2xx:\n    prober: http\n",
        );
        add_file(b, &format!("{top}/LICENSE"), 0o644, b"Apache License 2.0\n");
        add_file(
            b,
            &format!("{top}/NOTICE"),
            0o644,
            format!("blackbox_exporter {version}\n").as_bytes(),
        );
    })
}

/// A temp dir with `monstack.yaml` and a `root/` used as `--root`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// Config: only prometheus enabled, at `version`, from `base_url`; `extra` is
    /// appended under `downloads:` (indented keys) and `prometheus:` as given.
    pub fn new(base_url: &str, version: &str) -> Sandbox {
        let s = Sandbox { dir: tempfile::tempdir().unwrap() };
        fs::create_dir_all(s.root()).unwrap();
        s.write_config(base_url, version, "", "");
        s
    }

    pub fn write_config(&self, base_url: &str, version: &str, downloads: &str, prometheus: &str) {
        let retries = if downloads.contains("retries:") { "" } else { "  retries: 2\n" };
        let yaml = format!(
            "downloads:\n  base_url: {base_url}\n{retries}  read_timeout: 5\n  connect_timeout: 2\n{downloads}\
             prometheus:\n  version: {version}\n{prometheus}\
             alertmanager:\n  enabled: false\nnode_exporter:\n  enabled: false\n"
        );
        fs::write(self.config(), yaml).unwrap();
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("monstack.yaml")
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.path().join("monstack.lock")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `{root}/opt/prometheus/...`.
    pub fn opt(&self, rest: &str) -> PathBuf {
        self.root().join("opt/prometheus").join(rest)
    }

    /// Run monstack with `--config` and `--root`.
    pub fn run(&self, args: &[&str]) -> Run {
        let out =
            crate::bin::Monstack::new().config(self.config()).root(self.root()).args(args).output();
        Run::from(out)
    }

    /// The version `current` points at.
    pub fn current(&self) -> Option<String> {
        fs::read_link(self.opt("current"))
            .ok()
            .map(|t| t.file_name().unwrap().to_string_lossy().into_owned())
    }

    /// Output of `{root}/opt/prometheus/current/prometheus --version`.
    pub fn prometheus_version(&self) -> String {
        let out = Command::new(self.opt("current/prometheus")).arg("--version").output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    }

    /// Entries of `releases/` (staging dirs included).
    pub fn releases(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.opt("releases"))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Files in the download cache (partials included).
    pub fn cache_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let base = self.root().join("var/cache/monstack");
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().strip_prefix(&base).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success:\n{}{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn fails(self) -> Run {
        assert_eq!(self.code, 1, "expected exit 1:\n{}{}", self.stdout, self.stderr);
        self
    }
}

/// Make a file executable (for scripts written by tests).
pub fn make_executable(p: &Path) {
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Write `data` to a file, creating parents.
pub fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    File::create(p).unwrap().write_all(data).unwrap();
}
