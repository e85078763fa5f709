//! Host paths under an optional `--root`: every absolute path monstack touches goes
//! through [`Root::host`], so tests, image builds and sandboxes stay inside the root.

use std::path::{Component, Path, PathBuf};

/// The directory treated as `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    root: PathBuf,
}

impl Default for Root {
    fn default() -> Self {
        Self { root: PathBuf::from("/") }
    }
}

impl Root {
    /// A root at `dir` (`/` for the real host).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { root: dir.into() }
    }

    /// True when this is the real `/` (users may be created, systemd used).
    pub fn is_host(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The directory used as `/`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Map an absolute host path (e.g. `/etc/systemd/system/x`) into the root.
    /// Relative paths are taken as relative to `/`. `..` components are dropped,
    /// so nothing can escape the root.
    pub fn host(&self, path: impl AsRef<Path>) -> PathBuf {
        let mut out = self.root.clone();
        for c in path.as_ref().components() {
            if let Component::Normal(part) = c {
                out.push(part);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_stay_inside_root() {
        let r = Root::new("/tmp/r");
        assert_eq!(r.host("/etc/x"), PathBuf::from("/tmp/r/etc/x"));
        assert_eq!(r.host("/etc/../../x"), PathBuf::from("/tmp/r/etc/x"));
        assert_eq!(Root::default().host("/etc/x"), PathBuf::from("/etc/x"));
    }
}
