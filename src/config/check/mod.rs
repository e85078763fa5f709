//! Semantic checks of a parsed config: every problem of the file is reported (up to
//! [`MAX_ERRORS`]), each located at its key by one walk over the text.

use std::path::{Path, PathBuf};

use super::locate::{error_in, Index};
use super::schema::{ComponentKind, Config, PrometheusMode};
use super::values::*;
use crate::error::ConfigError;
use crate::versions::Item;

mod alertmanager;
mod blackbox;
mod grafana;
mod logs;
mod prometheus;

/// More problems than this in one file are summed up in one last line.
pub const MAX_ERRORS: usize = 50;

/// The file under check: where it is and the parsed config.
pub(super) struct File<'a> {
    pub path: &'a Path,
    pub config: &'a Config,
}

impl File<'_> {
    /// A path from the config, relative to the config file's directory.
    fn resolve(&self, p: &Path) -> PathBuf {
        resolve_against(self.path, p)
    }
}

/// Collects the problems of one file.
struct Checks<'a> {
    l: &'a File<'a>,
    index: Index,
    errs: Vec<ConfigError>,
}

impl Checks<'_> {
    fn check(&mut self, ok: bool, field: &str, msg: impl Into<String>) {
        if !ok {
            self.errs.push(error_in(self.l.path, &self.index, field, msg));
        }
    }

    /// `value` at `field` must be a Prometheus duration (`example` shows one).
    fn duration(&mut self, value: &str, field: &str, example: &str) {
        if !valid_duration(value) {
            self.check(
                false,
                field,
                format!("`{value}` is not a Prometheus duration like {example}"),
            );
        }
    }

    /// `value` at `field` must be a Grafana uid.
    fn uid(&mut self, value: &str, field: &str) {
        if !valid_uid(value) {
            self.check(
                false,
                field,
                format!("`{value}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)"),
            );
        }
    }
}

/// All semantic checks; returns every problem found.
pub(super) fn check(path: &Path, source: &str, config: &Config) -> Vec<ConfigError> {
    let l = &File { path, config };
    let mut ck = Checks { l, index: Index::of(source), errs: Vec::new() };
    downloads(&mut ck, l);
    components(&mut ck, l);
    prometheus::prometheus(&mut ck, l);
    prometheus::prometheus_versions(&mut ck, l);
    blackbox::modules(&mut ck, l);
    blackbox::probes(&mut ck, l);
    alertmanager::alertmanager(&mut ck, l);
    grafana::grafana_server(&mut ck, l);
    grafana::grafana(&mut ck, l);
    logs::logrotate(&mut ck, l);
    logs::rsyslog(&mut ck, l);
    ck.check(l.config.state_dir.is_absolute(), "state_dir", "must be an absolute path");
    ck.errs
}

/// At most [`MAX_ERRORS`] problems, the rest summed up in one last line.
pub(super) fn cap(path: &Path, mut errs: Vec<ConfigError>) -> Vec<ConfigError> {
    if errs.len() > MAX_ERRORS {
        let more = errs.len() - MAX_ERRORS;
        errs.truncate(MAX_ERRORS);
        errs.push(ConfigError::new(path, None, format!("... and {more} more problems")));
    }
    errs
}

/// The `downloads` section.
fn downloads(ck: &mut Checks, l: &File) {
    let c = l.config;
    if let Some(m) = url_problem(&c.downloads.base_url, MIRROR_AUTH) {
        ck.check(false, "downloads.base_url", m);
    }
    const ARCHES: [&str; 13] = [
        "auto", "amd64", "arm64", "armv5", "armv6", "armv7", "386", "ppc64le", "ppc64", "s390x",
        "riscv64", "mips64", "mips64le",
    ];
    ck.check(
        ARCHES.contains(&c.downloads.arch.as_str()),
        "downloads.arch",
        format!("unknown arch `{}` (one of {})", c.downloads.arch, ARCHES.join(", ")),
    );
    if let Some(d) = &c.downloads.local_dir {
        let p = l.resolve(d);
        ck.check(p.exists(), "downloads.local_dir", format!("`{}` does not exist", p.display()));
    }
}

/// The `components` section.
fn components(ck: &mut Checks, l: &File) {
    let c = l.config;
    for kind in ComponentKind::ALL {
        let name = kind.name();
        let comp = &c.component(kind);
        ck.check(
            valid_version(&comp.version),
            &format!("{name}.version"),
            format!("`{}` is not a release version like 2.45.0", comp.version),
        );
        if let Some(sha) = &comp.sha256 {
            ck.check(
                sha.len() == 64 && sha.chars().all(|ch| ch.is_ascii_hexdigit()),
                &format!("{name}.sha256"),
                "must be 64 hex characters",
            );
        }
        if let Some(m) = comp.base_url.as_deref().and_then(|u| url_problem(u, MIRROR_AUTH)) {
            ck.check(false, &format!("{name}.base_url"), m);
        }
        if let Some(t) = &comp.tarball {
            let p = l.resolve(t);
            let problem = if !p.exists() { "does not exist" } else { "is not a file" };
            ck.check(
                p.is_file(),
                &format!("{name}.tarball"),
                format!("tarball `{}` {problem}", t.display()),
            );
        }
        if let Some(w) = comp.web.as_ref().filter(|_| comp.enabled) {
            web(ck, name, w);
        }
        ck.check(
            valid_listen_address(&comp.listen_address),
            &format!("{name}.listen_address"),
            format!("`{}` is not a host:port listen address", comp.listen_address),
        );
        ck.check(
            valid_user(&comp.user),
            &format!("{name}.user"),
            format!("`{}` is not a valid system user name", comp.user),
        );
        ck.check(
            comp.install_dir.is_absolute(),
            &format!("{name}.install_dir"),
            "must be an absolute path",
        );
        ck.check(
            comp.data_dir.is_absolute(),
            &format!("{name}.data_dir"),
            "must be an absolute path",
        );
        let managed = managed_flags(c, kind);
        for (i, f) in comp.extra_flags.iter().enumerate() {
            let field = format!("{name}.extra_flags[{i}]");
            if !f.starts_with("--") || f.contains('\n') {
                ck.check(false, &field, format!("`{f}` is not a --flag"));
                continue;
            }
            let flag = flag_name(f);
            if let Some(msg) = removed_flag(c, kind, &comp.version, f) {
                ck.check(false, &field, msg);
            } else if managed.contains(&flag) {
                ck.check(
                    false,
                    &field,
                    format!("`{flag}` is set by monstack from the `{name}` section; remove it from extra_flags"),
                );
            }
        }
    }
}

