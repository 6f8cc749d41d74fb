//! `ficus backfill` and `ficus verify` (and, in submodules, `capture` and `repair`): load the plan, connect to the domain's two databases,
//! resolve its table mappings and run the data engine; progress on stderr (TTY only), results
//! on stdout as text or JSON.

use crate::cli::Output;
use crate::exit::{CliError, Exit};
use anyhow::{Context, anyhow};
use clap::Args;
use ficus_data::{BackfillOptions, Db, Progress, Session, Side, VerifyOptions};
use ficus_model::Plan;
use ficus_model::mapping::{DataConfig, DbUrl};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub mod capture;
pub mod repair;

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// The domain whose tables are copied.
    pub domain: String,
    /// The plan file.
    #[arg(short = 'c', long = "config", default_value = "ficus.toml")]
    pub plan: PathBuf,
    /// Count and check the mapping; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows per second across all workers (default: the plan's, else no limit).
    #[arg(long = "rate")]
    pub rate_rows_per_second: Option<u64>,
    /// Workers per table on disjoint key ranges (default: the plan's).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Rows per chunk (default: the plan's).
    #[arg(long)]
    pub chunk_rows: Option<u64>,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The domain whose tables are compared.
    pub domain: String,
    /// The plan file.
    #[arg(short = 'c', long = "config", default_value = "ficus.toml")]
    pub plan: PathBuf,
    /// Source rows per checksummed chunk (default: the plan's).
    #[arg(long)]
    pub chunk_rows: Option<u64>,
    /// Wait before re-checking suspect rows (default: the plan's), e.g. `500ms`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub recheck_delay: Option<Duration>,
    /// Do not store the result in the target's `ficus_verify_result` table.
    #[arg(long)]
    pub no_store: bool,
    /// Print the newest N stored results instead of verifying.
    #[arg(long, value_name = "N")]
    pub history: Option<u64>,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub(crate) fn data_config(
    plan_path: &std::path::Path,
    domain: &str,
) -> Result<DataConfig, CliError> {
    let plan = Plan::load(plan_path).map_err(|e| CliError::new(Exit::InvalidPlan, e))?;
    let d = plan
        .domain(domain)
        .ok_or_else(|| CliError::new(Exit::Refused, anyhow!("no domain {domain:?} in the plan")))?;
    d.data.clone().ok_or_else(|| {
        CliError::new(
            Exit::InvalidPlan,
            anyhow!("domain {domain:?} has no [domains.{domain}.data] section"),
        )
    })
}

/// Record a verify run in the plan's state store (`[state] path`), where `ficus serve`'s admin
/// API lists it.
async fn record_in_state_store(
    plan_path: &std::path::Path,
    stored: &ficus_data::verify::stored::StoredVerify,
) -> anyhow::Result<()> {
    let plan = Plan::load(plan_path)?;
    let store = ficus_control::Store::open(&plan.state_path).await?;
    let run = ficus_control::VerifyRun {
        id: 0,
        domain: stored.domain.clone(),
        finished_at_ms: stored.finished_unix_micros / 1000,
        seconds: stored.seconds,
        scope: stored.scope.clone(),
        source_rows: stored.source_rows,
        target_rows: stored.target_rows,
        differences: stored.differences,
        equal: stored.is_equal(),
        report: serde_json::from_str(&stored.report_json).ok(),
    };
    let recorded = store.record_verify(&run).await;
    store.close().await;
    recorded?;
    Ok(())
}

fn url(u: &DbUrl, side: Side) -> Result<String, CliError> {
    match u {
        DbUrl::Literal(s) => Ok(s.clone()),
        DbUrl::Env(var) => std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| anyhow!("the {side} database URL variable {var} is not set").into()),
    }
}

pub(crate) async fn connect(cfg: &DataConfig, pool: u32) -> Result<(Db, Db), CliError> {
    connect_with(cfg, pool, Session::default()).await
}

/// [`connect`] with `target` settings for the target's sessions.
async fn connect_with(cfg: &DataConfig, pool: u32, target: Session) -> Result<(Db, Db), CliError> {
    let source = Db::connect(Side::Source, &url(&cfg.source, Side::Source)?, pool)
        .await
        .context("connect")?;
    let target = Db::connect_with(Side::Target, &url(&cfg.target, Side::Target)?, pool, target)
        .await
        .context("connect")?;
    Ok((source, target))
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    println!("{}", serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?);
    Ok(())
}

