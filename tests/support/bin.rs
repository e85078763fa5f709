//! The one way the integration tests run the built `monstack`: an environment
//! scrubbed of what would change its behaviour behind the test's back
//! (`MONSTACK_CONFIG`, `MONSTACK_CRASH_AT`) and `NO_COLOR` set, so output is plain
//! text. Include with `#[path = "support/bin.rs"] mod bin;` (stack and release use it).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// A `monstack` command line being built.
pub struct Monstack(Command);

impl Monstack {
    /// `monstack` with the scrubbed environment.
    pub fn new() -> Monstack {
        let mut c = Command::new(env!("CARGO_BIN_EXE_monstack"));
        c.env_remove("MONSTACK_CONFIG").env_remove("MONSTACK_CRASH_AT").env("NO_COLOR", "1");
        Monstack(c)
    }

    /// `--config FILE`.
    pub fn config(mut self, file: impl AsRef<OsStr>) -> Monstack {
        self.0.arg("--config").arg(file);
        self
    }

    /// `--root DIR`.
    pub fn root(mut self, dir: impl AsRef<OsStr>) -> Monstack {
        self.0.arg("--root").arg(dir);
        self
    }

    /// Run in `dir`.
    pub fn dir(mut self, dir: &Path) -> Monstack {
        self.0.current_dir(dir);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Monstack
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.0.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Monstack {
        self.0.env(key, value);
        self
    }

    /// The command, for callers that add to it or spawn it.
    pub fn command(self) -> Command {
        self.0
    }

    /// Run to the end.
    pub fn output(mut self) -> Output {
        self.0.output().expect("run monstack")
    }
}
