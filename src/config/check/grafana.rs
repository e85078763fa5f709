//! Checks of the `grafana_server` and `grafana` sections.

use std::collections::{HashMap, HashSet};

use super::{Checks, File};
use crate::config::schema::{ComponentKind, SecretRef};
use crate::config::values::*;

/// The `grafana_server` section's own keys.
pub(super) fn grafana_server(ck: &mut Checks, l: &File) {
    let g = &l.config.grafana_server;
    if let Some(b) = &g.build_id {
        ck.check(
            !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()),
            "grafana_server.build_id",
            format!("`{b}` is not a CI build id (digits, e.g. 17949786146)"),
        );
    }
    ck.check(
        valid_user(&g.admin_user),
        "grafana_server.admin_user",
        format!("`{}` is not a plain user name", g.admin_user),
    );
    if let Some(f) = &g.admin_password_file {
        ck.check(
            f.is_absolute() && !f.to_string_lossy().contains(['{', '}', '\n']),
            "grafana_server.admin_password_file",
            "must be an absolute path without `{`, `}` (Grafana reads it through `$__file{...}`)",
        );
    } else if g.enabled {
        ck.check(
            false,
            "grafana_server.admin_password_file",
            "set it: Grafana's admin password is read from this file, never written into grafana.ini",
        );
    }
    for (section, keys) in &g.settings {
        let field = format!("grafana_server.settings.{section}");
        let plain = |s: &str| {
            !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
        };
        ck.check(plain(section), &field, format!("`{section}` is not an ini section name"));
        for (k, v) in keys {
            ck.check(plain(k), &format!("{field}.{k}"), format!("`{k}` is not an ini key"));
            ck.check(!v.contains(['\n', '\r']), &format!("{field}.{k}"), "must be one line");
            let owned = matches!(
                (section.as_str(), k.as_str()),
                ("server", "http_addr" | "http_port")
                    | ("paths", "data" | "logs" | "plugins")
                    | ("security", "admin_user" | "admin_password")
            );
            ck.check(
                !owned,
                &format!("{field}.{k}"),
                "set by monstack from listen_address, data_dir, admin_user and admin_password_file",
            );
        }
    }
    ck.check(
        l.config.component(ComponentKind::GrafanaServer).web.is_none(),
        "grafana_server.web",
        "not supported for Grafana: set its TLS through settings.server (protocol, cert_file, cert_key)",
    );
    ck.check(g.apt_keyring.is_absolute(), "grafana_server.apt_keyring", "must be an absolute path");
    ck.check(
        crate::http::repository_url_ok(&g.apt_repository)
            && g.apt_repository.split_whitespace().count() >= 3,
        "grafana_server.apt_repository",
        format!(
            "`{}` must be `https://URL suite component` (http:// only on loopback)",
            g.apt_repository
        ),
    );
    ck.check(
        matches!(g.apt_package.as_str(), "grafana" | "grafana-enterprise"),
        "grafana_server.apt_package",
        format!("`{}` is neither `grafana` nor `grafana-enterprise`", g.apt_package),
    );
    if let Some(key) = &g.apt_key {
        ck.check(
            !key.contains("://") || key.starts_with("https://"),
            "grafana_server.apt_key",
            format!("`{key}` must be a file or an https:// URL"),
        );
        ck.check(
            g.apt_key_sha256
                .as_deref()
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit())),
            "grafana_server.apt_key_sha256",
            "set it to the key's SHA-256 (64 hex digits): the key is verified before apt trusts it",
        );
    }
}

