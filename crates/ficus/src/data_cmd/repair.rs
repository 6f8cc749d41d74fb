//! `ficus repair DOMAIN --report FILE`: re-copy the rows a `ficus verify -o json` report found
//! differing, leaving alone any target row that changed after the report.

use super::{connect, data_config, print_json};
use crate::cli::Output;
use crate::exit::{CliError, Exit};
use anyhow::{Context, anyhow};
use clap::Args;
use ficus_data::verify::VerifyReport;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct RepairArgs {
    /// The domain whose tables are repaired.
    pub domain: String,
    /// The verify report (`ficus verify DOMAIN -o json > FILE`).
    #[arg(long)]
    pub report: PathBuf,
    /// The plan file.
    #[arg(short = 'c', long = "config", default_value = "ficus.toml")]
    pub plan: PathBuf,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Exit 0 when every reported row was repaired, 3 when some were skipped (changed since the
/// report: verify again).
pub async fn run(args: &RepairArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.report)
        .with_context(|| format!("read the report {}", args.report.display()))?;
    let report: VerifyReport = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            Exit::Failure,
            anyhow!("{} is not a `ficus verify -o json` report: {e}", args.report.display()),
        )
    })?;
    let cfg = data_config(&args.plan, &args.domain)?;
    let (source, target) = connect(&cfg, 4).await?;
    let tables = ficus_data::resolve_tables(&source, &target, &cfg.tables)
        .await
        .context("resolve the table mappings")?;
    let done = ficus_data::repair(&source, &target, &tables, &report).await.context("repair");
    source.close().await;
    target.close().await;
    let done = done?;
    if args.output == Output::Json {
        print_json(&done)?;
    } else {
        for t in &done.tables {
            println!(
                "{}: {} row(s) re-copied, {} deleted, {} skipped (changed after the report)",
                t.table,
                t.upserted,
                t.deleted,
                t.skipped_changed.len()
            );
            for k in &t.skipped_changed {
                println!("  skipped [{}]", k.join(", "));
            }
        }
    }
    match done.skipped() {
        0 => Ok(()),
        n => Err(CliError::new(
            Exit::Refused,
            anyhow!("{n} row(s) changed after the report and were left alone; verify again"),
        )),
    }
}
