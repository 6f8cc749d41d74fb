//! One backfill worker: its key range chunk by chunk from its checkpoint, each chunk written
//! with the checkpoint in one target transaction.
//!
//! Without capture the worker is a two-stage pipeline: while chunk N is written, chunk N+1 is
//! read (its start, N's last key, is known as soon as N is read), so the source and the target
//! work at the same time, as in `mariadb | psql`. Beside capture, each chunk is read with a
//! locking read held until its write commits, one chunk at a time (see
//! [`super::BackfillOptions::lock_source_rows`]).

use super::{BackfillOptions, Progress};
use crate::checkpoint::{self, Checkpoint};
use crate::db::{Db, TextRow, is_retryable};
use crate::error::{DataError, Side};
use crate::keyset::{Key, KeyRange, Query, order_by};
use crate::pgcopy::Wire;
use crate::rate::RateLimit;
use crate::read::{self, Chunk};
use crate::resolve::ResolvedTable;
use crate::throttle::Gate;
use crate::write::{self, Payload};
use ficus_model::mapping::Engine;
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Attempts of one chunk's read or write when it fails with a deadlock, a lock wait timeout or
/// a busy database (each attempt is a whole transaction, so a retry neither loses nor repeats
/// rows).
const CHUNK_ATTEMPTS: u32 = 8;

/// What a worker shares with the others of its table.
pub(super) struct Shared<'a> {
    pub source: &'a Db,
    pub target: &'a Db,
    pub t: &'a ResolvedTable,
    pub opts: &'a BackfillOptions,
    pub rate: &'a RateLimit,
    pub gate: &'a Gate,
    pub progress: &'a Progress,
}

/// Copy one worker's range from its checkpoint; (rows, chunks) copied.
///
/// # Errors
/// The first [`DataError`] that retries did not clear.
pub(super) async fn run(s: &Shared<'_>, cp: Checkpoint) -> Result<(u64, u64), DataError> {
    if s.opts.lock_source_rows {
        return run_locked(s, cp).await;
    }
    let advance = checkpoint::advance_sql(s.target, s.t);
    // Every target column's binary COPY encoding, when the target is PostgreSQL and has one
    // for each: chunks read for a direct copy then come encoded (see `read::Chunk`).
    let wires: Option<Vec<Wire>> = match s.target.engine() {
        Engine::Postgres => s.t.copy_wires(),
        _ => None,
    };
    let (mut rows_done, mut chunks) = (0, 0);
    let mut cp = cp;
    // Starts again from the checkpoint whenever it moved under this run.
    'resume: loop {
        // The checkpoint's last key as this run last knew it.
        let mut from = cp.last.clone();
        let mut range = cp.next_range();
        // Straight COPY into the table while the rest of this worker's range is empty in
        // the target; a conflict turns it off for the worker.
        let mut direct = target_range_empty(s.target, s.t, &range).await?;
        let mut rows = read(s, &range, wires.as_deref().filter(|_| direct)).await?;
        loop {
            let n = rows.len() as u64;
            let Some(last) = rows.last().map(|r| read::key_of(s.t, r)).transpose()? else {
                let params = checkpoint::advance_params(
                    &s.opts.domain,
                    s.t,
                    cp.worker,
                    &from,
                    &range.lo,
                    0,
                    true,
                );
                if write::checkpoint_only(s.target, &advance, &params).await? {
                    break 'resume;
                }
                cp = moved(s, cp.worker).await?;
                if cp.done {
                    break 'resume;
                }
                continue 'resume;
            };
            let finished = n < s.opts.chunk_rows || ends(&range, &last);
            let params = checkpoint::advance_params(
                &s.opts.domain,
                s.t,
                cp.worker,
                &from,
                &Some(last.clone()),
                n,
                finished,
            );
            let next = KeyRange { lo: Some(last.clone()), hi: range.hi.clone() };
            // Read for a direct copy while this chunk's is direct too (a conflict in its write
            // turns the copy into upserts; the next chunk is then turned into text).
            let copy = wires.as_deref().filter(|_| direct);
            let written = write(s, &rows, &advance, &params, &mut direct);
            let (advanced, next_rows) = if finished {
                (written.await?, None)
            } else {
                let (w, r) = tokio::join!(written, read(s, &next, copy));
                (w?, Some(r?))
            };
            if !advanced {
                cp = moved(s, cp.worker).await?;
                if cp.done {
                    break 'resume;
                }
                continue 'resume;
            }
            rows_done += n;
            chunks += 1;
            s.progress.rows_done.fetch_add(n, Ordering::Relaxed);
            from = Some(last);
            match next_rows {
                Some(r) => {
                    rows = r;
                    range = next;
                }
                None => break 'resume,
            }
        }
    }
    Ok((rows_done, chunks))
}

