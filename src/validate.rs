//! Runs the real validators (promtool, amtool, systemd-analyze, logrotate) on a rendered tree.

use crate::cli::{not_implemented, Context, ValidateArgs};

/// `monstack validate`.
pub fn cmd_validate(_ctx: &Context, _args: &ValidateArgs) -> anyhow::Result<i32> {
    not_implemented("validate")
}
