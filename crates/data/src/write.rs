//! Writes one chunk into the target and advances its checkpoint in the same transaction.
//! PostgreSQL: `COPY` (binary format where [`crate::pgcopy`] takes every value, else text)
//! into the table, or into a temporary staging table and then one
//! `INSERT … SELECT … ON CONFLICT DO UPDATE`; MariaDB/MySQL: multi-row
//! `INSERT … ON DUPLICATE KEY UPDATE`; SQLite: multi-row `INSERT … ON CONFLICT DO UPDATE`.
//! With a version column, an existing row is only replaced when its version is not newer than
//! the incoming one (a newer live write is never overwritten).

use crate::db::{Db, DbTx, TextRow};
use crate::error::{DataError, Side};
use crate::keyset::{Key, Query};
use crate::pgcopy;
use crate::resolve::ResolvedTable;
use crate::types::Class;
use md5::{Digest, Md5};
use sqlx::{AssertSqlSafe, Executor};

/// Bind parameters per statement, under every engine's limit (SQLite 32766, MySQL 65535).
const MAX_PARAMS: usize = 30_000;

/// Keys per `DELETE … WHERE key = … OR …` statement.
const DELETE_BATCH: usize = 200;

/// Write `rows` (transfer text, in `t.columns` order) and run the checkpoint update in the same
/// transaction; whether the update matched its checkpoint (see
/// [`crate::checkpoint::advance_sql`]; the rows are upserted and committed either way). `direct`: the rows' key range is known empty in the target, so PostgreSQL
/// takes them by `COPY` straight into the table (no staging, no conflict check; a row that
/// appeared meanwhile fails the chunk with a unique violation and the caller upserts instead).
pub(crate) async fn write_chunk(
    target: &Db,
    t: &ResolvedTable,
    rows: Payload<'_>,
    checkpoint_sql: &str,
    checkpoint_params: &[Option<String>],
    direct: bool,
) -> Result<bool, DataError> {
    let err = |doing: &str| DataError::sql(Side::Target, format!("{doing} ({})", t.name));
    let mut tx = target.begin(false).await.map_err(err("begin"))?;
    match (&mut tx, rows) {
        (DbTx::Postgres(pg), Payload::Rows(rows)) if direct => {
            copy_into(pg, t, &t.target_table, &column_list(target, t), rows).await?;
        }
        (DbTx::Postgres(pg), Payload::Copy(data)) if direct => {
            copy_stream(pg, t, &t.target_table, &column_list(target, t), "binary", data).await?;
        }
        (_, Payload::Rows(rows)) => upsert_rows(&mut tx, target, t, rows).await?,
        (_, Payload::Copy(_)) => {
            return Err(DataError::Mapping {
                table: t.name.clone(),
                message: "a binary COPY stream can only be copied straight into PostgreSQL"
                    .to_owned(),
            });
        }
    }
    let matched = tx
        .execute(checkpoint_sql, checkpoint_params)
        .await
        .map_err(err("advance the checkpoint"))?;
    tx.commit().await.map_err(err("commit"))?;
    Ok(matched > 0)
}

