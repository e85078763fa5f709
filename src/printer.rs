//! The one writer of the terminal: results on stdout (human text or one JSON document),
//! notes, warnings and errors on stderr. Every other module hands its output here
//! (download progress bars are the one exception: they draw on stderr themselves).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde::Serialize;

/// Version of every JSON document on stdout; bumped when a field changes meaning or goes.
pub const FORMAT_VERSION: u32 = 2;

/// stdout format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Text for people
    #[default]
    Human,
    /// One JSON document for pipelines
    Json,
}

/// A JSON document as printed: `format_version` first, then the command's own fields.
#[derive(Debug, Serialize)]
pub struct Document<'a, T: Serialize> {
    pub format_version: u32,
    #[serde(flatten)]
    pub body: &'a T,
}

/// How results and notes are written for one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    pub format: OutputFormat,
    /// Print nothing but errors (a JSON document is still printed).
    pub quiet: bool,
    /// More detail (repeatable flag).
    pub verbose: u8,
}

impl Printer {
    /// True for `--output json`.
    pub fn json_output(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Print a command's result: `json` as a versioned document with `--output json`,
    /// else the text `human` makes (nothing when it is empty, or with `--quiet`: errors
    /// reach stderr on their own).
    pub fn result<T: Serialize>(&self, json: &T, human: impl FnOnce() -> String) {
        if self.quiet && self.format == OutputFormat::Human {
            return;
        }
        self.product(json, human);
    }

    /// Print what the command was asked to produce (a completion script, a man page),
    /// `--quiet` or not.
    pub fn product<T: Serialize>(&self, json: &T, human: impl FnOnce() -> String) {
        let mut text = match self.format {
            OutputFormat::Json => {
                let doc = Document { format_version: FORMAT_VERSION, body: json };
                serde_json::to_string_pretty(&doc).expect("output serializes")
            }
            OutputFormat::Human => human(),
        };
        if text.is_empty() {
            return;
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        // A reader that went away (`monstack man | head`) is not an error of ours:
        // no panic, and the command still finishes (and cleans up) as it would.
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }

    /// A progress note on stderr, unless quiet.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// An error the command reports and carries on from (`error: ...` lines).
    pub fn error(&self, err: &crate::error::Error) {
        eprint!("{}", crate::error::render(err));
    }

    /// Ask a yes/no question on stderr and read the answer from stdin; only `y` or `yes`
    /// is a yes (an empty answer, or stdin closed, is a no).
    pub fn confirm(&self, question: &str) -> std::io::Result<bool> {
        use std::io::Write as _;
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
    }

    /// A one-line error message the command carries on from.
    pub fn error_line(&self, msg: impl AsRef<str>) {
        eprintln!("error: {}", msg.as_ref());
    }
}

/// The overall progress of a command that runs in phases: one line per phase on
/// stderr as it starts, `[3/6] download + verify: prometheus (+1.2s)` (time since the
/// command started). Human output only: nothing with `--quiet` or `--output json`.
#[derive(Debug)]
pub struct Steps {
    printer: Printer,
    total: usize,
    started: std::time::Instant,
    at: std::cell::Cell<usize>,
}

impl Steps {
    /// Progress over `total` phases, timed from now.
    pub fn new(printer: &Printer, total: usize) -> Self {
        Self { printer: *printer, total, started: std::time::Instant::now(), at: 0.into() }
    }

    /// The next phase starts: `phase`, then what it is about to do.
    pub fn step(&self, phase: &str, detail: impl AsRef<str>) {
        self.at.set(self.at.get() + 1);
        if self.printer.quiet || self.printer.json_output() {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let (at, total, detail) = (self.at.get(), self.total, detail.as_ref());
        eprintln!("[{at}/{total}] {phase}: {detail} (+{elapsed:.1}s)");
    }
}

/// One JSON value on one line of stdout, as it is (no `format_version`): the answer of
/// the Ansible binary module, whose shape Ansible defines.
pub fn json_line(value: &serde_json::Value) {
    println!("{value}");
}

/// Colors on when stdout is a terminal and NO_COLOR is unset (or empty).
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty())
}

/// stdin is a terminal: someone can answer [`Printer::confirm`].
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// A warning on stderr (shown even when quiet): something failed that the command
/// does not stop for.
pub fn warn(msg: impl AsRef<str>) {
    eprintln!("warning: {}", msg.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lead_with_format_version() {
        #[derive(Serialize)]
        struct Body {
            changed: bool,
        }
        let doc = Document { format_version: FORMAT_VERSION, body: &Body { changed: true } };
        assert_eq!(serde_json::to_string(&doc).unwrap(), r#"{"format_version":2,"changed":true}"#);
    }
}
