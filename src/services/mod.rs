//! Service managers behind one trait: `systemd` (systemctl, used when systemd is
//! running: /run/systemd/system exists), `direct` (detached processes with pid files
//! and logs in the state dir, for containers, sandboxes and tests) and `none` (files
//! only). This module starts, stops and observes processes; when to do so is decided
//! by `apply`, and readiness/reload over HTTP live in `apply::lifecycle`.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Context as _;

pub use crate::manager_kind::ServiceManagerKind;

use crate::atomic_fs::{self, Owner};
use crate::config::ComponentKind;
use crate::paths::Root;
use crate::render::ServiceSpec;
use crate::state::StateDir;

/// How long `stop` waits for a process to exit after SIGTERM before SIGKILL.
/// Prometheus flushes its head block on shutdown, which can take a while.
const STOP_GRACE: Duration = Duration::from_secs(60);

/// PATH of the processes `direct` starts (their whole environment, with `LANG`).
pub const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What is known about a running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub pid: u32,
    /// argv of the process (`/proc/PID/cmdline`), when readable.
    pub argv: Vec<String>,
    /// Resolved executable (`/proc/PID/exe`), when readable.
    pub exe: Option<PathBuf>,
}

impl Running {
    /// True when the process runs `spec` exactly: same argv, and the executable is the
    /// one `spec.binary` resolves to now (a switched `current` symlink means a new
    /// release the process has not picked up).
    pub fn matches(&self, spec: &ServiceSpec, binary_on_disk: &Path) -> bool {
        let want: Vec<String> = std::iter::once(spec.binary.to_string_lossy().to_string())
            .chain(spec.args.iter().cloned())
            .collect();
        let argv_ok = self.argv.is_empty() || self.argv == want;
        let exe_ok = match (&self.exe, fs::canonicalize(binary_on_disk)) {
            (Some(exe), Ok(disk)) => exe == &disk,
            _ => true,
        };
        argv_ok && exe_ok
    }
}

/// Starts, stops and observes the stack's services.
pub trait ServiceManager {
    /// `systemd`, `direct` or `none`.
    fn kind(&self) -> ServiceManagerKind;
    /// The running process of a component, if any.
    fn running(&self, kind: ComponentKind) -> crate::error::Result<Option<Running>>;
    /// [`ServiceManager::running`] of several components, in their order.
    fn running_all(&self, kinds: &[ComponentKind]) -> crate::error::Result<Vec<Option<Running>>> {
        kinds.iter().map(|&k| self.running(k)).collect()
    }
    /// Reload the unit definitions (systemd only).
    fn daemon_reload(&self) -> crate::error::Result<()>;
    /// Enable and start.
    fn start(&self, spec: &ServiceSpec) -> crate::error::Result<()>;
    /// Stop and start again.
    fn restart(&self, spec: &ServiceSpec) -> crate::error::Result<()>;
    /// Bring back the process a failed restart replaced: `previous` is what ran
    /// before. systemd restarts the unit (its previous definition restored and
    /// daemon-reloaded by the caller); `direct` relaunches the previous executable
    /// with the previous argv.
    fn relaunch(&self, spec: &ServiceSpec, previous: &Running) -> crate::error::Result<()> {
        let _ = previous;
        self.restart(spec)
    }
    /// Whether another unit of the host (rsyslog) is active; false without systemd.
    fn unit_active(&self, unit: &str) -> crate::error::Result<bool> {
        let _ = unit;
        Ok(false)
    }
    /// Restart another unit of the host (rsyslog, to read a changed drop-in);
    /// only systemd can.
    fn restart_unit(&self, unit: &str) -> crate::error::Result<()> {
        crate::error::bail!("`{unit}` can only be restarted under systemd")
    }
    /// Ask the service to re-read its config by signal (used only when the HTTP
    /// reload endpoint is disabled); the caller verifies the outcome.
    fn signal_reload(&self, kind: ComponentKind) -> crate::error::Result<()>;
    /// Stop and wait until the process has exited.
    fn stop(&self, kind: ComponentKind) -> crate::error::Result<bool>;
    /// True when something of a component still runs or would start at boot (for a
    /// component the config disabled: apply must stop it).
    fn present(&self, kind: ComponentKind) -> crate::error::Result<bool> {
        Ok(self.running(kind)?.is_some())
    }
    /// Stop a component that was disabled in the config and keep it from starting
    /// again (systemd: `disable --now`). Its files are not touched here. True when
    /// something was stopped or disabled.
    fn disable(&self, kind: ComponentKind) -> crate::error::Result<bool> {
        self.stop(kind)
    }
}

