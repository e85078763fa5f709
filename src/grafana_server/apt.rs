//! `grafana_server.source: apt`: Grafana from its apt repository, version pinned. apply
//! puts the verified keyring in place (the sources and pin files land with the other
//! files), refreshes only Grafana's source and installs the configured version when
//! dpkg reports another, then runs the package's own unit (enable, start, restart on a
//! new package or a changed grafana.ini). Only on the host itself, under systemd.

use std::process::Command;
use std::time::Duration;

use crate::error::bail;
use crate::error::{Context as _, Result};
use sha2::{Digest, Sha256};

use crate::atomic_fs::{self, Owner};
use crate::config::{ComponentKind, Loaded};
use crate::manager_kind::ServiceManagerKind;
use crate::paths::Root;
use crate::report::{Action, Change};

/// The package's own unit (`grafana` and `grafana-enterprise` both ship it).
pub const UNIT: &str = "grafana-server.service";

/// What the plan shows for the package: the keyring, the package and its service,
/// observed read-only (dpkg-query, systemctl); nothing under `--root`.
pub fn planned(root: &Root, loaded: &Loaded) -> Vec<Change> {
    if !root.is_host() || !super::apt_managed(loaded) {
        return Vec::new();
    }
    let g = &loaded.config.grafana_server;
    let mut out = Vec::new();
    if let Some(want) = &g.apt_key_sha256 {
        let have = std::fs::read(&g.apt_keyring).ok().map(|b| hex::encode(Sha256::digest(b)));
        let action = match have {
            None => Action::Create,
            Some(h) if !h.eq_ignore_ascii_case(want) => Action::Update,
            Some(_) => Action::Unchanged,
        };
        out.push(Change::new("file", g.apt_keyring.display().to_string(), action));
    }
    let installed = installed_version(&g.apt_package).ok().flatten();
    let (action, detail) = package_action(installed.as_deref(), &g.version);
    out.push(Change { detail, ..Change::new("package", g.apt_package.clone(), action) });
    let active = systemctl(&["is-active", "--quiet", UNIT]).is_ok();
    let action = if active && action == Action::Unchanged {
        Action::Unchanged
    } else if active {
        Action::Restart
    } else {
        Action::Start
    };
    out.push(Change::new("service", ComponentKind::GrafanaServer.name(), action));
    out
}

/// Refuse what cannot work before anything changes: a package is installed on the
/// host itself (not under `--root`), and its unit needs systemd.
pub fn preflight(root: &Root, manager: ServiceManagerKind) -> Result<()> {
    if !root.is_host() {
        bail!(
            "`grafana_server.source: apt` installs a package: apply it to the host itself, \
             not under --root (or use `source: tarball`)"
        );
    }
    if manager != ServiceManagerKind::Systemd {
        bail!(
            "`grafana_server.source: apt` runs the package's `{UNIT}`, which needs systemd \
             (the service manager here is `{}`)",
            format!("{manager:?}").to_lowercase()
        );
    }
    Ok(())
}

/// Converge the package after the files landed: keyring, install, service. `ini_changed`:
/// grafana.ini was rewritten (Grafana reads it only at start).
pub fn converge(loaded: &Loaded, ini_changed: bool, info: &dyn Fn(String)) -> Result<Vec<Change>> {
    let g = &loaded.config.grafana_server;
    let mut done = Vec::new();
    if let Some(c) = ensure_keyring(loaded)? {
        done.push(c);
    }
    let before = installed_version(&g.apt_package)?;
    let (action, detail) = package_action(before.as_deref(), &g.version);
    if action != Action::Unchanged {
        info(format!("installing {}={} from {}", g.apt_package, g.version, g.apt_repository));
        install(&g.apt_package, &g.version)?;
        let after = installed_version(&g.apt_package)?;
        if after.as_deref() != Some(g.version.as_str()) {
            bail!(
                "apt installed `{}` {} but the config asks for {}",
                g.apt_package,
                after.as_deref().unwrap_or("nothing"),
                g.version
            );
        }
        done.push(Change { detail, ..Change::new("package", g.apt_package.clone(), action) });
    }
    // The package creates the `grafana` group only now: grafana.ini (0640) must be
    // readable by it.
    let ini = crate::config::grafana_ini_path(&loaded.config);
    if let (true, Some(gid)) = (ini.exists(), crate::host::lookup_group(&g.user)) {
        std::os::unix::fs::chown(&ini, Some(0), Some(gid))
            .with_context(|| format!("cannot give `{}` to group `{}`", ini.display(), g.user))?;
    }
    if let Some(c) = service(loaded, action != Action::Unchanged, ini_changed, info)? {
        done.push(c);
    }
    Ok(done)
}