/// A chunk's rows for [`write_chunk`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// Transfer text, in `t.columns` order.
    Rows(&'a [TextRow]),
    /// The rows already encoded as a binary `COPY` stream (see [`crate::myread::copy`]): only
    /// for a `direct` copy into PostgreSQL.
    Copy(&'a [u8]),
}

/// Upsert `rows` (transfer text, in `t.columns` order) inside `tx`, under the conflict rule.
pub(crate) async fn upsert_rows(
    tx: &mut DbTx,
    target: &Db,
    t: &ResolvedTable,
    rows: &[TextRow],
) -> Result<(), DataError> {
    if rows.is_empty() {
        return Ok(());
    }
    let err = |doing: &str| DataError::sql(Side::Target, format!("{doing} ({})", t.name));
    match tx {
        DbTx::Postgres(tx) => {
            let stage = stage_name(t);
            let cols = column_list(target, t);
            tx.execute(AssertSqlSafe(format!(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                t.target_table
            )))
            .await
            .map_err(err("create the staging table"))?;
            copy_into(tx, t, &stage, &cols, rows).await?;
            let upsert = pg_upsert(target, t, &stage, &cols);
            tx.execute(AssertSqlSafe(upsert)).await.map_err(err("upsert the chunk"))?;
            // ON COMMIT DELETE ROWS empties the stage at commit; a transaction that writes
            // twice (capture, repair) must not see the first batch again.
            tx.execute(AssertSqlSafe(format!("TRUNCATE {stage}")))
                .await
                .map_err(err("empty the staging table"))?;
        }
        _ => {
            for batch in rows.chunks(batch_rows(t)) {
                let (sql, params) = values_upsert(target, t, batch);
                tx.execute(&sql, &params).await.map_err(err("upsert the chunk"))?;
            }
        }
    }
    Ok(())
}

/// `COPY table (cols) FROM STDIN` of `rows`: in binary format when every column has a
/// [`pgcopy::Wire`] and every value is a transfer text it reads (PostgreSQL then skips parsing
/// them, see [`pgcopy`]), else in text format. The chunk is encoded whole before it is sent,
/// so a value the binary encoder does not take sends the chunk as text instead.
async fn copy_into(
    tx: &mut sqlx::PgConnection,
    t: &ResolvedTable,
    table: &str,
    cols: &str,
    rows: &[TextRow],
) -> Result<(), DataError> {
    let (format, data) = match t.copy_wires().and_then(|w| pgcopy::encode(rows, &w)) {
        Some(data) => ("binary", data),
        None => ("text", copy_text(t, rows)),
    };
    copy_stream(tx, t, table, cols, format, &data).await
}

/// `COPY table (cols) FROM STDIN` of a whole stream in `format` (`binary` or `text`).
async fn copy_stream(
    tx: &mut sqlx::PgConnection,
    t: &ResolvedTable,
    table: &str,
    cols: &str,
    format: &str,
    data: &[u8],
) -> Result<(), DataError> {
    let err = |doing: &str| DataError::sql(Side::Target, format!("{doing} ({})", t.name));
    let mut copy = tx
        .copy_in_raw(&format!("COPY {table} ({cols}) FROM STDIN WITH (FORMAT {format})"))
        .await
        .map_err(err("start COPY"))?;
    copy.send(data).await.map_err(err("COPY"))?;
    copy.finish().await.map_err(err("finish COPY"))?;
    Ok(())
}

/// `rows` in COPY's text format.
fn copy_text(t: &ResolvedTable, rows: &[TextRow]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(rows.len() * 64);
    for r in rows {
        copy_line(&mut buf, t, r);
    }
    buf
}

/// Delete the target rows with these keys (transfer text, in key order) inside `tx`; the
/// number of rows deleted.
pub(crate) async fn delete_keys(
    tx: &mut DbTx,
    target: &Db,
    t: &ResolvedTable,
    keys: &[Key],
) -> Result<u64, DataError> {
    let d = target.dialect();
    let cols = t.target_key(target);
    let mut deleted = 0;
    for batch in keys.chunks(DELETE_BATCH) {
        let mut q = Query::new(d);
        let ors: Vec<String> = batch.iter().map(|k| q.equals(&cols, k)).collect();
        let sql = format!("DELETE FROM {} WHERE {}", t.target_table, ors.join(" OR "));
        deleted += tx
            .execute(&sql, &q.params)
            .await
            .map_err(DataError::sql(Side::Target, format!("delete rows ({})", t.name)))?;
    }
    Ok(deleted)
}

/// Run only the checkpoint update (a worker that found no more rows); whether it matched.
pub(crate) async fn checkpoint_only(
    target: &Db,
    sql: &str,
    params: &[Option<String>],
) -> Result<bool, DataError> {
    target
        .execute(sql, params)
        .await
        .map(|n| n > 0)
        .map_err(DataError::sql(Side::Target, "advance the checkpoint"))
}

fn batch_rows(t: &ResolvedTable) -> usize {
    (MAX_PARAMS / t.columns.len().max(1)).max(1)
}

/// A temp table name per target table (stable, so one connection reuses it).
fn stage_name(t: &ResolvedTable) -> String {
    let digest = Md5::digest(t.target_table.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("ficus_stage_{hex}")
}

fn column_list(target: &Db, t: &ResolvedTable) -> String {
    let d = target.dialect();
    t.columns.iter().map(|c| d.quote(&c.target)).collect::<Vec<_>>().join(", ")
}

/// One line of COPY text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_line(buf: &mut Vec<u8>, t: &ResolvedTable, row: &TextRow) {
    for (i, (v, c)) in row.iter().zip(&t.columns).enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        match v {
            None => buf.extend_from_slice(b"\\N"),
            Some(s) => {
                if c.class == Class::Bytes {
                    buf.extend_from_slice(b"\\\\x");
                }
                for &b in s.as_bytes() {
                    match b {
                        b'\\' => buf.extend_from_slice(b"\\\\"),
                        b'\n' => buf.extend_from_slice(b"\\n"),
                        b'\r' => buf.extend_from_slice(b"\\r"),
                        b'\t' => buf.extend_from_slice(b"\\t"),
                        _ => buf.push(b),
                    }
                }
            }
        }
    }
    buf.push(b'\n');
}

