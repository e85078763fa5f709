//! The stand-in for Grafana's server binary in the install tests (tarball and apt):
//! the `grafana-emulator` example, built on demand. Include with
//! `#[path = "support/stand_in.rs"] mod stand_in;`.

use std::path::PathBuf;
use std::process::Command;

/// The built `grafana-emulator` (its `server` subcommand reads grafana.ini).
pub fn stand_in() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = target.join("examples/grafana-emulator");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--offline", "--example", "grafana-emulator"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // The variables cargo sets for this test would make build scripts run again.
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
            cmd.env_remove(k);
        }
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "building the stand-in failed");
    assert!(bin.is_file(), "{}", bin.display());
    bin
}