/// The installed version of `package` (dpkg-query), `None` when it is not installed.
pub fn installed_version(package: &str) -> Result<Option<String>> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Status}\t${Version}", package])
        .output()
        .context("cannot run `dpkg-query`")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(match text.split_once('\t') {
        Some(("installed", v)) if out.status.success() => Some(v.trim().to_string()),
        _ => None,
    })
}

fn package_action(installed: Option<&str>, want: &str) -> (Action, Option<String>) {
    match installed {
        None => (Action::Create, Some(want.to_string())),
        Some(v) if v != want => (Action::Update, Some(format!("{v} -> {want}"))),
        Some(_) => (Action::Unchanged, None),
    }
}

/// `apt_key` (a file or an https URL) verified against `apt_key_sha256`, written to
/// `apt_keyring` when that differs. Nothing is written when the digest does not match.
fn ensure_keyring(loaded: &Loaded) -> Result<Option<Change>> {
    let g = &loaded.config.grafana_server;
    let (Some(src), Some(want)) = (&g.apt_key, &g.apt_key_sha256) else {
        if !g.apt_keyring.is_file() {
            bail!(
                "the apt keyring `{}` does not exist: put Grafana's key there, or set \
                 `grafana_server.apt_key` and `apt_key_sha256`",
                g.apt_keyring.display()
            );
        }
        return Ok(None);
    };
    let existing = std::fs::read(&g.apt_keyring).ok();
    if existing.as_ref().is_some_and(|b| hex::encode(Sha256::digest(b)).eq_ignore_ascii_case(want))
    {
        return Ok(None);
    }
    let bytes = if src.starts_with("https://") {
        crate::http::builder()
            .timeout(Duration::from_secs(60))
            .build()?
            .get(src)
            .send()
            .and_then(reqwest::blocking::Response::error_for_status)
            .and_then(reqwest::blocking::Response::bytes)
            .with_context(|| format!("cannot download the apt key `{src}`"))?
            .to_vec()
    } else {
        std::fs::read(src).with_context(|| format!("cannot read the apt key `{src}`"))?
    };
    let computed = hex::encode(Sha256::digest(&bytes));
    if !computed.eq_ignore_ascii_case(want) {
        bail!(
            "checksum mismatch for the apt key `{src}` (grafana_server.apt_key_sha256)\n\
             expected: {want}\ncomputed: {computed}"
        );
    }
    atomic_fs::write_atomic(&g.apt_keyring, &bytes, 0o644, Owner::default())?;
    let action = if existing.is_some() { Action::Update } else { Action::Create };
    Ok(Some(Change::new("file", g.apt_keyring.display().to_string(), action)))
}

/// `apt-get update` of Grafana's source only, then `apt-get install PACKAGE=VERSION`
/// (downgrades allowed: the config is the truth; grafana.ini kept as monstack wrote it).
fn install(package: &str, version: &str) -> Result<()> {
    apt_get(&[
        "update",
        "-q",
        "-o",
        &format!("Dir::Etc::SourceList={}", super::APT_SOURCES),
        "-o",
        "Dir::Etc::SourceParts=-",
        "-o",
        "APT::Get::List-Cleanup=0",
    ])?;
    apt_get(&[
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "--allow-downgrades",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        &format!("{package}={version}"),
    ])
}

