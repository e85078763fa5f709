//! Release tarballs: download, verify SHA-256 while streaming, extract safely,
//! install atomically (versioned, `current` symlink), lock, bundle, rollback.
//!
//! One pass per tarball: bytes -> SHA-256 (+ copy into the cache's `.partial`) ->
//! gunzip -> tar -> staging dir beside the release dirs. The staging dir is promoted
//! only when the digest matches the trusted one: a digest pinned in the config, else
//! the `monstack.lock` entry, else the release's `sha256sums.txt` (said on stderr).
//! Sources, in order: the cache (by digest), the component's `tarball`,
//! `downloads.local_dir`, the network. A `tarball` with neither a pin nor a lock entry
//! is trusted as given (said on stderr): its digest is taken before it is extracted.

mod download;
mod extract;
mod install;
mod lock;
mod verify;

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{BundleArgs, Context, InstallArgs, NetArgs, OutputFormat, RollbackArgs};
use crate::config::{ComponentKind, Loaded};
use crate::error::{self, exit, with_hint};
use crate::paths::Root;

pub use install::{Installed, Layout, Record};
pub use lock::{LockEntry, LockFile};

/// What is installed for a component, read from the host without network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Version and digest of the active release (`current`), if any. The digest is
    /// empty when `current` exists but monstack has no record of it.
    pub installed: Option<(String, String)>,
    /// True when the desired version/digest is not the active one.
    pub needs_install: bool,
}

/// Outcome of [`install`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    /// The desired release was already active: nothing touched, no network used.
    Unchanged,
    /// A release was installed and made current.
    Installed { version: String, previous: Option<String> },
}

/// Failures with their subject, for the messages users read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "checksum mismatch for `{component}` {version} from `{url}`\nexpected: {expected} ({trust})\ncomputed: {computed}"
    )]
    Mismatch {
        component: ComponentKind,
        version: String,
        url: String,
        expected: String,
        computed: String,
        trust: String,
    },
    #[error("`{sums_url}` has no line for `{file}`")]
    NoDigest { sums_url: String, file: String },
    #[error("--locked: {0}")]
    Locked(String),
    #[error("`{component}` {version}: {detail}")]
    Conflict { component: ComponentKind, version: String, detail: String },
    #[error("`{file}` is not in the cache or `{dir}`, and downloads.local_dir means no network")]
    NotInLocalDir { file: String, dir: PathBuf },
    #[error("--offline: no digest for `{component}` {version} without network (not pinned, not in monstack.lock)")]
    Offline { component: ComponentKind, version: String },
    #[error("`{component}.tarball` `{path}` is not named `{expected}` (the release the config asks for)")]
    TarballName { component: ComponentKind, path: PathBuf, expected: String },
    #[error("release tarball `{file}` has no `{binary}` in its top-level directory")]
    MissingBinary { file: String, binary: String },
    #[error("`{component}` has no previous release to roll back to")]
    NoPrevious { component: ComponentKind },
    #[error("{what} `{path}`: {source}")]
    Fs { what: &'static str, path: PathBuf, source: std::io::Error },
}

fn fs_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Fs { what, path, source }
}

/// Where progress and notes go (stderr): a bar on a TTY, plain lines otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reporter {
    /// Only errors.
    pub quiet: bool,
}

impl Reporter {
    pub fn from_ctx(ctx: &Context) -> Reporter {
        Reporter { quiet: ctx.quiet }
    }

    fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    fn bar(&self, total: Option<u64>, label: &str) -> Option<ProgressBar> {
        if self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let pb = ProgressBar::new(total.unwrap_or(0));
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        pb.set_style(style);
        pb.set_message(label.to_string());
        Some(pb)
    }
}

/// One component release for one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub kind: ComponentKind,
    pub version: String,
    pub arch: String,
    /// `{project}-{version}.linux-{arch}.tar.gz`.
    pub file_name: String,
    /// The archive's top-level dir: the file name without `.tar.gz`.
    pub top_dir: String,
    pub url: String,
    pub sums_url: String,
    /// The component's `tarball` (resolved against the config's dir): used instead of
    /// any download.
    pub tarball: Option<PathBuf>,
}

impl Release {
    /// The release the config asks for, on `arch`.
    pub fn desired(loaded: &Loaded, kind: ComponentKind, arch: &str) -> Release {
        let comp = loaded.config.component(kind);
        let base = comp.base_url.as_deref().unwrap_or(&loaded.config.downloads.base_url);
        let mut rel = Release::at(kind, &comp.version, arch, base);
        rel.tarball = comp.tarball.as_ref().map(|t| loaded.resolve(t));
        rel
    }

