//! Safe extraction of a release `.tar.gz` into a staging directory, streaming.
//!
//! Only the contents of the expected top-level directory are extracted, into the
//! staging dir itself. Refused, each naming the entry: absolute paths, `..`,
//! entries outside the top-level dir, paths that go through a symlink, symlinks
//! and hard links that resolve outside the release, devices, fifos, and more
//! than `max_bytes` of content (tar bomb). Modes are normalised to 0755/0644 and
//! ownership is not kept. This module never decides whether the bytes are trusted.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

/// Extraction failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("refusing archive entry `{entry}`: {reason}")]
    Refused { entry: String, reason: String },
    #[error("cannot extract archive entry `{entry}` to `{path}`: {source}")]
    Write { entry: String, path: PathBuf, source: io::Error },
    #[error("cannot read the archive: {0}")]
    Read(io::Error),
}

fn refuse(entry: &str, reason: impl Into<String>) -> Error {
    Error::Refused { entry: entry.to_string(), reason: reason.into() }
}

/// Copy buffer: large enough that the per-call overhead of the reader chain
/// (HTTP, hashing, inflate) does not show, small enough to keep memory flat.
const BUF: usize = 256 * 1024;

/// Extract the gzip'd tar from `reader`; the contents of `top/` land in `staging`
/// (which must exist and be empty). Returns the number of content bytes written.
pub fn extract_tar_gz<R: Read>(
    reader: R,
    staging: &Path,
    top: &str,
    max_bytes: u64,
) -> Result<u64, Error> {
    let mut archive = tar::Archive::new(GzDecoder::new(reader));
    let mut written = 0u64;
    let mut buf = vec![0u8; BUF];
    for entry in archive.entries().map_err(Error::Read)? {
        let mut entry = entry.map_err(Error::Read)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let Some(rel) = inside_top(&name, Path::new(&name), top)? else {
            if kind.is_dir() {
                continue; // the top-level dir itself is the staging dir
            }
            return Err(refuse(
                &name,
                format!("a non-directory named like the top-level dir `{top}`"),
            ));
        };
        let dest = staging.join(&rel);
        no_symlink_parents(&name, staging, &rel)?;
        let wr = |source| Error::Write { entry: name.clone(), path: dest.clone(), source };
        match kind {
            EntryType::Directory => {
                fs::create_dir_all(&dest).map_err(wr)?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).map_err(wr)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                if written.saturating_add(size) > max_bytes {
                    return Err(refuse(
                        &name,
                        format!(
                            "the archive expands to more than {max_bytes} bytes (tar bomb?); \
                             raise downloads.max_extract_bytes if this release is that large"
                        ),
                    ));
                }
                let mode =
                    if entry.header().mode().unwrap_or(0) & 0o111 != 0 { 0o755 } else { 0o644 };
                make_parent(&dest).map_err(wr)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(&dest)
                    .map_err(wr)?;
                loop {
                    let n = entry.read(&mut buf).map_err(Error::Read)?;
                    if n == 0 {
                        break;
                    }
                    file.write_all(&buf[..n]).map_err(wr)?;
                    written += n as u64;
                }
                fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).map_err(wr)?;
            }
            EntryType::Symlink => {
                let target = link_target(&entry, &name, "symlink")?;
                symlink_stays_inside(&name, &rel, &target)?;
                make_parent(&dest).map_err(wr)?;
                std::os::unix::fs::symlink(&target, &dest).map_err(wr)?;
            }
            EntryType::Link => {
                let target = link_target(&entry, &name, "hard link")?;
                let src = hard_link_source(&name, staging, top, &target)?;
                make_parent(&dest).map_err(wr)?;
                fs::hard_link(&src, &dest).map_err(wr)?;
            }
            EntryType::Char | EntryType::Block => return Err(refuse(&name, "device file")),
            EntryType::Fifo => return Err(refuse(&name, "fifo")),
            other => return Err(refuse(&name, format!("unsupported entry type {other:?}"))),
        }
    }
    Ok(written)
}

/// The target a symlink or hard link entry names.
fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    what: &str,
) -> Result<PathBuf, Error> {
    Ok(entry
        .link_name()
        .map_err(Error::Read)?
        .ok_or_else(|| refuse(name, format!("{what} without a target")))?
        .into_owned())
}

