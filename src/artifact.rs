//! Release tarballs: download, verify SHA-256 while streaming, extract safely, install atomically.

use crate::cli::*;

/// `monstack lock`.
pub fn cmd_lock(_ctx: &Context, _args: &NetArgs) -> anyhow::Result<i32> {
    not_implemented("lock")
}

/// `monstack bundle`.
pub fn cmd_bundle(_ctx: &Context, _args: &BundleArgs) -> anyhow::Result<i32> {
    not_implemented("bundle")
}

/// `monstack install`.
pub fn cmd_install(_ctx: &Context, _args: &InstallArgs) -> anyhow::Result<i32> {
    not_implemented("install")
}

/// `monstack rollback`.
pub fn cmd_rollback(_ctx: &Context, _args: &RollbackArgs) -> anyhow::Result<i32> {
    not_implemented("rollback")
}
