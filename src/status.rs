//! End-to-end health of the provisioned stack.

use crate::cli::{not_implemented, Context, StatusArgs};

/// `monstack status`.
pub fn cmd_status(_ctx: &Context, _args: &StatusArgs) -> anyhow::Result<i32> {
    not_implemented("status")
}
