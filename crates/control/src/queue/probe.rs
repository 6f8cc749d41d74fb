//! Where the admin API reads a domain's queue figures: depth and lag from wherever the pending
//! writes are (the store for the embedded queue, the stream for NATS), the counters and dead
//! letters from the store in both cases.

use super::QueueStats;
use super::nats::{Nats, NatsError};
use crate::store::{Store, StoreError};

/// The write queue as the admin API sees it.
#[derive(Debug, Clone, Default)]
pub enum QueueProbe {
    #[default]
    Embedded,
    Nats(Box<Nats>),
}

/// Reading the queue's figures failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Nats(#[from] NatsError),
}

impl QueueProbe {
    /// The figures of `domain` at `now_ms`.
    ///
    /// # Errors
    /// The store or NATS cannot be read.
    pub async fn stats(
        &self,
        store: &Store,
        domain: &str,
        now_ms: u64,
    ) -> Result<QueueStats, ProbeError> {
        let mut stats = store.queue_stats(domain, now_ms).await?;
        if let QueueProbe::Nats(nats) = self {
            // Rows pending in the store are retried dead letters on their way to the stream.
            let (depth, oldest) = nats.pending(domain).await?;
            stats.depth += depth;
            if let Some(oldest) = oldest {
                #[allow(clippy::cast_precision_loss)]
                let lag = now_ms.saturating_sub(oldest) as f64 / 1000.0;
                stats.lag_seconds = stats.lag_seconds.max(lag);
            }
        }
        Ok(stats)
    }
}
