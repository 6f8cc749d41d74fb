//! Backfill: copies every mapped table from source to target in keyset chunks, each written
//! with its checkpoint in one target transaction, under a shared rows/s limit, with several
//! workers per table taking disjoint key ranges in key order. A run resumes where the
//! checkpoints say.

pub(crate) mod split;
mod worker;

use crate::checkpoint;
use crate::db::Db;
use crate::error::{DataError, Side};
use crate::keyset::KeyRange;
use crate::rate::RateLimit;
use crate::read;
use crate::resolve::ResolvedTable;
use crate::throttle::Gate;
use futures_util::future::try_join_all;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How a backfill runs.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// The domain (names the checkpoints).
    pub domain: String,
    /// Rows per chunk (per read, write transaction and checkpoint).
    pub chunk_rows: u64,
    /// Rows per second across all workers; `None` for no limit.
    pub rate_rows_per_second: Option<u64>,
    /// Workers per table, each copying one key range at a time, taken in key order (a resumed
    /// table keeps its first run's ranges; see [`split::split`]).
    pub workers: usize,
    /// Read and count only; write nothing (not even checkpoints).
    pub dry_run: bool,
    /// Read each chunk with a locking read and hold the source rows until the chunk is
    /// committed in the target, so a source change made meanwhile waits, and is captured (and
    /// applied) after the copy. Needed beside change capture: without it, a row deleted or
    /// updated between the chunk's read and its write is written back stale after the applier
    /// has already applied the change. The method of Ghostferry's data iterator
    /// (`SELECT … FOR UPDATE` held across the target write).
    pub lock_source_rows: bool,
    /// Adaptive throttling on source load (checked before each chunk); `None` for none.
    pub throttle: Option<ficus_model::mapping::Throttle>,
    /// Wait this long between reading a chunk and writing it: a slow target on demand, so tests
    /// can change the source inside that window. `None` in production.
    pub write_delay: Option<std::time::Duration>,
}

/// Live counters for a progress display (rows/s and ETA from the rows actually left).
#[derive(Debug, Default)]
pub struct Progress {
    /// Rows copied by this run so far.
    pub rows_done: AtomicU64,
    /// Rows this run has to copy (the key ranges left after the checkpoints, counted at start).
    pub rows_total: AtomicU64,
    /// The table being copied.
    pub table: Mutex<String>,
    /// Throttle checks that found the source busy and paused a chunk.
    pub throttle_waits: AtomicU64,
}

/// What a backfill did, per table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackfillReport {
    pub dry_run: bool,
    pub tables: Vec<TableReport>,
    pub seconds: f64,
}

/// One table's backfill.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    /// Source rows (after the filter) left to copy when this run started: counted for a dry
    /// run and for composite or non-integer keys; estimated for a single integer key from the
    /// key span left and the catalogue's row count (no scan before the copy starts).
    pub rows_left_at_start: u64,
    /// Rows copied by this run.
    pub rows_copied: u64,
    /// Rows copied by every run, from the checkpoints.
    pub rows_copied_total: u64,
    /// Chunks written by this run.
    pub chunks: u64,
    /// Whether earlier checkpoints were found.
    pub resumed: bool,
}

