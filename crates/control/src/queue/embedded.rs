//! The embedded write queue's one writer: the gateway's appends (from any worker thread) and
//! the relay's delivery outcomes go through one channel to one thread, which commits whatever
//! has gathered in one transaction — group commit — and then acknowledges each. Under load a
//! batch holds many writes, so the cost of a durable commit is shared instead of paid per
//! request, and appends never wait behind the relay's bookkeeping for SQLite's write lock.
//!
//! The writer is a plain thread with its own blocking SQLite connection (the store's queue
//! connection): a batch is its statements run back to back, prepared once, then one sync. An
//! append costs the client two wake-ups (the writer's and its own), however many statements
//! the batch has.

use super::store::{Outcome, checkpoint, commit_batch};
use crate::store::Store;
use ficus_gateway::replay::{AppendFuture, QueueError, WriteEntry, WriteQueue};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// Most appends and outcomes committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before `append` waits for room.
const CHANNEL: usize = 8192;
/// How often the writer checkpoints between two commits (its commits never do by themselves).
/// The writes that arrive during a checkpoint wait for it, so it is kept short by being
/// frequent: measured at 32 writers, every 250 ms took ≈ 9 ms each (a p99 of 8 ms), every
/// 50 ms ≈ 2 ms each, 4 % of the writer's time either way.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

type Ack = oneshot::Sender<Result<(), QueueError>>;

#[derive(Debug)]
enum Job {
    Append(WriteEntry),
    Record(Outcome),
}

/// The handle on the embedded queue: the gateway appends, the relay records outcomes.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    tx: flume::Sender<(Job, Ack)>,
}

impl EmbeddedQueue {
    /// Start the writer thread. `appended` is notified after every commit that appended
    /// something (the relay waits on it). The writer stops when every handle is dropped.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(store: Store, appended: Arc<Notify>) -> std::io::Result<EmbeddedQueue> {
        let (tx, rx) = flume::bounded(CHANNEL);
        std::thread::Builder::new()
            .name("ficus-queue-writer".into())
            .spawn(move || writer(&store, &rx, &appended))?;
        Ok(EmbeddedQueue { tx })
    }

    async fn submit(&self, job: Job) -> Result<(), QueueError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send_async((job, ack))
            .await
            .map_err(|_| QueueError("the queue writer has stopped".into()))?;
        done.await.map_err(|_| QueueError("the queue writer stopped before committing".into()))?
    }

    /// Record what became of a delivery; resolves once it is committed.
    ///
    /// # Errors
    /// The commit failed or the writer has stopped.
    pub async fn record(&self, outcome: Outcome) -> Result<(), QueueError> {
        self.submit(Job::Record(outcome)).await
    }
}

impl WriteQueue for EmbeddedQueue {
    fn append(&self, entry: WriteEntry) -> AppendFuture<'_> {
        Box::pin(self.submit(Job::Append(entry)))
    }
}

fn writer(store: &Store, rx: &flume::Receiver<(Job, Ack)>, appended: &Notify) {
    let mut batch: Vec<(Job, Ack)> = Vec::with_capacity(MAX_BATCH);
    let mut last_checkpoint = Instant::now();
    // Something was committed since the last checkpoint.
    let mut dirty = false;
    loop {
        // Checkpoint after answering a batch, never inside one: at the latest every
        // CHECKPOINT_EVERY under load (the jobs that arrive meanwhile wait for it), or that
        // long after the last one when the queue went quiet.
        if dirty && last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            run_checkpoint(store);
            last_checkpoint = Instant::now();
            dirty = false;
        }
        let first = if dirty {
            match rx.recv_timeout(CHECKPOINT_EVERY.saturating_sub(last_checkpoint.elapsed())) {
                Ok(job) => job,
                Err(flume::RecvTimeoutError::Timeout) => continue,
                Err(flume::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(job) => job,
                Err(flume::RecvError::Disconnected) => break,
            }
        };
        batch.push(first);
        batch.extend(rx.try_iter().take(MAX_BATCH - 1));
        dirty = true;
        commit_and_answer(store, &mut batch, appended);
    }
    if dirty {
        run_checkpoint(store);
    }
}

/// Commit `batch` (emptied) and answer each job.
fn commit_and_answer(store: &Store, batch: &mut Vec<(Job, Ack)>, appended: &Notify) {
    // Move the jobs apart (no copies of bodies); each ack remembers which kind it answers.
    let (mut appends, mut outcomes, mut acks) = (Vec::new(), Vec::new(), Vec::new());
    for (job, ack) in batch.drain(..) {
        match job {
            Job::Append(e) => {
                appends.push(e);
                acks.push((true, ack));
            }
            Job::Record(o) => {
                outcomes.push(o);
                acks.push((false, ack));
            }
        }
    }
    let now = ficus_gateway::replay::now_ms();
    let together = commit(store, &appends, &outcomes, now);
    // One bad outcome must not cost the clients their appends, nor the other way round.
    let (for_appends, for_outcomes) = match together {
        Ok(()) => (Ok(()), Ok(())),
        Err(_) if !appends.is_empty() && !outcomes.is_empty() => {
            (commit(store, &appends, &[], now), commit(store, &[], &outcomes, now))
        }
        Err(e) => (Err(e.clone()), Err(e)),
    };
    if let Err(e) = &for_appends
        && !appends.is_empty()
    {
        tracing::error!(error = %e, writes = appends.len(), "write queue commit failed");
    }
    for (append, ack) in acks {
        let _ = ack.send(if append { for_appends.clone() } else { for_outcomes.clone() });
    }
    if !appends.is_empty() {
        appended.notify_one();
    }
}

fn commit(
    store: &Store,
    appends: &[WriteEntry],
    outcomes: &[Outcome],
    now: u64,
) -> Result<(), QueueError> {
    let mut conn = store.queue_connection().map_err(|e| QueueError(e.to_string()))?;
    commit_batch(&mut conn, appends, outcomes, now).map_err(|e| QueueError(e.to_string()))
}

fn run_checkpoint(store: &Store) {
    let done = store.queue_connection().and_then(|conn| checkpoint(&conn));
    if let Err(e) = done {
        tracing::warn!(error = %e, "state store checkpoint failed");
    }
}
