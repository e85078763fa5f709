//! Host accounts and directories for the components: a system user (no login
//! shell, own group) per component, created when missing, and its data dir owned
//! by it. Under a `--root` other than `/` no user is created and nothing is
//! chowned; the dirs are still created inside the root.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{ComponentKind, Loaded};
use crate::paths::Root;

/// Host setup failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create system user `{user}`: `{command}` failed: {detail}")]
    UserAdd { user: String, command: String, detail: String },
    #[error("cannot create system user `{user}`: neither useradd nor adduser is installed")]
    NoUserAdd { user: String },
    #[error("cannot prepare `{path}`: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
}

/// What [`ensure_component`] changed, for the user to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostChanges {
    pub created_user: Option<String>,
    pub created_dirs: Vec<PathBuf>,
    pub chowned: Vec<PathBuf>,
}

impl HostChanges {
    pub fn is_empty(&self) -> bool {
        self.created_user.is_none() && self.created_dirs.is_empty() && self.chowned.is_empty()
    }
}

/// The component's user exists (on the real host) and its data dir exists and is
/// owned by it.
pub fn ensure_component(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
) -> Result<HostChanges, Error> {
    let comp = loaded.config.component(kind);
    let mut changes = HostChanges::default();
    let owner = if root.is_host() {
        if lookup_user(&comp.user).is_none() {
            create_system_user(&comp.user, &comp.data_dir)?;
            changes.created_user = Some(comp.user.clone());
        }
        lookup_user(&comp.user)
    } else {
        None
    };
    let dir = root.host(&comp.data_dir);
    let derr = |source| Error::Dir { path: dir.clone(), source };
    if !dir.is_dir() {
        fs::create_dir_all(&dir).map_err(derr)?;
        changes.created_dirs.push(dir.clone());
    }
    if let Some((uid, gid)) = owner {
        let meta = fs::metadata(&dir).map_err(derr)?;
        if meta.uid() != uid || meta.gid() != gid {
            // A data dir taken over from a hand install: hand over its contents too.
            chown_tree(&dir, uid, gid).map_err(derr)?;
            changes.chowned.push(dir.clone());
        }
    }
    Ok(changes)
}

