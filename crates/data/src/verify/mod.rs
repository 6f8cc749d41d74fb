//! Verify: proves source and target hold the same rows. Per table, the source's key space is
//! cut into chunks; both databases checksum each chunk (count + one SHA-256 of the chunk's rows
//! concatenated in key order, computed inside the database; see `side.rs`); a differing chunk is
//! bisected into sub-ranges down to at most `leaf_rows` rows, whose rows are matched by
//! per-row digests: of their checksum texts fetched when the leaf is small in bytes, else
//! SHA-256s computed in the databases (for an integer key, only in the leaf's buckets whose
//! checksums differ).
//! Differences found are *suspects*: after `recheck_delay` they are read again, whole, and
//! only those still differing are reported (in key order), so lag is not called drift.
//! Method: reladiff/data-diff's checksum-and-bisect, hashing chunks instead of rows.

mod chunks;
mod report;
pub(crate) mod side;
pub mod stored;

pub use report::{ColumnDiff, DiffKind, RowDiff, TableVerify, VerifyReport};

use crate::backfill::split::catalogue;
use crate::db::Db;
use crate::error::DataError;
use crate::keyset::KeyRange;
use crate::resolve::ResolvedTable;
use chunks::{int_bounds, int_span, offset_chunks, split_by_offset, split_by_value, value_chunks};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use side::{Buckets, CanonRow, RowDigest, View};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How verify runs.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Source rows per top-level chunk.
    pub chunk_rows: u64,
    /// Wait before re-reading suspect rows.
    pub recheck_delay: Duration,
    /// A differing range of at most this many rows is compared row by row (by row digests;
    /// the rows that differ are then read whole).
    pub leaf_rows: u64,
    /// Sub-ranges a differing range is cut into.
    pub fan_out: u64,
    /// A differing leaf estimated (its rows × the catalogue's average row size) to hold at
    /// most this many bytes per side has its rows' checksum texts fetched and compared here,
    /// one query per side; a larger leaf, or one the catalogue cannot size, is narrowed down
    /// inside the databases first (buckets, then a hash per row). `u64::MAX`: always fetched.
    pub fetch_leaf_bytes: u64,
    /// Chunks checksummed at once.
    pub concurrency: usize,
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions {
            chunk_rows: ficus_model::defaults::VERIFY_CHUNK_ROWS,
            recheck_delay: ficus_model::defaults::VERIFY_RECHECK_DELAY,
            leaf_rows: 20_000,
            fan_out: 32,
            fetch_leaf_bytes: 4 << 20,
            concurrency: 4,
        }
    }
}

/// Verify every table.
///
/// # Errors
/// The first [`DataError`] of either database.
pub async fn verify(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    opts: &VerifyOptions,
) -> Result<VerifyReport, DataError> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let (src, tgt) =
            (View::source(source, t).against(target), View::target(target, t).against(source));
        out.push(table(src, tgt, t, opts).await?);
    }
    Ok(VerifyReport { tables: out, seconds: start.elapsed().as_secs_f64() })
}

