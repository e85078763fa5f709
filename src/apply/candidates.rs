//! Step 1 of apply: every changed prometheus.yml, rule file and alertmanager.yml is
//! checked by the validator runner of `validate` (promtool / amtool of the release it
//! is for) before it can replace the live one.

use crate::atomic_fs;
use crate::config::{ComponentKind, Loaded};
use crate::error::ConfigError;
use crate::paths::Root;
use crate::plan::Plan;
use crate::render::FileRole;
use crate::report::Action;
use crate::state::StateDir;
use crate::validate::{self, Tool, Tools, ValidationError};

/// Check the candidates, each alone in `staging/` (the config with `--syntax-only`:
/// its rule_files point at the live paths; each rule file is checked on its own). The
/// validators are the promtool/amtool of the release each file is for when it is on
/// disk, else those on PATH; a missing one is a warning. Files of the components in
/// `deferred` (a release still to be downloaded) are left for the check after it is.
/// Which binary and version judged each file goes to `info`.
pub(super) fn validate_candidates(
    root: &Root,
    loaded: &Loaded,
    state: &StateDir,
    plan: &Plan,
    deferred: &[ComponentKind],
    info: &dyn Fn(String),
) -> crate::error::Result<()> {
    let owner = |role: FileRole| match role {
        FileRole::AlertmanagerConfig => ComponentKind::Alertmanager,
        _ => ComponentKind::Prometheus,
    };
    let candidates: Vec<_> = plan
        .changed_files()
        .filter(|f| f.action != Action::Delete)
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
    let tools = Tools::for_release(root, loaded);
    let staging = state.staging();
    let _ = std::fs::remove_dir_all(&staging);
    let result = candidates.iter().enumerate().try_for_each(|(i, f)| {
        let name = f.file.path.file_name().unwrap_or_default();
        let cand = staging.join(i.to_string()).join(name);
        atomic_fs::write_atomic(&cand, &f.file.content, 0o600, atomic_fs::Owner::default())?;
        let host = f.file.path.display().to_string();
        let judge = |tool: Tool| tools.judged_by(tool).unwrap_or_else(|| tool.to_string());
        match validate::validate_candidate(f.file.role, &cand, &tools) {
            Ok(c) => {
                if let Some(tool) = c.tool {
                    info(format!("{host}: checked by {}", judge(tool)));
                }
                Ok(())
            }
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
                        format!("rejected by `{bin}` ({}):\n{message}", judge(tool)),
                    ),
                    "fix the config or the --templates override; nothing on the host was changed",
                ))
            }
            Err(e) => Err(crate::error::Error::from(e)),
        }
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Whether the configured release of `kind` is already unpacked on this host.
pub(super) fn release_on_disk(root: &Root, loaded: &Loaded, kind: ComponentKind) -> bool {
    let comp = loaded.config.component(kind);
    let dir = root.host(comp.install_dir.join("releases").join(&comp.version));
    dir.join(kind.binaries()[0]).is_file()
}
