//! The relay of the NATS write queue: one durable pull consumer on the stream feeds the
//! per-entity dispatcher; a delivered write is acked (and so leaves the work-queue stream) once
//! the counters that include it are stored — every 250 ms, for all deliveries since — so a
//! crash can count a delivery twice but never lose it; a dead one is recorded in the store and
//! then acked. Writes not finished when the relay stops are not acked and stay in the stream.
//!
//! Order per entity across crashes: an unacked message of a killed process would only come
//! again after the ack wait, behind newer writes of its entity. So at start the relay deletes
//! its consumer and creates it again with deliver-all, which in a work-queue stream redelivers
//! exactly the unacked writes, in stream order. This is why there is one relay per stream: a
//! relay whose consumer another one deleted stops, so the newest relay on a stream wins.

use super::{Nats, NatsError, message};
use crate::queue::dispatch::{self, Backend, End, Job};
use crate::store::Store;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::stream::ConsumerErrorKind;
use ficus_gateway::Upstreams;
use ficus_gateway::replay::{WriteEntry, now_ms};
use ficus_model::{Side, WriteQueueConfig};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The start of every relay consumer's name; each relay adds its own random suffix, so that
/// an older relay's pulls can never reach a newer relay's consumer.
pub const CONSUMER_PREFIX: &str = "ficus-relay-";
/// Writes the relay holds unacked at most (waiting, retrying or in flight); the server sends
/// no more until some are acked.
const MAX_ACK_PENDING: i64 = 10_000;
/// How long an unacked message waits before the server sends it again. Long, since a write
/// stays in memory through all its retries; a message sent again while still held is ignored.
const ACK_WAIT: Duration = Duration::from_secs(600);
/// How often the replay counters go to the store.
const COUNTS_FLUSH: Duration = Duration::from_millis(250);
/// How often the relay looks for dead letters an operator retried.
const RETRIED_POLL: Duration = Duration::from_secs(1);
/// Retried dead letters moved to the stream per poll.
const RETRIED_BATCH: usize = 64;
/// Writes handed to the dispatcher and not yet taken.
const HANDOFF: usize = 1024;
/// The wait before pulling again after the message stream ended.
const REPULL: Duration = Duration::from_secs(1);
/// How often a pulling relay checks that its consumer still exists.
const TAKEOVER_CHECK: Duration = Duration::from_secs(2);
/// The pause after a pull error, so that a failing connection does not spin.
const PULL_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The consumer of the NATS write queue.
#[derive(Debug)]
pub struct NatsRelay {
    nats: Nats,
    consumer: PullConsumer,
    store: Store,
    upstreams: Upstreams,
    config: WriteQueueConfig,
}

