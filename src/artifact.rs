//! Release tarballs: download, verify SHA-256 while streaming, extract safely,
//! install atomically (versioned, `current` symlink), lock, bundle, rollback.

use std::path::PathBuf;

use crate::cli::{not_implemented, BundleArgs, Context, InstallArgs, NetArgs, RollbackArgs};
use crate::config::{ComponentKind, Loaded};
use crate::paths::Root;

/// What is installed for a component, read from the host without network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Version and digest of the active release (`current`), if any.
    pub installed: Option<(String, String)>,
    /// True when the desired version/digest is not the active one.
    pub needs_install: bool,
}

/// Outcome of [`install`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    /// The desired release was already active: nothing touched, no network used.
    Unchanged,
    /// A release was installed and made current.
    Installed { version: String, previous: Option<String> },
}

/// Where the active release of a component lives (host path, before the root).
pub fn current_dir(loaded: &Loaded, kind: ComponentKind) -> PathBuf {
    loaded.config.component(kind).install_dir.join("current")
}

/// Read what is installed; never touches the network.
pub fn observe(_root: &Root, _loaded: &Loaded, _kind: ComponentKind) -> anyhow::Result<Observed> {
    anyhow::bail!("release observation is not implemented yet")
}

/// Make the desired release of `kind` current (download, verify, extract, switch).
pub fn install(
    _root: &Root,
    _loaded: &Loaded,
    _kind: ComponentKind,
    _net: &NetArgs,
) -> anyhow::Result<InstallStatus> {
    anyhow::bail!("release install is not implemented yet")
}

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
