//! Checks of the `alertmanager` section: SMTP, receivers, the routing tree.

use std::collections::HashSet;

use super::{Checks, File};
use crate::config::values::*;

/// The `alertmanager` section.
pub(super) fn alertmanager(ck: &mut Checks, l: &File) {
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
    route_tree(ck, a, &receivers);
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

/// The route tree: each route's receiver and time intervals are defined, its matchers
/// and durations valid.
fn route_tree(ck: &mut Checks, a: &crate::config::Alertmanager, receivers: &HashSet<&str>) {
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
    let mut stack: Vec<(String, &crate::config::SubRoute)> = a
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
}
