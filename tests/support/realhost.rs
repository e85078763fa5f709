//! Real test hosts: systemd as PID 1 in a `systemd-nspawn` container booted from this
//! machine's `/usr` (read-only), with a tmpfs root, a cleaned copy of `/etc` and its own
//! network namespace (loopback only).
//!
//! ```text
//! systemd-nspawn --directory=/ --volatile=yes --register=no --keep-unit --private-network \
//!   --machine=NAME --bind=DIR/etc:/etc [--bind=DIR/opt:/opt --bind=DIR/var:/var] \
//!   --boot systemd.firstboot=off
//! ```
//!
//! Include with `#[path = "support/realhost.rs"] mod realhost;`. The API:
//! - [`boot`] / [`Host::boot`]: boot a host (`None`: skipped, said on stderr; under `CI`
//!   a host that cannot boot panics with the reason instead);
//! - [`Host::run`] / [`Host::sh`] / [`Host::ok`]: run a command inside (`nsenter -t PID -a`,
//!   clean environment);
//! - [`Host::copy_in`] / [`Host::write`] / [`Host::read`] / [`Host::path`]: files inside;
//! - [`Host::service`]: a server inside as a transient unit (`systemd-run`), stopped
//!   with the host;
//! - [`Host::listen`]: a TCP listener on the host's own loopback, owned by the test
//!   process (e.g. for [`crate::mirror::Mirror::start_on`]);
//! - [`Host::enable_sshd`] / [`Host::ssh_options`]: sshd with a test key, reached through
//!   `ProxyCommand=nsenter -t PID -n socat - TCP:127.0.0.1:22`;
//! - [`Host::journal`]: the journal (printed when a test panics while the host runs);
//! - [`Host::reboot`] / [`Host::stop`]: stop (always done on drop) and boot again.
//!
//! Several hosts can run at once: each has its own machine name and directory.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a boot may take before the host counts as unable to boot.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long an orderly shutdown may take before the container is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// PATH inside the host.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to boot.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Bind `DIR/etc`, `DIR/opt` and `DIR/var` of the host's directory, so they survive
    /// [`Host::reboot`] (without it, `/opt` and `/var` live in the tmpfs root).
    pub persist: bool,
    /// Run [`Host::enable_sshd`] after the boot (and after each reboot).
    pub sshd: bool,
    /// A prefix for the machine name (the rest makes it unique).
    pub name: Option<String>,
    /// Extra read-only binds `(path on this machine, path inside)`.
    pub bind_ro: Vec<(PathBuf, String)>,
}

/// A booted host.
pub struct Host {
    pub name: String,
    /// The host's directory on this machine (its `/etc` copy, persisted dirs, logs).
    pub dir: PathBuf,
    opts: Options,
    nspawn: Option<Child>,
    pid: u32,
    _tmp: Option<tempfile::TempDir>,
}

/// Why hosts cannot boot here, or `None` when they can try.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (systemd-nspawn needs root)".into());
    }
    for tool in ["systemd-nspawn", "nsenter", "systemd-run"] {
        if which::which(tool).is_err() {
            return Some(format!("`{tool}` not found (make deps installs systemd-container)"));
        }
    }
    if !Path::new("/usr/lib/systemd/systemd").exists()
        && !Path::new("/lib/systemd/systemd").exists()
    {
        return Some("no /usr/lib/systemd/systemd to boot".into());
    }
    None
}

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Skip (loudly) or, under `CI`, panic with `why`.
fn cannot_boot(why: &str) {
    if under_ci() {
        panic!("real host: cannot boot a systemd-nspawn host under CI: {why}");
    }
    eprintln!("SKIPPED (real host): cannot boot a systemd-nspawn host: {why}; set CI=1 to make this a failure");
}

