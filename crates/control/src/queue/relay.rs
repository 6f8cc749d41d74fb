//! The relay: delivers queued writes to the side each was queued for (so a phase change never
//! turns a pending write around), several entities at once but each entity's writes one at a
//! time in queue order; decides per answer whether to retry, give up, or count it delivered.

use super::backoff::backoff;
use super::embedded::EmbeddedQueue;
use super::store::Outcome;
use crate::store::Store;
use ficus_gateway::Upstreams;
use ficus_gateway::replay::{Delivery, WriteEntry, deliver, now_ms};
use ficus_model::WriteQueueConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How often the relay looks for writes whose retry time has come, when nothing wakes it.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Retry,
    /// A definite refusal: a 4xx other than 408 (timeout), 409 (conflict) and 429 (too many
    /// requests), which may succeed later.
    Dead,
}

/// The verdict on one delivery.
pub fn verdict(d: &Delivery) -> Verdict {
    match d {
        Delivery::Answered(s) if (200..300).contains(s) => Verdict::Delivered,
        Delivery::Answered(408 | 409 | 429) => Verdict::Retry,
        Delivery::Answered(s) if (400..500).contains(s) => Verdict::Dead,
        _ => Verdict::Retry,
    }
}

/// What an attempt comes to after `attempts` attempts (this one included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Delivered,
    /// Try again later.
    Retry {
        error: String,
        status: Option<u16>,
    },
    /// A dead letter: a definite refusal, or `max_attempts` reached.
    Dead {
        error: String,
        status: Option<u16>,
    },
}

/// Judge one delivery of `entry`; logs a write that becomes a dead letter.
pub fn judge(
    entry: &WriteEntry,
    delivery: &Delivery,
    attempts: u32,
    max_attempts: u32,
) -> Judgement {
    let v = verdict(delivery);
    if v == Verdict::Delivered {
        return Judgement::Delivered;
    }
    let to = entry.to;
    let (error, status) = match delivery {
        Delivery::Answered(s) => (format!("{to} answered {s}"), Some(*s)),
        Delivery::Failed(e) => (format!("{to}: {e}"), None),
    };
    if v == Verdict::Retry && attempts < max_attempts {
        return Judgement::Retry { error, status };
    }
    tracing::warn!(
        domain = entry.domain,
        write = entry.id,
        attempts,
        error,
        "replayed write is a dead letter"
    );
    Judgement::Dead { error, status }
}

/// The consumer of the embedded write queue.
#[derive(Debug, Clone)]
pub struct Relay {
    store: Store,
    /// Records outcomes through the queue's one writer.
    queue: EmbeddedQueue,
    upstreams: Upstreams,
    config: WriteQueueConfig,
    appended: Arc<Notify>,
}

impl Relay {
    pub fn new(
        store: Store,
        queue: EmbeddedQueue,
        upstreams: Upstreams,
        config: WriteQueueConfig,
        appended: Arc<Notify>,
    ) -> Relay {
        Relay { store, queue, upstreams, config, appended }
    }

    /// Deliver until `stop` resolves; deliveries in flight then finish (bounded by the
    /// upstream's request timeout), and what is left stays queued on disk.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut flying: JoinSet<()> = JoinSet::new();
        let mut busy: Vec<(String, String)> = Vec::new();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        loop {
            while let Ok(k) = done_rx.try_recv() {
                busy.retain(|b| *b != k);
            }
            let room = self.config.concurrency.saturating_sub(busy.len());
            let ready = if room > 0 {
                match self.store.ready_writes(now_ms(), room, &busy).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "write queue: reading pending writes failed");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            for p in ready {
                let key = (p.entry.domain.clone(), p.entry.key.clone());
                busy.push(key.clone());
                let this = self.clone();
                let done = done_tx.clone();
                flying.spawn(async move {
                    this.attempt(p).await;
                    let _ = done.send(key);
                });
            }
            tokio::select! {
                () = &mut stop => break,
                () = self.appended.notified() => {}
                Some(_) = flying.join_next() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
        while flying.join_next().await.is_some() {}
    }

    async fn attempt(&self, p: super::store::Pending) {
        let client = self.upstreams.get(p.entry.to);
        let delivery = deliver(client, &p.entry).await;
        let attempts = p.attempts + 1;
        let (seq, domain) = (p.seq, p.entry.domain.clone());
        let failed = |error, status, dead| {
            let wait = backoff(
                attempts,
                self.config.backoff_initial,
                self.config.backoff_max,
                rand::random::<f64>(),
            );
            let next_ms = now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            Outcome::Failed { seq, domain: domain.clone(), error, status, next_ms, dead }
        };
        let outcome = match judge(&p.entry, &delivery, attempts, self.config.max_attempts) {
            Judgement::Delivered => Outcome::Delivered { seq, domain: domain.clone() },
            Judgement::Retry { error, status } => failed(error, status, false),
            Judgement::Dead { error, status } => failed(error, status, true),
        };
        // Wait for the commit: the entity stays busy until then, so its next write is not
        // picked while this one still looks pending.
        let result = self.queue.record(outcome).await;
        if let Err(e) = result {
            // The attempt is not recorded; the write stays pending and is delivered again
            // (with the same Idempotency-Key, so the secondary applies it once).
            tracing::warn!(error = %e, write = p.entry.id, "write queue: recording an attempt failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_status() {
        let v = |s| verdict(&Delivery::Answered(s));
        assert_eq!(
            (v(200), v(201), v(204)),
            (Verdict::Delivered, Verdict::Delivered, Verdict::Delivered)
        );
        assert_eq!((v(408), v(409), v(429)), (Verdict::Retry, Verdict::Retry, Verdict::Retry));
        assert_eq!((v(400), v(404), v(422)), (Verdict::Dead, Verdict::Dead, Verdict::Dead));
        assert_eq!((v(500), v(503)), (Verdict::Retry, Verdict::Retry));
        assert_eq!(verdict(&Delivery::Failed("refused".into())), Verdict::Retry);
    }
}