/// The owner and group each logrotate entry's `create` names must exist on the real
/// host: logrotate refuses a file naming an unknown one, and with it the host's whole
/// daily run. A service user of an enabled component is fine (apply creates it with
/// its group before the file lands); any other missing name is refused here, before
/// anything changes (exit 78, every entry at once), with a hint. Under `--root` no
/// user is created or looked up: nothing to check.
pub fn check_log_owners(root: &Root, loaded: &Loaded) -> crate::error::Result<()> {
    let c = &loaded.config;
    if !root.is_host() || !c.logrotate.enabled {
        return Ok(());
    }
    let managed: Vec<String> =
        c.enabled_components().into_iter().map(|(_, comp)| comp.user).collect();
    let mut errors = Vec::new();
    for (i, e) in c.logrotate.entries.iter().enumerate() {
        let Some(create) = &e.create else { continue };
        let missing = [
            ("owner", "user", &create.owner, lookup_user(&create.owner).is_some()),
            ("group", "group", &create.group, lookup_group(&create.group).is_some()),
        ];
        for (key, what, name, exists) in missing {
            if !exists && !managed.contains(name) {
                errors.push(loaded.error_at(
                    &format!("logrotate.entries[{i}].create.{key}"),
                    format!(
                        "{what} `{name}` does not exist on this host, and it is not a service user monstack manages: logrotate would refuse `/etc/logrotate.d/{}` and fail the host's whole run",
                        e.name
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(crate::error::with_hint(
        crate::error::ConfigErrors(errors),
        "create it first (`useradd --system NAME`, `groupadd --system NAME`), or name an existing owner (the user and group that write the log, e.g. `root` and `adm` for rsyslog's files)",
    ))
}

/// `chown -R` without following symlinks.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    if fs::symlink_metadata(dir)?.is_dir() {
        for e in fs::read_dir(dir)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Changing this host (no `--root`) needs root: say so before anything is touched,
/// instead of failing half-way on the first file or user.
pub fn require_root(root: &Root, command: &str) -> crate::error::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if root.is_host() && unsafe { libc::geteuid() } != 0 {
        return Err(crate::error::with_hint(
            crate::failure!("`monstack {command}` changes this host and needs root"),
            "run it as root (sudo), or give --root DIR to work on a directory tree instead",
        ));
    }
    Ok(())
}

/// uid and gid of a user, from the passwd database.
pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage that stays valid
    // until the next getpw* call; both fields are copied out immediately.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    }
}

/// gid of a group, if it exists.
pub fn lookup_group(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: as lookup_user.
    unsafe {
        let gr = libc::getgrnam(c.as_ptr());
        if gr.is_null() {
            None
        } else {
            Some((*gr).gr_gid)
        }
    }
}

/// The command that creates a system user with its own group, no home dir created
/// and no login shell: `useradd` when present, else Debian's `adduser`. A group of
/// the user's name that already exists (left behind by a removed package, or made
/// by hand) becomes its primary group instead of making useradd fail.
pub fn user_add_command(user: &str, home: &Path) -> Option<Vec<String>> {
    let group_exists = lookup_group(user).is_some();
    let shell = ["/usr/sbin/nologin", "/sbin/nologin"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/false");
    let home = home.display().to_string();
    if let Ok(useradd) = which::which("useradd") {
        Some(vec![
            useradd.display().to_string(),
            "--system".into(),
            if group_exists { format!("--gid={user}") } else { "--user-group".into() },
            "--no-create-home".into(),
            "--home-dir".into(),
            home,
            "--shell".into(),
            shell.into(),
            user.into(),
        ])
    } else if let Ok(adduser) = which::which("adduser") {
        Some(vec![
            adduser.display().to_string(),
            "--system".into(),
            if group_exists { format!("--ingroup={user}") } else { "--group".into() },
            "--no-create-home".into(),
            "--home".into(),
            home,
            "--shell".into(),
            shell.into(),
            user.into(),
        ])
    } else {
        None
    }
}

fn create_system_user(user: &str, home: &Path) -> Result<(), Error> {
    let argv =
        user_add_command(user, home).ok_or_else(|| Error::NoUserAdd { user: user.into() })?;
    let out = Command::new(&argv[0]).args(&argv[1..]).output();
    let command = argv.join(" ");
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(Error::UserAdd {
            user: user.into(),
            command,
            detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        }),
        Err(e) => Err(Error::UserAdd { user: user.into(), command, detail: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_add_has_no_login_shell_and_no_home() {
        let argv = user_add_command("prometheus", Path::new("/opt/prometheus/data")).unwrap();
        assert!(argv.iter().any(|a| a == "--system"));
        assert!(argv.iter().any(|a| a == "--no-create-home"));
        assert!(argv.iter().any(|a| a.ends_with("nologin") || a == "/bin/false"));
        assert_eq!(argv.last().unwrap(), "prometheus");
    }

    #[test]
    fn chown_tree_reaches_nested_entries_without_following_links() {
        if unsafe { libc::geteuid() } != 0 {
            return; // chown to another uid needs root
        }
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        fs::create_dir_all(data.join("wal")).unwrap();
        fs::write(data.join("wal/00001"), b"x").unwrap();
        let outside = d.path().join("outside");
        fs::write(&outside, b"x").unwrap();
        std::os::unix::fs::symlink(&outside, data.join("link")).unwrap();
        chown_tree(&data, 65534, 65534).unwrap();
        assert_eq!(fs::metadata(data.join("wal/00001")).unwrap().uid(), 65534);
        assert_eq!(fs::metadata(data.join("wal")).unwrap().gid(), 65534);
        assert_eq!(fs::symlink_metadata(data.join("link")).unwrap().uid(), 65534);
        assert_eq!(fs::metadata(&outside).unwrap().uid(), 0, "links are not followed");
    }

    #[test]
    fn root_is_a_known_user() {
        assert_eq!(lookup_user("root"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-here"), None);
    }
}
