//! The `ficus_checkpoint` table in the target (in the schema of each target table): one row per
//! (domain, table, range number) with the key range, the last key copied and the rows copied.
//! The range number's column is named `worker` (a range was once a worker's whole share; now a
//! worker copies ranges one after another).
//! It is updated in the same transaction as each chunk, so after a crash the checkpoint and the
//! copied rows agree and a resumed run neither loses nor repeats a chunk.

use crate::db::Db;
use crate::error::{DataError, Side};
use crate::keyset::{Key, KeyRange};
use crate::resolve::ResolvedTable;

/// One key range's checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    /// The range's number, in key order (column `worker`).
    pub worker: usize,
    pub range: KeyRange,
    pub last: Option<Key>,
    pub rows_copied: u64,
    pub done: bool,
}

impl Checkpoint {
    /// Where this range's next chunk starts.
    pub fn next_range(&self) -> KeyRange {
        KeyRange {
            lo: self.last.clone().or_else(|| self.range.lo.clone()),
            hi: self.range.hi.clone(),
        }
    }
}

/// Create the checkpoint table if it does not exist (a concurrent creator is tolerated).
pub(crate) async fn ensure_table(target: &Db, t: &ResolvedTable) -> Result<(), DataError> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (domain VARCHAR(64) NOT NULL, table_name VARCHAR(255) NOT NULL, \
         worker INTEGER NOT NULL, lo_key TEXT, hi_key TEXT, last_key TEXT, rows_copied BIGINT NOT NULL, \
         done INTEGER NOT NULL, updated_unix BIGINT NOT NULL, PRIMARY KEY (domain, table_name, worker))",
        t.checkpoint_table
    );
    if target.execute(&sql, &[]).await.is_err() {
        // Two creators can race on PostgreSQL's catalogue; the second try sees the table.
        target
            .execute(&sql, &[])
            .await
            .map_err(DataError::sql(Side::Target, "create the checkpoint table"))?;
    }
    Ok(())
}

fn key_json(k: &Option<Key>) -> Option<String> {
    k.as_ref().and_then(|k| serde_json::to_string(k).ok())
}

fn parse_key(table: &str, v: Option<String>) -> Result<Option<Key>, DataError> {
    v.map(|s| {
        serde_json::from_str::<Key>(&s).map_err(|e| DataError::Checkpoint {
            table: table.to_owned(),
            message: format!("key {s:?} is not a JSON array of strings: {e}"),
        })
    })
    .transpose()
}

/// Make every commit of a backfill of `t` durable before it reports success, on PostgreSQL:
/// one small update of the table's checkpoints committed with `synchronous_commit = on`, whose
/// commit waits for the WAL to be flushed up to it — and the WAL is flushed in order, so every
/// chunk committed before it is on disk too. `ficus backfill` connects with
/// `synchronous_commit = off` (chunks commit without waiting for the flush): a chunk commits
/// together with its checkpoint, so a server crash can lose only whole chunks with their
/// checkpoints, which the next run copies again. Other engines: nothing to do (their commits
/// are as durable as the server is configured).
///
/// # Errors
/// [`DataError::Sql`] from the target.
pub(crate) async fn make_durable(
    target: &Db,
    t: &ResolvedTable,
    domain: &str,
) -> Result<(), DataError> {
    if target.engine() != ficus_model::mapping::Engine::Postgres {
        return Ok(());
    }
    let err = || DataError::sql(Side::Target, format!("make the copy of {} durable", t.name));
    let d = target.dialect();
    let sql = format!(
        "UPDATE {} SET updated_unix = {} WHERE domain = {} AND table_name = {}",
        t.checkpoint_table,
        d.param(crate::types::Class::Int, &d.placeholder(1)),
        d.placeholder(2),
        d.placeholder(3),
    );
    let params = [Some(now_unix().to_string()), Some(domain.to_owned()), Some(t.name.clone())];
    let mut tx = target.begin(false).await.map_err(err())?;
    tx.execute("SET LOCAL synchronous_commit = on", &[]).await.map_err(err())?;
    tx.execute(&sql, &params).await.map_err(err())?;
    tx.commit().await.map_err(err())
}

/// The checkpoints of a table, by worker; empty when the table was never started.
pub(crate) async fn load(
    target: &Db,
    t: &ResolvedTable,
    domain: &str,
) -> Result<Vec<Checkpoint>, DataError> {
    let d = target.dialect();
    let sql = format!(
        "SELECT {w}, lo_key, hi_key, last_key, {r}, {done} FROM {} WHERE domain = {} AND table_name = {} ORDER BY worker",
        t.checkpoint_table,
        d.placeholder(1),
        d.placeholder(2),
        w = d.to_text("worker"),
        r = d.to_text("rows_copied"),
        done = d.to_text("done"),
    );
    let rows = target
        .fetch_texts(&sql, &[Some(domain.to_owned()), Some(t.name.clone())])
        .await
        .map_err(DataError::sql(Side::Target, "read the checkpoint"))?;
    let bad = |m: &str| DataError::Checkpoint { table: t.name.clone(), message: m.to_owned() };
    rows.into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            let worker = it
                .next()
                .flatten()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("bad worker"))?;
            let lo = parse_key(&t.name, it.next().flatten())?;
            let hi = parse_key(&t.name, it.next().flatten())?;
            let last = parse_key(&t.name, it.next().flatten())?;
            let rows_copied = it
                .next()
                .flatten()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("bad rows_copied"))?;
            let done = it.next().flatten().is_some_and(|s| s != "0");
            Ok(Checkpoint { worker, range: KeyRange { lo, hi }, last, rows_copied, done })
        })
        .collect()
}

