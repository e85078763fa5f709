//! plan / apply: observe the host, diff against the desired state, converge.

use crate::cli::{not_implemented, Context, PlanArgs, StopArgs};

/// `monstack plan`.
pub fn cmd_plan(_ctx: &Context, _args: &PlanArgs) -> anyhow::Result<i32> {
    not_implemented("plan")
}

/// `monstack apply`.
pub fn cmd_apply(_ctx: &Context, _args: &PlanArgs) -> anyhow::Result<i32> {
    not_implemented("apply")
}

/// `monstack stop`.
pub fn cmd_stop(_ctx: &Context, _args: &StopArgs) -> anyhow::Result<i32> {
    not_implemented("stop")
}