    /// The component's `tarball`, once its file name is the one this release has, so
    /// the configured version (and arch) cannot silently disagree with the file.
    fn checked_tarball(&self) -> anyhow::Result<Option<&Path>> {
        let Some(t) = &self.tarball else { return Ok(None) };
        if t.file_name().and_then(|n| n.to_str()) != Some(self.file_name.as_str()) {
            return Err(with_hint(
                Error::TarballName {
                    component: self.kind,
                    path: t.clone(),
                    expected: self.file_name.clone(),
                },
                format!(
                    "point `{}.tarball` at the {} {} release for linux-{}, or set `{}.version` to the tarball's",
                    self.kind, self.kind, self.version, self.arch, self.kind
                ),
            ));
        }
        Ok(Some(t))
    }

    fn at(kind: ComponentKind, version: &str, arch: &str, base: &str) -> Release {
        let project = kind.project();
        let top_dir = format!("{project}-{version}.linux-{arch}");
        let file_name = format!("{top_dir}.tar.gz");
        let dir = format!(
            "{}/prometheus/{project}/releases/download/v{version}",
            base.trim_end_matches('/')
        );
        Release {
            kind,
            version: version.into(),
            arch: arch.into(),
            url: format!("{dir}/{file_name}"),
            sums_url: format!("{dir}/sha256sums.txt"),
            file_name,
            top_dir,
            tarball: None,
        }
    }
}

/// The host's architecture in release naming (amd64, arm64, armv7, ...).
pub fn host_arch() -> String {
    // SAFETY: uname fills the zeroed struct; the machine field is NUL-terminated.
    let machine = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "amd64".into();
        }
        std::ffi::CStr::from_ptr(u.machine.as_ptr()).to_string_lossy().into_owned()
    };
    match machine.as_str() {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "armv7l" | "armv7" | "armv8l" => "armv7",
        "armv6l" => "armv6",
        "armv5tel" | "armv5l" => "armv5",
        "i386" | "i486" | "i586" | "i686" => "386",
        other => return other.to_string(),
    }
    .into()
}

/// Architecture to install: `--arch`, else `downloads.arch` unless `auto`, else the host's.
pub fn target_arch(loaded: &Loaded, cli_arch: Option<&str>) -> String {
    match cli_arch {
        Some(a) => a.to_string(),
        None if loaded.config.downloads.arch != "auto" => loaded.config.downloads.arch.clone(),
        None => host_arch(),
    }
}

/// Where the active release of a component lives (host path, before the root).
pub fn current_dir(loaded: &Loaded, kind: ComponentKind) -> PathBuf {
    loaded.config.component(kind).install_dir.join("current")
}

/// The digest the config or the lock already fixes for `rel`, without network.
fn known_digest(loaded: &Loaded, rel: &Release, lock: Option<&LockFile>) -> Option<String> {
    if let Some(pin) = &loaded.config.component(rel.kind).sha256 {
        return Some(pin.to_ascii_lowercase());
    }
    lock?
        .entry(rel.kind)
        .filter(|e| e.version == rel.version && e.arch == rel.arch)
        .map(|e| e.sha256.clone())
}

/// Read what is installed; never touches the network.
pub fn observe(root: &Root, loaded: &Loaded, kind: ComponentKind) -> anyhow::Result<Observed> {
    let rel = Release::desired(loaded, kind, &target_arch(loaded, None));
    let layout = Layout::new(root, loaded, kind);
    let record = Record::read(&layout.record);
    let lock = LockFile::read(&lock::path(loaded))?;
    let known = known_digest(loaded, &rel, lock.as_ref());
    let installed = layout.current_version().map(|v| {
        let digest = match &record.current {
            Some(r) if r.version == v => r.sha256.clone(),
            _ => String::new(),
        };
        (v, digest)
    });
    let needs_install = !is_active(&layout, &record, &rel, known.as_deref());
    Ok(Observed { installed, needs_install })
}

/// True when `rel` (with the known digest, if any) is the active, intact release.
fn is_active(layout: &Layout, record: &Record, rel: &Release, known: Option<&str>) -> bool {
    let Some(cur) = &record.current else { return false };
    cur.version == rel.version
        && cur.arch == rel.arch
        && known.map_or(true, |k| k == cur.sha256)
        && layout.current_version().as_deref() == Some(rel.version.as_str())
        && rel.kind.binaries().iter().all(|b| layout.release_dir(&rel.version).join(b).is_file())
}

/// Make the desired release of `kind` current (download, verify, extract, switch),
/// and make sure its user and data dir exist. Progress goes to stderr.
pub fn install(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
    net: &NetArgs,
) -> anyhow::Result<InstallStatus> {
    install_with(root, loaded, kind, net, &Reporter::default())
}

