//! Applies one batch of changelog entries: re-reads each changed key in the source through the
//! table's mapping (the backfill's select list), upserts the rows found (under the conflict
//! rule), deletes the keys no longer there, and advances the position, all in one target
//! transaction; then removes the entries from the changelog.
//!
//! Why it converges: an entry is visible only once its change committed, so the re-read sees
//! that change or a later one; keys of one batch are applied together and batches run one
//! after another, so a key's last application reads its latest committed state. Re-applying an
//! entry (a crash after the target commit, before the changelog trim) writes the same current
//! row again: idempotent.

use super::changelog::{self, Entry};
use super::position;
use crate::db::{Db, is_retryable};
use crate::error::{DataError, Side};
use crate::keyset::Key;
use crate::read;
use crate::resolve::ResolvedTable;
use crate::write;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

/// Attempts of a batch's target transaction on a deadlock, lock timeout or busy database.
const BATCH_ATTEMPTS: u32 = 8;

/// What one batch did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Applied {
    pub entries: u64,
    pub upserted: u64,
    pub deleted: u64,
}

/// Where a batch goes: the changelog it came from and the position row it advances.
pub(crate) struct Route<'a> {
    pub label: &'a str,
    pub changelog: &'a str,
    pub position_table: &'a str,
}

/// Apply `entries` (in seq order) and trim them from the changelog.
///
/// # Errors
/// [`DataError`] from either side; nothing is trimmed unless the target committed.
pub(crate) async fn apply(
    source: &Db,
    target: &Db,
    tables: &[ResolvedTable],
    route: &Route<'_>,
    entries: &[Entry],
) -> Result<Applied, DataError> {
    let Some(max_seq) = entries.iter().map(|e| e.seq).max() else {
        return Ok(Applied::default());
    };
    // Distinct keys per table; the order within a batch does not matter, as each key is
    // re-read once, after every change of the batch committed. Tables and keys in a fixed
    // order, so concurrent writers lock target rows in the same order.
    let mut keys: BTreeMap<&str, BTreeSet<&Key>> = BTreeMap::new();
    for e in entries {
        keys.entry(e.table.as_str()).or_default().insert(&e.key);
    }
    let mut work = Vec::new();
    for (name, keys) in keys {
        let Some(t) = tables.iter().find(|t| t.name == name) else {
            tracing::warn!(
                table = name,
                "changelog entries for a table the plan no longer maps; dropped"
            );
            continue;
        };
        let keys: Vec<Key> = keys.into_iter().cloned().collect();
        let rows = read::read_by_keys(source, t, &keys).await?;
        let present: HashSet<Key> =
            rows.iter().map(|r| read::key_of(t, r)).collect::<Result<_, _>>()?;
        let gone: Vec<Key> = keys.into_iter().filter(|k| !present.contains(k)).collect();
        work.push((t, rows, gone));
    }
    let (sql, params) = position::advance(
        target,
        route.position_table,
        route.label,
        route.changelog,
        max_seq,
        entries.len() as u64,
    );
    let mut attempt = 1;
    let mut applied = Applied { entries: entries.len() as u64, ..Applied::default() };
    loop {
        let run = async {
            let err = |doing: &'static str| DataError::sql(Side::Target, doing);
            let mut tx = target.begin(false).await.map_err(err("begin"))?;
            let (mut up, mut del) = (0, 0);
            for (t, rows, gone) in &work {
                write::upsert_rows(&mut tx, target, t, rows).await?;
                del += write::delete_keys(&mut tx, target, t, gone).await?;
                up += rows.len() as u64;
            }
            tx.execute(&sql, &params).await.map_err(err("advance the capture position"))?;
            tx.commit().await.map_err(err("commit"))?;
            Ok::<_, DataError>((up, del))
        };
        match run.await {
            Ok((up, del)) => {
                applied.upserted = up;
                applied.deleted = del;
                break;
            }
            Err(DataError::Sql { source: e, .. })
                if attempt < BATCH_ATTEMPTS && is_retryable(&e) =>
            {
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    changelog::remove(source, route.changelog, &seqs).await?;
    Ok(applied)
}
