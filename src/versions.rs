//! Which flags, feature names, config keys and release files apply to which release
//! of Prometheus, Alertmanager and node_exporter: one table ([`TABLE`]), data only.
//! Rendering, config checks and the upgrade notes of `plan` ask it; nothing else
//! compares version numbers.
//!
//! Every row names its source (upstream repository, tag and file). The per-version
//! flag and key sets the tests check rendered files against are extracted from the
//! same sources by `tests/data/versions/extract.sh`.

use std::cmp::Ordering;
use std::fmt;

use crate::component::ComponentKind;

/// A release version `X.Y.Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// `2.45.0` (a leading `v` is accepted); `None` when it is not `X.Y.Z`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.strip_prefix('v').unwrap_or(s).split('.').map(|p| p.parse::<u64>().ok());
        let v = Version(it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(v)
    }

    /// Like [`Version::parse`], with unparsable versions as 0.0.0 (versions are
    /// validated with the config; this only keeps callers total).
    pub fn of(s: &str) -> Self {
        Self::parse(s).unwrap_or(Version(0, 0, 0))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A command-line flag, with its dashes: `--storage.tsdb.retention`.
    Flag(&'a str),
    /// An `--enable-feature=` value.
    Feature(&'a str),
    /// A config file key, as a dotted path: `storage.tsdb.retention`.
    Key(&'a str),
    /// A file or directory at the top of the release tarball.
    File(&'a str),
}

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Flag(n) => write!(f, "`{n}`"),
            Item::Feature(n) => write!(f, "`--enable-feature={n}`"),
            Item::Key(n) => write!(f, "config key `{n}`"),
            Item::File(n) => write!(f, "`{n}` in the release tarball"),
        }
    }
}

/// One fact: `item` exists in `component` releases `since <= v < removed`.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub component: ComponentKind,
    pub item: Item<'static>,
    /// First release that has it (`None`: every release monstack installs).
    pub since: Option<Version>,
    /// First release without it (`None`: still in the newest release checked).
    pub removed: Option<Version>,
    /// The name monstack renders in its place where it is an alias, e.g. the current
    /// name of a node_exporter collector flag.
    pub renamed_to: Option<&'static str>,
    /// What to do instead, shown when a user's flag is refused.
    pub instead: &'static str,
    /// Upstream repository, tag and file the row was read from.
    pub source: &'static str,
}

impl Row {
    /// Whether `v` has this item.
    pub fn present_in(&self, v: Version) -> bool {
        self.since.map_or(true, |s| v >= s) && self.removed.map_or(true, |r| v < r)
    }
}

const fn v(a: u64, b: u64, c: u64) -> Option<Version> {
    Some(Version(a, b, c))
}

const P: ComponentKind = ComponentKind::Prometheus;
const AM: ComponentKind = ComponentKind::Alertmanager;
const NE: ComponentKind = ComponentKind::NodeExporter;

const fn row(
    component: ComponentKind,
    item: Item<'static>,
    since: Option<Version>,
    removed: Option<Version>,
    instead: &'static str,
    source: &'static str,
) -> Row {
    Row { component, item, since, removed, renamed_to: None, instead, source }
}

const fn alias(old: &'static str, new: &'static str, source: &'static str) -> Row {
    Row {
        component: NE,
        item: Item::Flag(old),
        since: None,
        removed: None,
        renamed_to: Some(new),
        instead: "",
        source,
    }
}

const MAIN_GO: &str = "prometheus/prometheus cmd/prometheus/main.go";
const P3_CHANGELOG: &str =
    "prometheus/prometheus CHANGELOG.md@v3.0.0 (#14640, #14643) and docs/migration.md@v3.0.0";
const AM_FEATURES: &str = "prometheus/alertmanager featurecontrol/featurecontrol.go";

