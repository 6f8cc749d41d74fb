//! The embedded queue's relay: delivers queued writes to the side each was queued for (so a
//! phase change never turns a pending write around), several entities at once but each
//! entity's writes one at a time in queue order; and the rules, shared with the NATS relay,
//! that decide per answer whether to retry, give up, or count it delivered.

use super::dispatch::{self, Backend, End, Job};
use super::embedded::EmbeddedQueue;
use super::store::Outcome;
use crate::store::Store;
use ficus_gateway::Upstreams;
use ficus_gateway::replay::{Delivery, WriteEntry, now_ms};
use ficus_model::WriteQueueConfig;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// How often the feed looks for new writes when no commit wakes it.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How often the feed looks for dead letters an operator put back.
const REQUEUED_EVERY: Duration = Duration::from_millis(500);

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

/// Writes read from the store per query of the feed.
const PAGE: usize = 512;

/// The consumer of the embedded write queue: a feed reads the queue in `seq` order, a page at
/// a time, and hands the writes to the in-memory [`dispatch`] scheduler (per-entity order,
/// concurrency, backoff); outcomes go back through the queue's one writer. The store is read
/// once per page, not once per delivery, and the scheduler holds at most [`dispatch::WINDOW`]
/// writes however deep the queue is.
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
        let held = Arc::new(Mutex::new(HashSet::new()));
        let rewind = self.queue.rewind();
        let backend = Arc::new(Rows {
            queue: self.queue.clone(),
            held: Arc::clone(&held),
            rewind: Arc::clone(&rewind),
        });
        // Room for a page: the feed reads ahead while the scheduler works.
        let (tx, rx) = mpsc::channel(PAGE);
        let deliver = dispatch::run(backend, self.upstreams.clone(), self.config.clone(), rx, stop);
        // The feed never ends by itself; it is dropped once the scheduler has finished.
        tokio::select! {
            () = deliver => {}
            () = feed(self.store.clone(), tx, held, rewind, Arc::clone(&self.appended)) => {}
        }
    }
}

/// Read the queue in `seq` order and hand every pending write to the scheduler once; every
/// [`REQUEUED_EVERY`] also the dead letters an operator put back (behind the read position).
/// Wakes on each commit that appended writes, or after [`IDLE_POLL`].
async fn feed(
    store: Store,
    tx: mpsc::Sender<Job<i64>>,
    held: Held,
    rewind: Arc<AtomicI64>,
    appended: Arc<Notify>,
) {
    let mut read_to = 0_i64;
    let mut requeued_at = Instant::now();
    loop {
        // A write whose outcome could not be committed is pending again behind the read
        // position: read from there once more (what is still held is skipped).
        read_to = read_to.min(rewind.swap(i64::MAX, Ordering::AcqRel));
        let page = match store.pending_after(read_to, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, after = read_to, "write queue: reading pending writes failed");
                Vec::new()
            }
        };
        let full = page.len() == PAGE;
        if let Some(last) = page.last() {
            read_to = last.seq;
        }
        let requeued = if !full && requeued_at.elapsed() >= REQUEUED_EVERY {
            requeued_at = Instant::now();
            match store.requeued_writes(read_to, PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "write queue: reading retried dead letters failed");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        for p in page.into_iter().chain(requeued) {
            let fresh = held.lock().map(|mut h| h.insert(p.seq)).unwrap_or(false);
            if !fresh {
                continue; // Handed in already (a retried dead letter found twice).
            }
            let order = u64::try_from(p.seq).unwrap_or(0);
            let job = Job { entry: p.entry, attempts: p.attempts, order, handle: p.seq };
            if tx.send(job).await.is_err() {
                return std::future::pending().await; // The scheduler has stopped.
            }
        }
        if !full {
            tokio::select! {
                () = appended.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}

/// The `seq` of every write handed to the scheduler and not finished yet.
type Held = Arc<Mutex<HashSet<i64>>>;

/// What the scheduler does to the embedded queue's rows.
struct Rows {
    queue: EmbeddedQueue,
    held: Held,
    /// Where the feed reads again from (exclusive); `i64::MAX` when nothing is to be re-read.
    rewind: Arc<AtomicI64>,
}

impl Rows {
    /// Commit `outcome`; the write is released from `held` only once the commit is durable,
    /// so a retried dead letter is never handed in twice. When the commit fails the row is
    /// still pending: it is released and the feed reads it again, so it is attempted again
    /// (a delivered one is then delivered twice under the same Idempotency-Key, which the
    /// secondary applies once).
    async fn record(&self, seq: i64, outcome: Outcome, id: &str) {
        let recorded = self.queue.record(outcome).await;
        // Released before the rewind, so the feed never reads it again while it is held.
        if let Ok(mut h) = self.held.lock() {
            h.remove(&seq);
        }
        if let Err(e) = recorded {
            tracing::warn!(error = %e, write = id, "write queue: recording an attempt failed; the write will be read and attempted again");
            self.rewind.fetch_min(seq - 1, Ordering::AcqRel);
        }
    }
}

impl Backend for Rows {
    type Handle = i64;

    /// Counted where the outcome is committed (the queue writer's `commit_batch`).
    fn attempted(&self, _: &str, _: bool) {}

    async fn finish(&self, job: Job<i64>, end: End) {
        let (seq, domain) = (job.handle, job.entry.domain.clone());
        let outcome = match end {
            End::Delivered => Outcome::Delivered { seq, domain },
            End::Dead { error, status } => {
                Outcome::Failed { seq, domain, error, status, next_ms: now_ms(), dead: true }
            }
        };
        self.record(seq, outcome, &job.entry.id).await;
    }

    async fn retrying(&self, job: &Job<i64>, error: &str, status: Option<u16>, wait: Duration) {
        let next_ms = now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let outcome = Outcome::Failed {
            seq: job.handle,
            domain: job.entry.domain.clone(),
            error: error.to_owned(),
            status,
            next_ms,
            dead: false,
        };
        if let Err(e) = self.queue.record(outcome).await {
            tracing::warn!(error = %e, write = job.entry.id, "write queue: recording an attempt failed");
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