impl NatsRelay {
    /// Create the relay's consumer afresh, so that the writes left unacked by an earlier
    /// process come first, in stream order.
    ///
    /// # Errors
    /// [`NatsError::Stream`] when the consumer cannot be deleted or created.
    pub async fn start(
        nats: Nats,
        store: Store,
        upstreams: Upstreams,
        config: WriteQueueConfig,
    ) -> Result<NatsRelay, NatsError> {
        // Every earlier relay's consumer goes (a work-queue stream takes one consumer), so
        // the writes they left unacked come to this one at once and in stream order.
        let mut names = nats.stream.consumer_names();
        let mut old = Vec::new();
        while let Some(name) = names.next().await {
            match name {
                Ok(n) if n.starts_with(CONSUMER_PREFIX) => old.push(n),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "write queue: listing the stream's consumers failed");
                    break;
                }
            }
        }
        for name in old {
            if let Err(e) = nats.stream.delete_consumer(&name).await {
                let absent = matches!(e.kind(), ConsumerErrorKind::JetStream(j)
                    if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND);
                if !absent {
                    // Writes that process left unacked then come again only after the ack
                    // wait, possibly behind newer writes of their entity.
                    tracing::warn!(error = %e, consumer = name, "write queue: deleting an old relay consumer failed");
                }
            }
        }
        let name = format!("{CONSUMER_PREFIX}{:016x}", rand::random::<u64>());
        let consumer = nats
            .stream
            .create_consumer(pull::Config {
                durable_name: Some(name.clone()),
                description: Some("Ficus relay: replays queued writes".into()),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: -1,
                max_ack_pending: MAX_ACK_PENDING,
                ..pull::Config::default()
            })
            .await
            .map_err(|e| nats.error(format!("create consumer {name:?}: {e}")))?;
        Ok(NatsRelay { nats, consumer, store, upstreams, config })
    }

    /// Deliver until `stop` resolves: stop pulling, let deliveries in flight finish (bounded by
    /// the upstream's request timeout), store the counters. Unfinished writes stay in the
    /// stream for the next start.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let (halt, halted) = watch::channel(false);
        let acks = Arc::new(Acks {
            store: self.store.clone(),
            unstored: Mutex::default(),
            held: Mutex::default(),
        });
        let (jobs, rx) = mpsc::channel(HANDOFF);
        let dispatcher = tokio::spawn(dispatch::run(
            Arc::clone(&acks),
            self.upstreams.clone(),
            self.config.clone(),
            rx,
            stopped(halted.clone()),
        ));
        let counter = tokio::spawn(flush_counts(Arc::clone(&acks), stopped(halted.clone())));
        let retried =
            tokio::spawn(move_retried(self.nats.clone(), self.store.clone(), stopped(halted)));
        tokio::select! {
            () = stop => {}
            () = self.pull(&acks, &jobs) => {}
        }
        let _ = halt.send(true);
        for (name, task) in
            [("dispatcher", dispatcher), ("counters", counter), ("retries", retried)]
        {
            if let Err(e) = task.await {
                tracing::error!(error = %e, task = name, "write queue relay task failed");
            }
        }
        acks.flush().await;
        // Acks are sent by the connection's own task: make sure they have left.
        if let Err(e) = self.nats.js.client().flush().await {
            tracing::warn!(error = %e, "write queue: flushing acks to NATS failed; those writes come again");
        }
    }

    /// Whether this relay's consumer is gone — a newer relay deleted it — and this relay
    /// must stop. Any other failure to ask counts as not (the pull goes on trying).
    async fn taken_over(&self) -> bool {
        let name = self.consumer.cached_info().name.clone();
        match self.nats.stream.consumer_info(&name).await {
            Err(e) if gone(&e.kind()) => {
                tracing::error!(
                    stream = self.nats.stream_name(),
                    "write queue: another relay took over this stream; this relay stops"
                );
                true
            }
            _ => false,
        }
    }

    /// Hand every message to the dispatcher; runs until the dispatcher is gone or another
    /// relay takes the consumer.
    async fn pull(&self, acks: &Acks, jobs: &mpsc::Sender<Job<Handle>>) {
        loop {
            if self.taken_over().await {
                return;
            }
            let mut messages = match self.consumer.messages().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "write queue: pulling from NATS failed; trying again");
                    tokio::time::sleep(REPULL).await;
                    continue;
                }
            };
            let mut check = tokio::time::interval(TAKEOVER_CHECK);
            loop {
                // A deleted consumer does not always end the pull at once: ask now and then.
                let next = tokio::select! {
                    next = messages.next() => next,
                    _ = check.tick() => {
                        if self.taken_over().await {
                            return;
                        }
                        continue;
                    }
                };
                let Some(next) = next else { break };
                let msg = match next {
                    Ok(m) => m,
                    Err(e) if e.kind() == MessagesErrorKind::ConsumerDeleted => {
                        // Another relay started on this stream and took the consumer: it
                        // delivers from now on (writes held here come to it again).
                        tracing::error!(
                            stream = self.nats.stream_name(),
                            "write queue: another relay took over this stream; this relay stops"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "write queue: pulling from NATS");
                        if self.taken_over().await {
                            return;
                        }
                        tokio::time::sleep(PULL_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let Ok(sequence) = msg.info().map(|i| i.stream_sequence) else {
                    tracing::warn!(subject = %msg.subject, "write queue: a message without stream metadata; ignored");
                    continue;
                };
                let (msg, acker) = msg.split();
                let entry = match message::decode(msg.headers.as_ref(), &msg.payload) {
                    Ok(entry) => entry,
                    Err(reason) => {
                        acks.malformed(sequence, &msg, &reason, acker).await;
                        continue;
                    }
                };
                if !acks.hold(sequence) {
                    // Sent again after the ack wait while still waiting here.
                    continue;
                }
                let job =
                    Job { entry, attempts: 0, order: sequence, handle: Handle { sequence, acker } };
                if jobs.send(job).await.is_err() {
                    return;
                }
            }
            tracing::warn!("write queue: the NATS message stream ended; pulling again");
            tokio::time::sleep(REPULL).await;
        }
    }
}