/// The table. Ranges were read at the tags named in `source`; `since` is the first
/// minor release (`X.Y.0`) whose file has the item.
pub const TABLE: &[Row] = &[
    // --- Prometheus flags removed in 3.0 (3.x exits 2 on an unknown flag).
    row(P, Item::Flag("--storage.tsdb.retention"), None, v(3, 0, 0),
        "use prometheus.retention_time", P3_CHANGELOG),
    row(P, Item::Flag("--alertmanager.timeout"), None, v(3, 0, 0), "drop it", P3_CHANGELOG),
    row(P, Item::Flag("--storage.tsdb.allow-overlapping-blocks"), None, v(3, 0, 0),
        "overlapping blocks are always allowed", P3_CHANGELOG),
    // --- Prometheus flags added later.
    row(P, Item::Flag("--agent"), v(3, 0, 0), None,
        "use prometheus.mode: agent", "prometheus/prometheus cmd/prometheus/main.go@v3.0.0"),
    row(P, Item::Flag("--storage.agent.path"), v(2, 32, 0), None,
        "use prometheus.mode: agent", "prometheus/prometheus cmd/prometheus/main.go@v2.32.0"),
    row(P, Item::Flag("--web.enable-remote-write-receiver"), v(2, 33, 0), None,
        "upgrade Prometheus", "prometheus/prometheus cmd/prometheus/main.go@v2.33.0"),
    row(P, Item::Flag("--web.enable-otlp-receiver"), v(3, 0, 0), None,
        "use --enable-feature=otlp-write-receiver (2.47-2.55)",
        "prometheus/prometheus cmd/prometheus/main.go@v3.0.0"),
    row(P, Item::Flag("--config.auto-reload"), v(3, 12, 0), None,
        "use --enable-feature=auto-reload-config",
        "prometheus/prometheus cmd/prometheus/main.go@v3.12.0 (#18620)"),
    // --- Prometheus feature flags removed in 3.0 (3.x only warns: refused so a unit
    //     never carries a switch that silently does nothing).
    row(P, Item::Feature("agent"), v(2, 32, 0), v(3, 0, 0),
        "use prometheus.mode: agent (rendered as --agent)", P3_CHANGELOG),
    row(P, Item::Feature("remote-write-receiver"), None, v(3, 0, 0),
        "use --web.enable-remote-write-receiver", P3_CHANGELOG),
    row(P, Item::Feature("otlp-write-receiver"), v(2, 47, 0), v(3, 0, 0),
        "use --web.enable-otlp-receiver", P3_CHANGELOG),
    row(P, Item::Feature("promql-at-modifier"), None, v(3, 0, 0),
        "always enabled since 3.0; drop it", P3_CHANGELOG),
    row(P, Item::Feature("promql-negative-offset"), None, v(3, 0, 0),
        "always enabled since 3.0; drop it", P3_CHANGELOG),
    row(P, Item::Feature("new-service-discovery-manager"), None, v(3, 0, 0),
        "always enabled since 3.0; drop it", P3_CHANGELOG),
    row(P, Item::Feature("expand-external-labels"), None, v(3, 0, 0),
        "always enabled since 3.0; drop it", P3_CHANGELOG),
    row(P, Item::Feature("no-default-scrape-port"), None, v(3, 0, 0),
        "always enabled since 3.0; drop it", P3_CHANGELOG),
    row(P, Item::Feature("auto-gomemlimit"), v(2, 50, 0), v(3, 0, 0),
        "the default since 3.0 (--no-auto-gomemlimit turns it off); drop it", P3_CHANGELOG),
    row(P, Item::Feature("auto-gomaxprocs"), None, v(3, 0, 0),
        "the default since 3.0 (--no-auto-gomaxprocs turns it off); drop it", P3_CHANGELOG),
    row(P, Item::Feature("utf8-names"), v(2, 55, 0), v(3, 0, 0),
        "UTF-8 names are the default since 3.0; drop it", P3_CHANGELOG),
    row(P, Item::Feature("old-ui"), v(3, 0, 0), None,
        "2.x has only the old UI; drop it", MAIN_GO),
    // --- Prometheus config keys and release files.
    row(P, Item::Key("storage.tsdb.retention"), v(3, 8, 0), None,
        "rendered as --storage.tsdb.retention.* flags before 3.8",
        "prometheus/prometheus config/config.go@v3.8.0 (TSDBConfig.Retention; absent @v3.7.0); flags [DEPRECATED] in cmd/prometheus/main.go@v3.8.0 (#17026)"),
    row(P, Item::Key("scrape_classic_histograms"), v(2, 45, 0), v(3, 0, 0),
        "renamed always_scrape_classic_histograms in 3.0",
        "prometheus/prometheus config/config.go@v2.45.0, @v3.0.0"),
    row(P, Item::Key("always_scrape_classic_histograms"), v(3, 0, 0), None,
        "called scrape_classic_histograms in 2.45-2.55",
        "prometheus/prometheus config/config.go@v3.0.0"),
    row(P, Item::File("consoles"), None, v(3, 0, 0), "",
        "prometheus/prometheus .promu.yml@v3.0.0 (CHANGELOG 3.0 #14807)"),
    row(P, Item::File("console_libraries"), None, v(3, 0, 0), "",
        "prometheus/prometheus .promu.yml@v3.0.0 (CHANGELOG 3.0 #14807)"),
    row(P, Item::File("npm_licenses.tar.bz2"), None, v(3, 13, 0), "",
        "prometheus/prometheus .promu.yml@v3.13.0 (present @v3.12.0)"),
    // --- Alertmanager: unknown --enable-feature values are fatal (main.go: NewFlags).
    row(AM, Item::Flag("--enable-feature"), v(0, 27, 0), None,
        "feature flags need Alertmanager 0.27+",
        "prometheus/alertmanager cmd/alertmanager/main.go@v0.27.0 (absent @v0.26.0)"),
    row(AM, Item::Feature("receiver-name-in-metrics"), v(0, 27, 0), None, "", AM_FEATURES),
    row(AM, Item::Feature("classic-mode"), v(0, 27, 0), None, "", AM_FEATURES),
    row(AM, Item::Feature("utf8-strict-mode"), v(0, 27, 0), None, "", AM_FEATURES),
    row(AM, Item::Feature("auto-gomemlimit"), v(0, 28, 0), None, "", AM_FEATURES),
    row(AM, Item::Feature("auto-gomaxprocs"), v(0, 28, 0), v(0, 33, 0),
        "a no-op since 0.29, removed in 0.33; drop it",
        "prometheus/alertmanager featurecontrol/featurecontrol.go@v0.28.0 … @v0.32.0, absent @v0.33.0"),
    row(AM, Item::Feature("alert-names-in-metrics"), v(0, 31, 0), None, "", AM_FEATURES),
    row(AM, Item::Feature("group-key-in-metrics"), v(0, 33, 0), None, "", AM_FEATURES),
    row(AM, Item::Feature("event-recorder"), v(0, 33, 0), None, "", AM_FEATURES),
    // --- node_exporter: hidden aliases (still accepted through 1.12.1), rendered under
    //     their current names, which exist in every release from 1.2.2 on.
    alias("--collector.filesystem.ignored-mount-points", "--collector.filesystem.mount-points-exclude",
        "prometheus/node_exporter collector/filesystem_common.go@v1.12.1"),
    alias("--collector.filesystem.ignored-fs-types", "--collector.filesystem.fs-types-exclude",
        "prometheus/node_exporter collector/filesystem_common.go@v1.12.1"),
    alias("--collector.netdev.device-whitelist", "--collector.netdev.device-include",
        "prometheus/node_exporter collector/netdev_common.go@v1.12.1"),
    alias("--collector.netdev.device-blacklist", "--collector.netdev.device-exclude",
        "prometheus/node_exporter collector/netdev_common.go@v1.12.1"),
    alias("--collector.systemd.unit-whitelist", "--collector.systemd.unit-include",
        "prometheus/node_exporter collector/systemd_linux.go@v1.12.1"),
    alias("--collector.systemd.unit-blacklist", "--collector.systemd.unit-exclude",
        "prometheus/node_exporter collector/systemd_linux.go@v1.12.1"),
    row(NE, Item::Flag("--web.config"), None, v(1, 5, 0), "use --web.config.file",
        "prometheus/node_exporter CHANGELOG.md@v1.5.0"),
    row(NE, Item::Flag("--web.config.file"), v(1, 5, 0), None, "use --web.config",
        "prometheus/node_exporter CHANGELOG.md@v1.5.0"),
];