/// `<component>.web`: TLS files in pairs and present, users with readable password
/// files (an empty one is refused when the hashes are computed).
fn web(ck: &mut Checks, name: &str, w: &super::schema::Web) {
    let f = format!("{name}.web");
    ck.check(
        w.tls_cert_file.is_some() == w.tls_key_file.is_some(),
        &format!(
            "{f}.{}",
            if w.tls_cert_file.is_some() { "tls_key_file" } else { "tls_cert_file" }
        ),
        "tls_cert_file and tls_key_file go together",
    );
    for (key, path) in [("client_ca_file", &w.client_ca_file), ("ca_file", &w.ca_file)] {
        if path.is_some() {
            ck.check(w.tls(), &format!("{f}.{key}"), "needs tls_cert_file and tls_key_file");
        }
    }
    for (key, path) in [
        ("tls_cert_file", &w.tls_cert_file),
        ("tls_key_file", &w.tls_key_file),
        ("client_ca_file", &w.client_ca_file),
        ("ca_file", &w.ca_file),
    ] {
        if let Some(p) = path {
            // Relative to the config file, as documented (not to the working directory).
            ck.check(
                ck.l.resolve(p).is_file(),
                &format!("{f}.{key}"),
                format!("`{}` is not a file", p.display()),
            );
        }
    }
    ck.check(
        w.tls() || !w.basic_auth_users.is_empty(),
        &f,
        "set tls_cert_file/tls_key_file, basic_auth_users or both (or remove `web`)",
    );
    for (user, path) in &w.basic_auth_users {
        let field = format!("{f}.basic_auth_users.{user}");
        ck.check(
            !user.is_empty() && !user.contains(':') && !user.chars().any(char::is_control),
            &field,
            format!("`{user}` is not a basic-auth user name (no `:` or control characters)"),
        );
        ck.check(
            ck.l.resolve(path).is_file(),
            &field,
            format!("password file `{}` does not exist or is not a file", path.display()),
        );
    }
}

/// File name of the runbook's alert rules under `{install_dir}/rules`.
pub const DEFAULT_RULES_FILE: &str = "snowflake_mcp_rules.yml";

/// The flag name of `--name=value` (or `--name`).
pub fn flag_name(flag: &str) -> &str {
    flag.split('=').next().unwrap_or(flag)
}

/// Why `flag` (a user's extra flag, with its value) cannot be passed to `kind` at
/// `version`: the release removed it or does not have it yet, or (Prometheus) the
/// mode refuses it. The facts are in [`crate::versions::TABLE`].
pub fn removed_flag(c: &Config, kind: ComponentKind, version: &str, flag: &str) -> Option<String> {
    crate::versions::check_extra_flag(kind, version, flag).or_else(|| {
        (kind == ComponentKind::Prometheus)
            .then(|| {
                crate::versions::mode_refusal(c.prometheus.mode == PrometheusMode::Agent, flag)
            })
            .flatten()
    })
}

/// Flags monstack itself passes to a component (a duplicate in extra_flags is refused).
pub fn managed_flags(c: &Config, kind: ComponentKind) -> Vec<&'static str> {
    let mut v = section_flags(c, kind);
    if c.component(kind).web.is_some() {
        v.push("--web.config.file");
    }
    v
}

fn section_flags(c: &Config, kind: ComponentKind) -> Vec<&'static str> {
    match kind {
        ComponentKind::Prometheus => {
            let p = &c.prometheus;
            let mut v = vec![
                "--config.file",
                "--storage.tsdb.path",
                "--web.listen-address",
                "--web.enable-lifecycle",
            ];
            if p.mode == PrometheusMode::Agent {
                v.retain(|f| *f != "--storage.tsdb.path");
                v.extend(["--agent", "--storage.agent.path"]);
                return v;
            }
            if crate::versions::has(kind, Item::File("consoles"), &p.version) {
                v.extend(["--web.console.templates", "--web.console.libraries"]);
            }
            if p.retention_time.is_some() {
                v.push("--storage.tsdb.retention.time");
            }
            if p.retention_size.is_some() {
                v.push("--storage.tsdb.retention.size");
            }
            v
        }
        ComponentKind::Alertmanager => vec![
            "--config.file",
            "--storage.path",
            "--web.listen-address",
            "--cluster.listen-address",
        ],
        ComponentKind::NodeExporter => vec!["--web.listen-address"],
        // `--config.check` would make the service exit after checking.
        ComponentKind::BlackboxExporter => {
            vec!["--config.file", "--web.listen-address", "--config.check"]
        }
        ComponentKind::GrafanaServer => vec!["--config", "--homepath"],
    }
}
