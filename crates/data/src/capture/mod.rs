//! Change capture (sync mode `capture`): triggers on the source tables log the key of every
//! changed row in a changelog table in the source ([`start`], [`stop`]); the applier ([`run`],
//! [`apply_pending`]) re-reads each changed row and applies it to the target through the same
//! mapping as the backfill (upsert, or delete when the row is gone), checkpointing its position
//! in the target in the same transaction, and reports its lag ([`Lag`], metrics
//! `ficus_capture_lag_seconds`, `ficus_capture_pending_changes`,
//! `ficus_capture_applied_changes_total`, label `domain`).
//!
//! Beside a backfill: start capture first, then backfill with
//! [`crate::BackfillOptions::lock_source_rows`], which holds each chunk's source rows until
//! the chunk is committed in the target, so every change the backfill could overwrite with a
//! stale copy is logged after the copy and applied after it (a deleted row never comes back).
//!
//! The reverse direction (new → legacy, for `read-new`) is the same machinery over
//! inverted tables (see `docs/data.md`), with its own label (`DOMAIN/reverse`).

mod apply;
mod changelog;
mod position;
mod triggers;

use crate::db::Db;
use crate::error::{DataError, Side};
use crate::resolve::ResolvedTable;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Default entries applied per batch (one source re-read per table, one target transaction).
pub const DEFAULT_BATCH_CHANGES: usize = 2000;
/// Default wait between polls when the changelog is empty.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How the applier runs.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The capture label: the domain (`invoices`), or `invoices/reverse` for new → legacy.
    /// Names the changelog entries, triggers and position, and labels the metrics.
    pub label: String,
    /// Changelog entries per batch.
    pub batch_changes: usize,
    /// Wait between polls of an empty changelog.
    pub poll_interval: Duration,
}

