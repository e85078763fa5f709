//! What plan and apply report: one [`Change`] per managed resource, and the stable
//! JSON schema `{"format_version": 2, "changed": N, "resources": [...], "errors": [...]}`
//! (printed through [`crate::printer`]).

use serde::{Deserialize, Serialize};

/// What happens (plan) or happened (apply) to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Start,
    /// A service stopped (and disabled) because its component was disabled.
    Stop,
    Restart,
    Reload,
    Unchanged,
    /// apply: the planned action (in `planned`) failed, or was done and then undone
    /// after a failure.
    Failed,
    /// apply: the planned action (in `planned`) was not attempted because an earlier
    /// step failed.
    Skipped,
}

impl Action {
    /// What a resource's action changes on the host: not `Unchanged`, and not work
    /// that failed or was skipped.
    pub fn is_change(self) -> bool {
        !matches!(self, Action::Unchanged | Action::Failed | Action::Skipped)
    }
}

/// One managed resource and its action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `release`, `package`, `file`, `dir`, `user`, `unit`, `service`, `grafana_datasource`,
    /// `grafana_folder`, `grafana_dashboard`.
    pub kind: String,
    /// A host path, component or Grafana uid.
    pub name: String,
    pub action: Action,
    /// Unified diff (files) or JSON diff (dashboards), secrets already masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// One line of detail, e.g. `2.45.0 -> 2.53.0` or `datasource health: OK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// With `failed` or `skipped`: the action that was planned (`detail` says what
    /// went wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<Action>,
}

impl Change {
    /// A change without diff or detail.
    pub fn new(kind: impl Into<String>, name: impl Into<String>, action: Action) -> Self {
        Self {
            kind: kind.into(),
            name: name.into(),
            action,
            diff: None,
            detail: None,
            planned: None,
        }
    }

    /// This resource's planned action failed or was undone; `detail` says how.
    pub fn into_failed(self, detail: String) -> Self {
        let planned = self.planned.or(Some(self.action));
        Self { action: Action::Failed, planned, detail: Some(detail), diff: None, ..self }
    }

    /// This resource's planned action was not attempted (an earlier step failed).
    pub fn into_skipped(self, detail: String) -> Self {
        let planned = self.planned.or(Some(self.action));
        Self { action: Action::Skipped, planned, detail: Some(detail), diff: None, ..self }
    }
}

/// The whole outcome of a plan or apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub changed: usize,
    /// Resources whose action failed or was undone (apply).
    #[serde(default)]
    pub failed: usize,
    /// Resources whose action was not attempted after a failure (apply).
    #[serde(default)]
    pub skipped: usize,
    pub resources: Vec<Change>,
    /// What failed (apply) or could not be observed (plan).
    pub errors: Vec<crate::error::Entry>,
}

impl Report {
    /// A report over `resources`, counting changes, failures and skips apart.
    pub fn from_changes(resources: Vec<Change>, errors: Vec<crate::error::Entry>) -> Self {
        let count = |a: Action| resources.iter().filter(|c| c.action == a).count();
        let (failed, skipped) = (count(Action::Failed), count(Action::Skipped));
        let changed = resources.iter().filter(|c| c.action.is_change()).count();
        Self { changed, failed, skipped, resources, errors }
    }

    /// Resources left as they were (neither changed, failed nor skipped).
    pub fn unchanged(&self) -> usize {
        self.resources.iter().filter(|c| c.action == Action::Unchanged).count()
    }
}

/// Which command a report comes from (wording of the summary line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
    Stop,
    /// `uninstall --dry-run`, and the plan shown before the confirmation.
    UninstallPlan,
    Uninstall,
}

impl Action {
    /// Lowercase name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::Unchanged => "unchanged",
            Action::Failed => "failed",
            Action::Skipped => "skipped",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Start => ">",
            Action::Stop => "x",
            Action::Restart => "@",
            Action::Reload => "*",
            Action::Unchanged => " ",
            Action::Failed => "!",
            Action::Skipped => ".",
        }
    }
}