/// [`install`] with explicit reporting (quiet, progress).
pub fn install_with(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
    net: &NetArgs,
    rep: &Reporter,
) -> anyhow::Result<InstallStatus> {
    let status = install_release(root, loaded, kind, net, rep)?;
    let changes = crate::host::ensure_component(root, loaded, kind)?;
    if let Some(u) = &changes.created_user {
        rep.note(format!("created system user `{u}`"));
    }
    for d in &changes.created_dirs {
        rep.note(format!("created `{}`", d.display()));
    }
    Ok(status)
}

fn install_release(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
    net: &NetArgs,
    rep: &Reporter,
) -> anyhow::Result<InstallStatus> {
    let arch = target_arch(loaded, net.arch.as_deref());
    let rel = Release::desired(loaded, kind, &arch);
    rel.checked_tarball()?;
    let layout = Layout::new(root, loaded, kind);
    layout.clean_stale_staging();
    let mut record = Record::read(&layout.record);
    let lock_path = lock::path(loaded);
    let lock = LockFile::read(&lock_path)?;
    check_lock(loaded, &rel, lock.as_ref(), &lock_path, net.locked)?;
    let known = known_digest(loaded, &rel, lock.as_ref());

    if is_active(&layout, &record, &rel, known.as_deref()) {
        return Ok(InstallStatus::Unchanged);
    }
    let previous_version = layout.current_version();

    // The previous release is still on disk: switch back to it, no download.
    if let Some(prev) = record.previous.clone() {
        if prev.version == rel.version
            && prev.arch == rel.arch
            && known.as_deref().map_or(true, |k| k == prev.sha256)
            && rel
                .kind
                .binaries()
                .iter()
                .all(|b| layout.release_dir(&prev.version).join(b).is_file())
        {
            layout
                .switch_current(&prev.version)
                .map_err(fs_err("cannot switch", &layout.current))?;
            record.previous = record.current.take();
            record.current = Some(prev);
            record.write(&layout.record).map_err(fs_err("cannot write", &layout.record))?;
            rep.note(format!("{kind}: switched to the kept release {}", rel.version));
            return Ok(InstallStatus::Installed {
                version: rel.version,
                previous: previous_version,
            });
        }
    }

    let rt = Runtime::new(root, loaded, net, rep)?;
    let expected = rt.expected_digest(&rel, known).map_err(|e| with_net_hint(e, &rel))?;
    let staging = layout
        .new_staging(&rel.version)
        .map_err(fs_err("cannot create staging dir in", &layout.releases))?;
    let outcome = rt.obtain(&rel, &expected, Some(&staging)).and_then(|()| {
        for b in rel.kind.binaries() {
            if !staging.join(b).is_file() {
                return Err(Error::MissingBinary {
                    file: rel.file_name.clone(),
                    binary: b.to_string(),
                }
                .into());
            }
        }
        layout
            .promote(&staging, &rel.version)
            .map_err(fs_err("cannot move the release into", &layout.releases))?;
        Ok(())
    });
    if let Err(e) = outcome {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    layout.switch_current(&rel.version).map_err(fs_err("cannot switch", &layout.current))?;
    let new = Installed {
        version: rel.version.clone(),
        sha256: expected.sha256.clone(),
        arch: rel.arch.clone(),
        installed_at: install::now(),
    };
    match record.current.take() {
        Some(old) if old.version != rel.version => record.previous = Some(old),
        _ => {}
    }
    record.current = Some(new);
    record.write(&layout.record).map_err(fs_err("cannot write", &layout.record))?;
    let keep: Vec<&str> = [record.current.as_ref(), record.previous.as_ref()]
        .into_iter()
        .flatten()
        .map(|r| r.version.as_str())
        .collect();
    layout.prune(&keep);
    Ok(InstallStatus::Installed {
        version: rel.version,
        previous: previous_version.filter(|p| *p != record.current.as_ref().unwrap().version),
    })
}

/// `--locked` and pin/lock agreement.
fn check_lock(
    loaded: &Loaded,
    rel: &Release,
    lock: Option<&LockFile>,
    lock_path: &Path,
    locked: bool,
) -> anyhow::Result<()> {
    let entry = lock.and_then(|l| l.entry(rel.kind));
    let stale = |e: &LockEntry| e.version != rel.version || e.arch != rel.arch;
    if locked {
        let hint = "run `monstack lock` and commit monstack.lock";
        match (lock, entry) {
            (None, _) => {
                return Err(with_hint(
                    Error::Locked(format!("no lock file at `{}`", lock_path.display())),
                    hint,
                ))
            }
            (Some(_), None) => {
                return Err(with_hint(
                    Error::Locked(format!(
                        "`{}` has no entry for `{}`",
                        lock_path.display(),
                        rel.kind
                    )),
                    hint,
                ))
            }
            (Some(_), Some(e)) if stale(e) => {
                return Err(with_hint(
                    Error::Locked(format!(
                        "`{}` is stale: it locks `{}` {} for {}, the config wants {} for {}",
                        lock_path.display(),
                        rel.kind,
                        e.version,
                        e.arch,
                        rel.version,
                        rel.arch
                    )),
                    hint,
                ))
            }
            _ => {}
        }
    }
    if let (Some(pin), Some(e)) = (&loaded.config.component(rel.kind).sha256, entry) {
        if !stale(e) && !pin.eq_ignore_ascii_case(&e.sha256) {
            return Err(with_hint(
                Error::Conflict {
                    component: rel.kind,
                    version: rel.version.clone(),
                    detail: format!(
                        "the config pins sha256 {pin} but `{}` has {}",
                        lock_path.display(),
                        e.sha256
                    ),
                },
                "fix the pin or re-run `monstack lock`",
            ));
        }
    }
    Ok(())
}

/// The digest a tarball must have and where that trust comes from.
#[derive(Debug, Clone)]
struct Expected {
    sha256: String,
    trust: String,
}

/// Everything a download needs, resolved once per command.
struct Runtime<'a> {
    loaded: &'a Loaded,
    rep: &'a Reporter,
    cache_dir: PathBuf,
    local_dir: Option<PathBuf>,
    net: download::Net,
    offline: bool,
    max_bytes: u64,
}