/// True when systemd is PID 1 and running (not just `systemctl` on PATH).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Resolve `auto` to a concrete manager for this root.
pub fn resolve_kind(kind: ServiceManagerKind, root: &Root) -> ServiceManagerKind {
    match kind {
        ServiceManagerKind::Auto if root.is_host() && systemd_running() => {
            ServiceManagerKind::Systemd
        }
        ServiceManagerKind::Auto => ServiceManagerKind::None,
        k => k,
    }
}

/// The manager for a concrete kind (`auto` must be resolved first).
pub fn manager(
    kind: ServiceManagerKind,
    root: &Root,
    state: &StateDir,
) -> crate::error::Result<Box<dyn ServiceManager>> {
    Ok(match resolve_kind(kind, root) {
        ServiceManagerKind::Systemd => {
            if !root.is_host() {
                return Err(crate::error::usage(crate::error::failure!(
                    "`--service-manager systemd` acts on this host's systemd and cannot be combined with --root; use `direct` or `none`"
                )));
            }
            Box::new(Systemd::default())
        }
        ServiceManagerKind::Direct => Box::new(Direct { state: state.clone(), root: root.clone() }),
        _ => Box::new(NoManager),
    })
}

/// Files only: nothing runs.
pub struct NoManager;

impl ServiceManager for NoManager {
    fn kind(&self) -> ServiceManagerKind {
        ServiceManagerKind::None
    }
    fn running(&self, _: ComponentKind) -> crate::error::Result<Option<Running>> {
        Ok(None)
    }
    fn daemon_reload(&self) -> crate::error::Result<()> {
        Ok(())
    }
    fn start(&self, _: &ServiceSpec) -> crate::error::Result<()> {
        Ok(())
    }
    fn restart(&self, _: &ServiceSpec) -> crate::error::Result<()> {
        Ok(())
    }
    fn signal_reload(&self, _: ComponentKind) -> crate::error::Result<()> {
        Ok(())
    }
    fn stop(&self, _: ComponentKind) -> crate::error::Result<bool> {
        Ok(false)
    }
}

/// systemd through `systemctl`.
pub struct Systemd {
    /// The `systemctl` program (found on PATH by default).
    pub systemctl: PathBuf,
}

impl Default for Systemd {
    fn default() -> Self {
        Self { systemctl: PathBuf::from("systemctl") }
    }
}

impl Systemd {
    fn run(&self, args: &[&str]) -> crate::error::Result<std::process::Output> {
        Command::new(&self.systemctl)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run `systemctl {}`", args.join(" ")))
    }

