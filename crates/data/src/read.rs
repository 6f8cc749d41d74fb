//! Reads source rows as transfer text, in `ResolvedTable::columns` order: a keyset chunk (the
//! backfill; from MariaDB/MySQL into PostgreSQL also already encoded for a binary `COPY`), or
//! the rows with given keys (change capture and repair). All use one select list, so every path
//! writes a row through the same mapping and transforms.

use crate::db::{Db, DbTx, TextRow, bind_all};
use crate::error::{DataError, Side};
use crate::keyset::{Key, KeyRange, Query, aliased, order_by};
use crate::myread;
use crate::pgcopy::Wire;
use crate::resolve::ResolvedTable;
use sqlx::mysql::MySqlRow;
use sqlx::{AssertSqlSafe, Row};
use std::borrow::Cow;

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
    source.fetch_texts(&sql, &params).await.map_err(chunk_err(t))
}

/// A chunk of source rows, as the backfill's writer takes them.
pub(crate) enum Chunk {
    /// Transfer text, in `ResolvedTable::columns` order.
    Text(Vec<TextRow>),
    /// MariaDB/MySQL rows as sqlx received them, already encoded as a binary `COPY` stream
    /// ([`myread::copy`]); `last` is the last row as text, whose key advances the checkpoint.
    Copy { rows: Vec<MySqlRow>, data: Vec<u8>, last: TextRow },
}

impl Chunk {
    pub(crate) fn len(&self) -> usize {
        match self {
            Chunk::Text(rows) => rows.len(),
            Chunk::Copy { rows, .. } => rows.len(),
        }
    }

    /// The last row, as text.
    pub(crate) fn last(&self) -> Option<&TextRow> {
        match self {
            Chunk::Text(rows) => rows.last(),
            Chunk::Copy { last, .. } => Some(last),
        }
    }

    /// Every row as transfer text (a [`Chunk::Copy`]'s converted now: it is written another
    /// way than by `COPY`).
    ///
    /// # Errors
    /// [`DataError::Sql`] for a value that cannot be read as text.
    pub(crate) fn texts(&self, t: &ResolvedTable) -> Result<Cow<'_, [TextRow]>, DataError> {
        match self {
            Chunk::Text(rows) => Ok(Cow::Borrowed(rows)),
            Chunk::Copy { rows, .. } => Ok(Cow::Owned(my_texts(t, rows)?)),
        }
    }
}

fn my_texts(t: &ResolvedTable, rows: &[MySqlRow]) -> Result<Vec<TextRow>, DataError> {
    rows.iter().map(|r| myread::texts(r, r.len())).collect::<Result<_, _>>().map_err(chunk_err(t))
}

/// The error of reading a chunk of `t`.
fn chunk_err(t: &ResolvedTable) -> impl FnOnce(sqlx::Error) -> DataError {
    DataError::sql(Side::Source, format!("read a chunk of {}", t.name))
}

/// [`read_chunk`] for a `COPY` straight into a PostgreSQL table every column of which takes
/// binary format (`wires`, in `t.columns` order). From MariaDB/MySQL the rows are encoded here,
/// from their binary-protocol values, so the encoding runs while the previous chunk is written
/// and without a `String` per value; a chunk with a value [`myread::copy`] does not take, and
/// every other engine's, comes as [`Chunk::Text`].
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(crate) async fn read_chunk_for_copy(
    source: &Db,
    t: &ResolvedTable,
    range: &KeyRange,
    limit: u64,
    wires: &[Wire],
) -> Result<Chunk, DataError> {
    let Db::MySql(pool) = source else {
        return read_chunk(source, t, range, limit).await.map(Chunk::Text);
    };
    let (sql, params) = chunk_sql(source, t, range, limit, false);
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &params)
        .fetch_all(pool)
        .await
        .map_err(chunk_err(t))?;
    let Some(last) = rows.last() else { return Ok(Chunk::Text(Vec::new())) };
    match myread::copy(&rows, wires) {
        Some(data) => {
            let last = myread::texts(last, last.len()).map_err(chunk_err(t))?;
            Ok(Chunk::Copy { rows, data, last })
        }
        None => my_texts(t, &rows).map(Chunk::Text),
    }
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
    tx.fetch_texts(&sql, &params).await.map_err(chunk_err(t))
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