fn apt_get(args: &[&str]) -> Result<()> {
    let out = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .context("cannot run `apt-get`")?;
    // `apt-get update` exits 0 when a source failed to refresh; its `E:`/`W:` lines say so.
    let err = String::from_utf8_lossy(&out.stderr);
    let refused = args[0] == "update"
        && err.lines().any(|l| l.starts_with("E:") || l.starts_with("W: Failed to fetch"));
    if !out.status.success() || refused {
        let tail: Vec<&str> = err.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("`apt-get {}` failed ({}):\n{}", args[0], out.status, tail.join("\n"));
    }
    Ok(())
}

/// Enable the package's unit; start it, or restart it onto a new package or grafana.ini;
/// then wait until `/api/health` answers.
fn service(
    loaded: &Loaded,
    installed: bool,
    ini_changed: bool,
    info: &dyn Fn(String),
) -> Result<Option<Change>> {
    systemctl(&["daemon-reload"])?;
    if systemctl(&["is-enabled", "--quiet", UNIT]).is_err() {
        systemctl(&["enable", "--quiet", UNIT])?;
    }
    let active = systemctl(&["is-active", "--quiet", UNIT]).is_ok();
    let (verb, action, why) = match (active, installed, ini_changed) {
        (false, _, _) => ("start", Action::Start, "not running"),
        (true, true, _) => ("restart", Action::Restart, "new package"),
        (true, false, true) => ("restart", Action::Restart, "grafana.ini changed"),
        (true, false, false) => return Ok(None),
    };
    info(format!("{verb}ing {UNIT}"));
    systemctl(&[verb, UNIT])?;
    let web = crate::web::WebClient::of(loaded, ComponentKind::GrafanaServer)?;
    let address = loaded.local_address(ComponentKind::GrafanaServer);
    crate::ready::wait_ready(
        ComponentKind::GrafanaServer,
        &address,
        &web,
        crate::ready::ready_timeout(),
        &|| systemctl(&["is-active", "--quiet", UNIT]).is_ok(),
        &|| journal_tail(UNIT),
    )
    .with_context(|| format!("`{UNIT}` did not become ready"))?;
    Ok(Some(Change {
        detail: Some(why.to_string()),
        ..Change::new("service", ComponentKind::GrafanaServer.name(), action)
    }))
}

fn systemctl(args: &[&str]) -> Result<()> {
    let out = Command::new("systemctl").args(args).output().context("cannot run `systemctl`")?;
    if !out.status.success() {
        bail!(
            "`systemctl {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn journal_tail(unit: &str) -> String {
    Command::new("journalctl")
        .args(["-u", unit, "-n", "20", "--no-pager", "-o", "cat"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// True when the package's unit is active.
pub fn unit_active() -> bool {
    systemctl(&["is-active", "--quiet", UNIT]).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_action_follows_the_installed_version() {
        assert_eq!(package_action(None, "12.2.0"), (Action::Create, Some("12.2.0".into())));
        assert_eq!(
            package_action(Some("12.1.0"), "12.2.0"),
            (Action::Update, Some("12.1.0 -> 12.2.0".into()))
        );
        assert_eq!(package_action(Some("12.2.0"), "12.2.0"), (Action::Unchanged, None));
    }

    #[test]
    fn preflight_refuses_a_sandbox_and_direct() {
        let sandbox = Root::new(std::path::PathBuf::from("/tmp/x"));
        let e = preflight(&sandbox, ServiceManagerKind::Systemd).unwrap_err().to_string();
        assert!(e.contains("--root"), "{e}");
        let host = Root::new(std::path::PathBuf::from("/"));
        let e = preflight(&host, ServiceManagerKind::Direct).unwrap_err().to_string();
        assert!(e.contains("systemd"), "{e}");
        assert!(preflight(&host, ServiceManagerKind::Systemd).is_ok());
    }
}
