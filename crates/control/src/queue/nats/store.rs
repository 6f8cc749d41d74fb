//! What the NATS relay keeps in the control-plane store: dead letters (the same rows as the
//! embedded queue's, so listing, retry and discard work unchanged), the replay counters in
//! batches, and the removal of a retried dead letter once it is back in the stream.

use crate::queue::store::{Bump, bump, int};
use crate::store::{Store, StoreError};
use ficus_gateway::replay::WriteEntry;

impl Store {
    /// Record `entry` as a dead letter after `attempts`. A write recorded already (the relay
    /// stopped before its message was acked, and it came again) is left as it is.
    pub(crate) async fn record_dead_letter(
        &self,
        entry: &WriteEntry,
        attempts: u32,
        error: &str,
        status: Option<u16>,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let headers = serde_json::to_string(&entry.headers).map_err(|err| StoreError::Corrupt {
            domain: entry.domain.clone(),
            detail: err.to_string(),
        })?;
        let mut tx = self.pool().begin().await?;
        let added = sqlx::query(
            "INSERT INTO write_queue (id, domain, route, entity, method, target, headers, body,
             to_side, authoritative_id, accepted_at_ms, state, attempts, next_attempt_ms,
             last_error, last_status)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'dead', ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&entry.id)
        .bind(&entry.domain)
        .bind(&entry.route)
        .bind(&entry.key)
        .bind(&entry.method)
        .bind(&entry.target)
        .bind(headers)
        .bind(&entry.body[..])
        .bind(entry.to.as_str())
        .bind(&entry.authoritative_id)
        .bind(int(entry.accepted_at_ms))
        .bind(i64::from(attempts))
        .bind(int(now_ms))
        .bind(error)
        .bind(status.map(i64::from))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added > 0 {
            bump(&mut tx, &entry.domain, Bump { dead_lettered: 1, ..Bump::default() }).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Add delivery attempts and deliveries per domain, `(domain, replayed, succeeded)`, in one
    /// transaction.
    pub(crate) async fn add_replay_counts(
        &self,
        counts: &[(String, u64, u64)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for (domain, replayed, succeeded) in counts {
            let by = Bump { replayed: int(*replayed), succeeded: int(*succeeded), ..Bump::default() };
            bump(&mut tx, domain, by).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Remove a pending row without counting it: it has been handed to another queue.
    pub(crate) async fn forget_write(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM write_queue WHERE seq = ? AND state = 'pending'")
            .bind(seq)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