impl<'a> Runtime<'a> {
    fn new(
        root: &Root,
        loaded: &'a Loaded,
        net: &NetArgs,
        rep: &'a Reporter,
    ) -> anyhow::Result<Runtime<'a>> {
        let d = &loaded.config.downloads;
        Ok(Runtime {
            loaded,
            rep,
            cache_dir: root.host(&d.cache_dir),
            local_dir: d.local_dir.as_ref().map(|p| loaded.resolve(p)),
            net: download::Net::new(d, net.offline)?,
            offline: net.offline,
            max_bytes: d.max_extract_bytes,
        })
    }

    /// Trust order: pin > lock (both in `known`) > sha256sums.txt.
    fn expected_digest(&self, rel: &Release, known: Option<String>) -> anyhow::Result<Expected> {
        if let Some(sha) = known {
            let trust = if self.loaded.config.component(rel.kind).sha256.is_some() {
                format!("pinned in `{}`", self.loaded.path.display())
            } else {
                format!("from `{}`", lock::path(self.loaded).display())
            };
            return Ok(Expected { sha256: sha, trust });
        }
        if let Some(t) = rel.checked_tarball()? {
            let sha = file_digest(t)?;
            self.rep.note(format!(
                "note: `{}.tarball` `{}` has no pinned sha256 and no lock entry: trusted as given (sha256 {sha}); run `monstack lock` to pin it",
                rel.kind,
                t.display()
            ));
            return Ok(Expected {
                sha256: sha,
                trust: format!("trusted as given: `{}`", t.display()),
            });
        }
        if self.offline && self.local_dir.is_none() {
            return Err(with_hint(
                Error::Offline { component: rel.kind, version: rel.version.clone() },
                "run `monstack lock` (with network) and commit monstack.lock, or pin `sha256`",
            ));
        }
        let (sha, from) = self.digest_from_sums(rel)?;
        self.rep.note(format!(
            "note: no lock entry for `{}` {}: verifying against `{from}`; run `monstack lock` to pin digests",
            rel.kind, rel.version
        ));
        Ok(Expected { sha256: sha, trust: format!("from `{from}`") })
    }

    /// Look the tarball up in its release's sha256sums.txt (local_dir's, or the network's).
    fn digest_from_sums(&self, rel: &Release) -> anyhow::Result<(String, String)> {
        let (text, from) = match &self.local_dir {
            Some(dir) => {
                let p = [dir.join("sha256sums.txt"), local_layout(dir, rel).join("sha256sums.txt")]
                    .into_iter()
                    .find(|p| p.is_file())
                    .unwrap_or_else(|| dir.join("sha256sums.txt"));
                let text = fs::read_to_string(&p).map_err(fs_err("cannot read", &p))?;
                (text, p.display().to_string())
            }
            None => (self.net.get_text(&rel.sums_url)?, rel.sums_url.clone()),
        };
        let sha = verify::find_digest(&text, &rel.file_name).ok_or_else(|| Error::NoDigest {
            sums_url: from.clone(),
            file: rel.file_name.clone(),
        })?;
        Ok((sha, from))
    }

    fn cached_path(&self, rel: &Release, sha: &str) -> PathBuf {
        self.cache_dir.join(sha).join(&rel.file_name)
    }

    /// Get the verified tarball bytes through `staging` (extracting) or only into the
    /// cache (`None`). On success the tarball is in the cache.
    fn obtain(&self, rel: &Release, exp: &Expected, staging: Option<&Path>) -> anyhow::Result<()> {
        let cached = self.cached_path(rel, &exp.sha256);
        if cached.is_file() {
            let f = File::open(&cached).map_err(fs_err("cannot read", &cached))?;
            let label = format!("{} {} (cache)", rel.kind, rel.version);
            let from = cached.display().to_string();
            let len = f.metadata().ok().map(|m| m.len());
            match self.stream(rel, f, len, staging, &label) {
                Ok(sha) if sha == exp.sha256 => {
                    self.rep.note(format!("{}: using cached `{from}`", rel.kind));
                    return Ok(());
                }
                Err(e) => match e.downcast::<StreamFailure>() {
                    // Trusted bytes, refused content: the verdict stands.
                    Ok(sf) if sf.sha256 == exp.sha256 => {
                        return Err(anyhow::Error::new(sf.error).context(format!(
                            "cannot install `{}` {} from `{from}`",
                            rel.kind, rel.version
                        )));
                    }
                    _ => {
                        self.rep.note(format!(
                            "{}: cached `{from}` is damaged; fetching again",
                            rel.kind
                        ));
                        let _ = fs::remove_file(&cached);
                        reset(staging)?;
                    }
                },
                Ok(_) => {
                    self.rep.note(format!(
                        "{}: cached `{}` is damaged; fetching again",
                        rel.kind,
                        cached.display()
                    ));
                    let _ = fs::remove_file(&cached);
                    reset(staging)?;
                }
            }
        }
        fs::create_dir_all(&self.cache_dir).map_err(fs_err("cannot create", &self.cache_dir))?;
        let partial = self.cache_dir.join(format!("{}.partial", exp.sha256));

        let local = match (rel.checked_tarball()?, &self.local_dir) {
            (Some(t), _) => Some(t.to_path_buf()),
            (None, Some(dir)) => Some(
                [dir.join(&rel.file_name), local_layout(dir, rel).join(&rel.file_name)]
                    .into_iter()
                    .find(|p| p.is_file())
                    .ok_or_else(|| Error::NotInLocalDir {
                        file: rel.file_name.clone(),
                        dir: dir.clone(),
                    })?,
            ),
            (None, None) => None,
        };
        if let Some(src) = local {
            let f = File::open(&src).map_err(fs_err("cannot read", &src))?;
            let sink = File::create(&partial).map_err(fs_err("cannot write", &partial))?;
            let label = format!("{} {}", rel.kind, rel.version);
            let len = f.metadata().ok().map(|m| m.len());
            let sha = self.stream(rel, verify::Tee::new(f, sink), len, staging, &label);
            return self.settle(rel, exp, sha, &partial, &cached, &src.display().to_string());
        }

        // Network, resuming a partial download left by an earlier run.
        let mut from = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        let body = match self.net.body(&rel.url, from) {
            Err(download::Error::NoResume { .. }) | Err(download::Error::Status { .. })
                if from > 0 =>
            {
                from = 0;
                let _ = fs::remove_file(&partial);
                self.net.body(&rel.url, 0)
            }
            other => other,
        };
        let body = body.map_err(|e| network_error(e, rel))?;
        if from > 0 {
            self.rep.note(format!("{}: resuming `{}` at byte {from}", rel.kind, rel.url));
        } else {
            self.rep.note(format!("{}: downloading `{}`", rel.kind, rel.url));
        }
        let failure = body.failure();
        let total = body.total();
        let head = File::open(&partial).ok().filter(|_| from > 0);
        let sink = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .map_err(fs_err("cannot write", &partial))?;
        let label = format!("{} {}", rel.kind, rel.version);
        let tail = verify::Tee::new(body, sink);
        let started = Instant::now();
        let sha = match head {
            Some(h) => self.stream(rel, h.take(from).chain(tail), total, staging, &label),
            None => self.stream(rel, tail, total, staging, &label),
        };
        if let Some(e) = failure.borrow_mut().take() {
            // Keep the partial for the next run to resume.
            return Err(network_error(e, rel));
        }
        let done = self.settle(rel, exp, sha, &partial, &cached, &rel.url);
        if done.is_ok() {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            let size = fs::metadata(&cached).map(|m| m.len()).unwrap_or(0);
            self.rep.note(format!(
                "{}: fetched {:.1} MB in {:.1}s, sha256 {} ok ({})",
                rel.kind,
                size as f64 / 1e6,
                secs,
                exp.sha256,
                exp.trust
            ));
        }
        done
    }

    /// Compare digests; on a match keep the tarball in the cache, else drop it.
    fn settle(
        &self,
        rel: &Release,
        exp: &Expected,
        sha: anyhow::Result<String>,
        partial: &Path,
        cached: &Path,
        from: &str,
    ) -> anyhow::Result<()> {
        let (sha, extract_err) = match sha {
            Ok(s) => (s, None),
            Err(e) => match e.downcast::<StreamFailure>() {
                Ok(sf) => (sf.sha256, Some(sf.error)),
                Err(e) => {
                    let _ = fs::remove_file(partial);
                    return Err(e);
                }
            },
        };
        if sha != exp.sha256 {
            let _ = fs::remove_file(partial);
            return Err(with_hint(
                Error::Mismatch {
                    component: rel.kind,
                    version: rel.version.clone(),
                    url: from.to_string(),
                    expected: exp.sha256.clone(),
                    computed: sha,
                    trust: exp.trust.clone(),
                },
                "the tarball is not the one that was locked or published; nothing was installed",
            ));
        }
        // Trusted bytes: keep them even when their content is refused below, so a
        // re-run does not download again to reach the same verdict.
        let keep = (|| {
            File::open(partial)?.sync_data()?;
            fs::create_dir_all(cached.parent().unwrap())?;
            fs::rename(partial, cached)
        })();
        keep.map_err(fs_err("cannot keep the verified tarball in", cached))?;
        match extract_err {
            Some(e) => Err(anyhow::Error::new(e)
                .context(format!("cannot install `{}` {} from `{from}`", rel.kind, rel.version))),
            None => Ok(()),
        }
    }

    /// Hash everything `reader` yields while extracting it into `staging` (when
    /// given). An extraction error is returned together with the digest, so the
    /// caller can tell tampered bytes from a bad archive.
    fn stream(
        &self,
        rel: &Release,
        reader: impl Read,
        total: Option<u64>,
        staging: Option<&Path>,
        label: &str,
    ) -> anyhow::Result<String> {
        let pb = self.rep.bar(total, label);
        let mut h = verify::Hashing::new(BufReader::with_capacity(256 * 1024, reader), pb.clone());
        let extracted = match staging {
            Some(dir) => {
                extract::extract_tar_gz(&mut h, dir, &rel.top_dir, self.max_bytes).map(|_| ())
            }
            None => Ok(()),
        };
        let finished = h.finish();
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        let (sha, _) = finished.context("reading the tarball")?;
        match extracted {
            Ok(()) => Ok(sha),
            Err(error) => Err(StreamFailure { sha256: sha, error }.into()),
        }
    }
}

