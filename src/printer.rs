//! The one writer of the terminal: results on stdout (human text or one JSON document),
//! notes, warnings and errors on stderr. Every other module hands its output here
//! (download progress bars are the one exception: they draw on stderr themselves).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Entry, Error};

/// Version of every JSON document on stdout; bumped when a field changes meaning or goes.
/// 2: `errors[]` holds objects (code, message, file, line, column, key, hint), in every
/// document.
pub const FORMAT_VERSION: u32 = 2;

/// With `--output json`: the command's result and the errors reported so far, printed
/// as one document by [`Printer::finish`] (so a failure after the result, or before
/// any, still yields exactly one document).
static PENDING: Mutex<Pending> = Mutex::new(Pending { body: None, errors: Vec::new() });

struct Pending {
    body: Option<Value>,
    errors: Vec<Entry>,
}

fn pending() -> std::sync::MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// stdout format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Text for people
    #[default]
    Human,
    /// One JSON document for pipelines
    Json,
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

    /// A command's result: `json` goes into the one document [`Printer::finish`] prints
    /// with `--output json`, else the text `human` makes is printed (nothing when it is
    /// empty, or with `--quiet`: errors reach stderr on their own).
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
                pending().body = Some(serde_json::to_value(json).expect("output serializes"));
                return;
            }
            OutputFormat::Human => human(),
        };
        if text.is_empty() {
            return;
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_stdout(&text);
    }

    /// A progress note on stderr, unless quiet.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// An error the command reports and carries on from (`error: ...` lines on stderr;
    /// listed in the JSON document's `errors`).
    pub fn error(&self, err: &Error) {
        eprint!("{}", crate::error::render(err));
        pending().errors.extend(err.entries());
    }

    /// An error already in `errors[]` form (e.g. what plan could not observe), on
    /// stderr as `error: ...` and `hint: ...` lines.
    pub fn error_entry(&self, e: &Entry) {
        let mut text = String::new();
        for (i, l) in e.message.lines().enumerate() {
            text.push_str(if i == 0 { "error: " } else { "  " });
            text.push_str(l);
            text.push('\n');
        }
        if let Some(h) = &e.hint {
            text.push_str(&format!("hint: {h}\n"));
        }
        eprint!("{text}");
        pending().errors.push(e.clone());
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
        pending().errors.push(Entry::failure(msg.as_ref()));
    }

    /// End of a command: its error (if it failed) on stderr, once and complete; with
    /// `--output json` the one document on stdout: `format_version`, the result's own
    /// fields, and `errors` (the result's, those reported on the way, and this one).
    pub fn finish(&self, failure: Option<&Error>) {
        if let Some(e) = failure {
            eprint!("{}", crate::error::render(e));
        }
        if self.format != OutputFormat::Json {
            return;
        }
        let Pending { body, errors } = std::mem::replace(&mut *pending(), Pending::empty());
        let entries = errors.into_iter().chain(failure.map(Error::entries).unwrap_or_default());
        print_document(body, entries.collect());
    }
}

impl Pending {
    const fn empty() -> Self {
        Pending { body: None, errors: Vec::new() }
    }
}

fn print_document(body: Option<Value>, extra: Vec<Entry>) {
    let doc = document(body, extra);
    write_stdout(&(serde_json::to_string_pretty(&doc).expect("output serializes") + "\n"));
}

/// Write to stdout. A reader that went away (`monstack man | head`) is not an error of
/// ours: no panic, and the command still finishes (and cleans up) as it would.
fn write_stdout(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// `format_version` first, then the body's fields, then `errors` with `extra` added
/// (each entry once).
fn document(body: Option<Value>, extra: Vec<Entry>) -> Value {
    let mut doc = Map::new();
    doc.insert("format_version".into(), FORMAT_VERSION.into());
    match body {
        Some(Value::Object(fields)) => doc.extend(fields),
        Some(other) => {
            doc.insert("result".into(), other);
        }
        None => {}
    }
    let errors = doc.entry("errors").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = errors {
        for e in extra {
            let v = serde_json::to_value(e).expect("entry serializes");
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
    Value::Object(doc)
}

/// With `--output json`, a command line clap refused: the one document, its error as
/// an entry (exit 64).
pub fn usage_document(entry: Entry) {
    print_document(None, vec![entry]);
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
    fn documents_lead_with_format_version_and_list_errors_once() {
        let body = serde_json::json!({"changed": true});
        let doc = document(Some(body), vec![]);
        assert_eq!(doc.to_string(), r#"{"format_version":2,"changed":true,"errors":[]}"#);
        let e = Entry::failure("boom");
        let body = serde_json::json!({"errors": [e.clone()]});
        let doc = document(Some(body), vec![e.clone(), Entry::failure("late")]);
        let messages: Vec<&str> = doc["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, ["boom", "late"]);
        assert!(doc["errors"][0]["file"].is_null());
    }
}