    fn ok(&self, args: &[&str]) -> crate::error::Result<()> {
        let out = self.run(args)?;
        if !out.status.success() {
            crate::error::bail!(
                "`systemctl {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

impl ServiceManager for Systemd {
    fn kind(&self) -> ServiceManagerKind {
        ServiceManagerKind::Systemd
    }
    fn running(&self, kind: ComponentKind) -> crate::error::Result<Option<Running>> {
        Ok(self.running_all(&[kind])?.pop().flatten())
    }
    fn running_all(&self, kinds: &[ComponentKind]) -> crate::error::Result<Vec<Option<Running>>> {
        // One `systemctl show` for every unit, instead of is-active + is-enabled + show
        // per unit: a no-op apply asks this of each of them.
        let mut args = vec!["show", "-p", "Id", "-p", "ActiveState", "-p", "UnitFileState"];
        args.extend(["-p", "MainPID"]);
        args.extend(kinds.iter().map(|k| k.unit()));
        let out = self.run(&args)?;
        let text = String::from_utf8_lossy(&out.stdout);
        // One block of `Key=value` lines per unit, blank-line separated, in order.
        let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.trim().is_empty()).collect();
        Ok(kinds
            .iter()
            .map(|k| {
                let block = blocks
                    .iter()
                    .find(|b| b.lines().any(|l| l == format!("Id={}", k.unit())))
                    .or_else(|| (kinds.len() == 1).then(|| blocks.first()).flatten())
                    .copied()
                    .unwrap_or("");
                unit_running(block)
            })
            .collect())
    }
    fn daemon_reload(&self) -> crate::error::Result<()> {
        self.ok(&["daemon-reload"])
    }
    fn start(&self, spec: &ServiceSpec) -> crate::error::Result<()> {
        self.ok(&["enable", "--now", spec.kind.unit()])
    }
    fn restart(&self, spec: &ServiceSpec) -> crate::error::Result<()> {
        self.ok(&["enable", spec.kind.unit()])?;
        self.ok(&["restart", spec.kind.unit()])
    }
    fn signal_reload(&self, kind: ComponentKind) -> crate::error::Result<()> {
        self.ok(&["reload", kind.unit()])
    }
    fn unit_active(&self, unit: &str) -> crate::error::Result<bool> {
        Ok(self.run(&["is-active", "--quiet", unit])?.status.success())
    }
    fn restart_unit(&self, unit: &str) -> crate::error::Result<()> {
        self.ok(&["restart", unit])
    }
    fn stop(&self, kind: ComponentKind) -> crate::error::Result<bool> {
        let was = self.run(&["is-active", "--quiet", kind.unit()])?.status.success();
        self.ok(&["stop", kind.unit()])?;
        Ok(was)
    }
    fn present(&self, kind: ComponentKind) -> crate::error::Result<bool> {
        let unit = kind.unit();
        Ok(self.run(&["is-active", "--quiet", unit])?.status.success()
            || self.run(&["is-enabled", "--quiet", unit])?.status.success())
    }
    fn disable(&self, kind: ComponentKind) -> crate::error::Result<bool> {
        let was = self.present(kind)?;
        if was {
            self.ok(&["disable", "--now", kind.unit()])?;
        }
        Ok(was)
    }
}

/// A unit's process from its `systemctl show` properties: active, enabled at boot
/// (an active but disabled unit still needs `enable`: not running) and a MainPID.
fn unit_running(props: &str) -> Option<Running> {
    let prop = |name: &str| {
        props.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix('=')).unwrap_or("")
    };
    // The states `systemctl is-enabled` accepts.
    const ENABLED: [&str; 7] =
        ["enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "transient"];
    if prop("ActiveState") != "active" || !ENABLED.contains(&prop("UnitFileState")) {
        return None;
    }
    let pid: u32 = prop("MainPID").trim().parse().unwrap_or(0);
    if pid == 0 {
        return None;
    }
    Some(observe_pid(pid).unwrap_or(Running { pid, argv: vec![], exe: None }))
}

/// Detached processes: each in its own session (setsid), stdin from /dev/null,
/// stdout and stderr appended to `log/<name>.log`, pid in `run/<name>.pid` (pid and
/// binary, so `stop` never signals a recycled pid that now belongs to something else;
/// then the log's length at spawn, so [`log_tail`] shows this run's lines only).
pub struct Direct {
    pub state: StateDir,
    pub root: Root,
}

impl Direct {
    fn read_pid_file(&self, kind: ComponentKind) -> Option<(u32, String)> {
        let s = fs::read_to_string(self.state.pid_file(kind.name())).ok()?;
        let mut lines = s.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        let binary = lines.next().unwrap_or("").to_string();
        Some((pid, binary))
    }

    fn spawn(&self, spec: &ServiceSpec) -> crate::error::Result<()> {
        let argv0 = spec.binary.to_string_lossy().to_string();
        self.spawn_argv(spec, &spec.binary, &argv0, &spec.args)
    }

    /// Start `program` with `argv0` and `args`; the pid file names `argv0`, which is
    /// what [`ServiceManager::running`] compares with the process's argv.
    fn spawn_argv(
        &self,
        spec: &ServiceSpec,
        program: &Path,
        argv0: &str,
        args: &[String],
    ) -> crate::error::Result<()> {
        let name = spec.kind.name();
        let log_path = self.state.log_file(name);
        fs::create_dir_all(log_path.parent().unwrap())
            .with_context(|| format!("cannot create `{}`", log_path.display()))?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open log `{}`", log_path.display()))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(program);
        // A clean environment, as a unit gets: monstack's own (GRAFANA_TOKEN, the SMTP
        // password variable, ...) must not be readable in /proc/PID/environ.
        cmd.env_clear().env("PATH", SERVICE_PATH).env("LANG", "C.UTF-8");
        cmd.arg0(argv0)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .current_dir(&self.state.path);
        // On the real host as root, drop to the service user like the unit would.
        // SAFETY: geteuid has no preconditions.
        if self.root.is_host() && unsafe { libc::geteuid() } == 0 {
            if let Some((uid, gid)) = crate::host::lookup_user(&spec.user) {
                cmd.uid(uid).gid(gid);
            }
        }
        // SAFETY: setsid is async-signal-safe; it detaches the child from our session
        // so it survives the terminal and is not killed with our process group.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("cannot start `{}`", program.display()))?;
        let pid = child.id();
        // The child is not waited for: it outlives this process and is re-parented.
        drop(child);
        atomic_fs::write_atomic(
            &self.state.pid_file(name),
            format!("{pid}\n{argv0}\n{log_start}\n").as_bytes(),
            0o644,
            Owner::default(),
        )?;
        Ok(())
    }
}

impl ServiceManager for Direct {
    fn kind(&self) -> ServiceManagerKind {
        ServiceManagerKind::Direct
    }
    fn running(&self, kind: ComponentKind) -> crate::error::Result<Option<Running>> {
        let Some((pid, binary)) = self.read_pid_file(kind) else { return Ok(None) };
        Ok(observe_pid(pid).filter(|r| r.argv.first().map(String::as_str) == Some(&binary)))
    }
    fn daemon_reload(&self) -> crate::error::Result<()> {
        Ok(())
    }
    fn start(&self, spec: &ServiceSpec) -> crate::error::Result<()> {
        if self.running(spec.kind)?.is_some() {
            return Ok(());
        }
        self.spawn(spec)
    }
    fn restart(&self, spec: &ServiceSpec) -> crate::error::Result<()> {
        self.stop(spec.kind)?;
        self.spawn(spec)
    }
    fn relaunch(&self, spec: &ServiceSpec, previous: &Running) -> crate::error::Result<()> {
        let Some((argv0, args)) = previous.argv.split_first() else {
            return self.restart(spec);
        };
        self.stop(spec.kind)?;
        // The executable it ran, even when `current` now points at another release;
        // a deleted one (`... (deleted)`) is not there to run: use argv[0].
        let program = match &previous.exe {
            Some(exe) if exe.is_file() => exe.clone(),
            _ => PathBuf::from(argv0),
        };
        self.spawn_argv(spec, &program, argv0, args)
    }
    fn signal_reload(&self, kind: ComponentKind) -> crate::error::Result<()> {
        let r = self
            .running(kind)?
            .ok_or_else(|| crate::error::failure!("`{kind}` is not running; cannot reload it"))?;
        // SAFETY: plain kill(2) on a pid we verified runs our binary.
        if unsafe { libc::kill(r.pid as i32, libc::SIGHUP) } != 0 {
            crate::error::bail!(
                "cannot signal `{kind}` (pid {}): {}",
                r.pid,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }
    fn stop(&self, kind: ComponentKind) -> crate::error::Result<bool> {
        let pid_file = self.state.pid_file(kind.name());
        let Some(r) = self.running(kind)? else {
            let _ = fs::remove_file(&pid_file);
            return Ok(false);
        };
        terminate(r.pid, STOP_GRACE)
            .with_context(|| format!("cannot stop `{kind}` (pid {})", r.pid))?;
        let _ = fs::remove_file(&pid_file);
        Ok(true)
    }
}

/// SIGTERM, wait for the exit (polling), SIGKILL after `grace`.
pub fn terminate(pid: u32, grace: Duration) -> crate::error::Result<()> {
    // SAFETY: kill(2) with a positive pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let start = Instant::now();
    let mut delay = Duration::from_millis(10);
    while alive(pid) {
        if start.elapsed() > grace {
            // SAFETY: as above.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let kill_start = Instant::now();
            while alive(pid) {
                if kill_start.elapsed() > Duration::from_secs(10) {
                    crate::error::bail!("process {pid} did not exit after SIGKILL");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            return Ok(());
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(200));
    }
    Ok(())
}

/// A process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(s) => {
            s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')).unwrap_or(true)
        }
        Err(_) => false,
    }
}

/// Whether process `pid` holds the socket listening on TCP `port` (`/proc/PID/net/tcp*`
/// and its fds). `None` when that cannot be told (no such listener yet, or the fds
/// are not readable), so callers fall back to trusting the answer.
pub fn listens_on(pid: u32, port: u16) -> Option<bool> {
    let mut inodes = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{table}")) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let p = local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && p == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|e| {
        fs::read_link(e.path()).is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    }))
}

/// argv and executable of a live process.
pub fn observe_pid(pid: u32) -> Option<Running> {
    if !alive(pid) {
        return None;
    }
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    let argv = raw
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).to_string())
        .collect();
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
    Some(Running { pid, argv, exe })
}

