//! A whole stack under a temp root for end-to-end tests: a loopback release mirror
//! (Debian's binaries in the upstream layout, built once per test binary), free
//! loopback ports, a config, helpers to run the built `monstack` and to query the
//! running Prometheus, and a guard that stops every process the test started.
//! Include with `#[path = "support/stack.rs"] mod stack;` next to `mirror` and `bin`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::mirror::{build_mirror, Mirror};

/// Versions the mirror serves (the Debian binaries, and a relabelled Prometheus).
pub const PROM: &str = "2.42.0";
pub const PROM_NEXT: &str = "2.42.1";
pub const AM: &str = "0.25.0";
pub const NODE: &str = "1.5.0";
/// Debian's blackbox_exporter (prometheus-blackbox-exporter), packed by the mirror.
pub const BLACKBOX: &str = "0.23.0";

/// The mirror tree, built once per test binary (building packs ~45 MB of tarballs).
pub fn mirror_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("apply-mirror");
        let marker = dir.join(".complete-blackbox");
        if !marker.exists() {
            let _ = std::fs::remove_dir_all(&dir);
            build_mirror(&dir, &[]);
            build_mirror(&dir, &[&format!("prometheus={PROM_NEXT}")]);
            std::fs::write(&marker, b"").unwrap();
        }
        dir
    })
}

#[path = "ports.rs"]
mod ports;
pub use ports::free_port;

/// One stack under one temp root.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: PathBuf,
    pub mirror: Mirror,
    pub prom: u16,
    pub am: u16,
    pub node: u16,
    seen_pids: Mutex<Vec<u32>>,
    /// The `grafana:` section written by [`Stack::write_config`].
    pub grafana: Mutex<String>,
    /// Extra keys of the `alertmanager:` section.
    pub alertmanager_extra: Mutex<String>,
}

impl Stack {
    pub fn new() -> Stack {
        let mirror = Mirror::start(mirror_dir());
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let config = dir.path().join("monstack.yaml");
        let s = Stack {
            root,
            config,
            mirror,
            prom: free_port(),
            am: free_port(),
            node: free_port(),
            dir,
            seen_pids: Mutex::new(Vec::new()),
            grafana: Mutex::new("grafana:\n  enabled: false\n".into()),
            alertmanager_extra: Mutex::new(String::new()),
        };
        s.write_config(PROM, &[], "");
        s
    }

