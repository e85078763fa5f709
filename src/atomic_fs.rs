//! Crash-safe file writes: a temp file in the destination's directory, fsync, rename,
//! fsync of the directory; mode and owner set before the rename, so a reader never
//! sees a half-written file or a file with the wrong permissions. Also owns the
//! backups of previous content (kept in the state dir) and the clean-up of temp files
//! a killed run left behind. No knowledge of what the files mean.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Marker in the name of every temp file this module creates, so leftovers of a
/// killed run can be recognised (and only those are removed).
pub const TEMP_MARKER: &str = ".monstack-tmp.";

/// A file-system error with the subject it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {op} `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// As an `io::Error` of the same kind, its message naming the operation and path.
    pub fn into_io(self) -> io::Error {
        let Error::Io { op, path, source } = self;
        io::Error::new(source.kind(), format!("cannot {op} `{}`: {source}", path.display()))
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Numeric owner for a written file; `None` fields leave that id as created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Atomically replace `path` with `content`, creating parent directories.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32, owner: Owner) -> Result<(), Error> {
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}{TEMP_MARKER}{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create temp file", &tmp))?;
        f.write_all(content).map_err(io_err("write", &tmp))?;
        f.set_permissions(fs::Permissions::from_mode(mode)).map_err(io_err("chmod", &tmp))?;
        if owner.uid.is_some() || owner.gid.is_some() {
            std::os::unix::fs::fchown(&f, owner.uid, owner.gid).map_err(io_err("chown", &tmp))?;
        }
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The directory holding `path`: a bare file name (`--config p.yaml`) lives in `.`,
/// which `Path::parent` spells as an empty path that cannot be opened.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => Path::new("/"),
    }
}

/// fsync a directory so a rename in it survives a power loss.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("fsync directory", dir))
}

/// Remove a file and fsync its directory; one already gone is fine.
pub fn remove_file(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent_dir(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { op: "remove", path: path.to_path_buf(), source }),
    }
}

/// Read a file, `None` when it does not exist.
pub fn read_optional(label: &'static str, path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { op: label, path: path.to_path_buf(), source }),
    }
}

/// Permission bits and owner of an existing file.
pub fn stat(path: &Path) -> Option<(u32, u32, u32)> {
    fs::metadata(path).ok().map(|m| (m.mode() & 0o7777, m.uid(), m.gid()))
}

/// Remove temp files a killed run left in `dir` (only names carrying [`TEMP_MARKER`]).
/// Returns how many were removed.
pub fn remove_stray_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') && name.contains(TEMP_MARKER) && fs::remove_file(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// Backups of files' previous content, kept under `{state_dir}/backups` with the host
/// path flattened into the name (`/opt/prometheus/prometheus.yml` ->
/// `opt%prometheus%prometheus.yml`). A file that did not exist is recorded as absent,
/// so restoring removes it.
#[derive(Debug, Clone)]
pub struct Backups {
    dir: PathBuf,
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// The file existed with this content and mode.
    Content(Vec<u8>, u32),
    /// The file did not exist.
    Absent,
}

impl Backups {
    /// Backups in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn slot(&self, host_path: &Path) -> PathBuf {
        let flat = host_path.to_string_lossy().trim_start_matches('/').replace('/', "%");
        self.dir.join(flat)
    }

    /// Save the current content of `real` (the file under the root) for `host_path`.
    pub fn save(&self, host_path: &Path, real: &Path) -> Result<Saved, Error> {
        let slot = self.slot(host_path);
        let saved = match read_optional("read", real)? {
            Some(b) => {
                let mode = stat(real).map(|s| s.0).unwrap_or(0o644);
                write_atomic(&slot, &b, mode, Owner::default())?;
                let _ = fs::remove_file(absent_marker(&slot));
                Saved::Content(b, mode)
            }
            None => {
                write_atomic(&absent_marker(&slot), b"", 0o600, Owner::default())?;
                let _ = fs::remove_file(&slot);
                Saved::Absent
            }
        };
        Ok(saved)
    }

    /// Put the saved content back at `real` (or remove it when it was absent).
    pub fn restore(&self, saved: &Saved, real: &Path, owner: Owner) -> Result<(), Error> {
        match saved {
            Saved::Content(b, mode) => write_atomic(real, b, *mode, owner),
            Saved::Absent => remove_file(real),
        }
    }
}

fn absent_marker(slot: &Path) -> PathBuf {
    let mut s = slot.as_os_str().to_owned();
    s.push(".absent");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("monstack.lock")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/etc/x.yml")), Path::new("/etc"));
        sync_dir(parent_dir(Path::new("monstack.lock"))).unwrap();
    }

    #[test]
    fn writes_with_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/c.yml");
        write_atomic(&p, b"x: 1\n", 0o640, Owner::default()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x: 1\n");
        assert_eq!(stat(&p).unwrap().0, 0o640);
        write_atomic(&p, b"x: 2\n", 0o644, Owner::default()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x: 2\n");
        assert_eq!(stat(&p).unwrap().0, 0o644);
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn stray_temps_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(format!(".x.yml{TEMP_MARKER}123")), b"half").unwrap();
        fs::write(d.path().join("x.yml"), b"whole").unwrap();
        fs::write(d.path().join(".hidden"), b"user's").unwrap();
        assert_eq!(remove_stray_temps(d.path()), 1);
        assert!(d.path().join("x.yml").exists());
        assert!(d.path().join(".hidden").exists());
    }

    #[test]
    fn backup_and_restore_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let b = Backups::new(d.path().join("backups"));
        let real = d.path().join("etc/x.conf");
        let absent = b.save(Path::new("/etc/x.conf"), &real).unwrap();
        assert_eq!(absent, Saved::Absent);
        write_atomic(&real, b"old", 0o600, Owner::default()).unwrap();
        let old = b.save(Path::new("/etc/x.conf"), &real).unwrap();
        write_atomic(&real, b"new", 0o644, Owner::default()).unwrap();
        b.restore(&old, &real, Owner::default()).unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"old");
        assert_eq!(stat(&real).unwrap().0, 0o600);
        b.restore(&absent, &real, Owner::default()).unwrap();
        assert!(!real.exists());
    }
}
