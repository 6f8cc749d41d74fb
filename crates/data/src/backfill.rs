//! Backfill: copies every mapped table from source to target in keyset chunks, each written
//! with its checkpoint in one target transaction, under a shared rows/s limit, with several
//! workers per table on disjoint key ranges. A run resumes where the checkpoints say.

use crate::checkpoint::{self, Checkpoint};
use crate::db::{Db, is_retryable};
use crate::error::{DataError, Side};
use crate::keyset::{Key, KeyRange, Query, aliased, order_by};
use crate::rate::RateLimit;
use crate::read;
use crate::resolve::ResolvedTable;
use crate::throttle::Gate;
use crate::write;
use futures_util::future::try_join_all;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How a backfill runs.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// The domain (names the checkpoints).
    pub domain: String,
    /// Rows per chunk (per read, write transaction and checkpoint).
    pub chunk_rows: u64,
    /// Rows per second across all workers; `None` for no limit.
    pub rate_rows_per_second: Option<u64>,
    /// Workers per table on disjoint key ranges (a resumed table keeps its first run's ranges).
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
}

/// Attempts of one chunk when it fails with a deadlock, a lock wait timeout or a busy
/// database (each attempt is a whole transaction, so a retry neither loses nor repeats rows).
const CHUNK_ATTEMPTS: u32 = 8;

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
    /// Source rows (after the filter) left to copy when this run started.
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

