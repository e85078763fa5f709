//! Command-line interface: clap definitions only (doc comments are the help text).
//! [`crate::commands`] parses them and turns them into the plain values the library
//! below takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Provision a Prometheus / Alertmanager / node_exporter / Grafana stack and keep it converged.
#[derive(Debug, Parser)]
#[command(name = "monstack", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file [default: ./monstack.yaml, then /etc/monstack/monstack.yaml]
    #[arg(long, global = true, env = "MONSTACK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Treat DIR as / for every host path (tests, image builds, sandboxes)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Output format on stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Only print errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// stdout format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text for people
    Human,
    /// One JSON document for pipelines
    Json,
}

/// How services are managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceManagerKind {
    /// systemd when it is running (/run/systemd/system), else none
    Auto,
    /// systemctl daemon-reload / enable / start / restart / reload
    Systemd,
    /// Run the binaries as detached processes with pid files in the state dir
    Direct,
    /// Only write files; start nothing
    None,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented monstack.yaml with the default stack
    Init(InitArgs),
    /// Render every file the host would receive into a directory
    Render(RenderArgs),
    /// Check the config, render it and run promtool, amtool, systemd-analyze and logrotate on it
    Validate(ValidateArgs),
    /// Resolve each component's tarball SHA-256 and write monstack.lock beside the config
    Lock(NetArgs),
    /// Download and verify every locked tarball into a directory for air-gapped hosts
    Bundle(BundleArgs),
    /// Install component releases (all enabled ones when none are named)
    Install(InstallArgs),
    /// Switch a component back to its previously installed release
    Rollback(RollbackArgs),
    /// Show what apply would change, without changing anything
    Plan(PlanArgs),
    /// Converge the host to the config
    Apply(PlanArgs),
    /// Check the whole stack end to end
    Status(StatusArgs),
    /// Stop the services that `--service-manager direct` started
    Stop(StopArgs),
    /// Stop and remove what monstack installed: services, units, config files and releases (data kept unless --purge)
    Uninstall(UninstallArgs),
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

/// `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Directory that receives the tree, laid out relative to /
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Directory of *.tera templates overriding the embedded ones by name
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Directory of *.tera templates overriding the embedded ones by name
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// A missing validator is an error, not a warning
    #[arg(long)]
    pub strict: bool,
}

/// Network switches shared by the commands that download.
#[derive(Debug, Clone, Args)]
pub struct NetArgs {
    /// Any network access is an error (use the cache, a component's tarball or downloads.local_dir)
    #[arg(long)]
    pub offline: bool,
    /// A missing or stale monstack.lock is an error
    #[arg(long)]
    pub locked: bool,
    /// Override the architecture (amd64, arm64, armv7, ...)
    #[arg(long)]
    pub arch: Option<String>,
}

/// `bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Directory that receives the tarballs and sha256sums.txt
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Components to install: prometheus, alertmanager, node_exporter, blackbox_exporter
    pub components: Vec<String>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// prometheus, alertmanager, node_exporter or blackbox_exporter
    pub component: String,
    /// Roll back across the TSDB format boundary (Prometheus 3.x to a release older than 2.55)
    #[arg(long)]
    pub allow_unsafe_version_change: bool,
}

/// `plan` and `apply`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when nothing changes, 2 when changes are pending (plan) or made (apply)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How services are managed [default: what the last apply used, else auto]
    #[arg(long, value_enum)]
    pub service_manager: Option<ServiceManagerKind>,
    /// Directory of *.tera templates overriding the embedded ones by name
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// How long a started or restarted service may take to answer ready (e.g. 90s; a
    /// large Prometheus WAL replay can take minutes)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "5m")]
    pub ready_timeout: std::time::Duration,
    /// Go ahead with a release change across the TSDB format boundary (Prometheus older than 2.55 <-> 3.x)
    #[arg(long)]
    pub allow_unsafe_version_change: bool,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Retry until healthy or this long has passed (e.g. 60s)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<std::time::Duration>,
    /// How long each check may take before it counts as failed
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "2s")]
    pub timeout: std::time::Duration,
    /// How services are managed [default: what the last apply used, else auto]
    #[arg(long, value_enum)]
    pub service_manager: Option<ServiceManagerKind>,
    /// Directory of *.tera templates overriding the embedded ones by name (as given to apply)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// `stop`.
#[derive(Debug, Args)]
pub struct StopArgs {}

/// `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Components to remove: prometheus, alertmanager, node_exporter, blackbox_exporter, grafana_server [default: the whole stack, with its logrotate and rsyslog files]
    pub components: Vec<String>,
    /// Remove the data dirs too (Prometheus's TSDB, Alertmanager's silences, Grafana's database)
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// Only show what would be removed
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// How services are managed [default: what the last apply used, else auto]
    #[arg(long, value_enum)]
    pub service_manager: Option<ServiceManagerKind>,
}

impl From<OutputFormat> for crate::printer::OutputFormat {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Human => Self::Human,
            OutputFormat::Json => Self::Json,
        }
    }
}

impl From<ServiceManagerKind> for crate::services::ServiceManagerKind {
    fn from(k: ServiceManagerKind) -> Self {
        match k {
            ServiceManagerKind::Auto => Self::Auto,
            ServiceManagerKind::Systemd => Self::Systemd,
            ServiceManagerKind::Direct => Self::Direct,
            ServiceManagerKind::None => Self::None,
        }
    }
}

impl From<&NetArgs> for crate::artifact::NetOptions {
    fn from(n: &NetArgs) -> Self {
        Self { offline: n.offline, locked: n.locked, arch: n.arch.clone() }
    }
}

/// Whether `name` is one of monstack's subcommands (the Ansible module entry asks).
pub fn is_subcommand(name: &str) -> bool {
    use clap::CommandFactory;
    Cli::command().get_subcommands().any(|c| c.get_name() == name)
}
