//! Checks of the `logrotate` and `rsyslog` sections.

use std::collections::HashSet;

use super::{Checks, File};
use crate::config::values::*;

/// The `logrotate` section.
pub(super) fn logrotate(ck: &mut Checks, l: &File) {
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
pub(super) fn rsyslog(ck: &mut Checks, l: &File) {
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
