//! ansible-core from the repo's venv (`make deps`: target/venv, pinned in
//! ansible/requirements.txt), the monstack.stack collection built with the test binary
//! and installed from its tarball, and `ansible-playbook` runs with their recap parsed.
//! Include with `#[path = "support/ansible.rs"] mod ansible;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// `target/venv/bin` of the repo (override: `MONSTACK_ANSIBLE_BIN`).
pub fn venv_bin() -> PathBuf {
    let bin = std::env::var_os("MONSTACK_ANSIBLE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin"));
    assert!(
        bin.join("ansible-playbook").is_file(),
        "no ansible-playbook in {} (run `make deps`)",
        bin.display()
    );
    bin
}

/// The machine's platform as the collection names binaries (`linux_x86_64`).
pub fn platform() -> String {
    let out = Command::new("uname").arg("-m").output().unwrap();
    format!("linux_{}", String::from_utf8_lossy(&out.stdout).trim())
}

/// The collection tarball built by ansible/build.sh with the test binary (or
/// `MONSTACK_COLLECTION_BIN`), once per test binary.
pub fn tarball() -> &'static Path {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ansible-collection");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        // The binary without its debug info: what Ansible copies to each host. The
        // test's own build, or MONSTACK_COLLECTION_BIN (the bench: the release build).
        let from = std::env::var_os("MONSTACK_COLLECTION_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_monstack")));
        let bin = out.join("monstack");
        let strip = Command::new("strip").arg("-o").arg(&bin).arg(&from).status().unwrap();
        assert!(strip.success(), "strip failed");
        let run = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/build.sh"))
            .arg(&out)
            .arg("0.0.1")
            .arg(venv_bin().join("ansible-galaxy"))
            .arg(format!("{}={}", platform(), bin.display()))
            .output()
            .unwrap();
        assert!(run.status.success(), "build.sh: {}", String::from_utf8_lossy(&run.stderr));
        let path = out.join("monstack-stack-0.0.1.tar.gz");
        assert!(path.is_file());
        path
    })
}

/// An Ansible home with the collection installed from the tarball.
pub struct Ansible {
    pub dir: tempfile::TempDir,
}

impl Ansible {
    pub fn install() -> Ansible {
        let dir = tempfile::tempdir().unwrap();
        let a = Ansible { dir };
        let out = a
            .cmd("ansible-galaxy")
            .args(["collection", "install", "-p"])
            .arg(a.collections())
            .arg(tarball())
            .output()
            .unwrap();
        assert!(out.status.success(), "galaxy install: {}", text(&out));
        a
    }

    pub fn collections(&self) -> PathBuf {
        self.dir.path().join("collections")
    }

    /// A venv tool with a private Ansible home, no colors, the collection on its path.
    pub fn cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(venv_bin().join(tool));
        let home = self.dir.path().join("home");
        c.env("ANSIBLE_HOME", &home)
            .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", self.control_dir())
            .env("ANSIBLE_COLLECTIONS_PATH", self.collections())
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "False")
            .env_remove("MONSTACK_CONFIG")
            .current_dir(self.dir.path());
        c
    }

    /// Where SSH ControlPersist sockets live (one per host connected to).
    pub fn control_dir(&self) -> PathBuf {
        self.dir.path().join("home/cp")
    }

    /// Write a playbook into the Ansible dir and return its path.
    pub fn playbook(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `ansible-playbook ARGS PLAYBOOK`.
    pub fn play(&self, playbook: &Path, args: &[&str]) -> Play {
        let out = self.cmd("ansible-playbook").args(args).arg(playbook).output().unwrap();
        Play::from(out)
    }
}

/// One ansible-playbook run: exit code, output, the PLAY RECAP per host.
pub struct Play {
    pub code: i32,
    pub output: String,
    pub recap: BTreeMap<String, BTreeMap<String, u32>>,
}

impl From<Output> for Play {
    fn from(out: Output) -> Play {
        let output = text(&out);
        Play { code: out.status.code().unwrap_or(-1), recap: recap(&output), output }
    }
}

impl Play {
    /// A recap counter (`ok`, `changed`, `failed`, `unreachable`, ...) of a host.
    pub fn count(&self, host: &str, key: &str) -> u32 {
        *self
            .recap
            .get(host)
            .unwrap_or_else(|| panic!("no recap for {host}:\n{}", self.output))
            .get(key)
            .unwrap_or(&0)
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `host : ok=2 changed=1 unreachable=0 failed=0 ...` lines after PLAY RECAP.
fn recap(output: &str) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    let Some(at) = output.find("PLAY RECAP") else { return out };
    for line in output[at..].lines().skip(1) {
        let Some((host, counts)) = line.split_once(" : ") else { continue };
        let mut m = BTreeMap::new();
        for kv in counts.split_whitespace() {
            if let Some((k, v)) = kv.split_once('=') {
                m.insert(k.to_string(), v.parse().unwrap_or(0));
            }
        }
        out.insert(host.trim().to_string(), m);
    }
    out
}
