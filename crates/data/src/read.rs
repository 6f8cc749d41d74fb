//! Reads source rows as transfer text, in `ResolvedTable::columns` order: a keyset chunk (the
//! backfill), or the rows with given keys (change capture and repair). Both use one select list,
//! so every path writes a row through the same mapping and transforms.

use crate::db::{Db, DbTx, TextRow};
use crate::error::{DataError, Side};
use crate::keyset::{Key, KeyRange, Query, aliased, order_by};
use crate::resolve::ResolvedTable;

/// Keys per `WHERE key = … OR …` read.
const KEYS_PER_READ: usize = 200;

/// The select list: every target column's source expression rendered as transfer text (or
/// read as it is, where the reader renders it: [`crate::resolve::ResolvedColumn::source_raw`]).
fn select_list(source: &Db, t: &ResolvedTable) -> String {
    let d = source.dialect();
    let items: Vec<String> =
        t.columns
            .iter()
            .map(|c| {
                if c.source_raw {
                    c.source_expr.clone()
                } else {
                    d.transfer(c.class, &c.source_expr)
                }
            })
            .collect();
    aliased(&items)
}

/// The SQL and parameters of a chunk read: up to `limit` rows of `range` in key order.
/// `lock` makes it a locking read (`FOR SHARE` / `LOCK IN SHARE MODE`), for a transaction that
/// holds the rows until their copy is committed in the target.
pub(crate) fn chunk_sql(
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
    limit: u64,
    lock: bool,
) -> (String, Vec<Option<String>>) {
    let d = source.dialect();
    let mut q = Query::new(d);
    let key = t.source_key();
    let pred = q.range(&key, range, t.filter.as_deref());
    let sql = format!(
        "SELECT {} FROM {} WHERE {pred} ORDER BY {} {}{}",
        select_list(source, t),
        t.source_table,
        order_by(&key),
        d.limit_offset(limit, 0),
        if lock { d.lock_rows() } else { "" },
    );
    (sql, q.params)
}

/// Up to `limit` source rows of `range` in key order.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(crate) async fn read_chunk(
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
    limit: u64,
) -> Result<Vec<TextRow>, DataError> {
    let (sql, params) = chunk_sql(source, t, range, limit, false);
    source
        .fetch_texts(&sql, &params)
        .await
        .map_err(DataError::sql(Side::Source, format!("read a chunk of {}", t.name)))
}

/// Like [`read_chunk`], as a locking read inside `tx`.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(crate) async fn read_chunk_locked(
    tx: &mut DbTx,
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
    limit: u64,
) -> Result<Vec<TextRow>, DataError> {
    let (sql, params) = chunk_sql(source, t, range, limit, true);
    tx.fetch_texts(&sql, &params)
        .await
        .map_err(DataError::sql(Side::Source, format!("read a chunk of {}", t.name)))
}

/// The source rows (after the filter) whose keys are among `keys` (transfer text, key order),
/// in no particular order. A key with no row is deleted in the source or filtered out.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(crate) async fn read_by_keys(
    source: &Db,
    t: &ResolvedTable,
    keys: &[Key],
) -> Result<Vec<TextRow>, DataError> {
    let d = source.dialect();
    let key = t.source_key();
    let mut out = Vec::with_capacity(keys.len());
    for batch in keys.chunks(KEYS_PER_READ) {
        let mut q = Query::new(d);
        let ors: Vec<String> = batch.iter().map(|k| q.equals(&key, k)).collect();
        let filter = t.filter.as_deref().map(|f| format!(" AND ({f})")).unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM {} WHERE ({}){filter}",
            select_list(source, t),
            t.source_table,
            ors.join(" OR ")
        );
        let rows = source
            .fetch_texts(&sql, &q.params)
            .await
            .map_err(DataError::sql(Side::Source, format!("re-read rows of {}", t.name)))?;
        out.extend(rows);
    }
    Ok(out)
}

/// The key of a row read by this module (transfer text, key order).
///
/// # Errors
/// [`DataError::Mapping`] when a key column is NULL.
pub(crate) fn key_of(t: &ResolvedTable, row: &TextRow) -> Result<Key, DataError> {
    t.key
        .iter()
        .map(|k| {
            row.get(k.index).cloned().flatten().ok_or_else(|| {
                DataError::mapping(
                    &t.name,
                    format!("key column {} is NULL in a source row", t.columns[k.index].target),
                )
            })
        })
        .collect()
}
