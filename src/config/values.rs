//! Value syntax: durations, sizes, URLs, addresses, names — the small predicates and
//! parsers the checks and the resolved config share.

use std::path::{Path, PathBuf};

/// Prometheus size: digits and a unit (`512MB`, `50GB`).
pub(super) fn valid_size(s: &str) -> bool {
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && ["B", "KB", "MB", "GB", "TB", "PB", "EB"].contains(&&s[digits..])
}

/// Prometheus duration: `((\d+)(y|w|d|h|m|s|ms))+` or `0`.
pub fn valid_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        if b[i..].starts_with(b"ms") {
            i += 2;
        } else if i < b.len() && b"ywdhms".contains(&b[i]) {
            i += 1;
        } else {
            return false;
        }
        parts += 1;
    }
    parts > 0
}

/// Parse a Prometheus duration into std time.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    if !valid_duration(s) {
        return None;
    }
    let mut total_ms: u64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit_ms = match ch {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'y' => 365 * 86_400_000,
            'w' => 7 * 86_400_000,
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
    }
    Some(std::time::Duration::from_millis(total_ms))
}

/// Where mirror credentials can come from instead of the URL.
pub(super) const MIRROR_AUTH: &str =
    "use a mirror that needs none, or put the verified tarballs in downloads.local_dir";

/// What is wrong with a configured http(s) URL, if anything. Credentials in it are refused:
/// they would be echoed in messages and written to files (monstack.lock, alertmanager.yml);
/// `instead` says where they go. The message never repeats them.
pub(super) fn url_problem(s: &str, instead: &str) -> Option<String> {
    if let Ok(u) = url::Url::parse(s) {
        if !u.username().is_empty() || u.password().is_some() {
            return Some(format!("credentials in the URL are refused; {instead}"));
        }
    }
    (!valid_url(s)).then(|| format!("`{}` is not an http(s) URL", redact_userinfo(s)))
}

/// `s` with anything before an `@` in its authority replaced by `***`.
pub(super) fn redact_userinfo(s: &str) -> String {
    let start = s.find("://").map_or(0, |i| i + 3);
    let end = s[start..].find(['/', '?', '#']).map_or(s.len(), |i| start + i);
    match s[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..start], &s[start + at..]),
        None => s.to_string(),
    }
}

pub(super) fn valid_url(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host().is_some(),
        Err(_) => false,
    }
}

pub(super) fn valid_version(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Split `host:port` (IPv6 in brackets).
pub fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((&s[..end + 2], port));
    }
    let (h, p) = s.rsplit_once(':')?;
    if h.contains(':') {
        return None;
    }
    Some((h, p))
}

pub(super) fn valid_port(p: &str) -> bool {
    p.parse::<u16>().is_ok()
}

pub(super) fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && (h.starts_with('[')
            || h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
}

pub(super) fn valid_listen_address(s: &str) -> bool {
    match split_host_port(s) {
        Some((h, p)) => (h.is_empty() || valid_host(h)) && valid_port(p),
        None => false,
    }
}

pub(super) fn valid_target(s: &str) -> bool {
    match split_host_port(s) {
        Some((h, p)) => valid_host(h) && valid_port(p),
        None => false,
    }
}

pub(super) fn valid_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub(super) fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Grafana uid: at most 40 characters of `a-zA-Z0-9-_`.
pub fn valid_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn valid_file_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// `p` from the config at `config`, relative to that file's directory.
pub(super) fn resolve_against(config: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// An Alertmanager matcher: `label op value` with op `=`, `!=`, `=~` or `!~`, a label
/// name and a value that is either plain (no `"`, `{`, `}`, `,`) or double-quoted.
/// Regular expressions themselves are judged by amtool.
pub fn matcher_problem(m: &str) -> Option<String> {
    let m = m.trim();
    let name_end = m.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(m.len());
    let name = &m[..name_end];
    if !valid_label_name(name) {
        return Some(format!("`{m}` does not start with a label name"));
    }
    let rest = m[name_end..].trim_start();
    let Some((_, value)) = ["=~", "!~", "!=", "="]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v.trim())))
    else {
        return Some(format!("`{m}` has no operator (=, !=, =~ or !~) after `{name}`"));
    };
    if let Some(inner) = value.strip_prefix('"') {
        let ok = inner.ends_with('"') && !inner[..inner.len().saturating_sub(1)].ends_with('\\');
        if inner.is_empty() || !ok {
            return Some(format!("`{m}`: the quoted value is not closed"));
        }
    } else if value.contains(['"', '{', '}', ',']) || value.chars().any(char::is_control) {
        return Some(format!("`{m}`: quote a value with \", {{, }} or a comma in it"));
    }
    None
}

/// A `file_sd_configs` file pattern as Prometheus accepts it: `*` only in the last path
/// element, ending in `.yml`, `.yaml` or `.json` (Prometheus's own pattern
/// `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`).
pub fn valid_file_sd(p: &str) -> bool {
    let (dir, last) = p.rsplit_once('/').unwrap_or(("", p));
    let ext_ok = ["json", "yml", "yaml", "JSON", "YML", "YAML"]
        .iter()
        .any(|e| last.len() > e.len() + 1 && last.ends_with(&format!(".{e}")));
    ext_ok
        && !dir.contains('*')
        && last.matches('*').count() <= 1
        && !p.chars().any(char::is_control)
}
