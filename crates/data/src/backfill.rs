//! Backfill: copies every mapped table from source to target in keyset chunks, each written
//! with its checkpoint in one target transaction, under a shared rows/s limit, with several
//! workers per table on disjoint key ranges. A run resumes where the checkpoints say.

use crate::checkpoint::{self, Checkpoint};
use crate::db::{Db, TextRow};
use crate::error::{DataError, Side};
use crate::keyset::{KeyRange, Query, order_by};
use crate::rate::RateLimit;
use crate::resolve::ResolvedTable;
use crate::write;
use futures_util::future::try_join_all;
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
    /// Workers per table on disjoint key ranges (a resumed table keeps its first run's ranges).
    pub workers: usize,
    /// Read and count only; write nothing (not even checkpoints).
    pub dry_run: bool,
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
    let mut reports = Vec::with_capacity(tables.len());
    for t in tables {
        if let Ok(mut name) = progress.table.lock() {
            name.clone_from(&t.name);
        }
        reports.push(table(source, target, t, opts, &rate, progress).await?);
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
    rate: &RateLimit,
    progress: &Progress,
) -> Result<TableReport, DataError> {
    if opts.dry_run {
        let left = count(source, t, &KeyRange::default()).await?;
        // Compile the chunk query once so a broken mapping shows up now.
        read_chunk(source, t, &KeyRange::default(), 1).await?;
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
            .map(|cp| worker(source, target, t, opts, rate, progress, cp)),
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
    rate: &RateLimit,
    progress: &Progress,
    cp: Checkpoint,
) -> Result<(u64, u64), DataError> {
    let advance = checkpoint::advance_sql(target, t);
    let mut range = cp.next_range();
    let (mut rows_done, mut chunks) = (0, 0);
    loop {
        rate.acquire(opts.chunk_rows).await;
        let rows = read_chunk(source, t, &range, opts.chunk_rows).await?;
        let n = rows.len() as u64;
        let done = n < opts.chunk_rows;
        let Some(last) = rows.last().map(|r| key_of(t, r)) else {
            let params = checkpoint::advance_params(&opts.domain, t, cp.worker, &range.lo, 0, true);
            write::checkpoint_only(target, &advance, &params).await?;
            break;
        };
        let last = last?;
        let params =
            checkpoint::advance_params(&opts.domain, t, cp.worker, &Some(last.clone()), n, done);
        write::write_chunk(target, t, &rows, &advance, &params).await?;
        rows_done += n;
        chunks += 1;
        progress.rows_done.fetch_add(n, Ordering::Relaxed);
        range.lo = Some(last);
        if done {
            break;
        }
    }
    Ok((rows_done, chunks))
}

fn key_of(t: &ResolvedTable, row: &TextRow) -> Result<Vec<String>, DataError> {
    t.key
        .iter()
        .map(|k| {
            row[k.index].clone().ok_or_else(|| {
                DataError::mapping(
                    &t.name,
                    format!("key column {} is NULL in a source row", t.columns[k.index].target),
                )
            })
        })
        .collect()
}

/// Up to `limit` source rows of `range` in key order, as transfer text in column order.
async fn read_chunk(
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
    limit: u64,
) -> Result<Vec<TextRow>, DataError> {
    let d = source.dialect();
    let mut q = Query::new(d);
    let key = t.source_key();
    let pred = q.range(&key, range, t.filter.as_deref());
    let select: Vec<String> =
        t.columns.iter().map(|c| d.transfer(c.class, &c.source_expr)).collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {pred} ORDER BY {} {}",
        select.join(", "),
        t.source_table,
        order_by(&key),
        d.limit_offset(limit, 0)
    );
    source
        .fetch_texts(&sql, &q.params)
        .await
        .map_err(DataError::sql(Side::Source, format!("read a chunk of {}", t.name)))
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
        select.join(", "),
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
