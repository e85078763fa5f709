//! What an install would fail on, found before anything is downloaded or written:
//! a `sha256` pin contradicting monstack.lock, `--locked` with a missing or stale
//! lock, and a release whose bytes are nowhere without network (`--offline`, or
//! `downloads.local_dir`). plan and apply run it first, with the errors the install
//! itself would raise, so a problem found late is found early instead.

use std::path::PathBuf;

use super::{
    check_lock, fetch, is_active, known_digest, lock, target_arch, Layout, LockFile, NetOptions,
    Record, Release,
};
use crate::config::{ComponentKind, Loaded};
use crate::error::with_hint;
use crate::paths::Root;

/// A release the network would be needed for, and the places looked at instead.
#[derive(Debug, thiserror::Error)]
#[error("{why}: `{component}` {version} (`{file}`) is not in {where_}; looked at {}", list(looked))]
pub struct Unavailable {
    pub why: &'static str,
    pub component: ComponentKind,
    pub version: String,
    pub file: String,
    pub where_: &'static str,
    pub looked: Vec<PathBuf>,
}

fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
}

/// Check every enabled component's release that is not active yet; reads only.
pub fn preflight(root: &Root, loaded: &Loaded, net: &NetOptions) -> crate::error::Result<()> {
    let arch = target_arch(loaded, net.arch.as_deref());
    let lock_path = lock::path(loaded);
    let lock = LockFile::read(&lock_path)?;
    for (kind, _) in loaded.config.enabled_components() {
        let rel = Release::desired(loaded, kind, &arch);
        check_lock(loaded, &rel, lock.as_ref(), &lock_path, net.locked)?;
        let known = known_digest(loaded, &rel, lock.as_ref());
        let layout = Layout::new(root, loaded, kind);
        let record = Record::read(&layout.record);
        if is_active(&layout, &record, &rel, known.as_deref())
            || kept(&layout, &record, &rel, known.as_deref())
            || rel.checked_tarball()?.is_some()
        {
            continue;
        }
        available_offline(root, loaded, net, &rel, known.as_deref())?;
    }
    Ok(())
}

/// The release is the kept previous one: install switches back to it, no bytes needed.
fn kept(layout: &Layout, record: &Record, rel: &Release, known: Option<&str>) -> bool {
    record.previous.as_ref().is_some_and(|p| {
        p.version == rel.version
            && p.arch == rel.arch
            && known.map_or(true, |k| k == p.sha256)
            && rel.kind.binaries().iter().all(|b| layout.release_dir(&p.version).join(b).is_file())
    })
}

/// Without network (`--offline`, or `downloads.local_dir` set), the tarball must be
/// in the cache (by its known digest) or in local_dir.
fn available_offline(
    root: &Root,
    loaded: &Loaded,
    net: &NetOptions,
    rel: &Release,
    known: Option<&str>,
) -> crate::error::Result<()> {
    let d = &loaded.config.downloads;
    let local_dir = d.local_dir.as_ref().map(|p| loaded.resolve(p));
    if !net.offline && local_dir.is_none() {
        return Ok(());
    }
    let mut looked = Vec::new();
    if let Some(sha) = known {
        looked.push(root.host(&d.cache_dir).join(sha).join(&rel.file_name));
    }
    let where_ = match &local_dir {
        Some(dir) => {
            looked.push(dir.join(&rel.file_name));
            looked.push(fetch::local_layout(dir, rel).join(&rel.file_name));
            "the cache or downloads.local_dir"
        }
        None if known.is_none() => {
            // No digest to find it in the cache by, and none to verify it against.
            return Err(with_hint(
                super::Error::Offline { component: rel.kind, version: rel.version.clone() },
                "run `monstack lock` (with network) and commit monstack.lock, or pin `sha256`",
            ));
        }
        None => "the cache",
    };
    if looked.iter().any(|p| p.is_file()) {
        return Ok(());
    }
    let why = if net.offline { "--offline" } else { "downloads.local_dir (no network)" };
    Err(with_hint(
        Unavailable {
            why,
            component: rel.kind,
            version: rel.version.clone(),
            file: rel.file_name.clone(),
            where_,
            looked,
        },
        "run `monstack lock` and `monstack bundle` where there is network, and point downloads.local_dir at the bundle (or run without --offline)",
    ))
}
