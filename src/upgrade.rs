//! Release changes that cross a major version (Prometheus 2.x <-> 3.x): what `plan`
//! and `apply` say about them, the confirmation an unsafe one needs, and the unit and
//! config that `rollback` puts back with the previous binary.

use std::collections::BTreeSet;

use crate::config::{ComponentKind, Loaded};
use crate::paths::Root;
use crate::printer::Printer;
use crate::render::{self, FileRole, RenderedFile};
use crate::versions::{self, Crossing, CONFIRM_FLAG};

/// The crossings a converge to the configured versions would make, from the active
/// releases on this host.
pub fn planned_crossings(root: &Root, loaded: &Loaded) -> crate::error::Result<Vec<Crossing>> {
    let mut out = Vec::new();
    for (kind, comp) in loaded.config.enabled_components() {
        let obs = crate::artifact::observe(root, loaded, kind)?;
        if let Some((from, _)) = obs.installed.filter(|_| obs.needs_install) {
            if let Some(mut c) = versions::crossing(kind, &from, &comp.version) {
                c.notes.extend(changes_between(loaded, kind, &from));
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// `loaded` with `kind` at `version` (everything else as configured).
fn at_version(loaded: &Loaded, kind: ComponentKind, version: &str) -> Loaded {
    let mut l = loaded.clone();
    match kind {
        ComponentKind::Prometheus => l.config.prometheus.version = version.into(),
        ComponentKind::Alertmanager => l.config.alertmanager.version = version.into(),
        ComponentKind::NodeExporter => l.config.node_exporter.version = version.into(),
        ComponentKind::BlackboxExporter => l.config.blackbox_exporter.version = version.into(),
        ComponentKind::GrafanaServer => l.config.grafana_server.version = version.into(),
    }
    l
}

/// What changes in the unit's flags and the config's keys between the rendering for
/// `from` and for the configured version (one line each, empty when nothing does).
pub fn changes_between(loaded: &Loaded, kind: ComponentKind, from: &str) -> Vec<String> {
    let old = at_version(loaded, kind, from);
    let flags = |l: &Loaded| -> BTreeSet<String> {
        render::service_specs(l, &Root::default())
            .ok()
            .and_then(|specs| specs.into_iter().find(|s| s.kind == kind))
            .map(|s| s.args.iter().map(|a| a.split('=').next().unwrap_or(a).to_string()).collect())
            .unwrap_or_default()
    };
    let (was, now) = (flags(&old), flags(loaded));
    let mut notes = Vec::new();
    let gone: Vec<&str> = was.difference(&now).map(String::as_str).collect();
    let added: Vec<&str> = now.difference(&was).map(String::as_str).collect();
    if !gone.is_empty() {
        notes.push(format!("unit: no longer passes {}", gone.join(", ")));
    }
    if !added.is_empty() {
        notes.push(format!("unit: now passes {}", added.join(", ")));
    }
    if kind == ComponentKind::Prometheus {
        let keys = |l: &Loaded| -> BTreeSet<String> {
            let Ok(files) = render::render_all(l, None) else { return BTreeSet::new() };
            let Some(f) = files.iter().find(|f| f.role == FileRole::PrometheusConfig) else {
                return BTreeSet::new();
            };
            let v: serde_norway::Value = serde_norway::from_slice(&f.content).unwrap_or_default();
            let mut out = BTreeSet::new();
            key_paths(&v, "", &mut out);
            out
        };
        let (was, now) = (keys(&old), keys(loaded));
        let gone: Vec<&str> = was.difference(&now).map(String::as_str).collect();
        let added: Vec<&str> = now.difference(&was).map(String::as_str).collect();
        if !gone.is_empty() {
            notes.push(format!("prometheus.yml: drops {}", gone.join(", ")));
        }
        if !added.is_empty() {
            notes.push(format!("prometheus.yml: adds {}", added.join(", ")));
        }
    }
    notes
}

/// Dotted key paths of a YAML document (sequence items as `[]`).
fn key_paths(v: &serde_norway::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_norway::Value::Mapping(m) => {
            for (k, val) in m {
                let k = k.as_str().unwrap_or("?");
                let p = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
                out.insert(p.clone());
                key_paths(val, &p, out);
            }
        }
        serde_norway::Value::Sequence(items) => {
            for i in items {
                key_paths(i, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Say what each crossing changes (`warning:` lines on stderr, unless quiet) and, for
/// an unsafe one, that it was confirmed.
pub fn announce(crossings: &[Crossing], confirmed: bool, out: &Printer) {
    if out.quiet {
        return;
    }
    for c in crossings {
        for n in &c.notes {
            crate::printer::warn(format!("{}: {n}", c.kind));
        }
        if let (Some(why), true) = (&c.unsafe_reason, confirmed) {
            crate::printer::warn(format!("{}: {why} (confirmed with {CONFIRM_FLAG})", c.kind));
        }
    }
}

/// Refuse an unsafe crossing unless confirmed: a configuration error (exit 78) naming
/// the component's `version` key.
pub fn refuse(
    loaded: &Loaded,
    crossings: &[Crossing],
    confirmed: bool,
) -> crate::error::Result<()> {
    let errs: Vec<_> = crossings
        .iter()
        .filter(|_| !confirmed)
        .filter_map(|c| {
            let why = c.unsafe_reason.as_deref()?;
            Some(loaded.error_at(
                &format!("{}.version", c.kind.name()),
                format!("{why}; pass {CONFIRM_FLAG} to do it anyway"),
            ))
        })
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(crate::error::ConfigErrors(errs).into())
    }
}

/// Rewrite the unit and main config of `kind` for release `version` where they differ
/// on disk: what `rollback` does so the previous binary gets flags it knows. Returns
/// the host paths written.
pub fn restore_files(
    root: &Root,
    loaded: &Loaded,
    kind: ComponentKind,
    version: &str,
) -> crate::error::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for f in files_for_version(loaded, kind, version)? {
        let real = root.host(&f.path);
        if std::fs::read(&real).ok().as_deref() == Some(f.content.as_slice()) {
            continue;
        }
        let owner = crate::plan::owner_for(root, f.owner.as_deref(), f.group.as_deref());
        crate::atomic_fs::write_atomic(&real, &f.content, f.mode, owner)?;
        written.push(f.path);
    }
    Ok(written)
}

/// The unit and main config `kind` needs at `version`, rendered from this config:
/// what `rollback` writes so the previous binary gets the flags it understands.
pub fn files_for_version(
    loaded: &Loaded,
    kind: ComponentKind,
    version: &str,
) -> crate::error::Result<Vec<RenderedFile>> {
    let l = at_version(loaded, kind, version);
    let files = render::render_all(&l, None)?;
    Ok(files
        .into_iter()
        .filter(|f| match f.role {
            FileRole::Unit(k) => k == kind,
            FileRole::PrometheusConfig => kind == ComponentKind::Prometheus,
            FileRole::AlertmanagerConfig => kind == ComponentKind::Alertmanager,
            _ => false,
        })
        .collect())
}