/// The worker's checkpoint moved under this run (another run of the same backfill, or the last
/// transaction of a killed run committed after this run read it): read it again. The chunk
/// just written was upserted (the same rows again, under the conflict rule) but not counted.
async fn moved(s: &Shared<'_>, worker: usize) -> Result<Checkpoint, DataError> {
    tracing::warn!(
        table = %s.t.name,
        range = worker,
        "the checkpoint moved under this run (another run, or a killed run's last commit); going on from where it is"
    );
    checkpoint::load_worker(s.target, s.t, &s.opts.domain, worker).await
}

/// Read the chunk after `range.lo`, within the rate limit and throttle, retrying transient
/// failures; encoded for a binary `COPY` where it can be when `copy` holds the target's wires
/// (see [`read::read_chunk_for_copy`]).
async fn read(s: &Shared<'_>, range: &KeyRange, copy: Option<&[Wire]>) -> Result<Chunk, DataError> {
    s.rate.acquire(s.opts.chunk_rows).await;
    let waits = s.gate.wait(s.source).await?;
    s.progress.throttle_waits.fetch_add(waits, Ordering::Relaxed);
    let mut attempt = 1;
    loop {
        let chunk = match copy {
            Some(wires) => {
                read::read_chunk_for_copy(s.source, s.t, range, s.opts.chunk_rows, wires).await
            }
            None => {
                read::read_chunk(s.source, s.t, range, s.opts.chunk_rows).await.map(Chunk::Text)
            }
        };
        match chunk {
            Err(DataError::Sql { source: e, .. })
                if attempt < CHUNK_ATTEMPTS && is_retryable(&e) =>
            {
                backoff(s.t, attempt, &e).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Write a chunk with its checkpoint, retrying transient failures; a unique violation in
/// `direct` mode turns `direct` off and writes the chunk again by upsert.
async fn write(
    s: &Shared<'_>,
    rows: &Chunk,
    advance: &str,
    params: &[Option<String>],
    direct: &mut bool,
) -> Result<bool, DataError> {
    if let Some(d) = s.opts.write_delay {
        tokio::time::sleep(d).await;
    }
    // The rows as text, converted once if an encoded chunk has to be upserted.
    let mut texts: Option<Cow<'_, [TextRow]>> = None;
    let mut attempt = 1;
    loop {
        let payload = match rows {
            Chunk::Copy { data, .. } if *direct => Payload::Copy(data),
            _ => Payload::Rows(match texts {
                Some(ref t) => t,
                None => texts.insert(rows.texts(s.t)?),
            }),
        };
        match write::write_chunk(s.target, s.t, payload, advance, params, *direct).await {
            Err(DataError::Sql { source: e, .. }) if *direct && is_unique_violation(&e) => {
                tracing::debug!(table = %s.t.name, "target rows appeared in the range: upserting");
                *direct = false;
            }
            Err(DataError::Sql { source: e, .. })
                if attempt < CHUNK_ATTEMPTS && is_retryable(&e) =>
            {
                backoff(s.t, attempt, &e).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn backoff(t: &ResolvedTable, attempt: u32, e: &sqlx::Error) {
    tracing::debug!(table = %t.name, attempt, "chunk retried: {e}");
    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
}

/// The worker beside capture: one chunk at a time, read with a locking read and held until its
/// write commits.
async fn run_locked(s: &Shared<'_>, cp: Checkpoint) -> Result<(u64, u64), DataError> {
    let advance = checkpoint::advance_sql(s.target, s.t);
    let mut cp = cp;
    let mut range = cp.next_range();
    let mut from = cp.last.clone();
    let (mut rows_done, mut chunks) = (0, 0);
    loop {
        s.rate.acquire(s.opts.chunk_rows).await;
        let waits = s.gate.wait(s.source).await?;
        s.progress.throttle_waits.fetch_add(waits, Ordering::Relaxed);
        let mut attempt = 1;
        let (advanced, step) = loop {
            match copy_locked(s, cp.worker, &range, &from, &advance).await {
                Err(DataError::Sql { source: e, .. })
                    if attempt < CHUNK_ATTEMPTS && is_retryable(&e) =>
                {
                    backoff(s.t, attempt, &e).await;
                    attempt += 1;
                }
                other => break other?,
            }
        };
        if !advanced {
            cp = moved(s, cp.worker).await?;
            if cp.done {
                break;
            }
            range = cp.next_range();
            from = cp.last.clone();
            continue;
        }
        let Some((n, last)) = step else { break };
        rows_done += n;
        chunks += 1;
        s.progress.rows_done.fetch_add(n, Ordering::Relaxed);
        if n < s.opts.chunk_rows || ends(&range, &last) {
            break;
        }
        range.lo = Some(last.clone());
        from = Some(last);
    }
    Ok((rows_done, chunks))
}

/// Copy the chunk after `range.lo` holding its source rows: read them with a locking read,
/// write them with the checkpoint (advanced from `from`), release them. Whether the
/// checkpoint advance matched, and `None` when the range had no more rows (its checkpoint is
/// then marked done), else the rows copied and the last key.
async fn copy_locked(
    s: &Shared<'_>,
    worker: usize,
    range: &KeyRange,
    from: &Option<Key>,
    advance: &str,
) -> Result<(bool, Option<(u64, Key)>), DataError> {
    let mut tx =
        s.source.begin(true).await.map_err(DataError::sql(Side::Source, "begin a locking read"))?;
    let rows = read::read_chunk_locked(&mut tx, s.source, s.t, range, s.opts.chunk_rows).await?;
    let n = rows.len() as u64;
    let Some(last) = rows.last().map(|r| read::key_of(s.t, r)).transpose()? else {
        let params =
            checkpoint::advance_params(&s.opts.domain, s.t, worker, from, &range.lo, 0, true);
        let advanced = write::checkpoint_only(s.target, advance, &params).await?;
        return Ok((advanced, None));
    };
    let done = n < s.opts.chunk_rows || ends(range, &last);
    let params =
        checkpoint::advance_params(&s.opts.domain, s.t, worker, from, &Some(last.clone()), n, done);
    if let Some(d) = s.opts.write_delay {
        tokio::time::sleep(d).await;
    }
    let advanced =
        write::write_chunk(s.target, s.t, Payload::Rows(&rows), advance, &params, false).await?;
    // Only releases the share locks: the transaction wrote nothing.
    tx.commit().await.map_err(DataError::sql(Side::Source, "release the chunk's rows"))?;
    Ok((advanced, Some((n, last))))
}

/// Whether a chunk whose last key is `last` ends `range`: its upper bound is inclusive and keys
/// are unique, so no row can follow (a chunk read that would find nothing is saved).
fn ends(range: &KeyRange, last: &Key) -> bool {
    range.hi.as_ref() == Some(last)
}

/// Whether the target holds no row in `range` (by the target's key). Ordered by the key, so
/// the planner reads the key's index: without an order, PostgreSQL planned a sequential scan
/// for `LIMIT 1` (expecting an early match) and read the whole table whenever the range was
/// empty, as it is each time a worker starts a range of a table being filled.
async fn target_range_empty(
    target: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
) -> Result<bool, DataError> {
    let d = target.dialect();
    let mut q = Query::new(d);
    let key = t.target_key(target);
    let pred = q.range(&key, range, None);
    let sql = format!(
        "SELECT {} FROM {} WHERE {pred} ORDER BY {} {}",
        d.to_text("1"),
        t.target_table,
        order_by(&key),
        d.limit_offset(1, 0)
    );
    let rows = target
        .fetch_texts(&sql, &q.params)
        .await
        .map_err(DataError::sql(Side::Target, format!("look for rows in {}", t.name)))?;
    Ok(rows.is_empty())
}

/// A duplicate key (SQLSTATE 23505 on PostgreSQL, 23000 on MariaDB/MySQL, SQLite's
/// constraint codes), as sqlx classifies it.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