/// An extraction failure and the digest of the bytes read.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
struct StreamFailure {
    sha256: String,
    error: extract::Error,
}

fn reset(staging: Option<&Path>) -> anyhow::Result<()> {
    if let Some(dir) = staging {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir(dir).map_err(fs_err("cannot create", dir))?;
    }
    Ok(())
}

/// SHA-256 of a local file, streamed.
fn file_digest(path: &Path) -> anyhow::Result<String> {
    let f = File::open(path).map_err(fs_err("cannot read", path))?;
    let h = verify::Hashing::new(BufReader::with_capacity(256 * 1024, f), None);
    let (sha, _) = h.finish().map_err(fs_err("cannot read", path))?;
    Ok(sha)
}

/// `file://` URL of a local tarball, for the lock entry.
fn file_url(path: &Path) -> String {
    std::path::absolute(path)
        .ok()
        .and_then(|p| url::Url::from_file_path(p).ok())
        .map_or_else(|| path.display().to_string(), String::from)
}

/// `{dir}/prometheus/{project}/releases/download/v{version}`: a mirror tree copied as is.
fn local_layout(dir: &Path, rel: &Release) -> PathBuf {
    dir.join("prometheus")
        .join(rel.kind.project())
        .join("releases/download")
        .join(format!("v{}", rel.version))
}

