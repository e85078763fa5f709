//! `lock`, `bundle`, `install` and `rollback`: component releases.

use crate::error::Context as _;
use serde::Serialize;

use super::{Context, Outcome};
use crate::artifact::{self, InstallStatus, NetOptions};
use crate::cli::{BundleArgs, InstallArgs, NetArgs, RollbackArgs};
use crate::config::{ComponentKind, Loaded};
use crate::error::usage;

/// What `install` did to one component (an element of the JSON `components`).
#[derive(Debug, Serialize)]
struct Installed {
    component: ComponentKind,
    version: String,
    /// `unchanged`, `installed` or `failed`.
    status: &'static str,
    /// The release active before (`installed` only; null when there was none).
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The JSON document of `install`.
#[derive(Debug, Serialize)]
struct InstallReport {
    components: Vec<Installed>,
}

/// The JSON document of `rollback`.
#[derive(Debug, Serialize)]
struct RolledBack {
    component: ComponentKind,
    /// Now active.
    version: String,
    /// Active before.
    previous: String,
    /// Always `rolled_back`.
    status: &'static str,
}

/// `monstack lock`.
pub fn lock(ctx: &Context, args: &NetArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    let locked = artifact::write_lock(&ctx.root, &loaded, &args.into(), &ctx.reporter())?;
    ctx.out.result(&locked, || {
        locked
            .components
            .iter()
            .map(|e| {
                format!("{} {} linux-{} sha256:{}\n", e.component, e.version, e.arch, e.sha256)
            })
            .collect()
    });
    if !ctx.out.json_output() {
        let how = if locked.changed { "wrote" } else { "unchanged:" };
        ctx.out.info(format!("{how} `{}`", locked.path.display()));
    }
    Ok(Outcome::Done)
}

/// `monstack bundle`.
pub fn bundle(ctx: &Context, args: &BundleArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    let net: NetOptions = (&args.net).into();
    let bundled = artifact::bundle(&ctx.root, &loaded, &net, &args.out, &ctx.reporter())?;
    ctx.out.result(&bundled, || {
        let mut text: String = bundled.files.iter().map(|f| format!("{}\n", f.display())).collect();
        text.push_str(&format!("{}\n", bundled.sha256sums.display()));
        text
    });
    Ok(Outcome::Done)
}

/// The named components (all enabled ones when none are named); an unknown name is a
/// usage error.
fn parse_components(names: &[String], loaded: &Loaded) -> crate::error::Result<Vec<ComponentKind>> {
    if names.is_empty() {
        return Ok(loaded.config.enabled_components().into_iter().map(|(k, _)| k).collect());
    }
    names.iter().map(|n| component(n)).collect()
}

/// A component named on the command line; an unknown name is a usage error (exit 64).
pub(super) fn component(name: &str) -> crate::error::Result<ComponentKind> {
    ComponentKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = ComponentKind::ALL.iter().map(|k| k.name()).collect();
        usage(crate::failure!("unknown component `{name}` (one of {})", known.join(", ")))
    })
}

/// `monstack install`.
pub fn install(ctx: &Context, args: &InstallArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    crate::host::require_root(&ctx.root, "install")?;
    // The same lock as apply: two runs would remove each other's staging dirs.
    let _lock = crate::state::ApplyLock::acquire(&crate::state::StateDir::new(&ctx.root, &loaded))?;
    let kinds = parse_components(&args.components, &loaded)?;
    let net: NetOptions = (&args.net).into();
    let rep = ctx.reporter();
    let mut results = Vec::new();
    let mut text = String::new();
    for kind in kinds {
        let version = loaded.config.component(kind).version;
        let row = match artifact::install_with(&ctx.root, &loaded, kind, &net, &rep) {
            Ok(InstallStatus::Unchanged) => {
                text.push_str(&format!("{kind} {version}: unchanged\n"));
                Installed {
                    component: kind,
                    version,
                    status: "unchanged",
                    previous: None,
                    error: None,
                }
            }
            Ok(InstallStatus::Installed { version, previous }) => {
                match &previous {
                    Some(p) => text.push_str(&format!("{kind} {version}: installed (was {p})\n")),
                    None => text.push_str(&format!("{kind} {version}: installed\n")),
                }
                Installed {
                    component: kind,
                    version,
                    status: "installed",
                    previous: Some(previous),
                    error: None,
                }
            }
            Err(e) => {
                ctx.out.error(&e);
                Installed {
                    component: kind,
                    version,
                    status: "failed",
                    previous: None,
                    error: Some(format!("{e:#}")),
                }
            }
        };
        results.push(row);
    }
    let failed = results.iter().any(|r| r.status == "failed");
    ctx.out.result(&InstallReport { components: results }, || text);
    Ok(if failed { Outcome::Failed } else { Outcome::Done })
}