/// The `grafana` section.
pub(super) fn grafana(ck: &mut Checks, l: &File) {
    let c = l.config;
    let g = &c.grafana;
    if let Some(m) = url_problem(
        &g.url,
        "set grafana.auth.token_env or token_file, or auth.user with auth.password_env or password_file",
    ) {
        ck.check(false, "grafana.url", m);
    }
    ck.check(
        valid_duration(&g.wait_timeout),
        "grafana.wait_timeout",
        format!("`{}` is not a duration like 60s", g.wait_timeout),
    );
    if !g.datasource.url.is_empty() {
        if let Some(m) = url_problem(
            &g.datasource.url,
            "read the password from an env var or file with grafana.datasource.secure_json_data.basicAuthPassword",
        ) {
            ck.check(false, "grafana.datasource.url", m);
        }
    }
    ck.uid(&g.datasource.uid, "grafana.datasource.uid");
    ck.uid(&g.folder.uid, "grafana.folder.uid");
    ck.check(
        matches!(g.datasource.access.as_str(), "proxy" | "direct"),
        "grafana.datasource.access",
        format!("`{}` must be proxy or direct", g.datasource.access),
    );
    for (field, file) in [
        ("grafana.auth.token_file", &g.auth.token_file),
        ("grafana.auth.password_file", &g.auth.password_file),
        ("grafana.ca_file", &g.ca_file),
    ] {
        if let Some(f) = file {
            let path = l.resolve(f);
            ck.check(path.is_file(), field, format!("`{}` does not exist", path.display()));
        }
    }
    ck.check(
        valid_duration(&g.request_timeout)
            && parse_duration(&g.request_timeout).is_some_and(|d| !d.is_zero()),
        "grafana.request_timeout",
        format!("`{}` is not a non-zero duration like 30s", g.request_timeout),
    );
    ck.check(
        (1..=32).contains(&g.concurrency),
        "grafana.concurrency",
        format!("{} must be between 1 and 32", g.concurrency),
    );
    if let Some(m) = url_problem(&g.gnet_url, MIRROR_AUTH) {
        ck.check(false, "grafana.gnet_url", m);
    }
    for (field, value) in
        [("grafana.timeout", &g.timeout), ("grafana.max_retry_after", &g.max_retry_after)]
    {
        ck.check(
            valid_duration(value) && parse_duration(value).is_some_and(|d| !d.is_zero()),
            field,
            format!("`{value}` is not a non-zero duration like 5m"),
        );
    }
    if let Some(p) = &g.folder.parent_uid {
        ck.uid(p, "grafana.folder.parent_uid");
        ck.check(
            p != &g.folder.uid,
            "grafana.folder.parent_uid",
            "a folder cannot be its own parent",
        );
    }
    if let Some(path) = &g.folder.path {
        ck.check(
            g.folder.parent_uid.is_none(),
            "grafana.folder.path",
            "set `path` or `parent_uid`, not both",
        );
        ck.check(
            !path.trim().is_empty() && path.split('/').all(|t| !t.trim().is_empty()),
            "grafana.folder.path",
            format!("`{path}` must be folder titles separated by `/`, none empty"),
        );
    }
    datasource(ck, l);
    dashboards(ck, l);
}

/// `grafana.datasource`: secret references, options monstack writes itself, the CA file.
fn datasource(ck: &mut Checks, l: &File) {
    let ds = &l.config.grafana.datasource;
    let mut secret_refs: Vec<(String, &SecretRef)> = ds
        .secure_json_data
        .iter()
        .map(|(k, r)| (format!("grafana.datasource.secure_json_data.{k}"), r))
        .collect();
    if let Some(b) = &ds.basic_auth {
        ck.check(!b.user.is_empty(), "grafana.datasource.basic_auth.user", "must not be empty");
        ck.check(
            !ds.secure_json_data.contains_key("basicAuthPassword"),
            "grafana.datasource.secure_json_data.basicAuthPassword",
            "set the password in `grafana.datasource.basic_auth.password`, not both",
        );
        secret_refs.push(("grafana.datasource.basic_auth.password".into(), &b.password));
    }
    for (name, r) in &ds.http_headers {
        ck.check(
            !name.is_empty()
                && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_".contains(&c)),
            &format!("grafana.datasource.http_headers.{name}"),
            "a header name is letters, digits, `-` and `_`",
        );
        secret_refs.push((format!("grafana.datasource.http_headers.{name}"), r));
    }
    if let Some(ca) = &ds.tls.ca_file {
        let path = l.resolve(ca);
        ck.check(
            path.is_file(),
            "grafana.datasource.tls.ca_file",
            format!("`{}` does not exist", path.display()),
        );
        ck.check(
            !ds.tls.skip_verify,
            "grafana.datasource.tls",
            "set `ca_file` or `skip_verify`, not both",
        );
    }
    // Keys monstack writes from the options above may not also be given by hand.
    let tls = ds.tls.ca_file.is_some() || ds.tls.skip_verify;
    for key in ds.json_data.keys() {
        let owned = (tls && matches!(key.as_str(), "tlsAuthWithCACert" | "tlsSkipVerify"))
            || (!ds.http_headers.is_empty() && key.starts_with("httpHeaderName"));
        ck.check(
            !owned,
            &format!("grafana.datasource.json_data.{key}"),
            "set by `grafana.datasource.tls` / `http_headers`; remove it here",
        );
    }
    for key in ds.secure_json_data.keys() {
        let owned = (ds.tls.ca_file.is_some() && key == "tlsCACert")
            || (!ds.http_headers.is_empty() && key.starts_with("httpHeaderValue"));
        ck.check(
            !owned,
            &format!("grafana.datasource.secure_json_data.{key}"),
            "set by `grafana.datasource.tls` / `http_headers`; remove it here",
        );
    }
    for (field, secret) in secret_refs {
        ck.check(
            secret.env.is_some() != secret.file.is_some(),
            &field,
            "needs exactly one of `env` or `file`",
        );
        if let Some(f) = &secret.file {
            let path = l.resolve(f);
            ck.check(
                path.is_file(),
                &format!("{field}.file"),
                format!("`{}` does not exist", path.display()),
            );
        }
    }
}

