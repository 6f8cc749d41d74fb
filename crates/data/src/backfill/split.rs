//! How much a backfill has left, and where its key ranges start: exact counts and
//! offsets in key order, or — for a single integer key without a filter — the key's MIN/MAX
//! and the catalogue's row estimate, which cost an index probe instead of a scan of the table.

use crate::db::Db;
use crate::error::{DataError, Side};
use crate::keyset::{KeyRange, Query, aliased, order_by};
use crate::resolve::ResolvedTable;
use crate::types::Class;
use ficus_model::mapping::Engine;

/// The key space of a single-integer-key table without a filter: (min, max, rows estimate).
#[derive(Debug, Clone, Copy)]
pub(super) struct IntSpan {
    min: i128,
    max: i128,
    rows: f64,
}

impl IntSpan {
    /// Estimated rows in `range`: its share of the key span times the table's rows.
    fn rows_in(&self, range: &KeyRange) -> u64 {
        let bound =
            |k: &Option<Vec<String>>| k.as_ref().and_then(|k| k.first()?.parse::<i128>().ok());
        let lo = bound(&range.lo).unwrap_or(self.min - 1).max(self.min - 1);
        let hi = bound(&range.hi).unwrap_or(self.max).min(self.max);
        let span = (self.max - self.min + 1).max(1) as f64;
        (((hi - lo).max(0) as f64) / span * self.rows).round() as u64
    }
}

/// The integer span of `t`, when its key is one integer column and it has no filter.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(super) async fn int_span(source: &Db, t: &ResolvedTable) -> Result<Option<IntSpan>, DataError> {
    let key = t.source_key();
    if key.len() != 1 || key[0].1 != Class::Int || t.filter.is_some() {
        return Ok(None);
    }
    let d = source.dialect();
    let k = &key[0].0;
    let sql = format!(
        "SELECT {}, {} FROM {}",
        d.to_text(&format!("MIN({k})")),
        d.to_text(&format!("MAX({k})")),
        t.source_table
    );
    let err = DataError::sql(Side::Source, format!("read the key span of {}", t.name));
    let rows = source.fetch_texts(&sql, &[]).await.map_err(err)?;
    let row = rows.into_iter().next().unwrap_or_default();
    let num = |i: usize| row.get(i).cloned().flatten().and_then(|s| s.parse::<i128>().ok());
    let (Some(min), Some(max)) = (num(0), num(1)) else { return Ok(None) };
    let span = (max - min + 1) as f64;
    let rows = catalogue(source, t).await.rows.map_or(span, |r| r.min(span));
    Ok(Some(IntSpan { min, max, rows }))
}

/// What the catalogue estimates of a source table; `None` where unknown (SQLite, never
/// analysed, empty).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Catalogue {
    /// Rows (InnoDB `TABLE_ROWS`, PostgreSQL `reltuples`).
    pub rows: Option<f64>,
    /// Average bytes of a row, page overhead included (InnoDB `AVG_ROW_LENGTH`; PostgreSQL's
    /// table size, TOAST included, over `reltuples`).
    pub row_bytes: Option<f64>,
}

/// The catalogue's estimates of `t`'s source table (one query; nothing on errors).
pub(crate) async fn catalogue(source: &Db, t: &ResolvedTable) -> Catalogue {
    let (schema, name) = match t.source_name.split_once('.') {
        Some((s, n)) => (Some(s.to_owned()), n.to_owned()),
        None => (None, t.source_name.clone()),
    };
    let (sql, params) = match source.engine() {
        Engine::MySql => (
            "SELECT CAST(TABLE_ROWS AS CHAR), CAST(AVG_ROW_LENGTH AS CHAR) \
             FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
            vec![schema, Some(name)],
        ),
        Engine::Postgres => (
            "SELECT CAST(reltuples AS text), \
             CAST(pg_table_size(oid) / NULLIF(GREATEST(reltuples, 0), 0) AS text) \
             FROM pg_class WHERE oid = to_regclass($1)",
            vec![Some(t.source_table.clone())],
        ),
        Engine::Sqlite => return Catalogue::default(),
    };
    let Ok(rows) = source.fetch_texts(sql, &params).await else { return Catalogue::default() };
    let row = rows.into_iter().next().unwrap_or_default();
    let num = |i: usize| {
        row.get(i).cloned().flatten().and_then(|v| v.parse::<f64>().ok()).filter(|v| *v > 0.0)
    };
    Catalogue { rows: num(0), row_bytes: num(1) }
}

/// Source rows in `range` (after the filter): estimated from `span` when there is one, else
/// counted.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(super) async fn rows_in(
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
    span: Option<IntSpan>,
) -> Result<u64, DataError> {
    match span {
        Some(s) => Ok(s.rows_in(range)),
        None => count(source, t, range).await,
    }
}

