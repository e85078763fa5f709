//! Grafana itself (`grafana_server`): what monstack writes for it besides the release
//! (installed through `artifact`) and the unit (`render`): the apt alternative's
//! sources and pin files, and the checks of grafana.ini and the sources file.
//! [`apt`] installs and runs the package of `source: apt`.

pub mod apt;

use std::path::Path;

use crate::config::Loaded;
use crate::hostfile::{FileRole, RenderedFile};

/// The apt sources file of `source: apt`.
pub const APT_SOURCES: &str = "/etc/apt/sources.list.d/grafana.list";
/// The apt preferences file that pins the configured version.
pub const APT_PIN: &str = "/etc/apt/preferences.d/grafana";

/// `source: apt`: the official repository `signed-by` the configured keyring (no
/// apt-key), and a pin that keeps `grafana` at the configured version.
pub fn apt_files(loaded: &Loaded) -> Vec<RenderedFile> {
    let g = &loaded.config.grafana_server;
    let sources = format!(
        "# Managed by monstack: the official Grafana repository, signed-by its keyring.\n\
         deb [signed-by={}] {}\n",
        g.apt_keyring.display(),
        g.apt_repository.trim()
    );
    let pin = format!(
        "# Managed by monstack: keep Grafana at the configured version.\n\
         Package: {}\nPin: version {}\nPin-Priority: 1001\n",
        g.apt_package, g.version
    );
    vec![
        RenderedFile::plain(APT_SOURCES, sources, FileRole::AptSource),
        RenderedFile::plain(APT_PIN, pin, FileRole::AptSource),
    ]
}

/// grafana.ini as monstack writes it: `[section]` headers and `key = value` lines
/// only, and the admin password never inline (only through `$__file{...}`).
pub fn check_ini(text: &str) -> Result<(), String> {
    let mut section = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .filter(|s| !s.is_empty() && !s.contains(['[', ']']))
                .ok_or_else(|| format!("line {n}: `{line}` is not a [section] header"))?;
            section = name.to_string();
            continue;
        }
        let (key, value) =
            line.split_once('=').ok_or_else(|| format!("line {n}: `{line}` is not key = value"))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("line {n}: `{key}` is not a key"));
        }
        if section.is_empty() {
            return Err(format!("line {n}: `{key}` is outside any [section]"));
        }
        if section == "security"
            && key == "admin_password"
            && !(value.starts_with("$__file{") && value.ends_with('}'))
        {
            return Err(format!(
                "line {n}: the admin password is inline; it must come from `$__file{{...}}`"
            ));
        }
    }
    Ok(())
}

/// A sources file / preferences file of `source: apt`: every `deb` line has a
/// `signed-by=` absolute keyring; a preferences file pins `grafana` to one version.
pub fn check_apt_source(text: &str) -> Result<(), String> {
    let lines: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    if lines.first().is_some_and(|l| l.starts_with("Package:")) {
        let has = |p: &str| lines.iter().any(|l| l.starts_with(p));
        return if has("Package: grafana") && has("Pin: version ") && has("Pin-Priority:") {
            Ok(())
        } else {
            Err("the preferences file must pin `grafana` to a version".into())
        };
    }
    if lines.is_empty() {
        return Err("no `deb` line".into());
    }
    for l in lines {
        let rest = l.strip_prefix("deb ").ok_or_else(|| format!("`{l}` is not a deb line"))?;
        let opts = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(o, _)| o)
            .ok_or_else(|| format!("`{l}` has no [signed-by=...] option"))?;
        let keyring = opts
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))
            .ok_or_else(|| format!("`{l}` has no signed-by= keyring"))?;
        if !Path::new(keyring).is_absolute() {
            return Err(format!("keyring `{keyring}` is not an absolute path"));
        }
        let after = rest.split_once(']').map(|(_, a)| a.trim()).unwrap_or("");
        let words: Vec<&str> = after.split_whitespace().collect();
        if words.len() < 3 || !crate::http::repository_url_ok(words[0]) {
            return Err(format!(
                "`{l}` needs an https:// URL (http:// only on loopback), a suite and a component"
            ));
        }
    }
    Ok(())
}

/// Is Grafana installed and run by monstack (enabled, from the tarball or the package)?
pub fn managed(loaded: &Loaded) -> bool {
    loaded.config.grafana_server.enabled
}

/// Is it the apt package (`source: apt`, enabled)?
pub fn apt_managed(loaded: &Loaded) -> bool {
    managed(loaded) && loaded.config.grafana_server.source == crate::config::GrafanaSource::Apt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_check_refuses_inline_password_and_stray_lines() {
        let ok = "[server]\nhttp_port = 3000\n[security]\nadmin_password = $__file{/etc/gp}\n";
        assert_eq!(check_ini(ok), Ok(()));
        let inline = "[security]\nadmin_password = hunter2\n";
        assert!(check_ini(inline).unwrap_err().contains("line 2"));
        assert!(check_ini("http_port = 3\n").unwrap_err().contains("outside"));
        assert!(check_ini("[server\n").unwrap_err().contains("section"));
        assert!(check_ini("[server]\njunk\n").unwrap_err().contains("key = value"));
    }

    #[test]
    fn apt_source_check_wants_signed_by_and_a_pin() {
        let good =
            "deb [signed-by=/etc/apt/keyrings/grafana.asc] https://apt.grafana.com stable main\n";
        assert_eq!(check_apt_source(good), Ok(()));
        assert!(check_apt_source("deb https://apt.grafana.com stable main\n").is_err());
        assert!(check_apt_source(
            "deb [signed-by=grafana.asc] https://apt.grafana.com stable main"
        )
        .unwrap_err()
        .contains("absolute"));
        assert!(check_apt_source("deb [signed-by=/k] http://apt.grafana.com stable main").is_err());
        assert!(
            check_apt_source("deb [signed-by=/k] http://127.0.0.1:8080/apt stable main").is_ok()
        );
        assert!(check_apt_source("deb [signed-by=/k] http://127.0.0.1.evil stable main").is_err());
        let pin = "Package: grafana\nPin: version 12.2.0\nPin-Priority: 1001\n";
        assert_eq!(check_apt_source(pin), Ok(()));
        assert!(check_apt_source("Package: grafana\nPin-Priority: 1001\n").is_err());
    }
}
