//! Semantic checks of a parsed config: every problem of the file is reported (up to
//! [`MAX_ERRORS`]), each located at its key by one walk over the text.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

mod blackbox;

use super::locate::{error_in, Index};
use super::schema::{ComponentKind, Config, PrometheusMode, SecretRef};
use super::values::*;
use crate::error::ConfigError;
use crate::versions::Item;

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
}

/// All semantic checks; returns every problem found.
pub(super) fn check(path: &Path, source: &str, config: &Config) -> Vec<ConfigError> {
    let l = &File { path, config };
    let mut ck = Checks { l, index: Index::of(source), errs: Vec::new() };
    downloads(&mut ck, l);
    components(&mut ck, l);
    prometheus(&mut ck, l);
    prometheus_versions(&mut ck, l);
    blackbox::modules(&mut ck, l);
    blackbox::probes(&mut ck, l);
    alertmanager(&mut ck, l);
    grafana_server(&mut ck, l);
    grafana(&mut ck, l);
    logrotate(&mut ck, l);
    rsyslog(&mut ck, l);
    ck.check(l.config.state_dir.is_absolute(), "state_dir", "must be an absolute path");
    let mut errs = ck.errs;
    if errs.len() > MAX_ERRORS {
        let more = errs.len() - MAX_ERRORS;
        errs.truncate(MAX_ERRORS);
        errs.push(ConfigError::new(l.path, None, format!("... and {more} more problems")));
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

/// The `grafana_server` section's own keys.
fn grafana_server(ck: &mut Checks, l: &File) {
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
        crate::grafana_server::repository_url_ok(&g.apt_repository)
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

/// The `prometheus` section.
fn prometheus(ck: &mut Checks, l: &File) {
    let c = l.config;
    let p = &c.prometheus;
    ck.check(
        valid_duration(&p.global.scrape_interval),
        "prometheus.global.scrape_interval",
        format!("`{}` is not a Prometheus duration like 15s", p.global.scrape_interval),
    );
    ck.check(
        valid_duration(&p.global.evaluation_interval),
        "prometheus.global.evaluation_interval",
        format!("`{}` is not a Prometheus duration like 15s", p.global.evaluation_interval),
    );
    if let Some(r) = &p.retention_time {
        ck.check(
            valid_duration(r),
            "prometheus.retention_time",
            format!("`{r}` is not a Prometheus duration like 15d"),
        );
    }
    let mut seen = HashSet::new();
    for (i, job) in p.scrape_configs.iter().enumerate() {
        let f = format!("prometheus.scrape_configs[{i}]");
        ck.check(!job.job_name.trim().is_empty(), &format!("{f}.job_name"), "must not be empty");
        ck.check(
            seen.insert(job.job_name.clone()),
            &format!("{f}.job_name"),
            format!("duplicate job name `{}`", job.job_name),
        );
        ck.check(
            !job.targets.is_empty() || !job.file_sd.is_empty(),
            &format!("{f}.targets"),
            "needs at least one target (or `file_sd`)",
        );
        for (g, glob) in job.file_sd.iter().enumerate() {
            ck.check(
                valid_file_sd(glob),
                &format!("{f}.file_sd[{g}]"),
                format!(
                    "`{glob}` is not a target file pattern: a path ending in .yml, .yaml or .json, \
                     with `*` only in the last path element"
                ),
            );
        }
        for (t, target) in job.targets.iter().enumerate() {
            ck.check(
                valid_target(target),
                &format!("{f}.targets[{t}]"),
                format!("`{target}` is not a host:port target"),
            );
        }
        if let Some(mp) = &job.metrics_path {
            ck.check(
                mp.starts_with('/'),
                &format!("{f}.metrics_path"),
                format!("`{mp}` must start with /"),
            );
        }
        if let Some(si) = &job.scrape_interval {
            ck.check(
                valid_duration(si),
                &format!("{f}.scrape_interval"),
                format!("`{si}` is not a Prometheus duration like 30s"),
            );
        }
        for k in job.labels.keys() {
            ck.check(
                valid_label_name(k),
                &format!("{f}.labels.{k}"),
                format!("`{k}` is not a valid label name"),
            );
        }
    }
    if let Some(size) = &p.retention_size {
        ck.check(
            valid_size(size),
            "prometheus.retention_size",
            format!("`{size}` is not a size like 50GB (B, KB, MB, GB, TB, PB, EB)"),
        );
    }
    // Rule files are installed flat under {install_dir}/rules, so names must not collide.
    let mut rule_names = HashSet::new();
    if p.default_rules {
        rule_names.insert(DEFAULT_RULES_FILE.to_string());
    }
    for (i, rf) in p.rule_files.iter().enumerate() {
        let path = l.resolve(rf);
        ck.check(
            path.is_file(),
            &format!("prometheus.rule_files[{i}]"),
            format!("rule file `{}` does not exist", path.display()),
        );
        let base = rf.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
        ck.check(
            rule_names.insert(base.clone()),
            &format!("prometheus.rule_files[{i}]"),
            format!("another rule file is already installed as `rules/{base}`; rename one of them"),
        );
    }
    for (i, am) in p.alertmanagers.iter().enumerate() {
        ck.check(
            valid_target(am),
            &format!("prometheus.alertmanagers[{i}]"),
            format!("`{am}` is not a host:port target"),
        );
    }
}

/// The `alertmanager` section.
fn alertmanager(ck: &mut Checks, l: &File) {
    let c = l.config;
    let a = &c.alertmanager;
    for (field, v) in [
        ("group_wait", &a.route.group_wait),
        ("group_interval", &a.route.group_interval),
        ("repeat_interval", &a.route.repeat_interval),
    ] {
        ck.check(
            valid_duration(v),
            &format!("alertmanager.route.{field}"),
            format!("`{v}` is not a duration like 10s"),
        );
    }
    let names: Vec<&str> = a.receivers.iter().map(|r| r.name.as_str()).collect();
    ck.check(
        names.contains(&a.route.receiver.as_str()),
        "alertmanager.route.receiver",
        format!("receiver `{}` is not defined in alertmanager.receivers", a.route.receiver),
    );
    let mut seen = HashSet::new();
    for (i, r) in a.receivers.iter().enumerate() {
        ck.check(
            seen.insert(r.name.clone()),
            &format!("alertmanager.receivers[{i}].name"),
            format!("duplicate receiver name `{}`", r.name),
        );
        for (j, w) in r.webhook_configs.iter().enumerate() {
            if let Some(m) = url_problem(
                &w.url,
                "Alertmanager would keep them in clear in alertmanager.yml; use an endpoint that needs none",
            ) {
                ck.check(false, &format!("alertmanager.receivers[{i}].webhook_configs[{j}].url"), m);
            }
        }
        for (j, e) in r.email_configs.iter().enumerate() {
            ck.check(
                e.to.contains('@'),
                &format!("alertmanager.receivers[{i}].email_configs[{j}].to"),
                format!("`{}` is not an email address", e.to),
            );
        }
    }
    routing(ck, l);
    let has_email = a.receivers.iter().any(|r| !r.email_configs.is_empty());
    match &a.smtp {
        Some(s) => {
            ck.check(
                valid_target(&s.smarthost),
                "alertmanager.smtp.smarthost",
                format!("`{}` is not a host:port address", s.smarthost),
            );
            if let Some(pf) = &s.password_file {
                let path = l.resolve(pf);
                ck.check(
                    path.is_file(),
                    "alertmanager.smtp.password_file",
                    format!("`{}` does not exist", path.display()),
                );
            }
            ck.check(
                !(s.password_env.is_some() && s.password_file.is_some()),
                "alertmanager.smtp",
                "set password_env or password_file, not both",
            );
        }
        None => ck.check(
            !has_email,
            "alertmanager.smtp",
            "email receivers need an smtp section (smarthost, from)",
        ),
    }
}

/// The typed routing of `alertmanager`: the route tree, inhibit rules, time
/// intervals, templates, secret files of receivers and route tests.
fn routing(ck: &mut Checks, l: &File) {
    let a = &l.config.alertmanager;
    let receivers: HashSet<&str> = a.receivers.iter().map(|r| r.name.as_str()).collect();
    let mut intervals = HashSet::new();
    for (i, t) in a.time_intervals.iter().enumerate() {
        let f = format!("alertmanager.time_intervals[{i}]");
        ck.check(!t.name.trim().is_empty(), &format!("{f}.name"), "must not be empty");
        ck.check(
            intervals.insert(t.name.as_str()),
            &format!("{f}.name"),
            format!("duplicate time interval `{}`", t.name),
        );
    }
    let mut stack: Vec<(String, &super::schema::SubRoute)> = a
        .route
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("alertmanager.route.routes[{i}]"), r))
        .collect();
    while let Some((f, r)) = stack.pop() {
        if let Some(name) = &r.receiver {
            ck.check(
                receivers.contains(name.as_str()),
                &format!("{f}.receiver"),
                format!("receiver `{name}` is not defined in alertmanager.receivers"),
            );
        }
        for (j, m) in r.matchers.iter().enumerate() {
            if let Some(msg) = matcher_problem(m) {
                ck.check(false, &format!("{f}.matchers[{j}]"), msg);
            }
        }
        for (key, v) in [
            ("group_wait", &r.group_wait),
            ("group_interval", &r.group_interval),
            ("repeat_interval", &r.repeat_interval),
        ] {
            if let Some(v) = v {
                ck.check(
                    valid_duration(v),
                    &format!("{f}.{key}"),
                    format!("`{v}` is not a duration like 10s"),
                );
            }
        }
        for (key, names) in [
            ("mute_time_intervals", &r.mute_time_intervals),
            ("active_time_intervals", &r.active_time_intervals),
        ] {
            for (j, n) in names.iter().enumerate() {
                ck.check(
                    intervals.contains(n.as_str()),
                    &format!("{f}.{key}[{j}]"),
                    format!("time interval `{n}` is not defined in alertmanager.time_intervals"),
                );
            }
        }
        stack.extend(r.routes.iter().enumerate().map(|(j, c)| (format!("{f}.routes[{j}]"), c)));
    }
    for (i, rule) in a.inhibit_rules.iter().enumerate() {
        let f = format!("alertmanager.inhibit_rules[{i}]");
        for (key, ms) in
            [("source_matchers", &rule.source_matchers), ("target_matchers", &rule.target_matchers)]
        {
            ck.check(!ms.is_empty(), &format!("{f}.{key}"), "needs at least one matcher");
            for (j, m) in ms.iter().enumerate() {
                if let Some(msg) = matcher_problem(m) {
                    ck.check(false, &format!("{f}.{key}[{j}]"), msg);
                }
            }
        }
        for (j, e) in rule.equal.iter().enumerate() {
            ck.check(
                valid_label_name(e),
                &format!("{f}.equal[{j}]"),
                format!("`{e}` is not a valid label name"),
            );
        }
    }
    let mut names = HashSet::new();
    for (i, t) in a.templates.iter().enumerate() {
        let base = t.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
        ck.check(
            l.resolve(t).is_file(),
            &format!("alertmanager.templates[{i}]"),
            format!("template file `{}` does not exist", t.display()),
        );
        ck.check(
            names.insert(base.clone()),
            &format!("alertmanager.templates[{i}]"),
            format!("another template is already installed as `templates/{base}`"),
        );
    }
    for (i, r) in a.receivers.iter().enumerate() {
        let f = format!("alertmanager.receivers[{i}]");
        let files = r
            .slack_configs
            .iter()
            .enumerate()
            .map(|(j, s)| (format!("{f}.slack_configs[{j}].api_url_file"), &s.api_url_file))
            .chain(r.pagerduty_configs.iter().enumerate().map(|(j, p)| {
                (format!("{f}.pagerduty_configs[{j}].routing_key_file"), &p.routing_key_file)
            }));
        for (field, p) in files {
            ck.check(l.resolve(p).is_file(), &field, format!("`{}` is not a file", p.display()));
        }
    }
    for (i, t) in a.route_tests.iter().enumerate() {
        let f = format!("alertmanager.route_tests[{i}]");
        ck.check(!t.labels.is_empty(), &format!("{f}.labels"), "needs at least one label");
        for k in t.labels.keys() {
            ck.check(
                valid_label_name(k),
                &format!("{f}.labels.{k}"),
                format!("`{k}` is not a valid label name"),
            );
        }
        ck.check(
            !t.expect_receivers.is_empty(),
            &format!("{f}.expect_receivers"),
            "name at least one receiver",
        );
        for (j, r) in t.expect_receivers.iter().enumerate() {
            ck.check(
                receivers.contains(r.as_str()),
                &format!("{f}.expect_receivers[{j}]"),
                format!("receiver `{r}` is not defined in alertmanager.receivers"),
            );
        }
    }
}

/// The `grafana` section.
fn grafana(ck: &mut Checks, l: &File) {
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
    ck.check(
        valid_uid(&g.datasource.uid),
        "grafana.datasource.uid",
        format!("`{}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)", g.datasource.uid),
    );
    ck.check(
        valid_uid(&g.folder.uid),
        "grafana.folder.uid",
        format!("`{}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)", g.folder.uid),
    );
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
        ck.check(
            valid_uid(p),
            "grafana.folder.parent_uid",
            format!("`{p}` is not a valid Grafana uid (1-40 of a-z A-Z 0-9 - _)"),
        );
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
    let ds = &g.datasource;
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

/// The `logrotate` section.
fn logrotate(ck: &mut Checks, l: &File) {
    let c = l.config;
    let mut seen = HashSet::new();
    for (i, e) in c.logrotate.entries.iter().enumerate() {
        let f = format!("logrotate.entries[{i}]");
        ck.check(
            valid_file_name(&e.name),
            &format!("{f}.name"),
            format!("`{}` is not a plain file name", e.name),
        );
        ck.check(
            seen.insert(e.name.clone()),
            &format!("{f}.name"),
            format!("duplicate entry `{}`", e.name),
        );
        ck.check(!e.paths.is_empty(), &format!("{f}.paths"), "needs at least one path");
        for (j, p) in e.paths.iter().enumerate() {
            ck.check(
                p.starts_with('/') && !p.contains(char::is_whitespace),
                &format!("{f}.paths[{j}]"),
                format!("`{p}` must be an absolute path without spaces"),
            );
        }
        ck.check(
            matches!(e.frequency.as_str(), "hourly" | "daily" | "weekly" | "monthly" | "yearly"),
            &format!("{f}.frequency"),
            format!("`{}` must be hourly, daily, weekly, monthly or yearly", e.frequency),
        );
        if let Some(cr) = &e.create {
            ck.check(
                cr.mode.len() >= 3
                    && cr.mode.len() <= 4
                    && cr.mode.chars().all(|ch| ('0'..='7').contains(&ch)),
                &format!("{f}.create.mode"),
                format!("`{}` is not an octal mode like 0644", cr.mode),
            );
            ck.check(
                valid_user(&cr.owner),
                &format!("{f}.create.owner"),
                format!("`{}` is not a user name", cr.owner),
            );
            ck.check(
                valid_user(&cr.group),
                &format!("{f}.create.group"),
                format!("`{}` is not a group name", cr.group),
            );
        }
        if let Some(script) = &e.postrotate {
            ck.check(
                !script.lines().any(|line| line.trim() == "endscript"),
                &format!("{f}.postrotate"),
                "must not contain an `endscript` line (monstack closes the script)",
            );
        }
    }
}

/// The `rsyslog` section.
fn rsyslog(ck: &mut Checks, l: &File) {
    let c = l.config;
    ck.check(
        valid_file_name(&c.rsyslog.file) && c.rsyslog.file.ends_with(".conf"),
        "rsyslog.file",
        format!("`{}` must be a plain file name ending in .conf", c.rsyslog.file),
    );
    for (i, r) in c.rsyslog.rules.iter().enumerate() {
        ck.check(
            !r.selector.is_empty() && !r.selector.contains(char::is_whitespace),
            &format!("rsyslog.rules[{i}].selector"),
            format!("`{}` is not a syslog selector like local0.*", r.selector),
        );
        ck.check(
            !r.action.is_empty() && !r.action.contains('\n'),
            &format!("rsyslog.rules[{i}].action"),
            "must be a single-line action",
        );
    }
}

/// The version- and mode-dependent checks of the `prometheus` section (agent mode,
/// remote_write, keys a release does not have).
fn prometheus_versions(ck: &mut Checks, l: &File) {
    let p = &l.config.prometheus;
    if !p.enabled {
        return;
    }
    let kind = ComponentKind::Prometheus;
    if p.mode == PrometheusMode::Agent {
        ck.check(
            crate::versions::has(kind, Item::Flag("--storage.agent.path"), &p.version),
            "prometheus.mode",
            format!(
                "agent mode needs Prometheus 2.32 or later; the target version is {}",
                p.version
            ),
        );
        ck.check(
            !p.remote_write.is_empty(),
            "prometheus.remote_write",
            "agent mode forwards every sample with remote_write: add at least one `url`",
        );
        for (field, set) in [
            ("prometheus.rule_files", !p.rule_files.is_empty()),
            ("prometheus.alertmanagers", !p.alertmanagers.is_empty()),
            ("prometheus.retention_time", p.retention_time.is_some()),
            ("prometheus.retention_size", p.retention_size.is_some()),
        ] {
            ck.check(!set, field, "not used in agent mode (no rules, alerting or TSDB): remove it");
        }
    }
    let mut names = HashSet::new();
    for (i, rw) in p.remote_write.iter().enumerate() {
        let f = format!("prometheus.remote_write[{i}]");
        let scheme_ok = rw.url.starts_with("http://") || rw.url.starts_with("https://");
        ck.check(scheme_ok, &format!("{f}.url"), format!("`{}` is not an http(s) URL", rw.url));
        if let Some(m) = url_problem(&rw.url, "use basic_auth with a password_file") {
            ck.check(false, &format!("{f}.url"), m);
        }
        if let Some(n) = &rw.name {
            ck.check(
                !n.is_empty() && names.insert(n.clone()),
                &format!("{f}.name"),
                format!("`{n}` is empty or used twice"),
            );
        }
        if let Some(b) = &rw.basic_auth {
            ck.check(
                b.password_file.is_absolute(),
                &format!("{f}.basic_auth.password_file"),
                "must be an absolute path on the host (Prometheus reads it)",
            );
        }
        remote_write_extras(ck, &f, rw);
    }
    for (i, job) in p.scrape_configs.iter().enumerate() {
        if job.always_scrape_classic_histograms.is_some() {
            let names = ["always_scrape_classic_histograms", "scrape_classic_histograms"];
            ck.check(
                crate::versions::key_name(kind, &names, &p.version).is_some(),
                &format!("prometheus.scrape_configs[{i}].always_scrape_classic_histograms"),
                format!("Prometheus {} has no such setting (it arrived in 2.45)", p.version),
            );
        }
    }
}

/// bearer token, TLS, queue and relabelling of one `remote_write` entry.
fn remote_write_extras(ck: &mut Checks, f: &str, rw: &super::schema::RemoteWrite) {
    const HOST: &str = "must be an absolute path on the host (Prometheus reads it)";
    if let Some(t) = &rw.bearer_token_file {
        ck.check(t.is_absolute(), &format!("{f}.bearer_token_file"), HOST);
        ck.check(
            rw.basic_auth.is_none(),
            &format!("{f}.bearer_token_file"),
            "set basic_auth or bearer_token_file, not both",
        );
    }
    if let Some(tls) = &rw.tls {
        for (key, p) in
            [("ca_file", &tls.ca_file), ("cert_file", &tls.cert_file), ("key_file", &tls.key_file)]
        {
            if let Some(p) = p {
                ck.check(p.is_absolute(), &format!("{f}.tls.{key}"), HOST);
            }
        }
        ck.check(
            tls.cert_file.is_some() == tls.key_file.is_some(),
            &format!("{f}.tls"),
            "cert_file and key_file go together",
        );
    }
    if let Some(q) = &rw.queue_config {
        for (key, v) in [
            ("batch_send_deadline", &q.batch_send_deadline),
            ("min_backoff", &q.min_backoff),
            ("max_backoff", &q.max_backoff),
        ] {
            if let Some(v) = v {
                ck.check(
                    valid_duration(v),
                    &format!("{f}.queue_config.{key}"),
                    format!("`{v}` is not a Prometheus duration like 5s"),
                );
            }
        }
        if let (Some(min), Some(max)) = (q.min_shards, q.max_shards) {
            ck.check(min <= max, &format!("{f}.queue_config.min_shards"), "exceeds max_shards");
        }
    }
    const ACTIONS: [&str; 11] = [
        "replace",
        "keep",
        "drop",
        "keepequal",
        "dropequal",
        "hashmod",
        "labelmap",
        "labeldrop",
        "labelkeep",
        "lowercase",
        "uppercase",
    ];
    for (j, r) in rw.write_relabel_configs.iter().enumerate() {
        let g = format!("{f}.write_relabel_configs[{j}]");
        if let Some(a) = &r.action {
            ck.check(
                ACTIONS.contains(&a.as_str()),
                &format!("{g}.action"),
                format!("`{a}` is not a relabel action ({})", ACTIONS.join(", ")),
            );
        }
        for (k, l) in r.source_labels.iter().enumerate() {
            ck.check(
                valid_label_name(l),
                &format!("{g}.source_labels[{k}]"),
                format!("`{l}` is not a valid label name"),
            );
        }
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