/// The last `n` lines a direct-mode process wrote since it was last spawned, to
/// explain a process that died (the log is appended across runs: earlier runs'
/// lines would mislead).
pub fn log_tail(state: &StateDir, kind: ComponentKind, n: usize) -> String {
    let bytes = fs::read(state.log_file(kind.name())).unwrap_or_default();
    let start = fs::read_to_string(state.pid_file(kind.name()))
        .ok()
        .and_then(|p| p.lines().nth(2).and_then(|l| l.trim().parse::<usize>().ok()))
        // A log truncated since (rotation) is shown from its start.
        .filter(|&off| off <= bytes.len())
        .unwrap_or(0);
    let s = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_tells_the_listener_owner() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(listens_on(std::process::id(), port), Some(true));
        let mut other = Command::new("sleep").arg("30").spawn().unwrap();
        assert_eq!(
            listens_on(other.id(), port),
            Some(false),
            "the port is held by another process"
        );
        other.kill().unwrap();
        other.wait().unwrap();
        drop(l);
        // Not ours any more (another test may have bound the freed port by now).
        assert_ne!(listens_on(std::process::id(), port), Some(true), "we no longer listen");
    }

    #[test]
    fn log_tail_shows_only_the_last_spawn() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let state = StateDir { host: PathBuf::from("/var/lib/monstack"), path: dir.path().into() };
        let log = state.log_file("alertmanager");
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        fs::write(&log, "old run: started\nold run: listening\n").unwrap();
        let d = Direct { state: state.clone(), root };
        let spec = ServiceSpec {
            kind: ComponentKind::Alertmanager,
            user: "nobody".into(),
            binary: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "echo 'new run: bad flag' >&2".into()],
            ready_address: "127.0.0.1:1".into(),
            web: crate::web::WebClient::default(),
        };
        d.spawn(&spec).unwrap();
        let pid: u32 = fs::read_to_string(state.pid_file("alertmanager"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let start = Instant::now();
        while alive(pid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The child was not waited for by `spawn`: reap it here.
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), 0) };
        let tail = log_tail(&state, ComponentKind::Alertmanager, 40);
        assert_eq!(tail, "new run: bad flag");
        assert!(fs::read_to_string(&log).unwrap().starts_with("old run"), "the log is kept");
    }
}
