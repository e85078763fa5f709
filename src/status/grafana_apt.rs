//! `status` of a Grafana installed from its apt package (`grafana_server.source: apt`).

use super::{Check, Level};
use crate::config::Loaded;
use crate::grafana_server::apt;

/// `status` for the package: installed at the configured version, unit active.
pub(super) fn status_checks(loaded: &Loaded) -> Vec<Check> {
    const C: &str = "grafana_server";
    let g = &loaded.config.grafana_server;
    let pkg = match apt::installed_version(&g.apt_package) {
        Ok(Some(v)) if v == g.version => {
            Check::new(C, "package", Level::Ok, format!("{} {v} installed", g.apt_package))
        }
        Ok(Some(v)) => Check::new(
            C,
            "package",
            Level::Fail,
            format!("{} {v} installed, the config wants {}", g.apt_package, g.version),
        ),
        Ok(None) => {
            Check::new(C, "package", Level::Fail, format!("{} is not installed", g.apt_package))
        }
        Err(e) => Check::new(C, "package", Level::Fail, format!("{e:#}")),
    };
    let unit = apt::UNIT;
    let svc = if apt::unit_active() {
        Check::new(C, "service", Level::Ok, format!("{unit} active"))
    } else {
        Check::new(C, "service", Level::Fail, format!("{unit} is not active"))
    };
    vec![pkg, svc]
}
