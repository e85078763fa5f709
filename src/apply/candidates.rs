//! Step 1 of apply: every changed prometheus.yml, rule file and alertmanager.yml is
//! checked by the validator runner of `validate` (promtool / amtool) before it can
//! replace the live one.

use std::path::PathBuf;

use crate::atomic_fs;
use crate::config::{ComponentKind, Loaded};
use crate::error::ConfigError;
use crate::paths::Root;
use crate::plan::Plan;
use crate::render::FileRole;
use crate::state::StateDir;
use crate::validate::{self, Tool, Tools, ValidationError};

/// Check the candidates, each alone in `staging/` (the config with `--syntax-only`:
/// its rule_files point at the live paths; each rule file is checked on its own). The
/// validators are the installed release's own tools when present, else those on PATH;
/// a missing one is a warning.
pub(super) fn validate_candidates(
    root: &Root,
    loaded: &Loaded,
    state: &StateDir,
    plan: &Plan,
    deferred: &[ComponentKind],
    info: &dyn Fn(String),
) -> anyhow::Result<()> {
    let owner = |role: FileRole| match role {
        FileRole::AlertmanagerConfig => ComponentKind::Alertmanager,
        _ => ComponentKind::Prometheus,
    };
    let candidates: Vec<_> = plan
        .changed_files()
        .filter(|f| !deferred.contains(&owner(f.file.role)))
        .filter(|f| {
            matches!(
                f.file.role,
                FileRole::PrometheusConfig
                    | FileRole::PrometheusRules
                    | FileRole::AlertmanagerConfig
                    | FileRole::WebConfig(_)
            )
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let tools = tools(root, loaded);
    let staging = state.staging();
    let _ = std::fs::remove_dir_all(&staging);
    let result = candidates.iter().enumerate().try_for_each(|(i, f)| {
        let name = f.file.path.file_name().unwrap_or_default();
        let cand = staging.join(i.to_string()).join(name);
        atomic_fs::write_atomic(&cand, &f.file.content, 0o600, atomic_fs::Owner::default())?;
        let host = f.file.path.display().to_string();
        let judge = Tool::for_role(f.file.role).and_then(|t| tools.judged_by(t));
        match validate::validate_candidate(f.file.role, &cand, &tools) {
            Ok(_) => {
                if let Some(j) = &judge {
                    info(format!("{host}: checked by {j}"));
                }
                Ok(())
            }
            Err(ValidationError::ToolMissing { tool, .. }) => {
                eprintln!(
                    "warning: no `{tool}` installed or on PATH; `{host}` is not validated before it lands"
                );
                Ok(())
            }
            Err(ValidationError::Rejected { tool, message, .. }) => {
                let bin = tools.get(tool).map(|b| b.display().to_string()).unwrap_or_default();
                let message = message.replace(&cand.display().to_string(), &host);
                let message = crate::secrets::mask(&message, &f.file.secrets);
                // A config problem (exit 78): the candidate never lands.
                Err(crate::error::with_hint(
                    ConfigError::new(
                        &f.file.path,
                        None,
                        format!("rejected by `{bin}` ({}):\n{message}", judge.unwrap_or_default()),
                    ),
                    "fix the config or the --templates override; nothing on the host was changed",
                ))
            }
            Err(e) => Err(anyhow::Error::new(e)),
        }
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// promtool and amtool of the configured release when it is on disk, else of the
/// installed release (`current`), else from PATH.
fn tools(root: &Root, loaded: &Loaded) -> Tools {
    let mut tools = Tools::for_release(root, loaded);
    for (kind, tool) in
        [(ComponentKind::Prometheus, Tool::Promtool), (ComponentKind::Alertmanager, Tool::Amtool)]
    {
        if tools.origin(tool).is_some() {
            continue;
        }
        let installed: PathBuf =
            root.host(crate::artifact::current_dir(loaded, kind).join(tool.program()));
        if installed.is_file() {
            tools.set_with_origin(tool, installed, "installed release");
        }
    }
    tools
}