/// `monstack rollback`.
pub fn rollback(ctx: &Context, args: &RollbackArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    let kind = component(&args.component)?;
    crate::host::require_root(&ctx.root, "rollback")?;
    let _lock = crate::state::ApplyLock::acquire(&crate::state::StateDir::new(&ctx.root, &loaded))?;
    // Rolling back across the TSDB format boundary needs a confirmation.
    if let Some((cur, prev)) = artifact::rollback_versions(&ctx.root, &loaded, kind) {
        let crossing = crate::versions::crossing(kind, &cur, &prev);
        let confirmed = args.allow_unsafe_version_change;
        crate::upgrade::announce(crossing.as_slice(), confirmed, &ctx.out);
        crate::upgrade::refuse(&loaded, crossing.as_slice(), confirmed)?;
    }
    let (to, from) = artifact::rollback(&ctx.root, &loaded, kind)?;
    // The previous binary gets the unit flags and config it understands back.
    let restored = crate::upgrade::restore_files(&ctx.root, &loaded, kind, &to)?;
    for path in &restored {
        ctx.out.info(format!("{kind}: restored `{}` as {to} needs it", path.display()));
    }
    // A running service is restarted onto the release `current` now points at.
    let restarted =
        crate::apply::restart_onto_current(&ctx.root, &loaded, kind, !restored.is_empty())
            .with_context(|| format!("rolled back `current` to {to}, but"))?;
    if let Some(how) = restarted {
        ctx.out.info(format!("restarted {kind} on {to} ({how}); it is ready"));
    }
    ctx.out.info(format!("hint: {}", rollback_hint(&loaded, kind, &to, restarted.is_some())));
    let text = format!("{kind}: rolled back to {to} (was {from})\n");
    let doc = RolledBack { component: kind, version: to, previous: from, status: "rolled_back" };
    ctx.out.result(&doc, || text);
    Ok(Outcome::Done)
}

/// `apply` converges on the configured version: tell how to make a rollback stick.
fn rollback_hint(loaded: &Loaded, kind: ComponentKind, to: &str, restarted: bool) -> String {
    let configured = loaded.config.component(kind).version;
    let file = loaded.path.display();
    match (configured == to, restarted) {
        (true, true) => format!("{kind} runs {to}, the configured version"),
        (true, false) => {
            format!("{kind} was not running; `monstack apply` starts it on {to}")
        }
        (false, _) => format!(
            "the next `monstack apply` reinstalls the configured {configured}; \
             to stay on {to}, set `{kind}.version: {to}` in {file}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_json_shape_is_pinned() {
        let row = |status, previous, error| Installed {
            component: ComponentKind::Prometheus,
            version: "2.45.0".into(),
            status,
            previous,
            error,
        };
        let doc = InstallReport {
            components: vec![
                row("unchanged", None, None),
                row("installed", Some(None), None),
                row("installed", Some(Some("2.44.0".into())), None),
                row("failed", None, Some("boom".into())),
            ],
        };
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"components":[{"component":"prometheus","version":"2.45.0","status":"unchanged"},{"component":"prometheus","version":"2.45.0","status":"installed","previous":null},{"component":"prometheus","version":"2.45.0","status":"installed","previous":"2.44.0"},{"component":"prometheus","version":"2.45.0","status":"failed","error":"boom"}]}"#
        );
        let back = RolledBack {
            component: ComponentKind::Alertmanager,
            version: "0.25.0".into(),
            previous: "0.26.0".into(),
            status: "rolled_back",
        };
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            r#"{"component":"alertmanager","version":"0.25.0","previous":"0.26.0","status":"rolled_back"}"#
        );
    }
}