    /// Write the config: Prometheus scraping itself and node_exporter (plus `extra`
    /// jobs), alerting to the local Alertmanager, Grafana off; `prom_extra` is
    /// appended to the prometheus section.
    pub fn write_config(&self, prom_version: &str, extra: &[(&str, String)], prom_extra: &str) {
        let mut jobs = format!(
            "    - job_name: prometheus\n      targets: ['127.0.0.1:{}']\n    - job_name: node\n      targets: ['127.0.0.1:{}']\n",
            self.prom, self.node
        );
        for (name, target) in extra {
            jobs.push_str(&format!("    - job_name: {name}\n      targets: ['{target}']\n"));
        }
        let text = format!(
            "downloads:\n  base_url: {base}\n  cache_dir: /var/cache/monstack\n\
             prometheus:\n  version: {prom_version}\n  listen_address: 127.0.0.1:{p}\n  \
             global:\n    scrape_interval: 1s\n    evaluation_interval: 1s\n  \
             alertmanagers: ['127.0.0.1:{a}']\n  scrape_configs:\n{jobs}{prom_extra}\
             alertmanager:\n  version: {AM}\n  listen_address: 127.0.0.1:{a}\n{am_extra}\
             node_exporter:\n  version: {NODE}\n  listen_address: 127.0.0.1:{n}\n{g}",
            base = self.mirror.base_url(),
            p = self.prom,
            a = self.am,
            n = self.node,
            g = self.grafana.lock().unwrap(),
            am_extra = self.alertmanager_extra.lock().unwrap(),
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// `monstack --root ROOT --config CONFIG ARGS...`, environment scrubbed ([`crate::bin`]).
    pub fn cmd(&self, args: &[&str]) -> Command {
        crate::bin::Monstack::new().root(&self.root).config(&self.config).args(args).command()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        self.remember_pids();
        out
    }

    /// `apply --output json ARGS`: exit code and the report.
    pub fn apply(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let mut all = vec!["apply", "--output", "json", "--service-manager", "direct"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "apply printed no JSON ({e}): {}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), json, stderr)
    }

    /// Apply and insist on success.
    pub fn apply_ok(&self) -> serde_json::Value {
        let (code, json, stderr) = self.apply(&[]);
        assert!(code == 0, "apply failed with {code}: {stderr}\n{json:#}");
        json
    }

    /// Pid of a component `direct` started, from its pid file.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let f = self.root.join(format!("var/lib/monstack/run/{name}.pid"));
        std::fs::read_to_string(f).ok()?.lines().next()?.trim().parse().ok()
    }

    fn remember_pids(&self) {
        let mut seen = self.seen_pids.lock().unwrap();
        for n in ["prometheus", "alertmanager", "node_exporter", "blackbox_exporter"] {
            if let Some(p) = self.pid(n) {
                if !seen.contains(&p) {
                    seen.push(p);
                }
            }
        }
    }

    /// GET a Prometheus API path, parsed.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}{path}", self.prom);
        let out = Command::new("curl").args(["-s", "--max-time", "5", &url]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// `up` per job.
    pub fn up(&self) -> BTreeMap<String, String> {
        let v = self.api("/api/v1/query?query=up");
        let mut out = BTreeMap::new();
        for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
            out.insert(
                r["metric"]["job"].as_str().unwrap_or("").to_string(),
                r["value"][1].as_str().unwrap_or("").to_string(),
            );
        }
        out
    }

    /// Poll until `up` is 1 for exactly these jobs (fails after 60 s).
    pub fn wait_up(&self, jobs: &[&str]) {
        let want: BTreeMap<String, String> =
            jobs.iter().map(|j| (j.to_string(), "1".to_string())).collect();
        let got = poll(Duration::from_secs(60), || {
            let up = self.up();
            (up == want).then_some(up)
        });
        assert!(got.is_some(), "up never became {want:?}; last: {:?}", self.up());
    }

    /// Every regular file under the root except TSDB data and logs, with its mtime.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (SystemTime, Vec<u8>)> {
        let mut out = BTreeMap::new();
        walk(&self.root, &mut |p| {
            let rel = p.strip_prefix(&self.root).unwrap().to_path_buf();
            let s = rel.to_string_lossy();
            if s.contains("/data/")
                || s.contains("var/lib/monstack/log/")
                || s.ends_with("apply.lock")
            {
                return;
            }
            let m = std::fs::symlink_metadata(p).unwrap();
            let content = if m.file_type().is_file() { std::fs::read(p).unwrap() } else { vec![] };
            out.insert(rel, (m.modified().unwrap(), content));
        });
        out
    }

    /// Temp files or staging dirs left anywhere under the root.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk_all(&self.root, &mut |p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            if n.contains(".monstack-tmp.") || n.starts_with(".staging-") || n == "staging" {
                out.push(p.to_path_buf());
            }
        });
        out
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.remember_pids();
        let _ = self.cmd(&["stop"]).output();
        let root = self.root.to_string_lossy().to_string();
        for pid in self.seen_pids.lock().unwrap().iter() {
            // Only a process still running a binary under this stack's root: the pid
            // may have been recycled since.
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&argv).contains(&root) {
                // SAFETY: kill(2) on a pid this test's stack started.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
        }
    }
}

/// A child process (e.g. a `monstack apply` run in the background) that is killed
/// and reaped when the guard is dropped, so a test failing half-way leaves no apply
/// running that could start services after the [`Stack`] stopped them. Declare it
/// after the stack so it is dropped first.
pub struct ChildGuard(Option<std::process::Child>);

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(Some(cmd.spawn().unwrap()))
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().unwrap()
    }

    /// Wait for the exit and collect the output (the guard has nothing left to do).
    pub fn wait_with_output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// A CA and a server certificate for localhost / 127.0.0.1 signed by it.
#[path = "certs.rs"]
mod certs;
// Not every test that includes the stack makes certificates.
#[allow(unused_imports)]
pub use certs::make_certs;

/// Call `f` with backoff until it returns Some or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

fn walk_all(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        f(&p);
        if e.file_type().unwrap().is_dir() {
            walk_all(&p, f);
        }
    }
}

/// Every resource of a report, as `kind name action`.
pub fn resources(report: &serde_json::Value) -> Vec<String> {
    report["resources"].as_array().unwrap().iter().map(line).collect()
}

/// Resources of a report whose action is not `unchanged`, as `kind name action`.
pub fn changes(report: &serde_json::Value) -> Vec<String> {
    let all = report["resources"].as_array().unwrap();
    all.iter().filter(|r| r["action"] != "unchanged").map(line).collect()
}

fn line(r: &serde_json::Value) -> String {
    let field = |k: &str| r[k].as_str().unwrap().to_string();
    format!("{} {} {}", field("kind"), field("name"), field("action"))
}