/// The consumer asked about does not exist.
fn gone(kind: &ConsumerInfoErrorKind) -> bool {
    match kind {
        ConsumerInfoErrorKind::NotFound => true,
        ConsumerInfoErrorKind::JetStream(j) => j.error_code() == ErrorCode::CONSUMER_NOT_FOUND,
        _ => false,
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// A message held by the relay: its stream sequence and its ack.
pub struct Handle {
    sequence: u64,
    acker: Acker,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").field("sequence", &self.sequence).finish_non_exhaustive()
    }
}

/// How the NATS relay finishes writes, and what it has not stored yet.
struct Acks {
    store: Store,
    unstored: Mutex<Unstored>,
    /// Stream sequences of the messages held (not yet acked).
    held: Mutex<HashSet<u64>>,
}

/// Counters and deliveries since the last flush.
#[derive(Default)]
struct Unstored {
    /// Per domain: attempts and deliveries.
    counts: HashMap<String, (u64, u64)>,
    /// Delivered writes, acked once the counters are stored.
    delivered: Vec<(Handle, String)>,
}

impl Acks {
    fn hold(&self, sequence: u64) -> bool {
        self.held.lock().map(|mut h| h.insert(sequence)).unwrap_or(true)
    }

    fn release(&self, sequence: u64) {
        if let Ok(mut h) = self.held.lock() {
            h.remove(&sequence);
        }
    }

    async fn ack(&self, handle: Handle, id: &str) {
        if let Err(e) = handle.acker.ack().await {
            // Not acked: it comes again after the next start and is delivered again with the
            // same Idempotency-Key.
            tracing::warn!(error = %e, write = id, "write queue: acking a NATS message failed");
        }
        self.release(handle.sequence);
    }

    /// A message that is not a write: a dead letter with the reason, then acked.
    async fn malformed(
        &self,
        sequence: u64,
        msg: &async_nats::Message,
        reason: &str,
        acker: Acker,
    ) {
        let id = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map_or_else(|| format!("nats-{sequence}"), |v| v.as_str().to_owned());
        let domain = msg.subject.rsplit('.').next().unwrap_or_default().to_owned();
        let error = format!("not a write Ficus can read ({} #{sequence}): {reason}", msg.subject);
        tracing::warn!(subject = %msg.subject, sequence, error, "write queue: malformed message is a dead letter");
        let entry = WriteEntry {
            id,
            domain,
            route: String::new(),
            key: String::new(),
            method: String::new(),
            target: String::new(),
            headers: Vec::new(),
            body: msg.payload.clone(),
            to: Side::New,
            authoritative_id: None,
            accepted_at_ms: now_ms(),
            unreplayable: None,
        };
        match self.store.record_dead_letter(&entry, 0, &error, None, now_ms()).await {
            Ok(()) => self.ack(Handle { sequence, acker }, &entry.id).await,
            Err(e) => {
                tracing::warn!(error = %e, "write queue: recording a malformed message failed; it stays in the stream")
            }
        }
    }

    /// Store the counters, then ack the writes they count as delivered.
    async fn flush(&self) {
        let Ok(batch) = self.unstored.lock().map(|mut u| std::mem::take(&mut *u)) else {
            return;
        };
        if !batch.counts.is_empty() {
            let counts: Vec<(String, u64, u64)> =
                batch.counts.iter().map(|(d, (r, s))| (d.clone(), *r, *s)).collect();
            if let Err(e) = self.store.add_replay_counts(&counts).await {
                tracing::warn!(error = %e, "write queue: storing replay counters failed; trying again");
                if let Ok(mut u) = self.unstored.lock() {
                    for (d, (r, s)) in batch.counts {
                        let e = u.counts.entry(d).or_default();
                        *e = (e.0 + r, e.1 + s);
                    }
                    u.delivered.extend(batch.delivered);
                }
                return;
            }
        }
        for (handle, id) in batch.delivered {
            self.ack(handle, &id).await;
        }
    }
}

impl Backend for Acks {
    type Handle = Handle;

    fn attempted(&self, domain: &str, delivered: bool) {
        if let Ok(mut u) = self.unstored.lock() {
            let e = u.counts.entry(domain.to_owned()).or_default();
            e.0 += 1;
            e.1 += u64::from(delivered);
        }
    }

    async fn finish(&self, job: Job<Handle>, end: End) {
        match &end {
            End::Delivered => {
                if let Ok(mut u) = self.unstored.lock() {
                    u.delivered.push((job.handle, job.entry.id));
                }
            }
            End::Dead { error, status } => {
                let recorded = self
                    .store
                    .record_dead_letter(&job.entry, job.attempts, error, *status, now_ms())
                    .await;
                match recorded {
                    Ok(()) => self.ack(job.handle, &job.entry.id).await,
                    // Not acked: the write stays in the stream and is tried again after a
                    // restart.
                    Err(e) => {
                        tracing::error!(error = %e, write = job.entry.id, "write queue: recording a dead letter failed")
                    }
                }
            }
        }
    }

    /// Nothing to record: the message stays unacked in the stream (held here, so a
    /// redelivery after the ack wait is ignored) and the attempt is counted by `attempted`.
    async fn retrying(&self, _: &Job<Handle>, _: &str, _: Option<u16>, _: Duration) {}
}

async fn flush_counts(acks: Arc<Acks>, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(COUNTS_FLUSH) => acks.flush().await,
        }
    }
}

/// Dead letters an operator retried are pending rows in the store: publish each to the
/// stream again — under a message id of its own, which the duplicate window does not drop —
/// and remove the row once the stream has it. It is delivered after the writes already
/// queued for its entity.
async fn move_retried(nats: Nats, store: Store, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(RETRIED_POLL) => {}
        }
        let ready = match store.requeued_writes(i64::MAX, RETRIED_BATCH).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "write queue: reading retried dead letters failed");
                continue;
            }
        };
        for p in ready {
            let msg_id = format!("{}-r{}", p.entry.id, p.seq);
            if let Err(e) = nats.publish(&p.entry, &msg_id).await {
                tracing::warn!(error = ?e, write = p.entry.id, "write queue: requeueing a retried dead letter failed");
                break;
            }
            if let Err(e) = store.forget_write(p.seq).await {
                // It is published again on the next poll under the same message id, which the
                // duplicate window drops.
                tracing::warn!(error = %e, write = p.entry.id, "write queue: removing a requeued write failed");
            }
        }
    }
}
