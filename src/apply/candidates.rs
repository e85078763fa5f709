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
) -> anyhow::Result<()> {
    let candidates: Vec<_> = plan
        .changed_files()
        .filter(|f| {
            matches!(
                f.file.role,
                FileRole::PrometheusConfig
                    | FileRole::PrometheusRules
                    | FileRole::AlertmanagerConfig
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
        match validate::validate_candidate(f.file.role, &cand, &tools) {
            Ok(_) => Ok(()),
            Err(ValidationError::ToolMissing { tool, .. }) => {
                crate::printer::warn(format!(
                    "no `{tool}` installed or on PATH; `{host}` is not validated before it lands"
                ));
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
                        format!("rejected by `{bin}`:\n{message}"),
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

/// promtool from the installed Prometheus, amtool from the installed Alertmanager,
/// else from PATH.
fn tools(root: &Root, loaded: &Loaded) -> Tools {
    let mut tools = Tools::from_path();
    for (kind, tool) in
        [(ComponentKind::Prometheus, Tool::Promtool), (ComponentKind::Alertmanager, Tool::Amtool)]
    {
        let installed: PathBuf =
            root.host(crate::artifact::current_dir(loaded, kind).join(tool.program()));
        if installed.is_file() {
            tools.set(tool, installed);
        }
    }
    tools
}