impl CaptureOptions {
    /// Defaults for `label`.
    pub fn new(label: impl Into<String>) -> CaptureOptions {
        CaptureOptions {
            label: label.into(),
            batch_changes: DEFAULT_BATCH_CHANGES,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// The applier's lag: changes logged and not yet applied, and the age of the oldest.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Lag {
    /// Changelog entries not yet applied.
    pub pending_changes: u64,
    /// Age of the oldest of them, in seconds of the source's clock (0 when none).
    pub oldest_seconds: f64,
    /// Entries applied in all (from the position in the target).
    pub applied_changes: u64,
    /// Highest changelog seq applied.
    pub applied_seq: u64,
}

/// Live counters of a running applier, for a status line or the control plane.
#[derive(Debug, Default)]
pub struct CaptureStatus {
    /// Entries applied by this run.
    pub applied: AtomicU64,
    /// Rows upserted by this run.
    pub upserted: AtomicU64,
    /// Rows deleted by this run.
    pub deleted: AtomicU64,
    /// Entries pending at the last measure.
    pub pending: AtomicU64,
    /// Age of the oldest pending entry at the last measure, in microseconds.
    pub lag_micros: AtomicU64,
}

/// Install (or reinstall) the changelog and the triggers of every table. Idempotent.
///
/// # Errors
/// [`DataError::Sql`] from the source (e.g. no privilege to create triggers).
pub async fn start(source: &Db, tables: &[ResolvedTable], label: &str) -> Result<(), DataError> {
    let changelog = triggers::changelog_table(source, tables);
    for sql in triggers::create_changelog(source.engine(), &changelog) {
        source
            .execute_script(&sql)
            .await
            .map_err(DataError::sql(Side::Source, "create the changelog"))?;
    }
    for t in tables {
        for sql in triggers::install(source, &changelog, label, t) {
            source.execute_script(&sql).await.map_err(DataError::sql(
                Side::Source,
                format!("install triggers on {}", t.source_name),
            ))?;
        }
    }
    Ok(())
}

/// Remove the triggers of every table; with `purge`, also this label's changelog entries
/// (otherwise an applier can still drain them).
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub async fn stop(
    source: &Db,
    tables: &[ResolvedTable],
    label: &str,
    purge: bool,
) -> Result<(), DataError> {
    for t in tables {
        for sql in triggers::remove(source, label, t) {
            source.execute_script(&sql).await.map_err(DataError::sql(
                Side::Source,
                format!("remove triggers on {}", t.source_name),
            ))?;
        }
    }
    if purge {
        let changelog = triggers::changelog_table(source, tables);
        let d = source.dialect();
        let sql = format!("DELETE FROM {changelog} WHERE domain = {}", d.placeholder(1));
        match source.execute(&sql, &[Some(label.to_owned())]).await {
            // No changelog yet: nothing to purge.
            Err(e) if !crate::db::is_missing_table(&e) => {
                return Err(DataError::sql(Side::Source, "purge the changelog")(e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether capture triggers of `label` are installed on any of the tables.
///
/// # Errors
/// [`DataError::Sql`] from the source's catalogue.
pub async fn installed(
    source: &Db,
    tables: &[ResolvedTable],
    label: &str,
) -> Result<bool, DataError> {
    for t in tables {
        let (sql, params) = triggers::count_installed(source, label, t);
        let rows = source
            .fetch_texts(&sql, &params)
            .await
            .map_err(DataError::sql(Side::Source, "list triggers"))?;
        let n: u64 = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The applier's lag now.
///
/// # Errors
/// [`DataError::Sql`] from either side (an absent changelog is an error: capture not started).
pub async fn lag(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    label: &str,
) -> Result<Lag, DataError> {
    let changelog = triggers::changelog_table(source, tables);
    let (pending, age) = changelog::backlog(source, &changelog, label).await?;
    let pos = position::load(target, &position::table(target, tables), label).await?;
    let (applied_seq, applied_changes) = pos.unwrap_or((0, 0));
    Ok(Lag {
        pending_changes: pending,
        oldest_seconds: age as f64 / 1e6,
        applied_changes,
        applied_seq,
    })
}

/// Apply batches until the changelog of `label` is empty (at the time of the last read); the
/// entries applied.
///
/// # Errors
/// The first [`DataError`]; batches committed before it stay applied.
pub async fn apply_pending(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    opts: &CaptureOptions,
    status: &CaptureStatus,
) -> Result<u64, DataError> {
    let changelog = triggers::changelog_table(source, tables);
    let position_table = position::table(target, tables);
    position::ensure(target, &position_table, &opts.label, &changelog).await?;
    let route =
        apply::Route { label: &opts.label, changelog: &changelog, position_table: &position_table };
    let mut total = 0;
    loop {
        let entries =
            changelog::oldest(source, &changelog, &opts.label, opts.batch_changes.max(1)).await?;
        if entries.is_empty() {
            break;
        }
        let done = apply::apply(source, target, tables, &route, &entries).await?;
        total += done.entries;
        status.applied.fetch_add(done.entries, Ordering::Relaxed);
        status.upserted.fetch_add(done.upserted, Ordering::Relaxed);
        status.deleted.fetch_add(done.deleted, Ordering::Relaxed);
        metrics::counter!("ficus_capture_applied_changes_total", "domain" => opts.label.clone())
            .increment(done.entries);
        if entries.len() < opts.batch_changes {
            break;
        }
    }
    measure(source, &changelog, opts, status).await?;
    Ok(total)
}

async fn measure(
    source: &Db,
    changelog: &str,
    opts: &CaptureOptions,
    status: &CaptureStatus,
) -> Result<(), DataError> {
    let (pending, age) = changelog::backlog(source, changelog, &opts.label).await?;
    status.pending.store(pending, Ordering::Relaxed);
    status.lag_micros.store(age, Ordering::Relaxed);
    metrics::gauge!("ficus_capture_pending_changes", "domain" => opts.label.clone())
        .set(pending as f64);
    metrics::gauge!("ficus_capture_lag_seconds", "domain" => opts.label.clone())
        .set(age as f64 / 1e6);
    Ok(())
}

/// The applier loop: apply what is pending, wait `poll_interval`, again, until `shutdown`
/// completes (checked between batches, so a batch is never cut); the entries applied.
///
/// # Errors
/// The first [`DataError`]; batches committed before it stay applied.
pub async fn run(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    opts: &CaptureOptions,
    status: &CaptureStatus,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, DataError> {
    tokio::pin!(shutdown);
    let mut total = 0;
    loop {
        total += apply_pending(source, target, tables, opts, status).await?;
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(opts.poll_interval) => {}
        }
    }
    Ok(total)
}