pub async fn backfill(args: &BackfillArgs) -> Result<(), CliError> {
    let cfg = data_config(&args.plan, &args.domain)?;
    let workers = args.workers.unwrap_or(cfg.workers).clamp(1, 64);
    // Chunks commit without waiting for the target's WAL flush; the backfill makes them
    // durable before it reports (`ficus_data::backfill`), and a chunk lost with a crashed
    // server is lost with its checkpoint and copied again. Into PostgreSQL: faster in 6 of 8
    // paired runs, by 4–13 % (bench/README.md, "Backfill and verify, session 10").
    let (source, target) =
        connect_with(&cfg, workers as u32 + 2, Session { async_commit: true }).await?;
    let tables = ficus_data::resolve_tables(&source, &target, &cfg.tables)
        .await
        .context("resolve the table mappings")?;
    let opts = BackfillOptions {
        domain: args.domain.clone(),
        chunk_rows: args.chunk_rows.unwrap_or(cfg.chunk_rows).max(1),
        rate_rows_per_second: args.rate_rows_per_second.or(cfg.rate_rows_per_second),
        workers,
        dry_run: args.dry_run,
        // Beside change capture, hold each chunk's source rows until it commits (see
        // `ficus_data::capture`).
        lock_source_rows: !args.dry_run
            && ficus_data::capture::installed(&source, &tables, &args.domain)
                .await
                .context("look for capture triggers")?,
        throttle: cfg.throttle.clone(),
        write_delay: None,
    };
    let progress = Progress::default();
    let run = ficus_data::backfill(&source, &target, &tables, &opts, &progress);
    let report = if std::io::stderr().is_terminal() {
        let show = show_progress(&progress);
        tokio::pin!(run);
        tokio::pin!(show);
        tokio::select! {
            r = &mut run => r,
            () = &mut show => unreachable_progress(),
        }
    } else {
        run.await
    }
    .context("backfill")?;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    source.close().await;
    target.close().await;
    if args.output == Output::Json {
        return print_json(&report);
    }
    for t in &report.tables {
        if report.dry_run {
            println!(
                "{}: {} row(s) to copy (dry run, nothing written)",
                t.table, t.rows_left_at_start
            );
        } else {
            println!(
                "{}: {} row(s) copied in {} chunk(s){}; {} in total",
                t.table,
                t.rows_copied,
                t.chunks,
                if t.resumed { " (resumed)" } else { "" },
                t.rows_copied_total
            );
        }
    }
    let rows: u64 = report.tables.iter().map(|t| t.rows_copied).sum();
    println!(
        "{rows} row(s) in {:.2}s ({:.0} rows/s)",
        report.seconds,
        rows as f64 / report.seconds.max(1e-9)
    );
    Ok(())
}

fn unreachable_progress() -> Result<ficus_data::BackfillReport, ficus_data::DataError> {
    // `show_progress` loops forever; select! needs every branch typed.
    Err(ficus_data::DataError::Checkpoint {
        table: String::new(),
        message: "progress display ended".into(),
    })
}

/// A one-line progress display on stderr, refreshed every second: rows, rows/s, ETA.
async fn show_progress(p: &Progress) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = p.rows_done.load(Ordering::Relaxed);
        let total = p.rows_total.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = if rate > 0.0 {
            format!("{:.0}s", total.saturating_sub(done) as f64 / rate)
        } else {
            "?".into()
        };
        let table = p.table.lock().map(|t| t.clone()).unwrap_or_default();
        eprint!("\r{table}: {done}/{total} rows, {rate:.0} rows/s, ETA {eta}    ");
    }
}

pub async fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let cfg = data_config(&args.plan, &args.domain)?;
    let (source, target) = connect(&cfg, 6).await?;
    let tables = ficus_data::resolve_tables(&source, &target, &cfg.tables)
        .await
        .context("resolve the table mappings")?;
    let opts = VerifyOptions {
        chunk_rows: args.chunk_rows.unwrap_or(cfg.verify_chunk_rows).max(1),
        recheck_delay: args.recheck_delay.unwrap_or(cfg.recheck_delay),
        ..VerifyOptions::default()
    };
    if let Some(n) = args.history {
        let runs = ficus_data::verify::stored::latest(&target, &tables, &args.domain, n.max(1))
            .await
            .context("read stored verify results")?;
        if args.output == Output::Json {
            return print_json(&runs);
        }
        for r in &runs {
            println!(
                "{} {}: {} difference(s); source {} rows, target {} rows; {:.2}s; {}",
                r.finished_unix_micros / 1_000_000,
                r.domain,
                r.differences,
                r.source_rows,
                r.target_rows,
                r.seconds,
                r.scope
            );
        }
        return Ok(());
    }
    let report = ficus_data::verify(&source, &target, &tables, &opts).await.context("verify")?;
    if !args.no_store {
        let stored = ficus_data::verify::stored::store(&target, &tables, &args.domain, &report)
            .await
            .context("store the verify result")?;
        // The control plane's copy, for the admin API and the gates; the target keeps the run
        // either way, so a state store that cannot be written costs only a warning.
        if let Err(e) = record_in_state_store(&args.plan, &stored).await {
            eprintln!(
                "warning: the verify run is stored in the target but not in the state store: {e:#}"
            );
        }
    }
    source.close().await;
    target.close().await;
    if args.output == Output::Json {
        print_json(&report)?;
    } else {
        print!("{}", report.to_text());
    }
    if report.is_equal() {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::Refused,
            anyhow!("{} difference(s) found", report.difference_count()),
        ))
    }
}