async fn table(
    src: View<'_>,
    tgt: View<'_>,
    t: &ResolvedTable,
    opts: &VerifyOptions,
) -> Result<TableVerify, DataError> {
    // Chunk boundaries: for a single integer key, even steps of the key span holding about
    // `chunk_rows` rows each (no query per chunk); else every `chunk_rows`-th source key. The
    // first and last chunks are open-ended, so they also hold target rows outside the
    // source's keys.
    let span = int_span(&src, &tgt).await?;
    let stats = catalogue(src.db, t).await;
    let chunks = match span {
        Some(span) => {
            // The density of the key span: the catalogue's estimate when there is no filter
            // (a chunk's size only steers the cost), else a count.
            let estimate = match t.filter {
                None => stats.rows.filter(|r| *r >= 1.0),
                Some(_) => None,
            };
            let rows = match estimate {
                Some(r) => r as u64,
                None => src.count().await?,
            };
            value_chunks(span, rows, opts.chunk_rows)
        }
        None => offset_chunks(&src, opts.chunk_rows).await?,
    };
    // Each chunk is checksummed on both sides at once and, when the two differ, bisected
    // right away, while the other chunks go on.
    let results: Vec<_> = stream::iter(chunks.iter().cloned())
        .map(|r| {
            let (src, tgt) = (&src, &tgt);
            async move {
                let (a, b) = tokio::try_join!(src.checksum(&r), tgt.checksum(&r))?;
                if a.matches(&b) {
                    return Ok::<_, DataError>((a.count, b.count, false, Vec::new()));
                }
                let diffs =
                    bisect(src, tgt, r, (a.count, b.count), span, stats.row_bytes, opts).await?;
                Ok((a.count, b.count, true, diffs))
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    let (mut source_rows, mut target_rows, mut differing) = (0, 0, 0);
    let mut suspects = Vec::new();
    for (ns, nt, differs, diffs) in results {
        source_rows += ns;
        target_rows += nt;
        differing += u64::from(differs);
        suspects.extend(diffs);
    }
    let found = suspects.len();
    let confirmed =
        if suspects.is_empty() { suspects } else { recheck(&src, &tgt, t, suspects, opts).await? };
    Ok(TableVerify {
        table: t.name.clone(),
        source_rows,
        target_rows,
        chunks: chunks.len() as u64,
        chunks_differing: differing,
        cleared_on_recheck: (found - confirmed.len()) as u64,
        differences: confirmed,
    })
}

/// The differing rows of a range known to differ, holding `counts` rows (source, target):
/// cut into `fan_out` sub-ranges (by key value for an integer key, else
/// at keys found by offset), recursively, until a differing range holds at most `leaf_rows`
/// rows, which are compared row by row. `row_bytes`: the catalogue's average row size.
async fn bisect(
    src: &View<'_>,
    tgt: &View<'_>,
    range: KeyRange,
    counts: (u64, u64),
    span: Option<(i128, i128)>,
    row_bytes: Option<f64>,
    opts: &VerifyOptions,
) -> Result<Vec<RowDiff>, DataError> {
    let mut work = vec![(range, counts)];
    let mut out = Vec::new();
    while let Some((range, (ns, nt))) = work.pop() {
        let n = ns.max(nt);
        if n > opts.leaf_rows {
            let parts = match span {
                Some(span) => split_by_value(&range, span, opts.fan_out),
                None => split_by_offset(src, tgt, &range, (ns, nt), opts.fan_out).await?,
            };
            if parts.len() > 1 {
                // One part at a time: the top-level chunks already run `concurrency` at once.
                for p in parts {
                    let (a, b) = tokio::try_join!(src.checksum(&p), tgt.checksum(&p))?;
                    if !a.matches(&b) {
                        work.push((p, (a.count, b.count)));
                    }
                }
                continue;
            }
        }
        // Short rows: sending a row's text costs the databases less than hashing it there
        // (and much less than a second pass over the leaf by buckets).
        let fetch = opts.fetch_leaf_bytes == u64::MAX
            || row_bytes.is_some_and(|b| n as f64 * b <= opts.fetch_leaf_bytes as f64);
        let ranges =
            if fetch { vec![range] } else { leaf_ranges(src, tgt, range, n, span, opts).await? };
        for r in ranges {
            let (a, b) = tokio::try_join!(src.row_digests(&r, fetch), tgt.row_digests(&r, fetch))?;
            out.extend(compare_digests(a, b));
        }
    }
    Ok(out)
}

/// Below this many rows a differing leaf is compared row by row at once.
const BUCKET_MIN_ROWS: u64 = 128;

/// The parts of a differing leaf of `n` rows to compare row by row. For an integer key, one
/// query per side first checksums `fan_out` buckets of the leaf ([`Buckets`]), so only the
/// differing buckets' rows are digested: a row digest costs the databases about twice a
/// row of a chunk checksum (a hash and a result row each), and a planted difference is
/// usually alone in its leaf. Many scattered differing buckets: the whole leaf.
async fn leaf_ranges(
    src: &View<'_>,
    tgt: &View<'_>,
    range: KeyRange,
    n: u64,
    span: Option<(i128, i128)>,
    opts: &VerifyOptions,
) -> Result<Vec<KeyRange>, DataError> {
    let buckets = span.filter(|_| n >= BUCKET_MIN_ROWS).and_then(|span| {
        let (lo, hi) = int_bounds(&range, span);
        Buckets::new(lo, hi - lo, opts.fan_out)
    });
    // Both engines must hash in the database (SQLite does not).
    let hashed = |v: &View<'_>| v.db.dialect().sha256("''", false).is_some();
    let Some(b) = buckets.filter(|_| hashed(src) && hashed(tgt)) else { return Ok(vec![range]) };
    let (x, y) =
        tokio::try_join!(src.bucket_checksums(&range, &b), tgt.bucket_checksums(&range, &b))?;
    let (Some(x), Some(y)) = (x, y) else { return Ok(vec![range]) };
    // Runs of adjacent differing buckets, each one range.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (k, (p, q)) in x.iter().zip(&y).enumerate() {
        if p.matches(q) {
            continue;
        }
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == k => *end = k,
            _ => runs.push((k, k)),
        }
    }
    if runs.len() > 4 {
        return Ok(vec![range]);
    }
    Ok(runs
        .into_iter()
        .map(|(first, last)| KeyRange {
            lo: b.range(&range, first).lo,
            hi: b.range(&range, last).hi,
        })
        .collect())
}

/// Match row digests by canonical key: the keys of rows missing, extra or different (without
/// their columns, which [`recheck`] reads).
fn compare_digests(a: Vec<RowDigest>, b: Vec<RowDigest>) -> Vec<RowDiff> {
    let suspect = |kind, key| RowDiff { kind, key, columns: Vec::new(), target_hash: None };
    // Canonical key → (transfer key, digest), moved out of the digests.
    type Left = HashMap<Vec<Option<String>>, (Vec<String>, Vec<u8>)>;
    let mut left: Left = a.into_iter().map(|r| (r.canon_key, (r.key, r.digest))).collect();
    let mut out = Vec::new();
    for r in b {
        match left.remove(&r.canon_key) {
            None => out.push(suspect(DiffKind::Extra, r.key)),
            Some((key, digest)) if digest != r.digest => {
                out.push(suspect(DiffKind::Different, key))
            }
            Some(_) => {}
        }
    }
    out.extend(left.into_values().map(|(key, _)| suspect(DiffKind::Missing, key)));
    out
}

fn compare_with(
    src: &View<'_>,
    tgt: &View<'_>,
    a: Vec<CanonRow>,
    b: Vec<CanonRow>,
    names: &[String],
) -> Vec<RowDiff> {
    let mut left: BTreeMap<Vec<Option<String>>, CanonRow> =
        a.into_iter().map(|r| (src.canon_key(&r), r)).collect();
    let mut out = Vec::new();
    for r in b {
        let k = tgt.canon_key(&r);
        match left.remove(&k) {
            None => {
                let target_hash = Some(side::canon_hash(&r.cols));
                out.push(RowDiff {
                    kind: DiffKind::Extra,
                    key: r.key,
                    columns: Vec::new(),
                    target_hash,
                })
            }
            Some(s) if s.cols != r.cols => {
                let columns = s
                    .cols
                    .iter()
                    .zip(&r.cols)
                    .enumerate()
                    .filter(|(_, (x, y))| x != y)
                    .map(|(i, (x, y))| ColumnDiff {
                        column: names.get(i).cloned().unwrap_or_else(|| i.to_string()),
                        source: x.clone(),
                        target: y.clone(),
                    })
                    .collect();
                let target_hash = Some(side::canon_hash(&r.cols));
                out.push(RowDiff { kind: DiffKind::Different, key: s.key, columns, target_hash });
            }
            Some(_) => {}
        }
    }
    out.extend(left.into_values().map(|s| RowDiff {
        kind: DiffKind::Missing,
        key: s.key,
        columns: Vec::new(),
        target_hash: None,
    }));
    out
}

/// Wait, read the suspect rows again on both sides and keep those still differing (in key
/// order, with column names).
async fn recheck(
    src: &View<'_>,
    tgt: &View<'_>,
    t: &ResolvedTable,
    suspects: Vec<RowDiff>,
    opts: &VerifyOptions,
) -> Result<Vec<RowDiff>, DataError> {
    tokio::time::sleep(opts.recheck_delay).await;
    let keys: Vec<Vec<String>> = suspects.into_iter().map(|s| s.key).collect();
    let (a, b) = tokio::try_join!(src.rows_by_key(&keys), tgt.rows_by_key(&keys))?;
    let names: Vec<String> = t.columns.iter().map(|c| c.target.clone()).collect();
    let mut out = compare_with(src, tgt, a, b, &names);
    out.sort_by(|x, y| key_order(&x.key, &y.key));
    Ok(out)
}

/// Key order for reports: numbers by value, other text by bytes.
fn key_order(a: &[String], b: &[String]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<i128>(), y.parse::<i128>()) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            _ => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}
