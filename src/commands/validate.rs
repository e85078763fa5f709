//! `monstack validate`: render the config and run the real validators on every file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::{Context, Outcome};
use crate::cli::ValidateArgs;
use crate::render::FileRole;
use crate::validate::{validate_rendered, Tool, Tools, ValidationError};

/// `monstack validate`.
pub fn validate(ctx: &Context, args: &ValidateArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    let files = crate::render::render_all(&loaded, args.templates.as_deref())?;
    // promtool/amtool of the configured release when it is on disk, else the host's.
    let tools = Tools::for_release(&ctx.root, &loaded);
    let checks = validate_rendered(&files, &tools)?;
    let judges: BTreeMap<Tool, String> =
        Tool::ALL.into_iter().filter_map(|t| Some((t, tools.judged_by(t)?))).collect();

    let mut failed = 0;
    let mut rows = Vec::new();
    for c in &checks {
        let (status, tool, message, notes) = match &c.result {
            // No validator exists for an rsyslog drop-in.
            Ok(ok) if ok.tool.is_none() && c.role == FileRole::Rsyslog => {
                ("skipped", None, None, ok.notes.clone())
            }
            Ok(ok) => ("ok", ok.tool, None, ok.notes.clone()),
            Err(e @ ValidationError::ToolMissing { tool, .. }) => {
                if args.strict {
                    failed += 1;
                    ctx.out.error_line(e.to_string());
                } else if !ctx.out.quiet {
                    crate::printer::warn(e.to_string());
                }
                (
                    if args.strict { "error" } else { "unchecked" },
                    Some(*tool),
                    Some(e.to_string()),
                    vec![],
                )
            }
            Err(e) => {
                failed += 1;
                ctx.out.error(&crate::error::Error::msg(e.to_string()));
                let tool = match e {
                    ValidationError::Rejected { tool, .. } => Some(*tool),
                    _ => None,
                };
                ("invalid", tool, Some(e.to_string()), vec![])
            }
        };
        for n in &notes {
            ctx.out.info(format!("note: {}: {n}", c.path.display()));
        }
        let judged_by =
            tool.filter(|_| status != "unchecked").and_then(|t| judges.get(&t).cloned());
        rows.push(Row {
            path: c.path.clone(),
            role: c.role.label(),
            tool,
            judged_by,
            status,
            message,
            notes,
        });
    }
    let counts = Counts::of(&rows);
    let summary = Summary { valid: failed == 0, counts: counts.clone(), files: rows };
    ctx.out.result(&summary, || {
        let mut text = String::new();
        for r in &summary.files {
            let tool = r.tool.map(|t| t.program()).unwrap_or("-");
            // promtool and amtool come with the release: say which one judged.
            let judge = r
                .judged_by
                .as_deref()
                .filter(|_| r.tool.is_some_and(|t| t.judged_per_release()))
                .map(|j| format!(" [{j}]"))
                .unwrap_or_default();
            text.push_str(&format!("{:<9} {:<15} {}{judge}\n", r.status, tool, r.path.display()));
        }
        text
    });
    if failed > 0 {
        ctx.out.error_line(format!("{failed} of {} files failed validation", checks.len()));
        return Ok(Outcome::Failed);
    }
    ctx.out.info(counts.to_string());
    Ok(Outcome::Done)
}

#[derive(Serialize)]
struct Summary {
    valid: bool,
    #[serde(flatten)]
    counts: Counts,
    files: Vec<Row>,
}

/// What was actually checked: a file no validator ran on is never counted as valid.
#[derive(Debug, Clone, Serialize)]
struct Counts {
    /// Files a validator (or monstack itself) checked.
    checked: usize,
    /// Files not checked because their validator is not installed.
    unchecked: usize,
    /// Files no validator exists for (the rsyslog drop-in).
    without_validator: usize,
    /// The validators not found, in report order.
    missing_validators: Vec<Tool>,
}

impl Counts {
    fn of(rows: &[Row]) -> Self {
        let mut missing: Vec<Tool> = rows
            .iter()
            .filter(|r| matches!(r.status, "unchecked" | "error"))
            .filter_map(|r| r.tool)
            .collect();
        missing.sort();
        missing.dedup();
        let count = |f: &dyn Fn(&str) -> bool| rows.iter().filter(|r| f(r.status)).count();
        Self {
            checked: count(&|s| matches!(s, "ok" | "invalid")),
            unchecked: count(&|s| matches!(s, "unchecked" | "error")),
            without_validator: count(&|s| s == "skipped"),
            missing_validators: missing,
        }
    }
}

impl fmt::Display for Counts {
    /// E.g. `0 checked, 7 unchecked: validators missing (promtool, amtool); 1 file has no validator (rsyslog)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} checked and valid", self.checked)?;
        if self.unchecked > 0 {
            let names: Vec<&str> = self.missing_validators.iter().map(|t| t.program()).collect();
            write!(f, ", {} unchecked: validators missing ({})", self.unchecked, names.join(", "))?;
        }
        if self.without_validator > 0 {
            let s = if self.without_validator == 1 { "file has" } else { "files have" };
            write!(f, "; {} {s} no validator (rsyslog)", self.without_validator)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Row {
    path: PathBuf,
    role: String,
    tool: Option<Tool>,
    /// The validator's binary and version, e.g. `promtool 3.5.0 (release 3.5.0)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    judged_by: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    notes: Vec<String>,
}
