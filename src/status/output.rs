//! The status table for people and the JSON document for pipelines, handed to
//! [`crate::printer`].
//!
//! Marks: `✓` ok, `✗` fail, `!` warn, `-` skipped, colored on a terminal; plain ASCII
//! words (`ok`, `FAIL`, `warn`, `skip`) when stdout is not a terminal or `NO_COLOR` is set.

use std::time::Duration;

use super::{Level, Status};
use crate::printer::Printer;

/// Print the outcome. Quiet: each failed check as an error on stderr, nothing else
/// (JSON is always printed).
pub fn print(status: &Status, out: &Printer, took: Duration) {
    if out.quiet && !out.json_output() {
        for c in status.checks.iter().filter(|c| c.level == Level::Fail) {
            out.error_line(format!("{} {}: {}", c.component, c.check, c.reason));
        }
    }
    out.result(status, || render_human(status, crate::printer::use_color(), took));
}

/// The table: mark, component, check, reason; a summary line last.
pub fn render_human(status: &Status, fancy: bool, took: Duration) -> String {
    let rows: Vec<_> = status.checks.iter().collect();
    let wc = rows.iter().map(|c| c.component.len()).max().unwrap_or(0);
    let wk = rows.iter().map(|c| c.check.chars().count()).max().unwrap_or(0).min(40);
    let mut out = String::new();
    for c in &rows {
        let (mark, color) = match (c.level, fancy) {
            (Level::Ok, true) => ("✓", "32"),
            (Level::Fail, true) => ("✗", "31"),
            (Level::Warn, true) => ("!", "33"),
            (Level::Skip, true) => ("-", "2"),
            (Level::Ok, false) => ("ok  ", ""),
            (Level::Fail, false) => ("FAIL", ""),
            (Level::Warn, false) => ("warn", ""),
            (Level::Skip, false) => ("skip", ""),
        };
        let mark = if fancy { format!("\x1b[{color}m{mark}\x1b[0m") } else { mark.to_string() };
        let line = format!("{mark} {:<wc$}  {:<wk$}  {}", c.component, c.check, c.reason);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let failed = status.checks.iter().filter(|c| !c.ok).count();
    let warned = status.checks.iter().filter(|c| c.level == Level::Warn).count();
    let total = status.checks.iter().filter(|c| c.level != Level::Skip).count();
    let warn =
        if warned > 0 { format!(", {warned} warning{}", plural(warned)) } else { String::new() };
    let secs = format!("{:.1}s", took.as_secs_f64());
    if status.healthy {
        out.push_str(&format!("status: healthy ({total} checks{warn}, {secs})\n"));
    } else {
        out.push_str(&format!(
            "status: unhealthy ({failed} of {total} checks failed{warn}, {secs})\n"
        ));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::super::Check;
    use super::*;

    fn sample() -> Status {
        Status::new(vec![
            Check::new("prometheus", "ready", Level::Ok, "http://127.0.0.1:9090/-/ready"),
            Check::new(
                "prometheus",
                "target node 127.0.0.1:9100",
                Level::Fail,
                "connection refused",
            ),
            Check::new("prometheus", "alerts", Level::Warn, "firing: SnowflakeMCPDown (critical)"),
            Check::new("grafana", "enabled", Level::Skip, "disabled in the config"),
        ])
    }

    #[test]
    fn ascii_table_aligns_and_summarises() {
        insta::assert_snapshot!(render_human(&sample(), false, Duration::from_millis(120)), @r"
        ok   prometheus  ready                       http://127.0.0.1:9090/-/ready
        FAIL prometheus  target node 127.0.0.1:9100  connection refused
        warn prometheus  alerts                      firing: SnowflakeMCPDown (critical)
        skip grafana     enabled                     disabled in the config
        status: unhealthy (1 of 3 checks failed, 1 warning, 0.1s)
        ");
    }

    #[test]
    fn marks_on_a_terminal() {
        let text = render_human(&sample(), true, Duration::ZERO);
        assert!(text.contains("\x1b[32m✓\x1b[0m prometheus"), "{text}");
        assert!(text.contains("\x1b[31m✗\x1b[0m prometheus"), "{text}");
        assert!(text.contains("\x1b[33m!\x1b[0m"), "{text}");
    }
}
