//! The crate's error type, exit codes, and the one place where errors are rendered.
//!
//! Every layer returns [`Result`]: an [`Error`] knows its [`Kind`] (config, usage or
//! runtime failure), its messages (outermost context first) and an optional hint, so
//! adding context never hides what kind of error it is. Nothing inspects an error's
//! dynamic type: code that branches on an outcome gets it as a typed value (e.g.
//! `lifecycle::ReloadError`, `grafana::Pushed`). Successful outcomes map to codes in
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

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// What kind of error a command failed with: decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The configuration is wrong (exit 78): nothing was changed on the host.
    Config(Vec<ConfigError>),
    /// A command-line mistake found after parsing (exit 64).
    Usage,
    /// Anything else (exit 1).
    Failure,
}

/// An error with its kind, its messages (outermost first) and an optional hint.
pub struct Error {
    kind: Kind,
    chain: Vec<String>,
    hint: Option<String>,
}

impl Error {
    /// A runtime failure with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self { kind: Kind::Failure, chain: vec![message.to_string()], hint: None }
    }

    /// Config errors (exit 78), reported together.
    pub fn config(errors: Vec<ConfigError>) -> Self {
        let chain = vec![ConfigErrors(errors.clone()).to_string()];
        Self { kind: Kind::Config(errors), chain, hint: None }
    }

    /// This error as a usage error (exit 64), messages and hint kept.
    pub fn into_usage(mut self) -> Self {
        self.kind = Kind::Usage;
        self
    }

    /// Add context: a message printed before the existing ones.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.chain.insert(0, context.to_string());
        self
    }

    /// Attach (or replace) the `hint: ...` line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// True for a config error (exit 78).
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// The config errors, when this is one (else empty).
    pub fn config_errors(&self) -> &[ConfigError] {
        match &self.kind {
            Kind::Config(errors) => errors,
            _ => &[],
        }
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The messages, outermost context first, innermost cause last.
    pub fn chain(&self) -> impl Iterator<Item = &str> {
        self.chain.iter().map(String::as_str)
    }

    /// The innermost cause.
    pub fn root_cause(&self) -> &str {
        self.chain.last().map_or("", String::as_str)
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Config(_) => exit::CONFIG,
            Kind::Usage => exit::USAGE,
            Kind::Failure => exit::FAILURE,
        }
    }
}

/// `{}` is the outermost message, `{:#}` all of them joined with `: ` (as anyhow does).
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let mut lines = self.chain.clone();
            lines.dedup();
            write!(f, "{}", lines.join(": "))
        } else {
            write!(f, "{}", self.chain.first().map_or("", String::as_str))
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", render(self).trim_end())
    }
}

/// Any standard error is a runtime failure; its `source()` chain becomes the causes.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(e: E) -> Self {
        let mut chain = vec![e.to_string()];
        let mut cur = e.source();
        while let Some(c) = cur {
            chain.push(c.to_string());
            cur = c.source();
        }
        Self { kind: Kind::Failure, chain, hint: None }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::config(vec![e])
    }
}

impl From<ConfigErrors> for Error {
    fn from(e: ConfigErrors) -> Self {
        Self::config(e.0)
    }
}

/// `.context()` / `.with_context()` on results and options, as with anyhow.
pub trait Context<T> {
    /// Wrap the error with a message.
    fn context<C: fmt::Display>(self, context: C) -> Result<T>;
    /// Wrap the error with a message built only on failure.
    fn with_context<C: fmt::Display, F: FnOnce() -> C>(self, f: F) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context<C: fmt::Display>(self, context: C) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }
    fn with_context<C: fmt::Display, F: FnOnce() -> C>(self, f: F) -> Result<T> {
        self.map_err(|e| e.into().context(f()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context<C: fmt::Display>(self, context: C) -> Result<T> {
        self.ok_or_else(|| Error::msg(context))
    }
    fn with_context<C: fmt::Display, F: FnOnce() -> C>(self, f: F) -> Result<T> {
        self.ok_or_else(|| Error::msg(f()))
    }
}

/// A runtime failure from a format string (like `anyhow!`).
#[macro_export]
macro_rules! failure {
    ($($arg:tt)*) => { $crate::error::Error::msg(format!($($arg)*)) };
}

/// Return early with a runtime failure from a format string (like `anyhow::bail!`).
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::failure!($($arg)*).into()) };
}

/// Attach a hint to an error.
pub fn with_hint(error: impl Into<Error>, hint: impl Into<String>) -> Error {
    error.into().with_hint(hint)
}

/// Mark an error as a usage error (exit 64), like clap's own usage errors.
pub fn usage(error: impl Into<Error>) -> Error {
    error.into().into_usage()
}

/// An error as `error: ...`, `caused by: ...` lines and an optional `hint: ...`
/// (printed by [`crate::printer`]).
pub fn render(err: &Error) -> String {
    let mut lines: Vec<&str> = err.chain().collect();
    lines.dedup();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let prefix = if i == 0 { "error: " } else { "caused by: " };
        // Multi-line messages (validator output, several config errors) stay readable.
        for (j, l) in line.lines().enumerate() {
            out.push_str(if j == 0 { prefix } else { "  " });
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(h) = err.hint() {
        out.push_str("hint: ");
        out.push_str(h);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_kind_and_hint() {
        let e = Error::from(ConfigError::new("m.yaml", None, "bad"))
            .with_hint("fix it")
            .context("loading");
        assert!(e.is_config());
        assert_eq!(e.exit_code(), exit::CONFIG);
        assert_eq!(render(&e), "error: loading\ncaused by: m.yaml: bad\nhint: fix it\n");
        let u = usage(failure!("bad flag")).context("parsing");
        assert_eq!(u.exit_code(), exit::USAGE);
        assert_eq!(failure!("boom").exit_code(), exit::FAILURE);
    }

    #[test]
    fn std_errors_keep_their_source_chain() {
        let io = std::io::Error::other("disk full");
        let e = Error::from(io).context("cannot write `x`");
        assert_eq!(format!("{e:#}"), "cannot write `x`: disk full");
        assert_eq!(format!("{e}"), "cannot write `x`");
        assert_eq!(e.root_cause(), "disk full");
    }
}