fn network_error(e: download::Error, rel: &Release) -> anyhow::Error {
    let hint = match &e {
        download::Error::Status { status, .. } if status.as_u16() == 404 => Some(format!(
            "check `{}.version` ({}) and the arch ({}); the release must exist as `{}`",
            rel.kind, rel.version, rel.arch, rel.file_name
        )),
        download::Error::Tls { .. } => {
            Some("check the mirror's certificate, or the system time".to_string())
        }
        download::Error::Offline { .. } => Some(
            "run `monstack bundle` where there is network and point downloads.local_dir at it"
                .to_string(),
        ),
        download::Error::Interrupted { .. } => {
            Some("re-run the command: the download resumes where it stopped".to_string())
        }
        _ => None,
    };
    match hint {
        Some(h) => with_hint(e, h),
        None => e.into(),
    }
}

/// Give a network error inside `e` its hint.
fn with_net_hint(e: anyhow::Error, rel: &Release) -> anyhow::Error {
    match e.downcast::<download::Error>() {
        Ok(d) => network_error(d, rel),
        Err(e) => e,
    }
}

fn parse_components(names: &[String], loaded: &Loaded) -> Result<Vec<ComponentKind>, String> {
    if names.is_empty() {
        return Ok(loaded.config.enabled_components().into_iter().map(|(k, _)| k).collect());
    }
    names
        .iter()
        .map(|n| {
            ComponentKind::from_name(n).ok_or_else(|| {
                format!("unknown component `{n}` (one of prometheus, alertmanager, node_exporter)")
            })
        })
        .collect()
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("json"));
}