/// `grafana.dashboards`: files that exist, grafana.com revisions listed once.
fn dashboards(ck: &mut Checks, l: &File) {
    let g = &l.config.grafana;
    let mut gnet = HashSet::new();
    let mut folders = HashMap::new();
    for (i, d) in g.dashboards.iter().enumerate() {
        let d = match d {
            crate::config::DashboardEntry::Path(p) => p,
            crate::config::DashboardEntry::Gnet(n) => {
                ck.check(
                    n.gnet_id > 0 && n.revision > 0,
                    &format!("grafana.dashboards[{i}]"),
                    "gnet_id and revision must be positive",
                );
                ck.check(
                    gnet.insert((n.gnet_id, n.revision)),
                    &format!("grafana.dashboards[{i}]"),
                    format!(
                        "grafana.com dashboard {} revision {} is listed twice",
                        n.gnet_id, n.revision
                    ),
                );
                if let Some(f) = &n.folder {
                    gnet_folder(ck, l, &format!("grafana.dashboards[{i}].folder"), f, &mut folders);
                }
                continue;
            }
        };
        let path = l.resolve(d);
        ck.check(
            path.exists(),
            &format!("grafana.dashboards[{i}]"),
            format!("dashboard file `{}` does not exist", path.display()),
        );
    }
}

/// A grafana.com dashboard's own folder: a valid uid and a title, not the managed
/// folder, one title per uid (`titles`), and only through the API.
fn gnet_folder(
    ck: &mut Checks,
    l: &File,
    field: &str,
    f: &crate::config::DashboardFolder,
    titles: &mut HashMap<String, String>,
) {
    let g = &l.config.grafana;
    ck.check(
        valid_uid(&f.uid),
        &format!("{field}.uid"),
        format!("`{}` is not a folder uid (1-40 of a-zA-Z0-9-_)", f.uid),
    );
    ck.check(!f.title.trim().is_empty(), &format!("{field}.title"), "must not be empty");
    ck.check(
        f.uid != g.folder.uid,
        &format!("{field}.uid"),
        "is `grafana.folder`; leave `folder` out to use it",
    );
    ck.check(
        !(f.parent_uid.is_some() && f.path.is_some()),
        field,
        "set `parent_uid` or `path`, not both",
    );
    let other = titles.entry(f.uid.clone()).or_insert_with(|| f.title.clone());
    ck.check(
        *other == f.title,
        &format!("{field}.title"),
        format!("folder `{}` is also titled `{other}`", f.uid),
    );
    ck.check(
        g.mode == crate::config::GrafanaMode::Api,
        field,
        "per-dashboard folders need `grafana.mode: api` (the files provider has one folder)",
    );
}
