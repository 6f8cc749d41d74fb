//! Reading and trimming the source changelog: the oldest entries of a capture label, their
//! removal once applied, and the lag (entries left, age of the oldest).

use crate::db::Db;
use crate::error::{DataError, Side};
use crate::keyset::Key;

/// One changelog entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    /// The mapping's target name.
    pub table: String,
    /// The row's key (transfer text, key order).
    pub key: Key,
}

/// The oldest `limit` entries of `label` (committed ones: the read sees no open transaction's
/// rows), in `seq` order.
///
/// # Errors
/// [`DataError::Sql`] from the source; [`DataError::Mapping`] for a key that is not a JSON
/// array of strings.
pub(crate) async fn oldest(
    source: &Db,
    changelog: &str,
    label: &str,
    limit: usize,
) -> Result<Vec<Entry>, DataError> {
    let d = source.dialect();
    let sql = format!(
        "SELECT {}, table_name, key_json FROM {changelog} WHERE domain = {} ORDER BY seq {}",
        d.to_text("seq"),
        d.placeholder(1),
        d.limit_offset(limit as u64, 0)
    );
    let rows = source
        .fetch_texts(&sql, &[Some(label.to_owned())])
        .await
        .map_err(DataError::sql(Side::Source, "read the changelog"))?;
    rows.into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            let (seq, table, key) = (
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
            );
            let bad = |m: String| DataError::mapping(&table, m);
            let seq =
                seq.parse().map_err(|_| bad(format!("changelog seq {seq:?} is not a number")))?;
            let key: Key = serde_json::from_str(&key).map_err(|e| {
                bad(format!("changelog key {key:?} is not a JSON array of strings: {e}"))
            })?;
            Ok(Entry { seq, table, key })
        })
        .collect()
}

/// Remove applied entries by `seq` (never by range: an entry whose transaction commits late can
/// sit below one already applied, and must stay until it is applied itself).
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(crate) async fn remove(source: &Db, changelog: &str, seqs: &[u64]) -> Result<(), DataError> {
    for batch in seqs.chunks(1000) {
        let list: Vec<String> = batch.iter().map(u64::to_string).collect();
        let sql = format!("DELETE FROM {changelog} WHERE seq IN ({})", list.join(", "));
        source
            .execute(&sql, &[])
            .await
            .map_err(DataError::sql(Side::Source, "trim the changelog"))?;
    }
    Ok(())
}

/// Entries not yet applied and the age of the oldest, in microseconds of the source's clock.
///
/// # Errors
/// [`DataError::Sql`] from the source.
pub(crate) async fn backlog(
    source: &Db,
    changelog: &str,
    label: &str,
) -> Result<(u64, u64), DataError> {
    let d = source.dialect();
    let sql = format!(
        "SELECT {}, {}, {} FROM {changelog} WHERE domain = {}",
        d.to_text("COUNT(*)"),
        d.to_text("MIN(changed_us)"),
        d.to_text(&d.now_micros()),
        d.placeholder(1)
    );
    let rows = source
        .fetch_texts(&sql, &[Some(label.to_owned())])
        .await
        .map_err(DataError::sql(Side::Source, "measure the changelog"))?;
    let num = |v: Option<&Option<String>>| -> i64 {
        v.cloned().flatten().and_then(|s| s.parse::<f64>().ok()).map_or(0, |f| f as i64)
    };
    let row = rows.into_iter().next().unwrap_or_default();
    let count = num(row.first()).max(0) as u64;
    let age = if count == 0 { 0 } else { (num(row.get(2)) - num(row.get(1))).max(0) as u64 };
    Ok((count, age))
}