/// Insert fresh checkpoints for these worker ranges, all in one transaction (a run cut short
/// between two inserts would otherwise leave a table whose other ranges are never copied).
pub(crate) async fn create(
    target: &Db,
    t: &ResolvedTable,
    domain: &str,
    ranges: &[KeyRange],
) -> Result<Vec<Checkpoint>, DataError> {
    let d = target.dialect();
    let sql = format!(
        "INSERT INTO {} (domain, table_name, worker, lo_key, hi_key, last_key, rows_copied, done, updated_unix) \
         VALUES ({}, {}, {}, {}, {}, NULL, 0, 0, {})",
        t.checkpoint_table,
        d.placeholder(1),
        d.placeholder(2),
        d.param(crate::types::Class::Int, &d.placeholder(3)),
        d.placeholder(4),
        d.placeholder(5),
        d.param(crate::types::Class::Int, &d.placeholder(6)),
    );
    let err = |doing: &'static str| DataError::sql(Side::Target, doing);
    let mut tx = target.begin(false).await.map_err(err("begin"))?;
    let mut out = Vec::with_capacity(ranges.len());
    for (i, r) in ranges.iter().enumerate() {
        tx.execute(
            &sql,
            &[
                Some(domain.to_owned()),
                Some(t.name.clone()),
                Some(i.to_string()),
                key_json(&r.lo),
                key_json(&r.hi),
                Some(now_unix().to_string()),
            ],
        )
        .await
        .map_err(err("write the checkpoint"))?;
        out.push(Checkpoint {
            worker: i,
            range: r.clone(),
            last: None,
            rows_copied: 0,
            done: false,
        });
    }
    tx.commit().await.map_err(err("commit the checkpoint"))?;
    Ok(out)
}

/// The statement that advances a checkpoint, from the last key the writer read it at: it
/// matches no row when the checkpoint moved meanwhile — another run of the same backfill, or
/// the last transaction of a killed run that the server committed after this run had read the
/// checkpoint. Counting that chunk again would make `rows_copied` exceed the rows copied, so
/// the caller reads the checkpoint again instead ([`load_worker`]). Keys are JSON arrays, never
/// the empty string, so `COALESCE(…, '')` compares a NULL last key too, with one placeholder.
pub(crate) fn advance_sql(target: &Db, t: &ResolvedTable) -> String {
    let d = target.dialect();
    let int = |n| d.param(crate::types::Class::Int, &d.placeholder(n));
    format!(
        "UPDATE {} SET last_key = {}, rows_copied = rows_copied + {}, done = {}, updated_unix = {} \
         WHERE domain = {} AND table_name = {} AND worker = {} AND COALESCE(last_key, '') = COALESCE({}, '')",
        t.checkpoint_table,
        d.placeholder(1),
        int(2),
        int(3),
        int(4),
        d.placeholder(5),
        d.placeholder(6),
        int(7),
        d.placeholder(8),
    )
}

/// Parameters of [`advance_sql`]: `from` is the last key the checkpoint had when the chunk
/// was read, `last` the chunk's last key.
pub(crate) fn advance_params(
    domain: &str,
    t: &ResolvedTable,
    worker: usize,
    from: &Option<Key>,
    last: &Option<Key>,
    rows: u64,
    done: bool,
) -> Vec<Option<String>> {
    vec![
        key_json(last),
        Some(rows.to_string()),
        Some(u8::from(done).to_string()),
        Some(now_unix().to_string()),
        Some(domain.to_owned()),
        Some(t.name.clone()),
        Some(worker.to_string()),
        key_json(from),
    ]
}

/// The checkpoint of one worker as it is now.
///
/// # Errors
/// [`DataError::Checkpoint`] when it is gone or unreadable; the database's error.
pub(crate) async fn load_worker(
    target: &Db,
    t: &ResolvedTable,
    domain: &str,
    worker: usize,
) -> Result<Checkpoint, DataError> {
    load(target, t, domain).await?.into_iter().find(|c| c.worker == worker).ok_or_else(|| {
        DataError::Checkpoint {
            table: t.name.clone(),
            message: format!("the checkpoint of worker {worker} disappeared during the run"),
        }
    })
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