/// Source rows in `range` (after the filter), counted.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(super) async fn count(
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
) -> Result<u64, DataError> {
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

/// Chunks in a key range, when a single integer key is cut into more ranges than workers.
const CHUNKS_PER_PART: u64 = 4;
/// Ranges per worker, at most.
const MAX_PARTS_PER_WORKER: i128 = 16;

/// Split a table's key space for `workers` workers into ranges of about equal row counts, in
/// key order; the workers take them one after another.
///
/// A single integer key is cut at even steps of its span, one range per `CHUNKS_PER_PART`
/// chunks at the table's density (on a dense key a range ends where a chunk does), between
/// `workers` and `MAX_PARTS_PER_WORKER` × `workers` ranges. At any moment the workers then write
/// neighbouring ranges, so the target's pages hold keys in nearly key order. With one range
/// per worker, concurrent `COPY`s into PostgreSQL extend the table page by page in turn and
/// interleave distant key ranges: `id`'s correlation was 0.21 after a 4-worker backfill of the
/// bench's 1 M rows (0.99 now), and PostgreSQL then read a key range (verify's chunks, the new
/// service's range queries) by bitmap scan and sort. Other keys: one range per worker, cut at
/// source keys found by offset (each cut is an `OFFSET` query over the key).
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(super) async fn split(
    source: &Db,
    t: &ResolvedTable,
    workers: usize,
    chunk_rows: u64,
    span: Option<IntSpan>,
) -> Result<Vec<KeyRange>, DataError> {
    if workers <= 1 {
        return Ok(vec![KeyRange::default()]);
    }
    let mut bounds: Vec<Vec<String>> = Vec::new();
    if let Some(s) = span {
        bounds =
            int_bounds(s, workers, chunk_rows).into_iter().map(|b| vec![b.to_string()]).collect();
    } else {
        let total = count(source, t, &KeyRange::default()).await?;
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

/// The upper bounds (inclusive) of all ranges but the last, for a single integer key: steps of
/// `CHUNKS_PER_PART` × `chunk_rows` rows at the span's density; when that gives fewer ranges
/// than `workers` or more than `MAX_PARTS_PER_WORKER` per worker, that many even steps.
fn int_bounds(s: IntSpan, workers: usize, chunk_rows: u64) -> Vec<i128> {
    let width = s.max - s.min + 1;
    let (workers, rows) = (workers as i128, s.rows.max(1.0));
    let per_part = (chunk_rows.max(1) * CHUNKS_PER_PART) as f64 * width as f64 / rows;
    let step = (per_part.round() as i128).max(1);
    let parts = (width + step - 1) / step;
    let mut out = Vec::new();
    if (workers..=workers * MAX_PARTS_PER_WORKER).contains(&parts) {
        let mut b = s.min - 1 + step;
        while b < s.max {
            out.push(b);
            b += step;
        }
        return out;
    }
    let parts = parts.clamp(workers, workers * MAX_PARTS_PER_WORKER);
    for i in 1..parts {
        let b = s.min - 1 + width * i / parts;
        // A bound below the smallest key, or a repeated one, would make an empty range.
        if b >= s.min && out.last() != Some(&b) {
            out.push(b);
        }
    }
    out
}

/// The key of the source row at `offset` in key order (after the filter).
pub(super) async fn key_at(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn span(min: i128, max: i128, rows: f64) -> IntSpan {
        IntSpan { min, max, rows }
    }

    #[test]
    fn a_dense_key_is_cut_every_four_chunks() {
        let b = int_bounds(span(1, 1_000_000, 1e6), 4, 10_000);
        assert_eq!(b.len(), 24, "25 ranges");
        assert_eq!((b[0], b[1], b[23]), (40_000, 80_000, 960_000));
    }

    #[test]
    fn a_sparse_key_is_cut_by_its_density() {
        // 1,000 rows over keys 1..=100,000: four chunks of 50 rows span 20,000 keys.
        assert_eq!(int_bounds(span(1, 100_000, 1e3), 2, 50), [20_000, 40_000, 60_000, 80_000]);
    }

    #[test]
    fn the_number_of_ranges_is_bounded_by_the_workers() {
        // Fewer rows than four chunks per worker: one range per worker, even steps.
        assert_eq!(int_bounds(span(1, 100, 100.0), 4, 10_000), [25, 50, 75]);
        // A billion rows: at most 16 ranges per worker.
        let b = int_bounds(span(1, 1_000_000_000, 1e9), 4, 10_000);
        assert_eq!(b.len(), 63);
        assert_eq!(b[0], 15_625_000);
        // A key span narrower than the workers: no empty range.
        assert_eq!(int_bounds(span(5, 6, 2.0), 4, 10), [5]);
    }
}
