//! grafana.com dashboards (`grafana.dashboards: [{gnet_id, revision}]`) through the
//! same path as release tarballs: `monstack lock` records each revision's URL and
//! SHA-256, `bundle` copies them beside the tarballs, and plan/apply get them from
//! the cache (by digest), `downloads.local_dir` or the network (never `--offline`),
//! verified against the lock before Grafana sees them.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{download, fs_err, lock, LockFile, NetOptions, Reporter};
use crate::config::{DashboardEntry, GnetDashboard, Loaded};
use crate::error::with_hint;
use crate::paths::Root;

/// One locked grafana.com dashboard revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GnetLockEntry {
    pub gnet_id: u64,
    pub revision: u64,
    pub url: String,
    pub sha256: String,
}

/// The configured grafana.com dashboards, in config order.
pub fn configured(loaded: &Loaded) -> Vec<GnetDashboard> {
    loaded
        .config
        .grafana
        .dashboards
        .iter()
        .filter_map(|d| match d {
            DashboardEntry::Gnet(n) => Some(n.clone()),
            DashboardEntry::Path(_) => None,
        })
        .collect()
}

/// grafana.com's download URL of a revision.
pub fn url(loaded: &Loaded, n: &GnetDashboard) -> String {
    format!(
        "{}/api/dashboards/{}/revisions/{}/download",
        loaded.config.grafana.gnet_url.trim_end_matches('/'),
        n.gnet_id,
        n.revision
    )
}

/// The file name in the cache, a bundle and `downloads.local_dir`.
pub fn file_name(n: &GnetDashboard) -> String {
    format!("gnet-{}-{}.json", n.gnet_id, n.revision)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn what(n: &GnetDashboard) -> String {
    format!("grafana.com dashboard {} revision {}", n.gnet_id, n.revision)
}

fn check_json(n: &GnetDashboard, text: &str, from: &str) -> crate::error::Result<()> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| crate::failure!("{} from `{from}` is not JSON: {e}", what(n)))
}

fn fetch(net: &download::Net, loaded: &Loaded, n: &GnetDashboard) -> crate::error::Result<String> {
    let u = url(loaded, n);
    let text = net.get_text(&u).map_err(|e| {
        let hint = match &e {
            download::Error::Offline { .. } => {
                "run `monstack lock` and `monstack bundle` where there is network, and point downloads.local_dir at the bundle"
            }
            _ => "check `gnet_id` and `revision` on grafana.com, and `grafana.gnet_url`",
        };
        with_hint(crate::error::Error::from(e).context(format!("cannot fetch {}", what(n))), hint)
    })?;
    check_json(n, &text, &u)?;
    Ok(text)
}

/// A locked revision that is nowhere without network: what, why and where it was looked for.
fn not_local(n: &GnetDashboard, why: &str, where_: &str, looked: &[&Path]) -> crate::error::Error {
    let looked: Vec<String> = looked.iter().map(|p| format!("`{}`", p.display())).collect();
    with_hint(
        crate::failure!("{why}: {} is not in {where_}; looked at {}", what(n), looked.join(", ")),
        "run `monstack lock` and `monstack bundle` where there is network, and point downloads.local_dir at the bundle (or run without --offline)",
    )
}

/// `monstack lock`: fetch each configured revision and record its URL and digest.
pub(super) fn lock_entries(
    root: &Root,
    loaded: &Loaded,
    net: &NetOptions,
) -> crate::error::Result<Vec<GnetLockEntry>> {
    let d = &loaded.config.downloads;
    let web = download::Net::new(d, net.offline)?;
    let mut out = Vec::new();
    for n in configured(loaded) {
        let text = fetch(&web, loaded, &n)?;
        let sha = sha256(text.as_bytes());
        keep(&root.host(&d.cache_dir), &n, &sha, &text)?;
        out.push(GnetLockEntry {
            gnet_id: n.gnet_id,
            revision: n.revision,
            url: url(loaded, &n),
            sha256: sha,
        });
    }
    Ok(out)
}

fn cached(cache_dir: &Path, n: &GnetDashboard, sha: &str) -> PathBuf {
    cache_dir.join("gnet").join(sha).join(file_name(n))
}

fn keep(cache_dir: &Path, n: &GnetDashboard, sha: &str, text: &str) -> crate::error::Result<()> {
    let p = cached(cache_dir, n, sha);
    crate::atomic_fs::write_atomic(&p, text.as_bytes(), 0o644, Default::default())
        .map_err(|e| crate::failure!("cannot keep `{}`: {e}", p.display()))
}