/// Prometheus flags (by prefix) that exit 3 in agent mode ("can not be used in agent
/// mode"), and the agent-only ones that exit 3 in server mode.
/// Source: prometheus/prometheus cmd/prometheus/main.go@v3.14.0 (serverOnlyFlag /
/// agentOnlyFlag); the same split since 2.32.
pub const SERVER_ONLY_PREFIXES: [&str; 6] = [
    "--storage.tsdb.",
    "--rules.",
    "--alertmanager.",
    "--query.",
    "--storage.remote.read-",
    "--web.search.max-limit",
];
pub const AGENT_ONLY_PREFIX: &str = "--storage.agent.";

/// The rows about `item` for `kind`.
fn rows(kind: ComponentKind, item: Item<'_>) -> impl Iterator<Item = &'static Row> + '_ {
    TABLE.iter().filter(move |r| r.component == kind && r.item == item)
}

/// Whether release `version` of `kind` has `item`. Items the table does not list are
/// taken to exist in every release.
pub fn has(kind: ComponentKind, item: Item<'_>, version: &str) -> bool {
    let v = Version::of(version);
    rows(kind, item).all(|r| r.present_in(v))
}

/// Whether the table knows `item` at all.
fn known(kind: ComponentKind, item: Item<'_>) -> bool {
    rows(kind, item).next().is_some()
}