/// Copy every table. Tables run one after another; each uses `opts.workers` workers.
///
/// # Errors
/// The first [`DataError`] of any worker; chunks committed before it stay committed and the
/// next run resumes after them.
pub async fn backfill(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    opts: &BackfillOptions,
    progress: &Progress,
) -> Result<BackfillReport, DataError> {
    let start = Instant::now();
    let rate = RateLimit::new(opts.rate_rows_per_second);
    let gate = Gate::new(opts.throttle.clone());
    let mut reports = Vec::with_capacity(tables.len());
    for t in tables {
        if let Ok(mut name) = progress.table.lock() {
            name.clone_from(&t.name);
        }
        reports.push(table(source, target, t, opts, (&rate, &gate), progress).await?);
    }
    Ok(BackfillReport {
        dry_run: opts.dry_run,
        tables: reports,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Gather the planner statistics of a table this run wrote to, on a PostgreSQL target: its
/// size and its key columns' (`ANALYZE table (key…)`, a sample of 300 ×
/// `default_statistics_target` rows). Until autovacuum gets to a freshly filled table (up to
/// `autovacuum_naptime` later, one minute by default), PostgreSQL plans its queries without
/// statistics: the new service's and verify's key-range reads then ran as a bitmap heap scan
/// and a sort instead of an index scan in key order, ≈ 45 % more PostgreSQL CPU for verify of
/// the bench's table. Only the key columns, because the other columns' statistics are
/// autovacuum's to gather, and it still will: an `ANALYZE` of some columns leaves the table's
/// count of changes since its last analysis as it was (PostgreSQL's `analyze.c` resets it
/// only when every column was analyzed). And with a sample of 3,000 rows
/// (`default_statistics_target` 10, for this transaction only): these statistics only have to
/// carry the planner until autovacuum's full analysis, and the row count and a 10-bucket
/// histogram of the key already give key ranges their index scan. On the bench's 1 M fresh
/// rows that is ≈ 6 ms instead of ≈ 40 ms at the default target (≈ 0.23 s for every column).
/// InnoDB recalculates its statistics itself as soon as a tenth of a table changed; SQLite
/// plans a key range by its primary key without statistics, and its `ANALYZE` reads every
/// index whole.
///
/// # Errors
/// The target's error (a table the user may not analyze is only a warning in PostgreSQL).
async fn refresh_statistics(target: &Db, t: &ResolvedTable) -> Result<(), DataError> {
    if target.engine() != ficus_model::mapping::Engine::Postgres {
        return Ok(());
    }
    let err = || DataError::sql(Side::Target, format!("analyze {}", t.name));
    let key: Vec<String> = t.target_key(target).into_iter().map(|(k, _)| k).collect();
    let mut tx = target.begin(false).await.map_err(err())?;
    tx.execute("SET LOCAL default_statistics_target = 10", &[]).await.map_err(err())?;
    tx.execute(&format!("ANALYZE {} ({})", t.target_table, key.join(", ")), &[])
        .await
        .map_err(err())?;
    tx.commit().await.map_err(err())?;
    Ok(())
}

async fn table(
    source: &Db,
    target: &Db,
    t: &ResolvedTable,
    opts: &BackfillOptions,
    limits: (&RateLimit, &Gate),
    progress: &Progress,
) -> Result<TableReport, DataError> {
    if opts.dry_run {
        let left = split::count(source, t, &KeyRange::default()).await?;
        // Compile the chunk query once so a broken mapping shows up now.
        read::read_chunk(source, t, &KeyRange::default(), 1).await?;
        progress.rows_total.fetch_add(left, Ordering::Relaxed);
        return Ok(TableReport {
            table: t.name.clone(),
            rows_left_at_start: left,
            rows_copied: 0,
            rows_copied_total: 0,
            chunks: 0,
            resumed: false,
        });
    }
    checkpoint::ensure_table(target, t).await?;
    let mut cps = checkpoint::load(target, t, &opts.domain).await?;
    let resumed = !cps.is_empty();
    let span = split::int_span(source, t).await?;
    if cps.is_empty() {
        let ranges = split::split(source, t, opts.workers, opts.chunk_rows, span).await?;
        cps = checkpoint::create(target, t, &opts.domain, &ranges).await?;
    }
    let mut left = 0;
    for cp in cps.iter().filter(|c| !c.done) {
        left += split::rows_in(source, t, &cp.next_range(), span).await?;
    }
    progress.rows_total.fetch_add(left, Ordering::Relaxed);
    let before: u64 = cps.iter().map(|c| c.rows_copied).sum();
    let shared =
        worker::Shared { source, target, t, opts, rate: limits.0, gate: limits.1, progress };
    // The ranges left, in key order (checkpoints load by range number): each worker takes the
    // next one when it finishes its own, so the workers write neighbouring ranges.
    let queue: Mutex<VecDeque<_>> = Mutex::new(cps.into_iter().filter(|c| !c.done).collect());
    let next = || queue.lock().map_or(None, |mut q| q.pop_front());
    let workers = opts.workers.max(1).min(queue.lock().map_or(1, |q| q.len()));
    let results = try_join_all((0..workers).map(|_| async {
        let (mut rows, mut chunks) = (0, 0);
        while let Some(cp) = next() {
            let (r, c) = worker::run(&shared, cp).await?;
            rows += r;
            chunks += c;
        }
        Ok::<_, DataError>((rows, chunks))
    }))
    .await?;
    checkpoint::make_durable(target, t, &opts.domain).await?;
    let rows_copied: u64 = results.iter().map(|r| r.0).sum();
    if rows_copied > 0 {
        refresh_statistics(target, t).await?;
    }
    Ok(TableReport {
        table: t.name.clone(),
        rows_left_at_start: left,
        rows_copied,
        rows_copied_total: before + rows_copied,
        chunks: results.iter().map(|r| r.1).sum(),
        resumed,
    })
}