/// The verified JSON of every configured revision, into `loaded.resolved.gnet`.
/// Trust: the monstack.lock entry; a revision with none is fetched and used as
/// served (said on stderr), and is an error under `--locked` or `--offline`.
pub fn materialize(
    root: &Root,
    mut loaded: Loaded,
    net: &NetOptions,
) -> crate::error::Result<Loaded> {
    let wanted = configured(&loaded);
    if wanted.is_empty() || !loaded.config.grafana.enabled {
        return Ok(loaded);
    }
    let rep = Reporter::default();
    let lock_path = lock::path(&loaded);
    let locked = LockFile::read(&lock_path)?.map(|l| l.dashboards).unwrap_or_default();
    let d = &loaded.config.downloads;
    let cache_dir = root.host(&d.cache_dir);
    let local_dir = d.local_dir.as_ref().map(|p| loaded.resolve(p));
    let web = download::Net::new(d, net.offline)?;
    let mut got = Vec::new();
    for n in wanted {
        let entry =
            locked.iter().find(|e| e.gnet_id == n.gnet_id && e.revision == n.revision).cloned();
        let Some(entry) = entry else {
            if net.locked || net.offline {
                return Err(with_hint(
                    crate::failure!(
                        "{}{}: no entry in `{}`",
                        if net.locked { "--locked: " } else { "--offline: " },
                        what(&n),
                        lock_path.display()
                    ),
                    "run `monstack lock` (with network) and commit monstack.lock",
                ));
            }
            let text = fetch(&web, &loaded, &n)?;
            rep.note(format!(
                "note: {} has no lock entry: used as served; run `monstack lock` to pin its digest",
                what(&n)
            ));
            got.push((n, text));
            continue;
        };
        let from_cache = fs::read_to_string(cached(&cache_dir, &n, &entry.sha256))
            .ok()
            .filter(|t| sha256(t.as_bytes()) == entry.sha256);
        let text = match from_cache {
            Some(t) => t,
            None => {
                let cache = cached(&cache_dir, &n, &entry.sha256);
                let (text, from) = match &local_dir {
                    Some(dir) => {
                        let places =
                            [dir.join(file_name(&n)), dir.join("gnet").join(file_name(&n))];
                        let Some(p) = places.iter().find(|p| p.is_file()) else {
                            return Err(not_local(
                                &n,
                                "downloads.local_dir (no network)",
                                "the cache or downloads.local_dir",
                                &[&cache, &places[0], &places[1]],
                            ));
                        };
                        let t = fs::read_to_string(p).map_err(fs_err("cannot read", p))?;
                        (t, p.display().to_string())
                    }
                    None if net.offline => {
                        return Err(not_local(&n, "--offline", "the cache", &[&cache]))
                    }
                    None => (fetch(&web, &loaded, &n)?, entry.url.clone()),
                };
                let sha = sha256(text.as_bytes());
                if sha != entry.sha256 {
                    return Err(with_hint(
                        crate::failure!(
                            "checksum mismatch for {} from `{from}`\nexpected: {} (from `{}`)\ncomputed: {sha}",
                            what(&n),
                            entry.sha256,
                            lock_path.display()
                        ),
                        "the dashboard is not the revision that was locked; nothing was pushed",
                    ));
                }
                check_json(&n, &text, &from)?;
                keep(&cache_dir, &n, &sha, &text)?;
                text
            }
        };
        got.push((n, text));
    }
    for (n, text) in got {
        loaded.resolved.gnet.insert((n.gnet_id, n.revision), text);
    }
    Ok(loaded)
}

/// `bundle`: copy each locked revision (verified, from the cache or the network)
/// into `out`; returns (file, digest) for sha256sums.txt.
pub(super) fn bundle(
    root: &Root,
    loaded: &Loaded,
    net: &NetOptions,
    lock: &LockFile,
    out: &Path,
) -> crate::error::Result<Vec<(PathBuf, String)>> {
    let cache_dir = root.host(&loaded.config.downloads.cache_dir);
    let web = download::Net::new(&loaded.config.downloads, net.offline)?;
    let mut files = Vec::new();
    for e in &lock.dashboards {
        let n = GnetDashboard { gnet_id: e.gnet_id, revision: e.revision, folder: None };
        let text = match fs::read_to_string(cached(&cache_dir, &n, &e.sha256))
            .ok()
            .filter(|t| sha256(t.as_bytes()) == e.sha256)
        {
            Some(t) => t,
            None => {
                let t = web.get_text(&e.url).map_err(|err| {
                    crate::error::Error::from(err).context(format!("cannot fetch {}", what(&n)))
                })?;
                if sha256(t.as_bytes()) != e.sha256 {
                    crate::bail!("checksum mismatch for {} from `{}`", what(&n), e.url);
                }
                keep(&cache_dir, &n, &e.sha256, &t)?;
                t
            }
        };
        let dest = out.join(file_name(&n));
        fs::write(&dest, text).map_err(fs_err("cannot write", &dest))?;
        files.push((dest, e.sha256.clone()));
    }
    Ok(files)
}