/// Why `item` cannot be used with release `version` of `kind`, if it cannot.
pub fn refusal(kind: ComponentKind, item: Item<'_>, version: &str) -> Option<String> {
    let v = Version::of(version);
    let r = rows(kind, item).find(|r| !r.present_in(v))?;
    let product = product(kind);
    let instead = if r.instead.is_empty() { String::new() } else { format!(" ({})", r.instead) };
    Some(match (r.removed, r.since) {
        (Some(gone), _) if v >= gone => {
            format!(
                "{item} was removed in {product} {} and the target version is {version}{instead}",
                short(gone)
            )
        }
        (_, Some(from)) => {
            format!(
                "{item} is not in {product} {version}: it was added in {}{instead}",
                short(from)
            )
        }
        _ => format!("{item} is not in {product} {version}{instead}"),
    })
}

/// `3.0` for 3.0.0, `3.8.1` for 3.8.1.
fn short(v: Version) -> String {
    if v.2 == 0 {
        format!("{}.{}", v.0, v.1)
    } else {
        v.to_string()
    }
}

fn product(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Prometheus => "Prometheus",
        ComponentKind::Alertmanager => "Alertmanager",
        ComponentKind::NodeExporter => "node_exporter",
        ComponentKind::BlackboxExporter => "blackbox_exporter",
        ComponentKind::GrafanaServer => "Grafana",
    }
}

/// The flag name of `--name=value` (or `--name`).
fn flag_name(flag: &str) -> &str {
    flag.split('=').next().unwrap_or(flag)
}

/// Why a user's extra flag cannot be passed to release `version` of `kind`: a flag or
/// a feature name that release does not have. Alertmanager refuses every feature name
/// it does not know, so any name outside the table is refused for it too.
pub fn check_extra_flag(kind: ComponentKind, version: &str, flag: &str) -> Option<String> {
    let name = flag_name(flag);
    if let Some(msg) = refusal(kind, Item::Flag(name), version) {
        return Some(msg);
    }
    if name == "--enable-feature" {
        let value = flag.split_once('=').map(|(_, v)| v).unwrap_or("");
        for feature in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let item = Item::Feature(feature);
            if let Some(msg) = refusal(kind, item, version) {
                return Some(msg);
            }
            if kind == ComponentKind::Alertmanager && !known(kind, item) {
                return Some(format!(
                    "{item} is not a feature Alertmanager {version} knows, and Alertmanager refuses to start on one"
                ));
            }
        }
    }
    None
}

