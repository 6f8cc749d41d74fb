//! Repair: re-copies only the rows a verify report confirmed as differing, through the same
//! mapping as the backfill, and never touches a target row that changed after the report.
//!
//! Per table, in one target transaction: the reported rows are locked (`FOR UPDATE`) and their
//! canonical hash compared with the one the report recorded (`target_hash`; a missing row must
//! still be missing); rows that changed since are skipped and listed. The others are re-read in
//! the source: a row found is upserted (under the conflict rule), a row gone is deleted.

use crate::db::Db;
use crate::error::{DataError, Side};
use crate::keyset::Key;
use crate::read;
use crate::resolve::ResolvedTable;
use crate::verify::side::{View, canon_hash};
use crate::verify::{RowDiff, VerifyReport};
use crate::write;
use std::collections::{HashMap, HashSet};

/// What repair did to one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableRepair {
    pub table: String,
    /// Rows written from the source (missing or different).
    pub upserted: u64,
    /// Target rows deleted (no longer, or never, in the source).
    pub deleted: u64,
    /// Keys left alone because the target row changed after the report.
    pub skipped_changed: Vec<Key>,
}

/// What repair did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairReport {
    pub tables: Vec<TableRepair>,
}

impl RepairReport {
    /// Rows skipped because they changed after the report.
    pub fn skipped(&self) -> usize {
        self.tables.iter().map(|t| t.skipped_changed.len()).sum()
    }
}

/// Repair the differences of `report` (from [`crate::verify()`] on the same tables).
///
/// # Errors
/// [`DataError::Mapping`] when the report names a table the plan does not map; otherwise the
/// first [`DataError`] of either side (tables repaired before it stay repaired).
pub async fn repair(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    report: &VerifyReport,
) -> Result<RepairReport, DataError> {
    let mut out = RepairReport::default();
    for tv in report.tables.iter().filter(|t| !t.differences.is_empty()) {
        let t = tables.iter().find(|t| t.name == tv.table).ok_or_else(|| {
            DataError::mapping(&tv.table, "the report names a table this plan does not map")
        })?;
        out.tables.push(table(source, target, t, &tv.differences).await?);
    }
    Ok(out)
}

async fn table(
    source: &Db,
    target: &Db,
    t: &ResolvedTable,
    diffs: &[RowDiff],
) -> Result<TableRepair, DataError> {
    let err = |doing: &'static str| DataError::sql(Side::Target, doing);
    let view = View::target(target, t);
    let keys: Vec<Key> = diffs.iter().map(|d| d.key.clone()).collect();
    let mut tx = target.begin(true).await.map_err(err("begin"))?;
    // Target rows now, by key as the target renders it in transfer text.
    let now: HashMap<Key, String> = view
        .rows_by_key_locked(&mut tx, &keys)
        .await?
        .into_iter()
        .map(|r| (r.key, canon_hash(&r.cols)))
        .collect();
    let mut report = TableRepair { table: t.name.clone(), ..TableRepair::default() };
    let mut todo = Vec::new();
    for d in diffs {
        let current = now
            .get(&d.key)
            .or_else(|| now.iter().find(|(k, _)| key_matches(k, &d.key)).map(|(_, h)| h));
        if current == d.target_hash.as_ref() {
            todo.push(d.key.clone());
        } else {
            report.skipped_changed.push(d.key.clone());
        }
    }
    let rows = read::read_by_keys(source, t, &todo).await?;
    let present: HashSet<Key> =
        rows.iter().map(|r| read::key_of(t, r)).collect::<Result<_, _>>()?;
    let gone: Vec<Key> = todo.into_iter().filter(|k| !present.contains(k)).collect();
    write::upsert_rows(&mut tx, target, t, &rows).await?;
    report.deleted = write::delete_keys(&mut tx, target, t, &gone).await?;
    report.upserted = rows.len() as u64;
    tx.commit().await.map_err(err("commit"))?;
    Ok(report)
}

/// A key read back equals a reported key (both transfer text, perhaps from different engines):
/// as written, or after trimming a decimal's trailing fractional zeros (`1.50` = `1.5`).
fn key_matches(read: &[String], reported: &[String]) -> bool {
    read.len() == reported.len() && read.iter().zip(reported).all(|(a, b)| trim(a) == trim(b))
}

fn trim(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}