/// `monstack install`.
pub fn cmd_install(ctx: &Context, args: &InstallArgs) -> anyhow::Result<i32> {
    let loaded = ctx.load_config()?;
    let kinds = match parse_components(&args.components, &loaded) {
        Ok(k) => k,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(exit::USAGE);
        }
    };
    let rep = Reporter::from_ctx(ctx);
    let mut results = Vec::new();
    let mut failed = false;
    for kind in kinds {
        let version = loaded.config.component(kind).version;
        match install_with(&ctx.root, &loaded, kind, &args.net, &rep) {
            Ok(InstallStatus::Unchanged) => {
                if ctx.output == OutputFormat::Human {
                    println!("{kind} {version}: unchanged");
                }
                results.push(serde_json::json!({"component": kind, "version": version, "status": "unchanged"}));
            }
            Ok(InstallStatus::Installed { version, previous }) => {
                if ctx.output == OutputFormat::Human {
                    match &previous {
                        Some(p) => println!("{kind} {version}: installed (was {p})"),
                        None => println!("{kind} {version}: installed"),
                    }
                }
                results.push(serde_json::json!({"component": kind, "version": version, "status": "installed", "previous": previous}));
            }
            Err(e) => {
                failed = true;
                error::report(&e);
                results.push(serde_json::json!({"component": kind, "version": version, "status": "failed", "error": format!("{e:#}")}));
            }
        }
    }
    if ctx.output == OutputFormat::Json {
        print_json(&serde_json::json!({ "components": results }));
    }
    Ok(if failed { exit::FAILURE } else { exit::OK })
}

/// `monstack rollback`.
pub fn cmd_rollback(ctx: &Context, args: &RollbackArgs) -> anyhow::Result<i32> {
    let loaded = ctx.load_config()?;
    let Some(kind) = ComponentKind::from_name(&args.component) else {
        eprintln!(
            "error: unknown component `{}` (one of prometheus, alertmanager, node_exporter)",
            args.component
        );
        return Ok(exit::USAGE);
    };
    // Rolling back across the TSDB format boundary needs a confirmation.
    let layout = Layout::new(&ctx.root, &loaded, kind);
    let record = Record::read(&layout.record);
    if let (Some(prev), Some(cur)) = (record.previous.as_ref(), layout.current_version()) {
        let crossing = crate::versions::crossing(kind, &cur, &prev.version);
        crate::upgrade::check_crossings(
            &loaded,
            crossing.as_slice(),
            args.allow_unsafe_version_change,
            ctx.quiet,
        )?;
    }
    let (to, from) = rollback(&ctx.root, &loaded, kind)?;
    // The previous binary gets the unit flags and config it understands back.
    for f in crate::upgrade::files_for_version(&loaded, kind, &to)? {
        let real = ctx.root.host(&f.path);
        if fs::read(&real).ok().as_deref() == Some(f.content.as_slice()) {
            continue;
        }
        let owner = crate::plan::owner_for(&ctx.root, f.owner.as_deref(), f.group.as_deref());
        crate::atomic_fs::write_atomic(&real, &f.content, f.mode, owner)?;
        if !ctx.quiet {
            eprintln!("{kind}: restored `{}` as {to} needs it", f.path.display());
        }
    }
    if !ctx.quiet {
        eprintln!("hint: {}", rollback_hint(&loaded, kind, &to));
    }
    match ctx.output {
        OutputFormat::Human => println!("{kind}: rolled back to {to} (was {from})"),
        OutputFormat::Json => print_json(
            &serde_json::json!({"component": kind, "version": to, "previous": from, "status": "rolled_back"}),
        ),
    }
    Ok(exit::OK)
}

/// Rollback only switches `current`: the running service keeps its old binary until a
/// restart, and `apply` converges on the configured version, so tell how to make it stick.
fn rollback_hint(loaded: &Loaded, kind: ComponentKind, to: &str) -> String {
    let configured = loaded.config.component(kind).version;
    let file = loaded.path.display();
    if configured == to {
        format!("the running {kind} is not restarted; run `monstack apply` to restart it on {to}")
    } else {
        format!(
            "the running {kind} is not restarted, and the next `monstack apply` reinstalls the configured {configured}; \
             to stay on {to}, set `{kind}.version: {to}` in {file} and run `monstack apply` to restart on it"
        )
    }
}