/// Why a Prometheus flag cannot be used in this mode (agent or server), if it cannot.
pub fn mode_refusal(agent: bool, flag: &str) -> Option<String> {
    let name = flag_name(flag);
    if agent {
        SERVER_ONLY_PREFIXES.iter().any(|p| name.starts_with(p)).then(|| {
            format!("`{name}` is a server-only flag: Prometheus exits on it in agent mode (prometheus.mode: agent)")
        })
    } else {
        name.starts_with(AGENT_ONLY_PREFIX).then(|| {
            format!("`{name}` is an agent-only flag: Prometheus exits on it in server mode (set prometheus.mode: agent)")
        })
    }
}

/// A user's extra flag as it is rendered: an alias under its current name.
pub fn current_flag(kind: ComponentKind, flag: &str) -> String {
    let name = flag_name(flag);
    match TABLE
        .iter()
        .find(|r| r.component == kind && r.item == Item::Flag(name) && r.renamed_to.is_some())
    {
        Some(r) => format!("{}{}", r.renamed_to.unwrap_or(name), &flag[name.len()..]),
        None => flag.to_string(),
    }
}

/// The config key name release `version` uses for an item the table renames
/// (`always_scrape_classic_histograms` / `scrape_classic_histograms`); `None` when
/// that release has neither.
pub fn key_name(
    kind: ComponentKind,
    names: &[&'static str],
    version: &str,
) -> Option<&'static str> {
    names.iter().copied().find(|n| known(kind, Item::Key(n)) && has(kind, Item::Key(n), version))
}

/// What changes when a component goes from one release to another across a major
/// version or a data-format boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    pub kind: ComponentKind,
    pub from: String,
    pub to: String,
    /// One line each: what the user should know.
    pub notes: Vec<String>,
    /// Set when the change cannot be taken back (or forward) safely: needs
    /// `--allow-unsafe-version-change`.
    pub unsafe_reason: Option<String>,
}

/// The first Prometheus release that reads the TSDB written by 3.x.
pub const TSDB_READS_V3: Version = Version(2, 55, 0);

/// Notes for going from release `from` to `to` of `kind` (`None` when nothing to say).
/// Source: prometheus/prometheus docs/migration.md@v3.0.0 and CHANGELOG.md@v3.0.0.
pub fn crossing(kind: ComponentKind, from: &str, to: &str) -> Option<Crossing> {
    let (f, t) = (Version::parse(from)?, Version::parse(to)?);
    if kind != ComponentKind::Prometheus || f.0 == t.0 {
        return None;
    }
    let mut notes = Vec::new();
    let mut unsafe_reason = None;
    match f.cmp(&t) {
        Ordering::Less => {
            notes.push(format!("major upgrade: Prometheus {from} -> {to} (2.x -> 3.x)"));
            notes.push(
                "TSDB: blocks written by 3.x can be read back only by 2.55 or later; the upstream path is 2.x -> 2.55 -> 3.x"
                    .into(),
            );
            notes.push(
                "UTF-8 metric and label names are accepted (metric_name_validation_scheme: legacy restores the 2.x check)"
                    .into(),
            );
            notes.push(
                "`le` and `quantile` label values are normalised (le=\"1\" becomes \"1.0\"): review queries and alerts that match them"
                    .into(),
            );
            notes.push(
                "also changed: no default port added to targets, regex `.` matches newlines, Alertmanager API v2 only, scrapes without a valid Content-Type fail unless fallback_scrape_protocol is set"
                    .into(),
            );
            if f < TSDB_READS_V3 {
                unsafe_reason = Some(format!(
                    "Prometheus {from} -> {to} skips 2.55: once {to} has written to the TSDB, going back to {from} cannot read it; upgrade to 2.55 first, or confirm"
                ));
            }
        }
        _ => {
            notes.push(format!("major downgrade: Prometheus {from} -> {to} (3.x -> 2.x)"));
            if t < TSDB_READS_V3 {
                unsafe_reason = Some(format!(
                    "Prometheus {to} cannot read the TSDB blocks {from} wrote (only 2.55 and later can); roll back to 2.55 or later, or confirm"
                ));
            } else {
                notes.push(format!("{to} reads the TSDB blocks 3.x wrote (2.55 and later do)"));
            }
        }
    }
    Some(Crossing { kind, from: from.into(), to: to.into(), notes, unsafe_reason })
}

/// The flag that confirms an unsafe [`Crossing`].
pub const CONFIRM_FLAG: &str = "--allow-unsafe-version-change";

