//! The one validator runner of plan and apply: every changed file that has a check
//! (promtool check config / rules / web-config, amtool check-config and route tests,
//! systemd-analyze verify, logrotate -d, monstack's own Grafana and apt checks) is
//! checked before it can replace the live one. `plan` runs it on the same candidates
//! apply would land, so a file apply would refuse is refused by plan, with the same
//! message and exit code.

use std::path::Path;

use crate::atomic_fs;
use crate::config::{ComponentKind, Loaded};
use crate::error::ConfigError;
use crate::paths::Root;
use crate::plan::Plan;
use crate::render::FileRole;
use crate::report::Action;
use crate::validate::{self, Tool, Tools, ValidationError};

/// Which candidates a run checks.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Before anything changes: every checked file, except those promtool/amtool of a
    /// release still to be downloaded judge (the components in the slice).
    Before(&'a [ComponentKind]),
    /// After releases were installed: the files their promtool/amtool judge, again.
    ReleaseJudged,
    /// plan: every checked file. Those of the components in the slice (releases not
    /// downloaded yet) are judged by the host's promtool/amtool; when that one is of
    /// another major version than the release, its refusal is a warning: apply judges
    /// them with the release's own tool, and a 2.x promtool cannot judge 3.x syntax.
    Plan(&'a [ComponentKind]),
}

/// The component whose release's promtool/amtool/blackbox_exporter judges files of `role`.
fn judged_by_release(role: FileRole) -> Option<ComponentKind> {
    match role {
        FileRole::AlertmanagerConfig => Some(ComponentKind::Alertmanager),
        FileRole::BlackboxConfig => Some(ComponentKind::BlackboxExporter),
        FileRole::PrometheusConfig | FileRole::PrometheusRules | FileRole::WebConfig(_) => {
            Some(ComponentKind::Prometheus)
        }
        _ => None,
    }
}

/// Check the candidates, each alone in `staging` (removed afterwards; the config with
/// `--syntax-only`: its rule_files point at the live paths; each rule file is checked
/// on its own). promtool/amtool are those of the release each file is for when it is
/// on disk, else those on PATH; a missing validator is a warning. Which binary and
/// version judged each file goes to `info`. A rejected file is a config error (exit
/// 78) naming the host path, with the tool's own message (secrets masked).
pub fn validate_candidates(
    root: &Root,
    loaded: &Loaded,
    staging: &Path,
    plan: &Plan,
    scope: Scope,
    info: &dyn Fn(String),
) -> crate::error::Result<()> {
    let candidates: Vec<_> = plan
        .changed_files()
        .filter(|f| f.action != Action::Delete)
        .filter(|f| validate::has_check(f.file.role))
        .filter(|f| match (scope, judged_by_release(f.file.role)) {
            (Scope::Before(deferred), Some(kind)) => !deferred.contains(&kind),
            (Scope::Before(_), None) => true,
            (Scope::ReleaseJudged, judged) => judged.is_some(),
            (Scope::Plan(_), _) => true,
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let tools = Tools::for_release(root, loaded);
    let _ = std::fs::remove_dir_all(staging);
    let result = candidates.iter().enumerate().try_for_each(|(i, f)| {
        let name = f.file.path.file_name().unwrap_or_default();
        let cand = staging.join(i.to_string()).join(name);
        atomic_fs::write_atomic(&cand, &f.file.content, 0o600, atomic_fs::Owner::default())?;
        let host = f.file.path.display().to_string();
        let judge = |tool: Tool| tools.judged_by(tool).unwrap_or_else(|| tool.to_string());
        let rejected = |tool: Option<Tool>, message: String| {
            let bin = tool
                .and_then(|t| tools.get(t))
                .map_or_else(|| "monstack".to_string(), |b| format!("`{}`", b.display()));
            let by = tool.map(|t| format!(" ({})", judge(t))).unwrap_or_default();
            let message = message.replace(&cand.display().to_string(), &host);
            let message = crate::secrets::mask(&message, &f.file.secrets);
            // A config problem (exit 78): the candidate never lands.
            crate::error::with_hint(
                ConfigError::new(&f.file.path, None, format!("rejected by {bin}{by}:\n{message}")),
                "fix the config or the --templates override; nothing on the host was changed",
            )
        };
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
                match other_major(loaded, &tools, scope, f.file.role, tool) {
                    Some(release) => {
                        crate::printer::warn(format!(
                            "`{host}` is refused by the host's {}, but apply judges it with the `{tool}` of {release} (not downloaded yet):\n{}",
                            judge(tool),
                            message.replace(&cand.display().to_string(), &host)
                        ));
                        Ok(())
                    }
                    None => Err(rejected(Some(tool), message)),
                }
            }
            Err(ValidationError::Malformed { message, .. }) => Err(rejected(None, message)),
            Err(e) => Err(crate::error::Error::from(e)),
        }
    });
    let _ = std::fs::remove_dir_all(staging);
    result
}

/// Under [`Scope::Plan`], for a file of a release not downloaded yet judged by a host
/// tool of another major version: that release (`prometheus 3.5.5`).
fn other_major(
    loaded: &Loaded,
    tools: &Tools,
    scope: Scope,
    role: FileRole,
    tool: Tool,
) -> Option<String> {
    let (Scope::Plan(undownloaded), Some(kind)) = (scope, judged_by_release(role)) else {
        return None;
    };
    let version = loaded.config.component(kind).version;
    let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
    let host = validate::tool_version(tools.get(tool)?);
    (undownloaded.contains(&kind) && major(&host) != major(&version))
        .then(|| format!("{kind} {version}"))
}

/// Whether the configured release of `kind` is already unpacked on this host.
pub(super) fn release_on_disk(root: &Root, loaded: &Loaded, kind: ComponentKind) -> bool {
    let comp = loaded.config.component(kind);
    let dir = root.host(comp.install_dir.join("releases").join(&comp.version));
    dir.join(kind.binaries()[0]).is_file()
}