/// Switch `current` back to the previous release; returns (now active, was active).
/// No network: the previous release is still on disk.
pub fn rollback(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
) -> anyhow::Result<(String, String)> {
    let layout = Layout::new(root, loaded, kind);
    let mut record = Record::read(&layout.record);
    let prev = record
        .previous
        .clone()
        .filter(|p| layout.release_dir(&p.version).is_dir())
        .ok_or(Error::NoPrevious { component: kind })?;
    let was = layout.current_version().unwrap_or_default();
    layout.switch_current(&prev.version).map_err(fs_err("cannot switch", &layout.current))?;
    record.previous = record.current.take();
    record.current = Some(prev.clone());
    record.write(&layout.record).map_err(fs_err("cannot write", &layout.record))?;
    Ok((prev.version, was))
}

/// `monstack lock`.
pub fn cmd_lock(ctx: &Context, args: &NetArgs) -> anyhow::Result<i32> {
    let loaded = ctx.load_config()?;
    let rep = Reporter::from_ctx(ctx);
    let arch = target_arch(&loaded, args.arch.as_deref());
    let rt = Runtime::new(&ctx.root, &loaded, args, &rep)?;
    let path = lock::path(&loaded);
    let old = LockFile::read(&path)?;
    let mut lock = LockFile { version: 1, components: Vec::new() };
    for (kind, comp) in loaded.config.enabled_components() {
        let rel = Release::desired(&loaded, kind, &arch);
        let tarball = rel.checked_tarball()?;
        let sha = match (&comp.sha256, tarball) {
            (Some(pin), _) => pin.to_ascii_lowercase(),
            (None, Some(t)) => file_digest(t)?,
            (None, None) => rt.digest_from_sums(&rel).map_err(|e| with_net_hint(e, &rel))?.0,
        };
        let url = match tarball {
            Some(t) => file_url(t),
            None => rel.url.clone(),
        };
        lock.components.push(LockEntry {
            component: kind,
            version: rel.version.clone(),
            arch: rel.arch.clone(),
            url,
            sha256: sha,
        });
    }
    let changed = old.as_ref() != Some(&lock);
    if changed {
        lock.write(&path)?;
    }
    match ctx.output {
        OutputFormat::Human => {
            for e in &lock.components {
                println!("{} {} linux-{} sha256:{}", e.component, e.version, e.arch, e.sha256);
            }
            rep.note(format!(
                "{} `{}`",
                if changed { "wrote" } else { "unchanged:" },
                path.display()
            ));
        }
        OutputFormat::Json => print_json(&serde_json::json!({
            "path": path, "changed": changed, "components": lock.components,
        })),
    }
    Ok(exit::OK)
}

/// `monstack bundle`.
pub fn cmd_bundle(ctx: &Context, args: &BundleArgs) -> anyhow::Result<i32> {
    let loaded = ctx.load_config()?;
    let rep = Reporter::from_ctx(ctx);
    let path = lock::path(&loaded);
    let lock = LockFile::read(&path)?.ok_or_else(|| {
        with_hint(
            anyhow::anyhow!("bundle needs a lock file; there is none at `{}`", path.display()),
            "run `monstack lock` first",
        )
    })?;
    let rt = Runtime::new(&ctx.root, &loaded, &args.net, &rep)?;
    fs::create_dir_all(&args.out).map_err(fs_err("cannot create", &args.out))?;
    let mut sums = String::new();
    let mut files = Vec::new();
    for e in &lock.components {
        let mut rel = Release::at(e.component, &e.version, &e.arch, "");
        rel.url = e.url.clone();
        let configured = Release::desired(&loaded, e.component, &e.arch);
        if configured.version == e.version {
            rel.tarball = configured.tarball;
        }
        let exp =
            Expected { sha256: e.sha256.clone(), trust: format!("from `{}`", path.display()) };
        rt.obtain(&rel, &exp, None).map_err(|err| with_net_hint(err, &rel))?;
        let dest = args.out.join(&rel.file_name);
        let tmp = args.out.join(format!(".{}.tmp", rel.file_name));
        let cached = rt.cached_path(&rel, &e.sha256);
        fs::copy(&cached, &tmp).map_err(fs_err("cannot write", &tmp))?;
        fs::rename(&tmp, &dest).map_err(fs_err("cannot write", &dest))?;
        sums.push_str(&format!("{}  {}\n", e.sha256, rel.file_name));
        files.push(dest);
    }
    let sums_path = args.out.join("sha256sums.txt");
    fs::write(&sums_path, sums).map_err(fs_err("cannot write", &sums_path))?;
    match ctx.output {
        OutputFormat::Human => {
            for f in &files {
                println!("{}", f.display());
            }
            println!("{}", sums_path.display());
        }
        OutputFormat::Json => print_json(
            &serde_json::json!({"out": args.out, "files": files, "sha256sums": sums_path}),
        ),
    }
    Ok(exit::OK)
}