/// A symlink at `rel` (below the top dir) may only point inside the release.
fn symlink_stays_inside(name: &str, rel: &Path, target: &Path) -> Result<(), Error> {
    if target.is_absolute() {
        return Err(refuse(name, format!("symlink to absolute path `{}`", target.display())));
    }
    let mut stack: Vec<_> = rel.parent().into_iter().flat_map(|p| p.components()).collect();
    for c in target.components() {
        match c {
            Component::Normal(_) => stack.push(c),
            Component::CurDir => {}
            _ => {
                if stack.pop().is_none() {
                    return Err(refuse(
                        name,
                        format!("symlink to `{}` points outside the release", target.display()),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The already extracted regular file a hard link entry points at.
fn hard_link_source(
    name: &str,
    staging: &Path,
    top: &str,
    target: &Path,
) -> Result<PathBuf, Error> {
    let shown = target.display().to_string();
    let trel = inside_top(name, target, top)
        .map_err(|_| refuse(name, format!("hard link to `{shown}` outside the release")))?
        .ok_or_else(|| refuse(name, format!("hard link to the top-level dir `{shown}`")))?;
    no_symlink_parents(name, staging, &trel)?;
    let src = staging.join(&trel);
    match fs::symlink_metadata(&src) {
        Ok(m) if m.file_type().is_file() => Ok(src),
        _ => Err(refuse(
            name,
            format!("hard link to `{shown}`, which is not a file extracted before it"),
        )),
    }
}

/// The path of `path` below the top-level dir: `None` for the top dir itself.
fn inside_top(entry: &str, path: &Path, top: &str) -> Result<Option<PathBuf>, Error> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => {
                return Err(refuse(entry, "absolute path"));
            }
            Component::ParentDir => return Err(refuse(entry, "`..` in the path")),
            Component::CurDir => {}
            Component::Normal(p) => parts.push(p),
        }
    }
    let Some((first, rest)) = parts.split_first() else {
        return Err(refuse(entry, "empty path"));
    };
    if *first != top {
        return Err(refuse(entry, format!("outside the expected top-level directory `{top}/`")));
    }
    Ok((!rest.is_empty()).then(|| rest.iter().collect()))
}

/// Refuse writing through a symlink an earlier entry created.
fn no_symlink_parents(entry: &str, staging: &Path, rel: &Path) -> Result<(), Error> {
    let mut p = staging.to_path_buf();
    let parents: Vec<_> = rel.components().collect();
    for c in &parents[..parents.len().saturating_sub(1)] {
        p.push(c);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    entry,
                    format!("path goes through the symlink `{}`", c.as_os_str().to_string_lossy()),
                ));
            }
            Ok(m) if !m.is_dir() => return Err(refuse(entry, "a parent is not a directory")),
            _ => {}
        }
    }
    Ok(())
}

fn make_parent(dest: &Path) -> io::Result<()> {
    match dest.parent() {
        Some(p) => fs::create_dir_all(p),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    fn entry(
        b: &mut tar::Builder<GzEncoder<Vec<u8>>>,
        kind: EntryType,
        path: &str,
        mode: u32,
        link: Option<&str>,
        data: &[u8],
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_path(path).unwrap();
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn good_archive_extracts_with_normalised_modes_and_inner_links() {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        entry(&mut b, EntryType::Directory, "top/", 0o777, None, &[]);
        entry(&mut b, EntryType::Regular, "top/prometheus", 0o4755, None, b"#!/bin/sh\n");
        entry(&mut b, EntryType::Regular, "top/consoles/index.html", 0o600, None, b"<h1>");
        entry(&mut b, EntryType::Symlink, "top/consoles/bin", 0o777, Some("../prometheus"), &[]);
        entry(&mut b, EntryType::Link, "top/promtool", 0o755, Some("top/prometheus"), &[]);
        let gz = b.into_inner().unwrap().finish().unwrap();
        let d = tempfile::tempdir().unwrap();
        let n = extract_tar_gz(&gz[..], d.path(), "top", 1 << 20).unwrap();
        assert_eq!(n, 14);
        let mode =
            |p: &str| fs::symlink_metadata(d.path().join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("prometheus"), 0o755, "setuid dropped");
        assert_eq!(mode("consoles/index.html"), 0o644);
        assert_eq!(fs::read(d.path().join("consoles/bin")).unwrap(), b"#!/bin/sh\n");
        assert_eq!(fs::read(d.path().join("promtool")).unwrap(), b"#!/bin/sh\n");
    }
}
