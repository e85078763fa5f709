//! `lock` and `bundle`: resolve each enabled component's tarball digest into
//! monstack.lock, and copy every locked tarball (verified) into a directory for
//! air-gapped hosts.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fetch::{file_digest, file_url, Expected, Runtime};
use super::{fs_err, lock, LockEntry, LockFile, NetOptions, Release, Reporter};
use crate::config::Loaded;
use crate::error::with_hint;
use crate::paths::Root;

/// What `lock` resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Locked {
    /// The lock file.
    pub path: PathBuf,
    /// False when the file already held exactly these entries.
    pub changed: bool,
    pub components: Vec<LockEntry>,
}

/// What `bundle` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Bundled {
    pub out: PathBuf,
    /// The tarballs, in lock order.
    pub files: Vec<PathBuf>,
    /// `sha256sums.txt` beside them.
    pub sha256sums: PathBuf,
}

/// Resolve each enabled component's tarball SHA-256 and write monstack.lock beside
/// the config (only when it changes).
pub fn write_lock(
    root: &Root,
    loaded: &Loaded,
    net: &NetOptions,
    rep: &Reporter,
) -> crate::error::Result<Locked> {
    let arch = super::target_arch(loaded, net.arch.as_deref());
    let rt = Runtime::new(root, loaded, net, rep)?;
    let path = lock::path(loaded);
    let old = LockFile::read(&path)?;
    let mut lock = LockFile { version: 1, components: Vec::new(), dashboards: Vec::new() };
    for (kind, comp) in loaded.config.enabled_components() {
        let rel = Release::desired(loaded, kind, &arch);
        let tarball = rel.checked_tarball()?;
        let sha = match (&comp.sha256, tarball) {
            (Some(pin), _) => pin.to_ascii_lowercase(),
            (None, Some(t)) => file_digest(t)?,
            (None, None) => rt.digest_from_sums(&rel)?.0,
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
    lock.dashboards = super::gnet::lock_entries(root, loaded, net)?;
    let changed = old.as_ref() != Some(&lock);
    if changed {
        lock.write(&path)?;
    }
    Ok(Locked { path, changed, components: lock.components })
}

/// Download and verify every locked tarball into `out`, with a `sha256sums.txt`.
pub fn bundle(
    root: &Root,
    loaded: &Loaded,
    net: &NetOptions,
    out: &Path,
    rep: &Reporter,
) -> crate::error::Result<Bundled> {
    let path = lock::path(loaded);
    let lock = LockFile::read(&path)?.ok_or_else(|| {
        with_hint(
            crate::failure!("bundle needs a lock file; there is none at `{}`", path.display()),
            "run `monstack lock` first",
        )
    })?;
    let rt = Runtime::new(root, loaded, net, rep)?;
    fs::create_dir_all(out).map_err(fs_err("cannot create", out))?;
    let mut sums = String::new();
    let mut files = Vec::new();
    for e in &lock.components {
        let mut rel = Release::at(e.component, &e.version, &e.arch, "");
        rel.url = e.url.clone();
        let configured = Release::desired(loaded, e.component, &e.arch);
        if configured.version == e.version {
            rel.tarball = configured.tarball;
            // Grafana 12+ names carry a build id: the lock's URL is the truth.
            rel.file_name = configured.file_name;
            rel.top_dir = configured.top_dir;
        }
        let exp =
            Expected { sha256: e.sha256.clone(), trust: format!("from `{}`", path.display()) };
        rt.obtain(&rel, &exp, None)?;
        let dest = out.join(&rel.file_name);
        let tmp = out.join(format!(".{}.tmp", rel.file_name));
        let cached = rt.cached_path(&rel, &e.sha256);
        fs::copy(&cached, &tmp).map_err(fs_err("cannot write", &tmp))?;
        fs::rename(&tmp, &dest).map_err(fs_err("cannot write", &dest))?;
        sums.push_str(&format!("{}  {}\n", e.sha256, rel.file_name));
        files.push(dest);
    }
    for (dest, sha) in super::gnet::bundle(root, loaded, net, &lock, out)? {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        sums.push_str(&format!("{sha}  {name}\n"));
        files.push(dest);
    }
    let sums_path = out.join("sha256sums.txt");
    fs::write(&sums_path, sums).map_err(fs_err("cannot write", &sums_path))?;
    Ok(Bundled { out: out.to_path_buf(), files, sha256sums: sums_path })
}
