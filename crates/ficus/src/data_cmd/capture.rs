//! `ficus capture start|stop|run|status DOMAIN`: install or remove the change-capture triggers
//! on the domain's source tables, run the applier in the foreground until Ctrl-C or SIGTERM, or
//! print its lag.

use super::{connect, data_config, print_json};
use crate::cli::Output;
use crate::exit::CliError;
use anyhow::Context;
use clap::{Args, Subcommand};
use ficus_data::capture::{self, CaptureOptions, CaptureStatus};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct CaptureArgs {
    #[command(subcommand)]
    pub action: CaptureAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CaptureAction {
    /// Create the changelog and install the triggers on the source tables (idempotent). Start
    /// capture before the backfill: the backfill then holds each chunk's rows until it commits.
    Start(CaptureTarget),
    /// Remove the triggers (pending changes stay for the applier unless --purge).
    Stop {
        #[command(flatten)]
        at: CaptureTarget,
        /// Also delete the changes not yet applied.
        #[arg(long)]
        purge: bool,
    },
    /// Apply captured changes to the target until Ctrl-C or SIGTERM (a batch is never cut).
    Run {
        #[command(flatten)]
        at: CaptureTarget,
        /// Changelog entries per batch.
        #[arg(long, default_value_t = capture::DEFAULT_BATCH_CHANGES)]
        batch: usize,
        /// Wait between polls of an empty changelog, e.g. `200ms`.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "200ms")]
        poll: Duration,
        /// Apply what is pending, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Print the lag: changes not yet applied and the age of the oldest.
    Status {
        #[command(flatten)]
        at: CaptureTarget,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

#[derive(Debug, Clone, Args)]
pub struct CaptureTarget {
    /// The domain whose tables are captured.
    pub domain: String,
    /// The plan file.
    #[arg(short = 'c', long = "config", default_value = "ficus.toml")]
    pub plan: PathBuf,
    /// The reverse direction (new → legacy, for `read-new`): triggers on the target tables,
    /// changes applied to the source through the inverted mapping.
    #[arg(long)]
    pub reverse: bool,
}

pub async fn run(args: &CaptureArgs) -> Result<(), CliError> {
    let at = match &args.action {
        CaptureAction::Start(at)
        | CaptureAction::Stop { at, .. }
        | CaptureAction::Run { at, .. }
        | CaptureAction::Status { at, .. } => at,
    };
    let cfg = data_config(&at.plan, &at.domain)?;
    let (legacy, new) = connect(&cfg, 4).await?;
    let (source, target, tables) = if at.reverse {
        let tables = ficus_data::resolve_reverse(&legacy, &new, &cfg.tables)
            .await
            .context("resolve the inverted table mappings")?;
        (new, legacy, tables)
    } else {
        let tables = ficus_data::resolve_tables(&legacy, &new, &cfg.tables)
            .await
            .context("resolve the table mappings")?;
        (legacy, new, tables)
    };
    let label = if at.reverse { format!("{}/reverse", at.domain) } else { at.domain.clone() };
    let label = label.as_str();
    let result = match &args.action {
        CaptureAction::Start(_) => {
            capture::start(&source, &tables, label).await.context("start capture")?;
            println!("capture started on {} table(s) of {label}", tables.len());
            Ok(())
        }
        CaptureAction::Stop { purge, .. } => {
            capture::stop(&source, &tables, label, *purge).await.context("stop capture")?;
            println!("capture stopped on {} table(s) of {label}", tables.len());
            Ok(())
        }
        CaptureAction::Status { output, .. } => {
            let lag =
                capture::lag(&source, &target, &tables, label).await.context("read the lag")?;
            if *output == Output::Json {
                print_json(&lag)
            } else {
                println!(
                    "{label}: {} change(s) pending, oldest {:.3}s; {} applied (up to seq {})",
                    lag.pending_changes, lag.oldest_seconds, lag.applied_changes, lag.applied_seq
                );
                Ok(())
            }
        }
        CaptureAction::Run { batch, poll, once, .. } => {
            let opts = CaptureOptions {
                batch_changes: (*batch).max(1),
                poll_interval: *poll,
                ..CaptureOptions::new(label)
            };
            let status = CaptureStatus::default();
            let applied = if *once {
                capture::apply_pending(&source, &target, &tables, &opts, &status).await
            } else {
                let work = capture::run(&source, &target, &tables, &opts, &status, shutdown());
                if std::io::stderr().is_terminal() {
                    tokio::pin!(work);
                    loop {
                        tokio::select! {
                            r = &mut work => break r,
                            () = tokio::time::sleep(Duration::from_secs(1)) => eprint!(
                                "\r{label}: {} applied, {} pending, lag {:.1}s    ",
                                status.applied.load(Ordering::Relaxed),
                                status.pending.load(Ordering::Relaxed),
                                status.lag_micros.load(Ordering::Relaxed) as f64 / 1e6,
                            ),
                        }
                    }
                } else {
                    work.await
                }
            }
            .context("apply captured changes")?;
            println!(
                "{applied} change(s) applied: {} upserted, {} deleted",
                status.upserted.load(Ordering::Relaxed),
                status.deleted.load(Ordering::Relaxed)
            );
            Ok(())
        }
    };
    source.close().await;
    target.close().await;
    result
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
