//! What the NATS relay keeps in the control-plane store: dead letters (the same rows as the
//! embedded queue's, so listing, retry and discard work unchanged), the replay counters in
//! batches, and the removal of a retried dead letter once it is back in the stream.

use crate::queue::store::{Bump, bump};
use crate::store::int;
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
        if self.dead_letter(&entry.id).await?.is_some() {
            return Ok(());
        }
        // Appended with a reason it is a dead letter at once, counted as one.
        let dead = WriteEntry { unreplayable: Some(error.to_owned()), ..entry.clone() };
        self.append_writes(std::slice::from_ref(&dead), now_ms).await?;
        sqlx::query("UPDATE write_queue SET attempts = ?, last_status = ? WHERE id = ?")
            .bind(i64::from(attempts))
            .bind(status.map(i64::from))
            .bind(&entry.id)
            .execute(self.pool())
            .await?;
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
            let by =
                Bump { replayed: int(*replayed), succeeded: int(*succeeded), ..Bump::default() };
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
