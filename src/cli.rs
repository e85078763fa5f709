//! Command-line interface: clap definitions only (doc comments are the help text).
//! [`crate::commands`] parses them and turns them into the plain values the library
//! below takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `--version`: the crate version, the git commit and the date of the build (build.rs;
/// `unknown` when built outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MONSTACK_COMMIT"),
    ", built ",
    env!("MONSTACK_BUILD_DATE"),
    ")"
);

/// The heading of the flags every subcommand accepts, apart from its own.
const GLOBAL: &str = "Global options";

/// Provision a Prometheus / Alertmanager / node_exporter / Grafana stack and keep it converged.
#[derive(Debug, Parser)]
#[command(name = "monstack", version = VERSION, about, long_about = None, propagate_version = true)]
#[command(after_help = examples::TOP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts (shown under their own heading in each `--help`).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file [default: ./monstack.yaml, then /etc/monstack/monstack.yaml]
    #[arg(long, global = true, env = "MONSTACK_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// Treat DIR as / for every host path (tests, image builds, sandboxes)
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub root: Option<PathBuf>,

    /// Output format on stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human, help_heading = GLOBAL)]
    pub output: OutputFormat,

    /// Same as `--output json`
    #[arg(long, global = true, conflicts_with = "output", help_heading = GLOBAL)]
    pub json: bool,

    /// Print nothing but errors (a JSON document is still printed)
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,

    /// More detail on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
}

impl GlobalArgs {
    /// `--output`, with `--json` folded in.
    pub fn format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else {
            self.output
        }
    }
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

/// Subcommands (each `--help` ends with examples).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented monstack.yaml with the default stack
    #[command(after_help = examples::INIT)]
    Init(InitArgs),
    /// Render every file the host would receive into a directory
    #[command(after_help = examples::RENDER)]
    Render(RenderArgs),
    /// Check the config, render it and run promtool, amtool, systemd-analyze and logrotate on it
    #[command(after_help = examples::VALIDATE)]
    Validate(ValidateArgs),
    /// Resolve each component's tarball SHA-256 and write monstack.lock beside the config
    #[command(after_help = examples::LOCK)]
    Lock(NetArgs),
    /// Download and verify every locked tarball into a directory for air-gapped hosts
    #[command(after_help = examples::BUNDLE)]
    Bundle(BundleArgs),
    /// Install component releases (all enabled ones when none are named)
    #[command(after_help = examples::INSTALL)]
    Install(InstallArgs),
    /// Switch a component back to its previously installed release
    #[command(after_help = examples::ROLLBACK)]
    Rollback(RollbackArgs),
    /// Show what apply would change, without changing anything
    #[command(after_help = examples::PLAN)]
    Plan(PlanArgs),
    /// Converge the host to the config
    #[command(after_help = examples::APPLY)]
    Apply(PlanArgs),
    /// Check the whole stack end to end
    #[command(after_help = examples::STATUS)]
    Status(StatusArgs),
    /// Stop the services that `--service-manager direct` started
    #[command(after_help = examples::STOP)]
    Stop(StopArgs),
    /// Print a shell completion script, generated from this CLI
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (or write one page per subcommand with --dir)
    #[command(after_help = examples::MAN)]
    Man(ManArgs),
    /// Stop and remove what monstack installed: services, units, config files and releases (data kept unless --purge)
    #[command(after_help = examples::UNINSTALL)]
    Uninstall(UninstallArgs),
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash (bash-completion)
    Bash,
    /// Zsh (a `_monstack` file on $fpath)
    Zsh,
    /// Fish
    Fish,
    /// PowerShell
    Powershell,
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write monstack.1 and one monstack-COMMAND.1 per subcommand into DIR instead
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
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

/// The EXAMPLES text at the end of each `--help` (and in the man pages).
pub mod examples {
    /// The heading every examples text starts with (the man page drops it).
    pub const HEADING: &str = "Examples:";

    pub const TOP: &str = "Examples:
  monstack init && monstack validate      # scaffold a config and check it
  monstack plan                           # what apply would change
  sudo monstack apply && monstack status  # converge, then check end to end";
    pub const INIT: &str = "Examples:
  monstack init                               # ./monstack.yaml
  monstack init --config /etc/monstack/monstack.yaml --force";
    pub const RENDER: &str = "Examples:
  monstack render --out /tmp/preview          # then: find /tmp/preview -type f
  monstack render --out out --templates ./my-templates";
    pub const VALIDATE: &str = "Examples:
  monstack validate
  monstack validate --strict --json           # CI: a missing validator fails too";
    pub const LOCK: &str = "Examples:
  monstack lock                               # writes monstack.lock beside the config
  monstack lock --arch arm64 --config edge.yaml";
    pub const BUNDLE: &str = "Examples:
  monstack bundle --out ./bundle --locked     # copy ./bundle to the air-gapped host
  monstack bundle --out ./bundle --arch arm64";
    pub const INSTALL: &str = "Examples:
  sudo monstack install                       # every enabled component
  sudo monstack install prometheus --offline";
    pub const ROLLBACK: &str = "Examples:
  sudo monstack rollback prometheus
  sudo monstack rollback prometheus --allow-unsafe-version-change";
    pub const PLAN: &str = "Examples:
  monstack plan
  monstack plan --detailed-exitcode --json    # CI: exit 2 when changes are pending
  monstack plan --offline --locked";
    pub const APPLY: &str = "Examples:
  sudo monstack apply
  sudo monstack apply -q --ready-timeout 10m  # only errors; a long WAL replay
  monstack apply --root ./sandbox --service-manager direct";
    pub const STATUS: &str = "Examples:
  monstack status
  monstack status --wait 60s -q               # wait until healthy; only problems";
    pub const STOP: &str = "Examples:
  monstack stop --root ./sandbox";
    pub const COMPLETIONS: &str = "Examples:
  monstack completions bash > /etc/bash_completion.d/monstack
  monstack completions zsh > \"${fpath[1]}/_monstack\"
  monstack completions fish > ~/.config/fish/completions/monstack.fish";
    pub const MAN: &str = "Examples:
  monstack man | man -l -
  monstack man --dir /usr/local/share/man/man1";
    pub const UNINSTALL: &str = "Examples:
  sudo monstack uninstall --dry-run           # what would be removed
  sudo monstack uninstall alertmanager --yes
  sudo monstack uninstall --purge             # the data dirs too";
}

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