/// Boot a host with `opts`: `None` when hosts cannot boot here and `CI` is not set
/// (said on stderr); panics under `CI`.
pub fn boot(opts: Options) -> Option<Host> {
    if let Some(why) = unavailable() {
        cannot_boot(&why);
        return None;
    }
    match Host::boot(opts) {
        Ok(h) => Some(h),
        Err(why) => {
            cannot_boot(&why);
            None
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Host {
    /// Boot a host; `Err` says why it could not.
    pub fn boot(opts: Options) -> Result<Host, String> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = opts.name.clone().unwrap_or_else(|| "mst".into());
        let name = format!("{prefix}-{}-{n}", std::process::id());
        let tmp = tempfile::Builder::new()
            .prefix(&format!("realhost-{name}-"))
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let dir = tmp.path().to_path_buf();
        prepare_etc(&dir.join("etc"))?;
        if opts.persist {
            for d in ["opt", "var"] {
                fs::create_dir_all(dir.join(d)).map_err(|e| format!("{d}: {e}"))?;
            }
        }
        let mut host = Host { name, dir, opts, nspawn: None, pid: 0, _tmp: Some(tmp) };
        host.start()?;
        Ok(host)
    }

    fn start(&mut self) -> Result<(), String> {
        let console = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("console.log"))
            .map_err(|e| format!("console.log: {e}"))?;
        let mut cmd = Command::new("systemd-nspawn");
        cmd.args([
            "--quiet",
            "--directory=/",
            "--volatile=yes",
            "--register=no",
            "--keep-unit",
            "--private-network",
        ])
        .arg(format!("--machine={}", self.name))
        .arg(format!("--bind={}:/etc", self.dir.join("etc").display()));
        if self.opts.persist {
            for d in ["opt", "var"] {
                cmd.arg(format!("--bind={}:/{d}", self.dir.join(d).display()));
            }
        }
        for (from, to) in &self.opts.bind_ro {
            cmd.arg(format!("--bind-ro={}:{to}", from.display()));
        }
        cmd.args(["--boot", "systemd.firstboot=off"])
            .stdin(Stdio::null())
            .stdout(console.try_clone().map_err(|e| e.to_string())?)
            .stderr(console);
        let child = cmd.spawn().map_err(|e| format!("systemd-nspawn: {e}"))?;
        let nspawn_pid = child.id();
        self.nspawn = Some(child);
        let t0 = Instant::now();
        let deadline = t0 + BOOT_TIMEOUT;
        // The container's PID 1 is nspawn's child once it runs systemd.
        self.pid = loop {
            if let Some(pid) = child_of(nspawn_pid).filter(|p| runs_systemd(*p)) {
                break pid;
            }
            if let Some(status) = self.nspawn.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.nspawn = None;
                return Err(format!("systemd-nspawn exited ({status}): {}", self.console_tail()));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!("no container process after {BOOT_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Wait until PID 1 is systemd inside its namespaces and the boot is over.
        loop {
            let out = self.run_timeout(
                &["systemctl", "is-system-running", "--wait"],
                deadline.saturating_duration_since(Instant::now()),
            );
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            match state.as_str() {
                "running" => {
                    if std::env::var_os("REALHOST_DEBUG").is_some() {
                        eprintln!("{} booted in {:?}", self.name, t0.elapsed());
                    }
                    return self.booted();
                }
                "degraded" => {
                    let failed = self.sh("systemctl --failed --no-legend --plain");
                    eprintln!(
                        "real host {}: booted degraded; failed units:\n{}",
                        self.name,
                        String::from_utf8_lossy(&failed.stdout)
                    );
                    return self.booted();
                }
                _ => {}
            }
            if let Some(status) = self.nspawn.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.nspawn = None;
                return Err(format!("systemd-nspawn exited ({status}): {}", self.console_tail()));
            }
            if Instant::now() > deadline {
                let why = format!(
                    "not booted after {BOOT_TIMEOUT:?} (is-system-running: {state:?}): {}",
                    self.console_tail()
                );
                self.kill();
                return Err(why);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn booted(&mut self) -> Result<(), String> {
        if self.opts.sshd {
            self.enable_sshd();
        }
        Ok(())
    }

    /// The container's systemd PID, as seen from this machine.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn console_tail(&self) -> String {
        let s = fs::read_to_string(self.dir.join("console.log")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// `nsenter -t PID -a env -i PATH=... HOME=/root LANG=C.UTF-8 <env> <argv>`.
    pub fn command(&self, argv: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t").arg(self.pid.to_string()).args(["-a", "--", "env", "-i"]);
        cmd.arg(format!("PATH={PATH}")).args(["HOME=/root", "LANG=C.UTF-8", "USER=root"]);
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.args(argv).stdin(Stdio::null());
        cmd
    }

    /// Run `argv` inside, with a clean environment; waits for it.
    pub fn run(&self, argv: &[&str]) -> Output {
        self.run_env(argv, &[])
    }

    /// [`Host::run`] with extra environment variables.
    pub fn run_env(&self, argv: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(argv, env).output().unwrap_or_else(|e| panic!("nsenter {argv:?}: {e}"))
    }

    /// Run `argv` inside, killed after `limit`.
    pub fn run_timeout(&self, argv: &[&str], limit: Duration) -> Output {
        let mut child = self
            .command(argv, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("nsenter {argv:?}: {e}"));
        let deadline = Instant::now() + limit;
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait_with_output().expect("wait nsenter")
    }

    /// `sh -c SCRIPT` inside.
    pub fn sh(&self, script: &str) -> Output {
        self.run(&["sh", "-c", script])
    }

    /// `sh -c SCRIPT` inside; panics (with its output) unless it exits 0; returns stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "on {}: `{script}` failed ({}):\n{}{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `path` inside the host, as a path on this machine (`/proc/PID/root/...`). Only
    /// for paths without symlinks pointing outside (they resolve against this machine).
    pub fn path(&self, inside: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid)).join(inside.trim_start_matches('/'))
    }

    /// Copy a file of this machine to `inside` (parents created), keeping its mode.
    pub fn copy_in(&self, from: &Path, inside: &str) {
        let to = self.path(inside);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(from, &to)
            .unwrap_or_else(|e| panic!("copy {} to {}:{inside}: {e}", from.display(), self.name));
    }

    /// Write `content` to `inside` with `mode` (parents created), owned by root.
    pub fn write(&self, inside: &str, content: impl AsRef<[u8]>, mode: u32) {
        let to = self.path(inside);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::write(&to, content).unwrap_or_else(|e| panic!("write {}:{inside}: {e}", self.name));
        fs::set_permissions(&to, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Read a file inside.
    pub fn read(&self, inside: &str) -> String {
        fs::read_to_string(self.path(inside))
            .unwrap_or_else(|e| panic!("read {}:{inside}: {e}", self.name))
    }

    /// Run `argv` inside as a transient service `unit` (`systemd-run --unit=UNIT`),
    /// stopped with the host (or by `systemctl stop UNIT`).
    pub fn service(&self, unit: &str, argv: &[&str]) {
        let mut a = vec!["systemd-run", "--quiet", "--collect", "--unit", unit, "--"];
        a.extend_from_slice(argv);
        let out = self.run(&a);
        assert!(
            out.status.success(),
            "systemd-run {unit} on {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A TCP listener on `127.0.0.1:port` (0: from the OS) inside the host's network
    /// namespace, owned by this process: serve from the test, reach it from the host.
    pub fn listen(&self, port: u16) -> std::net::TcpListener {
        let ns = format!("/proc/{}/ns/net", self.pid);
        // setns() moves only the calling thread: do it on a thread of its own; the
        // socket stays in the namespace it was created in.
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let f = fs::File::open(&ns).unwrap_or_else(|e| panic!("{ns}: {e}"));
            // SAFETY: a valid namespace fd; only this thread's namespace changes.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind in the host")
        })
        .join()
        .expect("listener thread")
    }

    /// Poll until `127.0.0.1:port` inside accepts a connection, up to `limit`.
    pub fn wait_port(&self, port: u16, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self
                .run(&["socat", "-u", "OPEN:/dev/null", &format!("TCP:127.0.0.1:{port}")])
                .status
                .success()
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// An HTTP GET inside (curl); `(status, body)`, status 0 when nothing answered.
    pub fn http_get(&self, url: &str) -> (u16, String) {
        let out = self.run(&["curl", "-s", "-m", "5", "-w", "\n%{http_code}", url]);
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = s.rsplit_once('\n').unwrap_or(("", s.as_str()));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The host's journal of this boot.
    pub fn journal(&self) -> String {
        let out = self.run(&["journalctl", "--no-pager", "-b", "-o", "short-monotonic"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Enable sshd with a fresh ed25519 host key, authorize a fresh test key for root
    /// and wait until port 22 answers. Returns the client's private key path.
    pub fn enable_sshd(&self) -> PathBuf {
        let key = self.dir.join("id_ed25519");
        if !key.exists() {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", &self.name, "-f"])
                .arg(&key)
                .output()
                .expect("ssh-keygen");
            assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
        }
        let public = fs::read_to_string(key.with_extension("pub")).unwrap();
        self.write("/root/.ssh/authorized_keys", public, 0o600);
        fs::set_permissions(self.path("/root/.ssh"), fs::Permissions::from_mode(0o700)).unwrap();
        self.ok("test -e /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N '' \
             -f /etc/ssh/ssh_host_ed25519_key; systemctl enable --now ssh.service");
        assert!(
            self.wait_port(22, Duration::from_secs(30)),
            "sshd on {} never answered",
            self.name
        );
        key
    }

    /// `ssh` options that reach this host's sshd as root with the key from
    /// [`Host::enable_sshd`]; append the destination `root@NAME` and a command.
    pub fn ssh_options(&self) -> Vec<String> {
        vec![
            "-i".into(),
            self.dir.join("id_ed25519").display().to_string(),
            "-o".into(),
            format!("ProxyCommand=nsenter -t {} -n socat - TCP:127.0.0.1:22", self.pid),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
        ]
    }

    /// An `ssh` command to root on this host running `remote` (a shell command line).
    pub fn ssh(&self, remote: &str) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.ssh_options()).arg(format!("root@{}", self.name)).arg(remote);
        c.stdin(Stdio::null());
        c
    }

    /// Stop the host (orderly shutdown; killed after a timeout). Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.nspawn.take() else { return };
        // SIGTERM makes systemd-nspawn ask the container's systemd to power off.
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                eprintln!("real host {}: no shutdown after {STOP_TIMEOUT:?}; killed", self.name);
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.nspawn.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the host and boot it again (same name, `/etc` copy and persisted dirs).
    pub fn reboot(&mut self) {
        self.stop();
        if let Err(why) = self.start() {
            panic!("real host {}: reboot failed: {why}", self.name);
        }
    }

    /// Keep the host's directory after the test (its path is printed).
    pub fn keep_dir(&mut self) {
        if let Some(t) = self._tmp.take() {
            let p = t.keep();
            eprintln!("real host {}: kept {}", self.name, p.display());
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if std::thread::panicking() && self.nspawn.is_some() {
            let journal = self.journal();
            let _ = fs::write(self.dir.join("journal.txt"), &journal);
            let lines: Vec<&str> = journal.lines().collect();
            eprintln!(
                "---- real host {} journal (last 60 of {} lines; all in {}) ----\n{}\n----",
                self.name,
                lines.len(),
                self.dir.join("journal.txt").display(),
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
            self.stop();
            self.keep_dir();
        }
        self.stop();
    }
}

/// Whether `pid` runs systemd in a PID namespace other than ours.
fn runs_systemd(pid: u32) -> bool {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    comm.trim() == "systemd" && ns.is_some() && ns != fs::read_link("/proc/self/ns/pid").ok()
}

/// The child process of `parent` (scan of /proc).
fn child_of(parent: u32) -> Option<u32> {
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let mut stat = String::new();
        if fs::File::open(e.path().join("stat"))
            .and_then(|mut f| f.read_to_string(&mut stat))
            .is_err()
        {
            continue;
        }
        // pid (comm) state ppid ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else { continue };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            return Some(pid);
        }
    }
    None
}

/// A clean copy of this machine's /etc at `to`: no users, groups, units or config
/// that Debian's prometheus packages added, no enabled services beyond rsyslog, no
/// timers, no ssh host keys, an empty machine-id (a fresh one each boot).
fn prepare_etc(to: &Path) -> Result<(), String> {
    let out = Command::new("cp")
        .args(["-a", "--", "/etc"])
        .arg(to)
        .output()
        .map_err(|e| format!("cp /etc: {e}"))?;
    // Some files of /etc may be unreadable sockets or the like; what matters is checked below.
    if !to.join("passwd").exists() {
        return Err(format!("cp -a /etc failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let drop_accounts = ["prometheus", "alertmanager", "node_exporter", "node-exporter"];
    for db in ["passwd", "group", "shadow", "gshadow"] {
        let p = to.join(db);
        let Ok(s) = fs::read_to_string(&p) else { continue };
        let kept: String = s
            .lines()
            .filter(|l| !drop_accounts.iter().any(|a| l.starts_with(&format!("{a}:"))))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&p, kept).map_err(|e| format!("{db}: {e}"))?;
    }
    for d in ["subuid", "subgid"] {
        let _ = fs::write(to.join(d), "");
    }
    let sys = to.join("systemd/system");
    if let Ok(entries) = fs::read_dir(&sys) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".wants") {
                for w in fs::read_dir(e.path()).into_iter().flatten().flatten() {
                    let wn = w.file_name().to_string_lossy().into_owned();
                    let keep = (n == "multi-user.target.wants" && wn == "rsyslog.service")
                        || n == "getty.target.wants"
                        || n == "sysinit.target.wants";
                    if !keep {
                        let _ = fs::remove_file(w.path());
                    }
                }
            }
            if n.starts_with("prometheus")
                || n.starts_with("alertmanager")
                || n.starts_with("node_exporter")
            {
                let _ = fs::remove_file(e.path()).or_else(|_| fs::remove_dir_all(e.path()));
            }
        }
    }
    let _ = fs::remove_file(sys.join("sshd.service"));
    // Host keys are per host: enable_sshd generates one.
    for e in fs::read_dir(to.join("ssh")).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with("ssh_host_") {
            let _ = fs::remove_file(e.path());
        }
    }
    let _ = fs::remove_dir_all(to.join("prometheus"));
    for dir in ["logrotate.d", "default", "init.d"] {
        for e in fs::read_dir(to.join(dir)).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("prometheus") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    for e in fs::read_dir(to).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("rc") && n.ends_with(".d") {
            for l in fs::read_dir(e.path()).into_iter().flatten().flatten() {
                if l.file_name().to_string_lossy().contains("prometheus") {
                    let _ = fs::remove_file(l.path());
                }
            }
        }
    }
    let _ = fs::remove_dir_all(to.join("monstack"));
    fs::write(to.join("machine-id"), "").map_err(|e| format!("machine-id: {e}"))?;
    fs::set_permissions(to.join("machine-id"), fs::Permissions::from_mode(0o444))
        .map_err(|e| format!("machine-id: {e}"))?;
    Ok(())
}
