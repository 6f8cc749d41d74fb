//! The applier's position in the target: `ficus_capture_position`, in the schema of the first
//! target table, one row per (capture label, changelog) with the highest `seq` applied and the
//! entries applied in all. It is advanced in the same transaction as the rows a batch writes.

use crate::db::{Db, is_missing_table};
use crate::error::{DataError, Side};
use crate::resolve::ResolvedTable;
use crate::types::Class;

/// The quoted position table beside the first table's checkpoint table.
pub(crate) fn table(target: &Db, tables: &[ResolvedTable]) -> String {
    let d = target.dialect();
    match tables.first().and_then(|t| t.name.split_once('.')) {
        Some((schema, _)) => format!("{}.{}", d.quote(schema), d.quote("ficus_capture_position")),
        None => d.quote("ficus_capture_position"),
    }
}

/// Create the table and this label's row if missing.
///
/// # Errors
/// [`DataError::Sql`] from the target.
pub(crate) async fn ensure(
    target: &Db,
    table: &str,
    label: &str,
    changelog: &str,
) -> Result<(), DataError> {
    let d = target.dialect();
    let err = |doing: &'static str| DataError::sql(Side::Target, doing);
    target
        .execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (domain VARCHAR(64) NOT NULL, changelog VARCHAR(255) NOT NULL, \
                 applied_seq BIGINT NOT NULL, applied_changes BIGINT NOT NULL, updated_unix BIGINT NOT NULL, \
                 PRIMARY KEY (domain, changelog))"
            ),
            &[],
        )
        .await
        .map_err(err("create the capture position table"))?;
    let sql = format!(
        "INSERT INTO {table} (domain, changelog, applied_seq, applied_changes, updated_unix) \
         SELECT {0}, {1}, 0, 0, 0 {2} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE domain = {0} AND changelog = {1})",
        d.placeholder(1),
        d.placeholder(2),
        if target.engine() == ficus_model::mapping::Engine::MySql { "FROM DUAL" } else { "" },
    );
    let params = [Some(label.to_owned()), Some(changelog.to_owned())];
    let params = match target.engine() {
        // `?` placeholders are positional: each use needs its own value.
        ficus_model::mapping::Engine::MySql => [&params[..], &params[..]].concat(),
        _ => params.to_vec(),
    };
    target.execute(&sql, &params).await.map_err(err("create the capture position"))?;
    Ok(())
}

/// The statement advancing the position, with its parameters: the highest seq of the batch and
/// the entries it applied.
pub(crate) fn advance(
    target: &Db,
    table: &str,
    label: &str,
    changelog: &str,
    max_seq: u64,
    applied: u64,
) -> (String, Vec<Option<String>>) {
    let d = target.dialect();
    let int = |n| d.param(Class::Int, &d.placeholder(n));
    let sql = format!(
        "UPDATE {table} SET applied_seq = CASE WHEN applied_seq > {0} THEN applied_seq ELSE {1} END, \
         applied_changes = applied_changes + {2}, updated_unix = {3} WHERE domain = {4} AND changelog = {5}",
        int(1),
        int(2),
        int(3),
        int(4),
        d.placeholder(5),
        d.placeholder(6),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs());
    let params = vec![
        Some(max_seq.to_string()),
        Some(max_seq.to_string()),
        Some(applied.to_string()),
        Some(now.to_string()),
        Some(label.to_owned()),
        Some(changelog.to_owned()),
    ];
    (sql, params)
}

/// The stored (applied_seq, applied_changes) of a label, if any.
///
/// # Errors
/// [`DataError::Sql`] from the target, other than a missing table.
pub(crate) async fn load(
    target: &Db,
    table: &str,
    label: &str,
) -> Result<Option<(u64, u64)>, DataError> {
    let d = target.dialect();
    let sql = format!(
        "SELECT {}, {} FROM {table} WHERE domain = {}",
        d.to_text("MAX(applied_seq)"),
        d.to_text("SUM(applied_changes)"),
        d.placeholder(1)
    );
    let rows = match target.fetch_texts(&sql, &[Some(label.to_owned())]).await {
        Ok(r) => r,
        // No table yet: nothing applied.
        Err(e) if is_missing_table(&e) => return Ok(None),
        Err(e) => return Err(DataError::sql(Side::Target, "read the capture position")(e)),
    };
    let row = rows.into_iter().next().unwrap_or_default();
    let num = |i: usize| row.get(i).cloned().flatten().and_then(|s| s.parse::<f64>().ok());
    Ok(num(0).zip(num(1)).map(|(a, b)| (a as u64, b as u64)))
}