async fn table(
    source: &Db,
    target: &Db,
    t: &ResolvedTable,
    opts: &BackfillOptions,
    limits: (&RateLimit, &Gate),
    progress: &Progress,
) -> Result<TableReport, DataError> {
    if opts.dry_run {
        let left = count(source, t, &KeyRange::default()).await?;
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
    if cps.is_empty() {
        let ranges = split(source, t, opts.workers).await?;
        cps = checkpoint::create(target, t, &opts.domain, &ranges).await?;
    }
    let mut left = 0;
    for cp in cps.iter().filter(|c| !c.done) {
        left += count(source, t, &cp.next_range()).await?;
    }
    progress.rows_total.fetch_add(left, Ordering::Relaxed);
    let before: u64 = cps.iter().map(|c| c.rows_copied).sum();
    let results = try_join_all(
        cps.into_iter()
            .filter(|c| !c.done)
            .map(|cp| worker(source, target, t, opts, limits, progress, cp)),
    )
    .await?;
    let rows_copied: u64 = results.iter().map(|r| r.0).sum();
    Ok(TableReport {
        table: t.name.clone(),
        rows_left_at_start: left,
        rows_copied,
        rows_copied_total: before + rows_copied,
        chunks: results.iter().map(|r| r.1).sum(),
        resumed,
    })
}

/// One worker: chunks from its checkpoint to the end of its range. Returns (rows, chunks).
async fn worker(
    source: &Db,
    target: &Db,
    t: &ResolvedTable,
    opts: &BackfillOptions,
    (rate, gate): (&RateLimit, &Gate),
    progress: &Progress,
    cp: Checkpoint,
) -> Result<(u64, u64), DataError> {
    let advance = checkpoint::advance_sql(target, t);
    let mut range = cp.next_range();
    // Straight COPY into the table while the rest of this worker's range is empty in the
    // target and no applier writes beside us; a conflict turns it off for the worker.
    let mut direct = !opts.lock_source_rows && target_range_empty(target, t, &range).await?;
    let (mut rows_done, mut chunks) = (0, 0);
    loop {
        rate.acquire(opts.chunk_rows).await;
        let waits = gate.wait(source).await?;
        progress.throttle_waits.fetch_add(waits, Ordering::Relaxed);
        let mut attempt = 1;
        let step = loop {
            match copy_chunk(source, target, t, opts, cp.worker, &range, &advance, direct).await {
                Err(DataError::Sql { source: e, .. }) if direct && is_unique_violation(&e) => {
                    tracing::debug!(table = %t.name, "target rows appeared in the range: upserting");
                    direct = false;
                }
                Err(DataError::Sql { source: e, .. })
                    if attempt < CHUNK_ATTEMPTS && is_retryable(&e) =>
                {
                    tracing::debug!(table = %t.name, attempt, "chunk retried: {e}");
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                    attempt += 1;
                }
                other => break other?,
            }
        };
        let Some((n, last)) = step else { break };
        rows_done += n;
        chunks += 1;
        progress.rows_done.fetch_add(n, Ordering::Relaxed);
        range.lo = Some(last);
        if n < opts.chunk_rows {
            break;
        }
    }
    Ok((rows_done, chunks))
}

/// Copy the chunk after `range.lo`: read it (holding the rows when `opts.lock_source_rows`),
/// write it with its checkpoint, release the rows. `None` when the range had no more rows (its
/// checkpoint is then marked done); else the rows copied and the last key.
async fn copy_chunk(
    source: &Db,
    target: &Db,
    t: &ResolvedTable,
    opts: &BackfillOptions,
    worker: usize,
    range: &KeyRange,
    advance: &str,
    direct: bool,
) -> Result<Option<(u64, Key)>, DataError> {
    let mut held = None;
    let rows = if opts.lock_source_rows {
        let tx = held.insert(
            source
                .begin(true)
                .await
                .map_err(DataError::sql(Side::Source, "begin a locking read"))?,
        );
        read::read_chunk_locked(tx, source, t, range, opts.chunk_rows).await?
    } else {
        read::read_chunk(source, t, range, opts.chunk_rows).await?
    };
    let n = rows.len() as u64;
    let Some(last) = rows.last().map(|r| read::key_of(t, r)) else {
        let params = checkpoint::advance_params(&opts.domain, t, worker, &range.lo, 0, true);
        write::checkpoint_only(target, advance, &params).await?;
        return Ok(None);
    };
    let last = last?;
    let done = n < opts.chunk_rows;
    let params = checkpoint::advance_params(&opts.domain, t, worker, &Some(last.clone()), n, done);
    write::write_chunk(target, t, &rows, advance, &params, direct).await?;
    if let Some(tx) = held {
        // Only releases the share locks: the transaction wrote nothing.
        tx.commit().await.map_err(DataError::sql(Side::Source, "release the chunk's rows"))?;
    }
    Ok(Some((n, last)))
}

/// Whether the target holds no row in `range` (by the target's key).
async fn target_range_empty(
    target: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
) -> Result<bool, DataError> {
    let d = target.dialect();
    let mut q = Query::new(d);
    let pred = q.range(&t.target_key(target), range, None);
    let sql = format!(
        "SELECT {} FROM {} WHERE {pred} {}",
        d.to_text("1"),
        t.target_table,
        d.limit_offset(1, 0)
    );
    let rows = target
        .fetch_texts(&sql, &q.params)
        .await
        .map_err(DataError::sql(Side::Target, format!("look for rows in {}", t.name)))?;
    Ok(rows.is_empty())
}

/// SQLSTATE 23505 (PostgreSQL) / 23000 (MariaDB/MySQL) / SQLite's 1555, 2067: a duplicate key.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Source rows in `range` (after the filter).
async fn count(source: &Db, t: &ResolvedTable, range: &KeyRange) -> Result<u64, DataError> {
    let d = source.dialect();
    let mut q = Query::new(d);
    let pred = q.range(&t.source_key(), range, t.filter.as_deref());
    let sql = format!("SELECT {} FROM {} WHERE {pred}", d.to_text("COUNT(*)"), t.source_table);
    let rows = source
        .fetch_texts(&sql, &q.params)
        .await
        .map_err(DataError::sql(Side::Source, format!("count {}", t.name)))?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

/// Split a table's key space into `workers` ranges of about equal row counts, at source keys.
async fn split(source: &Db, t: &ResolvedTable, workers: usize) -> Result<Vec<KeyRange>, DataError> {
    if workers <= 1 {
        return Ok(vec![KeyRange::default()]);
    }
    let total = count(source, t, &KeyRange::default()).await?;
    let mut bounds = Vec::new();
    for i in 1..workers as u64 {
        let offset = total * i / workers as u64;
        if offset == 0 {
            continue;
        }
        if let Some(k) = key_at(source, t, offset - 1).await?
            && bounds.last() != Some(&k)
        {
            bounds.push(k);
        }
    }
    let mut ranges = Vec::with_capacity(bounds.len() + 1);
    let mut lo = None;
    for b in bounds {
        ranges.push(KeyRange { lo: lo.clone(), hi: Some(b.clone()) });
        lo = Some(b);
    }
    ranges.push(KeyRange { lo, hi: None });
    Ok(ranges)
}

/// The key of the source row at `offset` in key order (after the filter).
pub(crate) async fn key_at(
    source: &Db,
    t: &ResolvedTable,
    offset: u64,
) -> Result<Option<Vec<String>>, DataError> {
    let d = source.dialect();
    let key = t.source_key();
    let select: Vec<String> =
        t.key.iter().map(|k| d.transfer(t.columns[k.index].class, &k.source_expr)).collect();
    let filter = t.filter.as_deref().map_or_else(|| "1=1".to_owned(), |f| format!("({f})"));
    let sql = format!(
        "SELECT {} FROM {} WHERE {filter} ORDER BY {} {}",
        aliased(&select),
        t.source_table,
        order_by(&key),
        d.limit_offset(1, offset)
    );
    let rows = source
        .fetch_texts(&sql, &[])
        .await
        .map_err(DataError::sql(Side::Source, format!("split {}", t.name)))?;
    Ok(rows.into_iter().next().map(|r| r.into_iter().map(Option::unwrap_or_default).collect()))
}
