//! The write queue's tables in the control-plane store: appending a batch, reading the relay's
//! feed in queue order (and the dead letters put back), recording attempts, dead letters,
//! retry and discard, and the per-domain statistics.

use crate::store::{Store, StoreError, int};
use ficus_gateway::replay::WriteEntry;
use ficus_model::Side;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;

/// A pending write read for delivery.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub entry: WriteEntry,
    pub attempts: u32,
}

/// A write that will not be delivered without an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub id: String,
    pub domain: String,
    pub route: String,
    pub entity: String,
    pub method: String,
    pub target: String,
    /// The side it was to be replayed on.
    pub to: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
    /// Milliseconds since the Unix epoch when the authoritative side accepted it.
    pub accepted_at_ms: u64,
}

/// Reconciliation figures of one domain's replayed writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub domain: String,
    /// Writes waiting for delivery.
    pub depth: u64,
    /// Age of the oldest pending write, in seconds (the replay lag); 0 when none waits.
    pub lag_seconds: f64,
    /// Delivery attempts made.
    pub replayed: u64,
    /// Writes delivered.
    pub succeeded: u64,
    /// Writes that became dead letters.
    pub dead_lettered: u64,
    /// Dead letters an operator discarded.
    pub discarded: u64,
    /// Dead letters now.
    pub dead: u64,
}

fn side(s: &str) -> Side {
    if s == "new" { Side::New } else { Side::Legacy }
}

/// What became of one delivery attempt, for [`Store::commit_queue_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered: the write leaves the queue.
    Delivered { seq: i64, domain: String },
    /// Not delivered: tried again at `next_ms` (ms since the Unix epoch), or a dead letter
    /// when `dead`.
    Failed {
        seq: i64,
        domain: String,
        error: String,
        status: Option<u16>,
        next_ms: u64,
        dead: bool,
    },
}

impl Outcome {
    /// The write's queue position.
    pub fn seq(&self) -> i64 {
        match self {
            Outcome::Delivered { seq, .. } | Outcome::Failed { seq, .. } => *seq,
        }
    }

    fn domain(&self) -> &str {
        match self {
            Outcome::Delivered { domain, .. } | Outcome::Failed { domain, .. } => domain,
        }
    }
}

/// Add to a domain's statistics (`?1` the domain, then replayed, succeeded, dead-lettered and
/// discarded).
const BUMP: &str = "INSERT INTO write_stats (domain, replayed, succeeded, dead_lettered, discarded)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (domain) DO UPDATE SET
       replayed = replayed + excluded.replayed,
       succeeded = succeeded + excluded.succeeded,
       dead_lettered = dead_lettered + excluded.dead_lettered,
       discarded = discarded + excluded.discarded";

/// One group commit of the write queue on `conn`: `appends` inserted (numbered by SQLite) and
/// `outcomes` recorded in one transaction. Blocking; all or nothing.
///
/// # Errors
/// As [`Batch`]'s steps; the transaction is then rolled back.
pub(crate) fn commit_batch(
    conn: &mut rusqlite::Connection,
    appends: &[WriteEntry],
    outcomes: &[Outcome],
    now_ms: u64,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut batch = Batch::new(now_ms);
    for e in appends {
        batch.insert(&tx, e, None)?;
    }
    for o in outcomes {
        batch.record(&tx, o)?;
    }
    batch.write_stats(&tx)?;
    tx.commit()?;
    Ok(())
}

/// The statements of one batch of the write queue, run one by one inside a transaction the
/// caller holds (prepared once per connection), so that the embedded writer can decide per
/// statement and make the batch durable elsewhere before it lets it stand. A statement that
/// fails is rolled back alone (SQLite's statement journal); the transaction stays usable. The
/// statistics of every domain touched are written once, by [`Batch::write_stats`].
pub(crate) struct Batch {
    bumps: BTreeMap<String, Bump>,
    now_ms: u64,
}

impl Batch {
    pub(crate) fn new(now_ms: u64) -> Batch {
        Batch { bumps: BTreeMap::new(), now_ms }
    }

    fn bump(&mut self, domain: &str) -> &mut Bump {
        self.bumps.entry(domain.to_owned()).or_default()
    }

