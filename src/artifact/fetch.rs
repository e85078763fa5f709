//! Getting a verified tarball: from the cache (by digest), the component's `tarball`,
//! `downloads.local_dir` or the network, hashed while it streams into the staging dir.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::Context as _;

use super::{download, extract, fs_err, lock, verify, Error, NetOptions, Release, Reporter};
use crate::config::Loaded;
use crate::error::with_hint;
use crate::paths::Root;

/// The digest a tarball must have and where that trust comes from.
#[derive(Debug, Clone)]
pub(super) struct Expected {
    pub(super) sha256: String,
    pub(super) trust: String,
}

/// Everything a download needs, resolved once per command.
pub(super) struct Runtime<'a> {
    loaded: &'a Loaded,
    rep: &'a Reporter,
    cache_dir: PathBuf,
    local_dir: Option<PathBuf>,
    net: download::Net,
    offline: bool,
    max_bytes: u64,
    /// A download already started over from byte 0 (a server that ignores `Range`).
    restarted: std::cell::Cell<bool>,
}

impl<'a> Runtime<'a> {
    pub(super) fn new(
        root: &Root,
        loaded: &'a Loaded,
        net: &NetOptions,
        rep: &'a Reporter,
    ) -> crate::error::Result<Runtime<'a>> {
        let d = &loaded.config.downloads;
        Ok(Runtime {
            loaded,
            rep,
            cache_dir: root.host(&d.cache_dir),
            local_dir: d.local_dir.as_ref().map(|p| loaded.resolve(p)),
            net: download::Net::new(d, net.offline)?,
            offline: net.offline,
            max_bytes: d.max_extract_bytes,
            restarted: std::cell::Cell::new(false),
        })
    }

    /// Trust order: pin > lock (both in `known`) > sha256sums.txt.
    pub(super) fn expected_digest(
        &self,
        rel: &Release,
        known: Option<String>,
    ) -> crate::error::Result<Expected> {
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
    pub(super) fn digest_from_sums(&self, rel: &Release) -> crate::error::Result<(String, String)> {
        let (text, from) = match &self.local_dir {
            Some(dir) => {
                let p = [dir.join("sha256sums.txt"), local_layout(dir, rel).join("sha256sums.txt")]
                    .into_iter()
                    .find(|p| p.is_file())
                    .unwrap_or_else(|| dir.join("sha256sums.txt"));
                let text = fs::read_to_string(&p).map_err(fs_err("cannot read", &p))?;
                (text, p.display().to_string())
            }
            None => (
                self.net.get_text(&rel.sums_url).map_err(|e| network_error(e, rel))?,
                rel.sums_url.clone(),
            ),
        };
        if rel.kind == crate::config::ComponentKind::GrafanaServer && self.local_dir.is_none() {
            // Grafana publishes one `.sha256` per tarball, in two formats over time.
            let sha = verify::sidecar_digest(&text, &rel.file_name).map_err(|why| {
                with_hint(
                    crate::failure!("`{from}` cannot be used: {why}"),
                    "pin `grafana_server.sha256` (from a source you trust) or check the version and build_id",
                )
            })?;
            return Ok((sha, from));
        }
        let sha = verify::find_digest(&text, &rel.file_name).ok_or_else(|| Error::NoDigest {
            sums_url: from.clone(),
            file: rel.file_name.clone(),
        })?;
        Ok((sha, from))
    }

    pub(super) fn cached_path(&self, rel: &Release, sha: &str) -> PathBuf {
        self.cache_dir.join(sha).join(&rel.file_name)
    }

    /// Use the cached tarball when it is intact: true when done. A damaged one is
    /// removed (and `staging` emptied) so the caller fetches again; an intact one whose
    /// archive is refused is a final verdict.
    fn use_cached(
        &self,
        rel: &Release,
        exp: &Expected,
        staging: Option<&Path>,
        cached: &Path,
    ) -> crate::error::Result<bool> {
        if !cached.is_file() {
            return Ok(false);
        }
        let f = File::open(cached).map_err(fs_err("cannot read", cached))?;
        let label = format!("{} {} (cache)", rel.kind, rel.version);
        let from = cached.display().to_string();
        let len = f.metadata().ok().map(|m| m.len());
        match self.stream(rel, f, len, staging, &label) {
            Ok(sha) if sha == exp.sha256 => {
                self.rep.note(format!("{}: using cached `{from}`", rel.kind));
                return Ok(true);
            }
            // Trusted bytes, refused content: the verdict stands.
            Err(StreamError::Refused { sha256, error }) if sha256 == exp.sha256 => {
                return Err(crate::error::Error::from(error).context(format!(
                    "cannot install `{}` {} from `{from}`",
                    rel.kind, rel.version
                )));
            }
            _ => {}
        }
        self.rep.note(format!("{}: cached `{from}` is damaged; fetching again", rel.kind));
        let _ = fs::remove_file(cached);
        reset(staging)?;
        Ok(false)
    }

    /// Get the verified tarball bytes through `staging` (extracting) or only into the
    /// cache (`None`). On success the tarball is in the cache.
    pub(super) fn obtain(
        &self,
        rel: &Release,
        exp: &Expected,
        staging: Option<&Path>,
    ) -> crate::error::Result<()> {
        let cached = self.cached_path(rel, &exp.sha256);
        if self.use_cached(rel, exp, staging, &cached)? {
            return Ok(());
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
        let failed = failure.borrow_mut().take();
        if let Some(e) = failed {
            if matches!(e, download::Error::NoResume { .. }) && !self.restarted.replace(true) {
                // The server answered a resume with the whole file: what was received
                // cannot be continued, so start over from byte 0 now.
                self.rep.note(format!(
                    "{}: `{}` cannot resume (no 206 to `Range`); downloading again from the start",
                    rel.kind, rel.url
                ));
                let _ = fs::remove_file(&partial);
                reset(staging)?;
                return self.obtain(rel, exp, staging);
            }
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
        sha: Result<String, StreamError>,
        partial: &Path,
        cached: &Path,
        from: &str,
    ) -> crate::error::Result<()> {
        let (sha, extract_err) = match sha {
            Ok(s) => (s, None),
            Err(StreamError::Refused { sha256, error }) => (sha256, Some(error)),
            Err(StreamError::Read(e)) => {
                let _ = fs::remove_file(partial);
                return Err(e);
            }
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
            Some(e) => Err(crate::error::Error::from(e)
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
    ) -> Result<String, StreamError> {
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
        let (sha, _) = finished.context("reading the tarball").map_err(StreamError::Read)?;
        match extracted {
            Ok(()) => Ok(sha),
            Err(error) => Err(StreamError::Refused { sha256: sha, error }),
        }
    }
}

/// Why [`Runtime::stream`] did not yield a digest of a good archive.
#[derive(Debug)]
enum StreamError {
    /// The bytes could not be read to the end (network, disk).
    Read(crate::error::Error),
    /// The bytes were read in full (`sha256`), but the archive was refused.
    Refused { sha256: String, error: extract::Error },
}

fn reset(staging: Option<&Path>) -> crate::error::Result<()> {
    if let Some(dir) = staging {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir(dir).map_err(fs_err("cannot create", dir))?;
    }
    Ok(())
}

/// SHA-256 of a local file, streamed.
pub(super) fn file_digest(path: &Path) -> crate::error::Result<String> {
    let f = File::open(path).map_err(fs_err("cannot read", path))?;
    let h = verify::Hashing::new(BufReader::with_capacity(256 * 1024, f), None);
    let (sha, _) = h.finish().map_err(fs_err("cannot read", path))?;
    Ok(sha)
}

/// `file://` URL of a local tarball, for the lock entry.
pub(super) fn file_url(path: &Path) -> String {
    std::path::absolute(path)
        .ok()
        .and_then(|p| url::Url::from_file_path(p).ok())
        .map_or_else(|| path.display().to_string(), String::from)
}

/// `{dir}/prometheus/{project}/releases/download/v{version}`: a mirror tree copied as is.
pub(super) fn local_layout(dir: &Path, rel: &Release) -> PathBuf {
    dir.join("prometheus")
        .join(rel.kind.project())
        .join("releases/download")
        .join(format!("v{}", rel.version))
}

pub(super) fn network_error(e: download::Error, rel: &Release) -> crate::error::Error {
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