fn key_names(target: &Db, t: &ResolvedTable) -> Vec<String> {
    let d = target.dialect();
    t.key.iter().map(|k| d.quote(&t.columns[k.index].target)).collect()
}

fn non_key(t: &ResolvedTable) -> Vec<usize> {
    (0..t.columns.len()).filter(|i| !t.key.iter().any(|k| k.index == *i)).collect()
}

fn pg_upsert(target: &Db, t: &ResolvedTable, stage: &str, cols: &str) -> String {
    let d = target.dialect();
    let keys = key_names(target, t).join(", ");
    let rest = non_key(t);
    let action = if rest.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        let sets: Vec<String> = rest
            .iter()
            .map(|&i| format!("{0} = EXCLUDED.{0}", d.quote(&t.columns[i].target)))
            .collect();
        let cond = t
            .version
            .map(|v| {
                let v = d.quote(&t.columns[v].target);
                format!(" WHERE ficus_t.{v} IS NULL OR ficus_t.{v} <= EXCLUDED.{v}")
            })
            .unwrap_or_default();
        format!("DO UPDATE SET {}{cond}", sets.join(", "))
    };
    format!(
        "INSERT INTO {} AS ficus_t ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({keys}) {action}",
        t.target_table
    )
}

/// A multi-row upsert with one placeholder per value (MariaDB/MySQL and SQLite).
fn values_upsert(
    target: &Db,
    t: &ResolvedTable,
    rows: &[TextRow],
) -> (String, Vec<Option<String>>) {
    let d = target.dialect();
    let cols = column_list(target, t);
    let mut params = Vec::with_capacity(rows.len() * t.columns.len());
    let mut values = Vec::with_capacity(rows.len());
    for r in rows {
        let mut one = Vec::with_capacity(r.len());
        for (v, c) in r.iter().zip(&t.columns) {
            params.push(v.clone());
            one.push(d.insert_param(c.class, &d.placeholder(params.len())));
        }
        values.push(format!("({})", one.join(", ")));
    }
    let rest = non_key(t);
    let mut sql = format!("INSERT INTO {} ({cols}) VALUES {}", t.target_table, values.join(", "));
    match target {
        Db::MySql(_) => {
            let ver = t.version.map(|v| d.quote(&t.columns[v].target));
            // The version column is assigned last: MySQL evaluates assignments left to right,
            // so every condition still sees the old version.
            let mut order: Vec<usize> =
                rest.iter().copied().filter(|i| Some(*i) != t.version).collect();
            order.extend(t.version);
            let sets: Vec<String> = order
                .iter()
                .map(|&i| {
                    let c = d.quote(&t.columns[i].target);
                    match &ver {
                        Some(v) => {
                            format!("{c} = IF({v} IS NULL OR {v} <= VALUES({v}), VALUES({c}), {c})")
                        }
                        None => format!("{c} = VALUES({c})"),
                    }
                })
                .collect();
            if sets.is_empty() {
                let k = key_names(target, t).remove(0);
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {k} = {k}"));
            } else {
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", ")));
            }
        }
        _ => {
            let keys = key_names(target, t).join(", ");
            if rest.is_empty() {
                sql.push_str(&format!(" ON CONFLICT ({keys}) DO NOTHING"));
            } else {
                let sets: Vec<String> = rest
                    .iter()
                    .map(|&i| format!("{0} = excluded.{0}", d.quote(&t.columns[i].target)))
                    .collect();
                let cond = t
                    .version
                    .map(|v| {
                        let v = d.quote(&t.columns[v].target);
                        // Unqualified names in DO UPDATE … WHERE are the existing row's.
                        format!(" WHERE {v} IS NULL OR {v} <= excluded.{v}")
                    })
                    .unwrap_or_default();
                sql.push_str(&format!(
                    " ON CONFLICT ({keys}) DO UPDATE SET {}{cond}",
                    sets.join(", ")
                ));
            }
        }
    }
    (sql, params)
}
