//! Command-line arguments (clap). Parsed here, then handed to the commands as plain values.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (I/O, admin API unreachable or failing, demo saw client-visible errors)
  2  usage error (unknown flag, missing argument)
  3  refused: the phase rules refused the change, or the domain does not exist;
     for verify: differences found
  4  not authorised: the admin API rejected the token (401/403)
  5  invalid plan (validate, serve)
  130 interrupted (Ctrl-C)

Environment:
  FICUS_ADMIN_URL, FICUS_ADMIN_TOKEN, FICUS_ACTOR, FICUS_LOG (tracing filter, e.g. info,ficus=debug), NO_COLOR";

/// Ficus: a migration control plane. Routes each domain of a live backend between its legacy
/// and new system by migration phase, and moves domains through the five phases.
#[derive(Debug, Parser)]
#[command(name = "ficus", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// How to reach the admin API.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Base URL of the admin API.
    #[arg(long, env = "FICUS_ADMIN_URL", default_value = "http://127.0.0.1:9900", global = true)]
    pub admin_url: String,
    /// Bearer token for changes.
    #[arg(long, env = "FICUS_ADMIN_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Output format of read commands.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text, global = true)]
    pub output: Output,
}

/// Who makes a change, and why.
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Why this change is made; written to the audit log.
    #[arg(long, short = 'm', default_value = "")]
    pub reason: String,
    /// Who makes the change (default: $USER).
    #[arg(long, env = "FICUS_ACTOR")]
    pub actor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway, the control plane and the admin API.
    Serve {
        /// The plan file.
        #[arg(short = 'c', long = "config", default_value = "ficus.toml")]
        plan: PathBuf,
    },
    /// Check a plan file without opening any socket or database.
    Validate {
        #[arg(short = 'c', long = "config", default_value = "ficus.toml")]
        plan: PathBuf,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Show every domain (or one) with its phase and traffic shares.
    Status {
        domain: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Move a domain one phase forward.
    Advance {
        domain: String,
        #[command(flatten)]
        change: ChangeArgs,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Move a domain one phase back, or to an earlier phase with --to.
    Rollback {
        domain: String,
        /// The earlier phase to go to (legacy, dual-write, backfill, read-new).
        #[arg(long)]
        to: Option<String>,
        /// Leave `new` although legacy is no longer kept in sync.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        change: ChangeArgs,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Change a domain's read-new and shadow percentages.
    Set {
        domain: String,
        /// Share of subjects reading from new in `read-new`, 0-100.
        #[arg(long)]
        read_new_percent: Option<f64>,
        /// Share of reads shadowed to the secondary, 0-100.
        #[arg(long)]
        shadow_percent: Option<f64>,
        #[command(flatten)]
        change: ChangeArgs,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show the audit log, newest first.
    Audit {
        /// Only this domain.
        #[arg(long)]
        domain: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show what shadow reads found for a domain: per route and field, raw and noise
    /// differences with their verdicts, the mismatch rate and recent examples.
    ///
    /// With an action: list the stored examples, show one, or mark a field of a route as a
    /// known difference (it becomes an ignore rule of that route, recorded in the audit log).
    Diffs {
        domain: String,
        /// How many of the newest examples to print with the report (text output).
        #[arg(long, default_value_t = 3)]
        examples: usize,
        #[command(subcommand)]
        action: Option<DiffsAction>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show a domain's replayed writes: queue depth, replay lag, replayed, succeeded and
    /// dead-lettered counts, and the dead letters. Or act on one dead letter.
    #[command(args_conflicts_with_subcommands = true)]
    Writes {
        /// The domain (when no action is given).
        domain: Option<String>,
        #[command(subcommand)]
        action: Option<WritesAction>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Run the Chinook demo: two real services, the gateway, live load, all five phases.
    Demo(DemoArgs),
    /// Copy a domain's tables from its source database to its target (resumable).
    Backfill(crate::data_cmd::BackfillArgs),
    /// Compare a domain's tables between source and target; exit 3 on differences.
    Verify(crate::data_cmd::VerifyArgs),
    /// Change capture of a domain's source tables: start, stop, run the applier, status.
    Capture(crate::data_cmd::capture::CaptureArgs),
    /// Re-copy the rows a verify JSON report found differing (never a row changed since).
    Repair(crate::data_cmd::repair::RepairArgs),
}

/// Acting on one dead letter of the write queue (audited).
#[derive(Debug, Subcommand)]
pub enum WritesAction {
    /// Queue the write again; it is delivered before later writes of its entity.
    Retry {
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Drop the write for good (the secondary will not get it; verify and repair will).
    Discard {
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
}

/// What `ficus diffs DOMAIN` does besides the report.
#[derive(Debug, Subcommand)]
pub enum DiffsAction {
    /// List stored examples of differences, newest first.
    Examples {
        /// Only this route template (e.g. "/invoices/{id}").
        #[arg(long)]
        route: Option<String>,
        /// Only examples in which this field differed (e.g. /total).
        #[arg(long)]
        field: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show one stored example whole: request, both answers, differences, trace id.
    Show { id: i64 },
    /// Mark FIELD of ROUTE as a known difference: it is no longer compared there.
    Known {
        /// Route template, as in the report (e.g. "/invoices/{id}").
        route: String,
        /// Field path, as in the report (e.g. /total, /lines/*/unit_price, header:etag).
        field: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Compare FIELD of ROUTE again (undo `known`).
    Unknown {
        route: String,
        field: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How long the demo stays at each step of the walk.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub step: std::time::Duration,
    /// Concurrent load clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Keep everything running after the walk until Ctrl-C (to try the CLI against it).
    #[arg(long)]
    pub hold: bool,
    /// Print the report as JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub output: Output,
}
