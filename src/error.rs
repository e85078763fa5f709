//! Exit codes and the one place where errors are rendered for the user.
//!
//! Modules keep their own typed errors; what a command fails with is an
//! `anyhow::Error`, classified once here (a `ConfigError` anywhere in its chain means
//! exit 78, a [`Usage`] error 64). Successful outcomes map to codes in
//! `commands::exit_code`.

use std::fmt;
use std::path::PathBuf;

/// Process exit codes (sysexits-style, plus Terraform's "changes pending").
pub mod exit {
    /// Success; for plan/apply with `--detailed-exitcode`, nothing to change.
    pub const OK: i32 = 0;
    /// Runtime failure, or an unhealthy stack for `status`.
    pub const FAILURE: i32 = 1;
    /// Changes pending or made (only with `--detailed-exitcode`).
    pub const CHANGES: i32 = 2;
    /// Command-line usage error (clap's own code 2 is remapped to this).
    pub const USAGE: i32 = 64;
    /// Configuration error: nothing was changed on the host.
    pub const CONFIG: i32 = 78;
}

/// A problem with the user's configuration, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted field path, e.g. `prometheus.scrape_configs[1].job_name`.
    pub field: Option<String>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
}

impl ConfigError {
    /// A config error with no location yet.
    pub fn new(
        file: impl Into<PathBuf>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self { file: file.into(), line: None, column: None, field, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Several config errors found in one pass, so the user fixes them all at once.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// An error that carries a hint for the user (`hint: ...` line).
#[derive(Debug)]
pub struct Hinted {
    pub error: anyhow::Error,
    pub hint: String,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Attach a hint to an error.
pub fn with_hint(error: impl Into<anyhow::Error>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted { error: error.into(), hint: hint.into() })
}

/// A command-line usage error found after parsing (a flag combination, an argument that
/// does not fit): exit 64, like clap's own usage errors.
#[derive(Debug)]
pub struct Usage(pub anyhow::Error);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for Usage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Mark an error as a usage error (exit 64).
pub fn usage(error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Usage(error.into()))
}

/// The exit code for an error: 78 when the cause is the configuration, 64 for a usage
/// error, else 1. Errors arrive as `anyhow` chains from every layer, so this (with
/// [`render`]) is the one place that looks at their types; nothing else branches on them.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if cause.is::<Usage>() {
            return exit::USAGE;
        }
        if cause.is::<ConfigError>() || cause.is::<ConfigErrors>() {
            return exit::CONFIG;
        }
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            return exit_code(&h.error);
        }
    }
    exit::FAILURE
}

/// An error as `error: ...`, `caused by: ...` lines and an optional `hint: ...`
/// (printed by [`crate::printer`]).
pub fn render(err: &anyhow::Error) -> String {
    let mut hint = None;
    let mut lines = Vec::new();
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hint = Some(h.hint.clone());
            for c in h.error.chain() {
                lines.push(c.to_string());
            }
            break;
        }
        lines.push(cause.to_string());
    }
    lines.dedup();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let prefix = if i == 0 { "error: " } else { "caused by: " };
        // Multi-line messages (validator output, several config errors) stay readable.
        for (j, l) in line.lines().enumerate() {
            if j == 0 {
                out.push_str(prefix);
            } else {
                out.push_str("  ");
            }
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(h) = hint {
        out.push_str("hint: ");
        out.push_str(&h);
        out.push('\n');
    }
    out
}