    /// Insert one write at `seq` (`None`: numbered by SQLite); an unreplayable one is a dead
    /// letter at once.
    ///
    /// # Errors
    /// [`StoreError::Queue`] from SQLite (a duplicate write id is a constraint violation:
    /// [`is_refusal`]), or [`StoreError::Corrupt`] when the headers cannot be encoded.
    pub(crate) fn insert(
        &mut self,
        conn: &rusqlite::Connection,
        e: &WriteEntry,
        seq: Option<i64>,
    ) -> Result<(), StoreError> {
        let headers = serde_json::to_string(&e.headers).map_err(|err| StoreError::Corrupt {
            domain: e.domain.clone(),
            detail: err.to_string(),
        })?;
        let state = if e.unreplayable.is_some() { "dead" } else { "pending" };
        conn.prepare_cached(
            "INSERT INTO write_queue (id, domain, route, entity, method, target, headers, body,
             to_side, authoritative_id, accepted_at_ms, state, next_attempt_ms, last_error, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(rusqlite::params![
            e.id,
            e.domain,
            e.route,
            e.key,
            e.method,
            e.target,
            headers,
            &e.body[..],
            e.to.as_str(),
            e.authoritative_id,
            int(e.accepted_at_ms),
            state,
            int(self.now_ms),
            e.unreplayable,
            seq,
        ])?;
        if e.unreplayable.is_some() {
            self.bump(&e.domain).dead_lettered += 1;
        }
        Ok(())
    }

    /// Record what became of one delivery.
    ///
    /// # Errors
    /// [`StoreError::Queue`] from SQLite.
    pub(crate) fn record(
        &mut self,
        conn: &rusqlite::Connection,
        o: &Outcome,
    ) -> Result<(), StoreError> {
        match o {
            Outcome::Delivered { seq, .. } => {
                conn.prepare_cached("DELETE FROM write_queue WHERE seq = ?1")?.execute([seq])?;
            }
            Outcome::Failed { seq, error, status, next_ms, dead, .. } => {
                let state = if *dead { "dead" } else { "pending" };
                conn.prepare_cached(
                    "UPDATE write_queue SET attempts = attempts + 1, last_error = ?1,
                     last_status = ?2, next_attempt_ms = ?3, state = ?4 WHERE seq = ?5",
                )?
                .execute(rusqlite::params![
                    error,
                    status,
                    int(*next_ms),
                    state,
                    seq
                ])?;
            }
        }
        let by = self.bump(o.domain());
        by.replayed += 1;
        match o {
            Outcome::Delivered { .. } => by.succeeded += 1,
            Outcome::Failed { dead, .. } => by.dead_lettered += i64::from(*dead),
        }
        Ok(())
    }

    /// Add the counts gathered to each domain's statistics.
    ///
    /// # Errors
    /// [`StoreError::Queue`] from SQLite.
    pub(crate) fn write_stats(&mut self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        let mut bump = conn.prepare_cached(BUMP)?;
        for (domain, by) in std::mem::take(&mut self.bumps) {
            bump.execute(rusqlite::params![
                domain,
                by.replayed,
                by.succeeded,
                by.dead_lettered,
                by.discarded
            ])?;
        }
        Ok(())
    }
}

/// Whether `e` refuses one statement for what it holds (a constraint such as the write id's
/// uniqueness), rather than failing for the store's state (I/O, a lock, a full disk).
pub(crate) fn is_refusal(e: &StoreError) -> bool {
    match e {
        StoreError::Queue(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == rusqlite::ErrorCode::ConstraintViolation
        }
        StoreError::Corrupt { .. } => true,
        _ => false,
    }
}

/// Copy the write-ahead log back into the database as far as no reader needs it (`PRAGMA
/// wal_checkpoint(PASSIVE)`: waits for no one), on the queue's connection. Run by the queue's
/// one writer between its commits: with no commit racing it the checkpoint catches up with the
/// log, so the next commit starts the log over from its beginning, rewriting blocks the file
/// already has. A checkpoint beside a busy writer never catches up, and the log then grows for
/// as long as the load lasts, every commit extending the file (the kernel allocating and
/// zeroing new blocks).
///
/// Returns whether the checkpoint completed: every frame of the log is in the database file,
/// and (on a connection with `synchronous = NORMAL` or `FULL`) that file is synced.
///
/// # Errors
/// [`StoreError::Queue`] from SQLite.
pub(crate) fn checkpoint(conn: &rusqlite::Connection) -> Result<bool, StoreError> {
    let (busy, frames, copied): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(busy == 0 && frames == copied)
}

/// The highest queue position ever given to a write (0 before the first): positions are never
/// reused, so a write in the append log at or below it has been stored in the table already,
/// and is either still there or was delivered or discarded since.
///
/// # Errors
/// [`StoreError::Queue`] from SQLite.
pub(crate) fn high_water(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    let seq = conn
        .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'write_queue'", [], |r| r.get(0))
        .optional()?;
    Ok(seq.unwrap_or(0))
}

impl Store {
    /// Append `entries` in one transaction (the caller's group commit).
    pub async fn append_writes(
        &self,
        entries: &[WriteEntry],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.commit_queue_batch(entries, &[], now_ms).await
    }