/// Human text of a report: one line per resource (`~ file /opt/... (update)`), the
/// unified diff of changed files indented below, a summary line last.
/// Unchanged resources and the diffs of created files are shown with `verbose` only.
pub fn render_human(rep: &Report, mode: Mode, color: bool, verbose: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    let mut unchanged = 0;
    for c in &rep.resources {
        // stop and uninstall show every resource (a kept data dir is news too).
        let all = matches!(mode, Mode::Stop | Mode::UninstallPlan | Mode::Uninstall);
        if c.action == Action::Unchanged && !verbose && !all {
            unchanged += 1;
            continue;
        }
        let action = match (mode, c.action) {
            (Mode::Stop, Action::Delete) => "stopped",
            (Mode::Stop, Action::Unchanged) => "not running",
            (_, a) => a.as_str(),
        };
        let line = format!("{:>3} {:<18} {} ({action})", c.action.symbol(), c.kind, c.name);
        let line = match &c.detail {
            Some(d) => format!("{line}: {d}"),
            None => line,
        };
        let code = match c.action {
            Action::Create | Action::Start => "32",
            Action::Delete | Action::Stop | Action::Failed => "31",
            Action::Unchanged | Action::Skipped => "2",
            _ => "33",
        };
        out.push_str(&paint(code, &line));
        out.push('\n');
        let show_diff = verbose || c.action != Action::Create;
        if let Some(diff) = c.diff.as_ref().filter(|_| show_diff) {
            for l in diff.lines() {
                let colored = if l.starts_with("+++") || l.starts_with("---") {
                    paint("1", l)
                } else if l.starts_with('+') {
                    paint("32", l)
                } else if l.starts_with('-') {
                    paint("31", l)
                } else if l.starts_with("@@") {
                    paint("36", l)
                } else {
                    l.to_string()
                };
                out.push_str("      ");
                out.push_str(&colored);
                out.push('\n');
            }
        }
    }
    let summary = match mode {
        // Something could not be observed: "no changes" would be a claim about it.
        Mode::Plan if !rep.errors.is_empty() => format!(
            "plan: incomplete, {} to change in what could be observed ({} error{} on stderr)",
            rep.changed,
            rep.errors.len(),
            if rep.errors.len() == 1 { "" } else { "s" }
        ),
        Mode::Plan if rep.changed == 0 => format!("plan: no changes ({unchanged} unchanged)"),
        Mode::Plan => format!("plan: {} to change", rep.changed),
        Mode::Apply if rep.failed + rep.skipped > 0 => format!(
            "apply: {} changed, {} failed, {} skipped ({unchanged} unchanged)",
            rep.changed, rep.failed, rep.skipped
        ),
        Mode::Apply if unchanged > 0 => {
            format!("apply: {} changed ({unchanged} unchanged)", rep.changed)
        }
        Mode::Apply => format!("apply: {} changed", rep.changed),
        Mode::Stop => format!("stop: {} stopped", rep.changed),
        Mode::UninstallPlan | Mode::Uninstall if rep.changed == 0 && rep.failed == 0 => {
            "uninstall: nothing to remove".to_string()
        }
        Mode::UninstallPlan => format!("uninstall: {} to remove", rep.changed),
        Mode::Uninstall if rep.failed > 0 => {
            format!("uninstall: {} removed, {} failed", rep.changed, rep.failed)
        }
        Mode::Uninstall => format!("uninstall: {} removed", rep.changed),
    };
    out.push_str(&summary);
    if mode == Mode::Apply && !rep.errors.is_empty() {
        out.push_str(" - failed, error on stderr");
    }
    out.push('\n');
    // Errors go to stderr, once and complete: a plan's in `print`, an apply's when the
    // command ends with it.
    out
}

/// Print a report to stdout in the printer's format (quiet: JSON only; the errors
/// reach stderr on their own).
pub fn print(rep: &Report, out: &crate::printer::Printer, mode: Mode) {
    if mode == Mode::Plan {
        // What plan could not observe is an error: stderr, whatever the format
        // (stdout keeps the data; the JSON document lists them in `errors`).
        for e in &rep.errors {
            out.error_entry(e);
        }
    }
    out.result(rep, || render_human(rep, mode, crate::printer::use_color(), out.verbose > 0));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_lines_and_summary() {
        let mut c = Change::new("file", "/opt/prometheus/prometheus.yml", Action::Update);
        c.diff = Some("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n".into());
        let rep = Report::from_changes(
            vec![c, Change::new("service", "prometheus", Action::Reload)],
            vec![],
        );
        insta::assert_snapshot!(render_human(&rep, Mode::Plan, false, false), @r"
          ~ file               /opt/prometheus/prometheus.yml (update)
              --- a
              +++ b
              @@ -1 +1 @@
              -x
              +y
          * service            prometheus (reload)
        plan: 2 to change
        ");
        assert!(render_human(&rep, Mode::Plan, true, false).contains("\x1b[32m+y"));
        let quiet =
            Report::from_changes(vec![Change::new("file", "/x", Action::Unchanged)], vec![]);
        assert_eq!(
            render_human(&quiet, Mode::Plan, false, false),
            "plan: no changes (1 unchanged)\n"
        );
        assert!(render_human(&quiet, Mode::Plan, false, true).contains("file"));
    }

    #[test]
    fn json_schema_is_stable() {
        let rep = Report::from_changes(
            vec![Change::new("release", "prometheus", Action::Create)],
            vec![],
        );
        assert_eq!(
            serde_json::to_string(&rep).unwrap(),
            r#"{"changed":1,"failed":0,"skipped":0,"resources":[{"kind":"release","name":"prometheus","action":"create"}],"errors":[]}"#
        );
    }
}
