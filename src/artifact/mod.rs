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

mod bundle;
mod download;
mod extract;
mod fetch;
pub mod gnet;
mod install;
mod lock;
mod preflight;
mod verify;

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{ComponentKind, Loaded};
use crate::error::with_hint;
use crate::paths::Root;

pub use bundle::{bundle, write_lock, Bundled, Locked};
pub use install::{Installed, Layout, Record};
pub use lock::{LockEntry, LockFile};
pub use preflight::{preflight, Unavailable};

use fetch::Runtime;

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

/// Network switches of the commands that download (`--offline`, `--locked`, `--arch`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetOptions {
    /// Any network access is an error.
    pub offline: bool,
    /// A missing or stale monstack.lock is an error.
    pub locked: bool,
    /// Architecture override (amd64, arm64, armv7, ...).
    pub arch: Option<String>,
}

/// Where progress and notes go (stderr): a bar on a TTY, plain lines otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reporter {
    /// Only errors.
    pub quiet: bool,
}

impl Reporter {
    fn note(&self, msg: impl AsRef<str>) {
        crate::printer::Printer { quiet: self.quiet, ..Default::default() }.info(msg);
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
        if let (ComponentKind::GrafanaServer, Some(build)) =
            (kind, loaded.config.grafana_server.build_id.as_deref().filter(|b| !b.is_empty()))
        {
            // Grafana 12+: `grafana/release/{v}/grafana_{v}_{build}_linux_{arch}.tar.gz`,
            // top dir `grafana-{v}/` (INSTALL-AND-12-13 §4.1).
            let v = &comp.version;
            rel.file_name = format!("grafana_{v}_{build}_linux_{arch}.tar.gz");
            rel.top_dir = format!("grafana-{v}");
            rel.url =
                format!("{}/grafana/release/{v}/{}", base.trim_end_matches('/'), rel.file_name);
            rel.sums_url = format!("{}.sha256", rel.url);
        }
        rel.tarball = comp.tarball.as_ref().map(|t| loaded.resolve(t));
        rel
    }

    /// The component's `tarball`, once its file name is the one this release has, so
    /// the configured version (and arch) cannot silently disagree with the file.
    fn checked_tarball(&self) -> crate::error::Result<Option<&Path>> {
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
        if kind == ComponentKind::GrafanaServer {
            // The legacy path, still served for 12.x (INSTALL-AND-12-13 §4.1); its
            // top dir is `grafana-v{version}/`.
            let file_name = format!("grafana-{version}.linux-{arch}.tar.gz");
            let url = format!("{}/oss/release/{file_name}", base.trim_end_matches('/'));
            return Release {
                kind,
                version: version.into(),
                arch: arch.into(),
                sums_url: format!("{url}.sha256"),
                url,
                file_name,
                top_dir: format!("grafana-v{version}"),
                tarball: None,
            };
        }
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
pub fn observe(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
) -> crate::error::Result<Observed> {
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
    net: &NetOptions,
) -> crate::error::Result<InstallStatus> {
    install_with(root, loaded, kind, net, &Reporter::default())
}

/// [`install`] with explicit reporting (quiet, progress).
pub fn install_with(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
    net: &NetOptions,
    rep: &Reporter,
) -> crate::error::Result<InstallStatus> {
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
    net: &NetOptions,
    rep: &Reporter,
) -> crate::error::Result<InstallStatus> {
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
    let expected = rt.expected_digest(&rel, known)?;
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
) -> crate::error::Result<()> {
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

/// Switch `current` back to the previous release; returns (now active, was active).
/// The active and the previous release of `kind` (versions), when both are known:
/// what a rollback would switch between.
pub fn rollback_versions(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
) -> Option<(String, String)> {
    let layout = Layout::new(root, loaded, kind);
    let record = Record::read(&layout.record);
    Some((layout.current_version()?, record.previous?.version))
}

/// No network: the previous release is still on disk.
pub fn rollback(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
) -> crate::error::Result<(String, String)> {
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