    /// One group commit of the write queue ([`commit_batch`]) from async code, on a blocking
    /// thread. The queue's writer calls [`commit_batch`] itself.
    ///
    /// # Errors
    /// As [`commit_batch`].
    pub async fn commit_queue_batch(
        &self,
        appends: &[WriteEntry],
        outcomes: &[Outcome],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let (store, appends, outcomes) = (self.clone(), appends.to_vec(), outcomes.to_vec());
        tokio::task::spawn_blocking(move || {
            commit_batch(&mut *store.queue_connection()?, &appends, &outcomes, now_ms)
        })
        .await
        .map_err(|_| StoreError::QueuePoisoned)?
    }

    /// Up to `limit` pending writes after `seq` (exclusive), in queue order: the relay's feed.
    /// The queue's one writer commits appends in `seq` order, so a page never skips a write
    /// that commits later.
    pub async fn pending_after(&self, seq: i64, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM write_queue WHERE seq > ?1 AND state = 'pending' ORDER BY seq LIMIT ?2",
        )
        .bind(seq)
        .bind(int(limit as u64))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(pending).collect()
    }

    /// Up to `limit` dead letters an operator put back in the queue that have not been
    /// attempted since, at or before `seq`, in queue order. (Pending, no attempt, and an error:
    /// only a retried dead letter looks like that; `write_queue_requeued` indexes exactly these.)
    pub async fn requeued_writes(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM write_queue
             WHERE state = 'pending' AND attempts = 0 AND last_error IS NOT NULL AND seq <= ?1
             ORDER BY seq LIMIT ?2",
        )
        .bind(seq)
        .bind(int(limit as u64))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(pending).collect()
    }

    /// A write was delivered: it leaves the queue.
    pub async fn write_delivered(&self, seq: i64, domain: &str) -> Result<(), StoreError> {
        let o = Outcome::Delivered { seq, domain: domain.to_owned() };
        self.commit_queue_batch(&[], &[o], 0).await
    }

    /// A delivery failed: try again at `next_ms`, or make it a dead letter when `dead`.
    pub async fn write_failed(
        &self,
        seq: i64,
        domain: &str,
        error: &str,
        status: Option<u16>,
        next_ms: u64,
        dead: bool,
    ) -> Result<(), StoreError> {
        let (domain, error) = (domain.to_owned(), error.to_owned());
        let o = Outcome::Failed { seq, domain, error, status, next_ms, dead };
        self.commit_queue_batch(&[], &[o], 0).await
    }

    /// Statistics of `domain` at `now_ms`; the lag is the age of its first pending write in
    /// queue order.
    pub async fn queue_stats(&self, domain: &str, now_ms: u64) -> Result<QueueStats, StoreError> {
        let row = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM write_queue WHERE domain = ?1 AND state = 'pending') AS depth,
               (SELECT accepted_at_ms FROM write_queue WHERE domain = ?1 AND state = 'pending'
                ORDER BY seq LIMIT 1) AS oldest,
               (SELECT COUNT(*) FROM write_queue WHERE domain = ?1 AND state = 'dead') AS dead",
        )
        .bind(domain)
        .fetch_one(self.pool())
        .await?;
        let stats = sqlx::query(
            "SELECT replayed, succeeded, dead_lettered, discarded FROM write_stats WHERE domain = ?",
        )
        .bind(domain)
        .fetch_optional(self.pool())
        .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let oldest: Option<i64> = row.try_get("oldest")?;
        let lag_ms = oldest.map_or(0, |o| now_ms.saturating_sub(n(o)));
        let get = |name: &str| -> Result<u64, StoreError> {
            Ok(match &stats {
                Some(r) => n(r.try_get(name)?),
                None => 0,
            })
        };
        #[allow(clippy::cast_precision_loss)]
        Ok(QueueStats {
            domain: domain.to_owned(),
            depth: n(row.try_get("depth")?),
            lag_seconds: lag_ms as f64 / 1000.0,
            replayed: get("replayed")?,
            succeeded: get("succeeded")?,
            dead_lettered: get("dead_lettered")?,
            discarded: get("discarded")?,
            dead: n(row.try_get("dead")?),
        })
    }

    /// Dead letters of `domain`, oldest first, at most `limit`.
    pub async fn dead_letters(
        &self,
        domain: &str,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM write_queue WHERE domain = ? AND state = 'dead' ORDER BY seq LIMIT ?",
        )
        .bind(domain)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(dead_letter).collect()
    }

    /// One dead letter by write id.
    pub async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let row = sqlx::query("SELECT * FROM write_queue WHERE id = ? AND state = 'dead'")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(dead_letter).transpose()
    }

    /// Put a dead letter back in the queue (delivered next, before later writes of its
    /// entity), audited as `write-retry`. Returns `false` if `id` is not a dead letter.
    pub async fn retry_dead_letter(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        self.act_on_dead_letter(
            "UPDATE write_queue SET state = 'pending', attempts = 0, next_attempt_ms = ?2
             WHERE id = ?1 AND state = 'dead'",
            "write-retry",
            id,
            actor,
            reason,
            now_ms,
        )
        .await
    }

    /// Drop a dead letter for good, audited as `write-discard`.
    pub async fn discard_dead_letter(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.act_on_dead_letter(
            // `?2` (the time, unused here) is only there because both statements get two binds.
            "DELETE FROM write_queue WHERE id = ?1 AND state = 'dead' AND ?2 IS NOT NULL",
            "write-discard",
            id,
            actor,
            reason,
            0,
        )
        .await
    }

    async fn act_on_dead_letter(
        &self,
        sql: &'static str,
        action: &str,
        id: &str,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let Some(letter) = self.dead_letter(id).await? else { return Ok(false) };
        let mut tx = self.pool().begin().await?;
        let changed =
            sqlx::query(sql).bind(id).bind(int(now_ms)).execute(&mut *tx).await?.rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        if action == "write-discard" {
            bump(&mut tx, &letter.domain, Bump { discarded: 1, ..Bump::default() }).await?;
        }
        let detail = serde_json::json!({
            "write": id, "method": letter.method, "target": letter.target,
            "last_error": letter.last_error,
        });
        crate::store::insert_audit(
            &mut tx,
            actor,
            &letter.domain,
            action,
            None,
            None,
            reason,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn pending(r: &sqlx::sqlite::SqliteRow) -> Result<Pending, StoreError> {
    let domain: String = r.try_get("domain")?;
    let headers: String = r.try_get("headers")?;
    let headers = serde_json::from_str(&headers)
        .map_err(|e| StoreError::Corrupt { domain: domain.clone(), detail: e.to_string() })?;
    let body: Vec<u8> = r.try_get("body")?;
    let to: String = r.try_get("to_side")?;
    let attempts: i64 = r.try_get("attempts")?;
    let accepted: i64 = r.try_get("accepted_at_ms")?;
    Ok(Pending {
        seq: r.try_get("seq")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        entry: WriteEntry {
            id: r.try_get("id")?,
            route: r.try_get("route")?,
            key: r.try_get("entity")?,
            method: r.try_get("method")?,
            target: r.try_get("target")?,
            headers,
            body: body.into(),
            to: side(&to),
            authoritative_id: r.try_get("authoritative_id")?,
            accepted_at_ms: u64::try_from(accepted).unwrap_or(0),
            unreplayable: None,
            domain,
        },
    })
}

fn dead_letter(r: &sqlx::sqlite::SqliteRow) -> Result<DeadLetter, StoreError> {
    let attempts: i64 = r.try_get("attempts")?;
    let status: Option<i64> = r.try_get("last_status")?;
    let accepted: i64 = r.try_get("accepted_at_ms")?;
    Ok(DeadLetter {
        id: r.try_get("id")?,
        domain: r.try_get("domain")?,
        route: r.try_get("route")?,
        entity: r.try_get("entity")?,
        method: r.try_get("method")?,
        target: r.try_get("target")?,
        to: r.try_get("to_side")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: r.try_get("last_error")?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        accepted_at_ms: u64::try_from(accepted).unwrap_or(0),
    })
}

/// Additions to one domain's `write_stats` row.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Bump {
    pub(super) replayed: i64,
    pub(super) succeeded: i64,
    pub(super) dead_lettered: i64,
    pub(super) discarded: i64,
}

pub(super) async fn bump(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    domain: &str,
    by: Bump,
) -> Result<(), StoreError> {
    sqlx::query(BUMP)
        .bind(domain)
        .bind(by.replayed)
        .bind(by.succeeded)
        .bind(by.dead_lettered)
        .bind(by.discarded)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
