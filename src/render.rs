//! Renders every host file from Tera templates (embedded, overridable); no I/O but reading templates and writing the output tree.

use crate::cli::*;

/// `monstack init`.
pub fn cmd_init(_ctx: &Context, _args: &InitArgs) -> anyhow::Result<i32> {
    not_implemented("init")
}

/// `monstack render`.
pub fn cmd_render(_ctx: &Context, _args: &RenderArgs) -> anyhow::Result<i32> {
    not_implemented("render")
}