/// Whether release `version` reads retention from prometheus.yml.
pub fn retention_in_config(version: &str) -> bool {
    has(P, Item::Key("storage.tsdb.retention"), version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(Version::parse("2.45.0"), Some(Version(2, 45, 0)));
        assert_eq!(Version::parse("v3.14.1"), Some(Version(3, 14, 1)));
        assert_eq!(Version::parse("3.14"), None);
        assert_eq!(Version::parse("3.1.4.1"), None);
        assert!(Version::of("2.55.0") < Version::of("3.0.0"));
        assert!(Version::of("3.10.0") > Version::of("3.9.9"));
    }

    #[test]
    fn removed_flags_and_features_are_refused_with_the_version() {
        let m = check_extra_flag(P, "3.5.0", "--storage.tsdb.retention=15d").unwrap();
        assert!(m.contains("removed in Prometheus 3.0") && m.contains("3.5.0"), "{m}");
        assert_eq!(check_extra_flag(P, "2.53.0", "--storage.tsdb.retention=15d"), None);
        let m = check_extra_flag(P, "3.0.0", "--enable-feature=exemplar-storage,agent").unwrap();
        assert!(m.contains("--enable-feature=agent") && m.contains("prometheus.mode"), "{m}");
        let m = check_extra_flag(P, "2.45.0", "--agent").unwrap();
        assert!(m.contains("added in 3.0"), "{m}");
        let m = check_extra_flag(AM, "0.33.0", "--enable-feature=auto-gomaxprocs").unwrap();
        assert!(m.contains("removed in Alertmanager 0.33"), "{m}");
        assert_eq!(check_extra_flag(AM, "0.32.0", "--enable-feature=auto-gomaxprocs"), None);
        let m = check_extra_flag(AM, "0.34.0", "--enable-feature=no-such-thing").unwrap();
        assert!(m.contains("refuses to start"), "{m}");
        let m = check_extra_flag(AM, "0.26.0", "--enable-feature=classic-mode").unwrap();
        assert!(m.contains("added in 0.27"), "{m}");
    }

    #[test]
    fn aliases_render_under_current_names() {
        assert_eq!(
            current_flag(NE, "--collector.netdev.device-blacklist=^lo$"),
            "--collector.netdev.device-exclude=^lo$"
        );
        assert_eq!(current_flag(NE, "--collector.cpu"), "--collector.cpu");
        assert_eq!(
            current_flag(P, "--collector.netdev.device-blacklist=x"),
            "--collector.netdev.device-blacklist=x"
        );
    }

    #[test]
    fn keys_and_files_follow_the_table() {
        assert!(!has(P, Item::Key("storage.tsdb.retention"), "3.7.3"));
        assert!(has(P, Item::Key("storage.tsdb.retention"), "3.8.0"));
        assert!(has(P, Item::File("consoles"), "2.55.1"));
        assert!(!has(P, Item::File("consoles"), "3.0.0"));
        let names = ["always_scrape_classic_histograms", "scrape_classic_histograms"];
        assert_eq!(key_name(P, &names, "2.42.0"), None);
        assert_eq!(key_name(P, &names, "2.45.0"), Some("scrape_classic_histograms"));
        assert_eq!(key_name(P, &names, "3.5.0"), Some("always_scrape_classic_histograms"));
    }

    #[test]
    fn crossings_below_2_55_need_confirmation() {
        let c = crossing(P, "2.45.0", "3.5.0").unwrap();
        assert!(c.unsafe_reason.is_some() && c.notes[0].contains("major upgrade"));
        let c = crossing(P, "2.55.1", "3.5.0").unwrap();
        assert!(c.unsafe_reason.is_none() && c.notes.iter().any(|n| n.contains("le")));
        assert!(crossing(P, "3.5.0", "2.53.0").unwrap().unsafe_reason.is_some());
        assert!(crossing(P, "3.5.0", "2.55.1").unwrap().unsafe_reason.is_none());
        assert_eq!(crossing(P, "3.5.0", "3.14.0"), None);
        assert_eq!(crossing(AM, "0.25.0", "0.34.0"), None);
    }
}
