//! Command-line interface: clap definitions (doc comments are the help text) and
//! dispatch to the modules that do the work. Exit codes are mapped here only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config;
use crate::error::{self, exit};
use crate::paths::Root;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// Components to install: prometheus, alertmanager, node_exporter
    pub components: Vec<String>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// prometheus, alertmanager or node_exporter
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

/// What every command gets: the global flags, resolved.
#[derive(Debug, Clone)]
pub struct Context {
    pub config_path: Option<PathBuf>,
    pub root: Root,
    pub output: OutputFormat,
    pub quiet: bool,
    pub verbose: u8,
}

impl Context {
    fn from_global(g: &GlobalArgs) -> Self {
        Self {
            config_path: g.config.clone(),
            root: g.root.clone().map(Root::new).unwrap_or_default(),
            output: g.output,
            quiet: g.quiet,
            verbose: g.verbose,
        }
    }

    /// Find and load the config (exit 78 on any problem).
    pub fn load_config(&self) -> anyhow::Result<config::Loaded> {
        let path = config::find(self.config_path.as_deref())?;
        Ok(config::load(&path)?)
    }

    /// Log to stderr unless quiet.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// Entry point: parse argv, run, map the outcome to an exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
            let _ = e.print();
            return code;
        }
    };
    let ctx = Context::from_global(&cli.global);
    match dispatch(&ctx, cli.command) {
        Ok(code) => code,
        Err(err) => {
            error::report(&err);
            error::exit_code(&err)
        }
    }
}

fn dispatch(ctx: &Context, command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Init(a) => crate::render::cmd_init(ctx, &a),
        Command::Render(a) => crate::render::cmd_render(ctx, &a),
        Command::Validate(a) => crate::validate::cmd_validate(ctx, &a),
        Command::Lock(a) => crate::artifact::cmd_lock(ctx, &a),
        Command::Bundle(a) => crate::artifact::cmd_bundle(ctx, &a),
        Command::Install(a) => crate::artifact::cmd_install(ctx, &a),
        Command::Rollback(a) => crate::artifact::cmd_rollback(ctx, &a),
        Command::Plan(a) => crate::apply::cmd_plan(ctx, &a),
        Command::Apply(a) => crate::apply::cmd_apply(ctx, &a),
        Command::Status(a) => crate::status::cmd_status(ctx, &a),
        Command::Stop(a) => crate::apply::cmd_stop(ctx, &a),
    }
}

/// Error for a subcommand whose work has not landed yet (exit 1).
pub fn not_implemented(what: &str) -> anyhow::Result<i32> {
    anyhow::bail!("`monstack {what}` is not implemented yet")
}
