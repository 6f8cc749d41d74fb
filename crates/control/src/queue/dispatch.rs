//! The in-memory delivery scheduler of a relay: writes handed to it are delivered to the side
//! each was queued for, each entity's writes one at a time in the order they were handed in,
//! several entities at once (at most `concurrency`), a failed attempt retried after
//! [`backoff`](super::backoff()) — counted from when the attempt returned — and given up (a dead
//! letter) after `max_attempts` or a definite refusal ([`super::Verdict::Dead`]). How a finished
//! write leaves its queue (an ack, a row deleted, a dead letter recorded) is the backend's.

use super::backoff::backoff;
use super::relay::{Judgement, judge};
use ficus_gateway::Upstreams;
use ficus_gateway::replay::{WriteEntry, deliver};
use ficus_model::WriteQueueConfig;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One write to deliver, with the backend's handle on it (e.g. the message to ack).
#[derive(Debug)]
pub struct Job<H> {
    pub entry: WriteEntry,
    /// Attempts already made (by an earlier process too, where the backend knows).
    pub attempts: u32,
    /// The write's place in its queue (the row's `seq`, the message's stream sequence): an
    /// entity's waiting writes go in this order even when one is handed in late (a dead letter
    /// an operator retried goes before the entity's later writes).
    pub order: u64,
    pub handle: H,
}

/// How a write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Delivered,
    /// Given up on: `error` says why in a sentence naming the side, `status` is the last answer.
    Dead {
        error: String,
        status: Option<u16>,
    },
}

/// What the dispatcher needs from a queue backend.
pub trait Backend: Send + Sync + 'static {
    type Handle: Send + 'static;

    /// An attempt was made; `delivered` when it succeeded (the replayed / succeeded counts).
    fn attempted(&self, domain: &str, delivered: bool);

    /// The write is finished: take it off the queue. The entity's next write waits for this.
    fn finish(&self, job: Job<Self::Handle>, end: End) -> impl Future<Output = ()> + Send;

    /// An attempt failed and the write is tried again after `wait`; `error` says why in a
    /// sentence naming the side, `status` is the answer if there was one. The backend may
    /// record it (the embedded queue keeps the attempt count and last error on the row).
    fn retrying(
        &self,
        job: &Job<Self::Handle>,
        error: &str,
        status: Option<u16>,
        wait: std::time::Duration,
    ) -> impl Future<Output = ()> + Send;
}

/// Most writes a dispatcher holds (waiting, retrying or in flight) before it stops taking
/// more from its feed: memory stays bounded however deep the queue behind it is.
pub const WINDOW: usize = 8192;

type Entity = (String, String);

/// A write to try again, and the wait before it.
type Again<H> = (Job<H>, Duration);

/// The dispatcher's state: queued writes per entity, entities ready to go, retry timers.
struct Schedule<H> {
    /// Every entity with a write queued, waiting for a retry or in flight. While a write is in
    /// flight it is out of its queue (its entity keeps its place here).
    entities: HashMap<Entity, VecDeque<Job<H>>>,
    /// Entities whose first write may be attempted now, in the order they became ready.
    runnable: VecDeque<Entity>,
    /// Entities whose first write waits for its retry time.
    timers: BinaryHeap<Reverse<(Instant, Entity)>>,
    /// Writes held, in flight included.
    held: usize,
}

impl<H> Schedule<H> {
    fn new() -> Schedule<H> {
        Schedule {
            entities: HashMap::new(),
            runnable: VecDeque::new(),
            timers: BinaryHeap::new(),
            held: 0,
        }
    }

    fn push(&mut self, job: Job<H>) {
        self.held += 1;
        let key = (job.entry.domain.clone(), job.entry.key.clone());
        let queue = self.entities.entry(key.clone()).or_insert_with(|| {
            self.runnable.push_back(key);
            VecDeque::new()
        });
        // Almost always the newest: a push at the back. A late one (a retried dead letter)
        // goes before the waiting writes that came after it.
        let at = queue.iter().rposition(|j| j.order <= job.order).map_or(0, |i| i + 1);
        queue.insert(at, job);
    }

    fn next(&mut self) -> Option<Job<H>> {
        let key = self.runnable.pop_front()?;
        self.entities.get_mut(&key).and_then(VecDeque::pop_front)
    }

    /// The entity's write in flight is finished for good: its next one, if any, may go.
    fn finished(&mut self, key: Entity) {
        self.held = self.held.saturating_sub(1);
        match self.entities.get(&key) {
            Some(q) if !q.is_empty() => self.runnable.push_back(key),
            _ => {
                self.entities.remove(&key);
            }
        }
    }

    /// The entity's write in flight failed: it goes first again, at `at`.
    fn retry(&mut self, job: Job<H>, at: Instant) {
        let key = (job.entry.domain.clone(), job.entry.key.clone());
        self.entities.entry(key.clone()).or_default().push_front(job);
        self.timers.push(Reverse((at, key)));
    }

    fn due(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek()
            && *at <= now
        {
            if let Some(Reverse((_, key))) = self.timers.pop() {
                self.runnable.push_back(key);
            }
        }
    }
}

/// Deliver the jobs that arrive on `jobs` until `stop` resolves or `jobs` closes and nothing
/// is left. Deliveries in flight then finish (bounded by the upstream's request timeout);
/// jobs not finished are dropped without [`Backend::finish`], so they stay on their queue.
pub async fn run<B: Backend>(
    backend: Arc<B>,
    upstreams: Upstreams,
    config: WriteQueueConfig,
    mut jobs: mpsc::Receiver<Job<B::Handle>>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut schedule = Schedule::new();
    let mut flying: JoinSet<(Entity, Option<Again<B::Handle>>)> = JoinSet::new();
    let mut open = true;
    loop {
        schedule.due(Instant::now());
        while flying.len() < config.concurrency
            && let Some(job) = schedule.next()
        {
            flying.spawn(attempt(Arc::clone(&backend), upstreams.clone(), config.clone(), job));
        }
        if !open && flying.is_empty() && schedule.held == 0 {
            break;
        }
        let next_timer = schedule.timers.peek().map(|Reverse((at, _))| *at);
        let room = schedule.held < WINDOW;
        tokio::select! {
            () = &mut stop => break,
            job = jobs.recv(), if open && room => match job {
                Some(job) => schedule.push(job),
                None => open = false,
            },
            Some(joined) = flying.join_next(), if !flying.is_empty() => match joined {
                Ok((key, None)) => schedule.finished(key),
                Ok((_, Some((job, wait)))) => schedule.retry(job, Instant::now() + wait),
                Err(e) => {
                    // The write stays on its queue (never finished) and its entity stays held
                    // until a restart delivers it again; it is not dropped.
                    tracing::error!(error = %e, "write queue: a delivery task failed");
                }
            },
            () = sleep_until(next_timer), if next_timer.is_some() => {}
        }
    }
    while flying.join_next().await.is_some() {}
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// One attempt of the job; returns it (attempts counted) with the wait before the next one
/// when it is to be retried.
async fn attempt<B: Backend>(
    backend: Arc<B>,
    upstreams: Upstreams,
    config: WriteQueueConfig,
    mut job: Job<B::Handle>,
) -> (Entity, Option<Again<B::Handle>>) {
    let key = (job.entry.domain.clone(), job.entry.key.clone());
    let to = job.entry.to;
    let delivery = deliver(upstreams.get(to), &job.entry).await;
    job.attempts = job.attempts.saturating_add(1);
    let judged = judge(&job.entry, &delivery, job.attempts, config.max_attempts);
    backend.attempted(&job.entry.domain, judged == Judgement::Delivered);
    let end = match judged {
        Judgement::Delivered => End::Delivered,
        Judgement::Retry { error, status } => {
            tracing::debug!(
                write = job.entry.id,
                attempts = job.attempts,
                error,
                "replay failed; will retry"
            );
            let wait = backoff(
                job.attempts,
                config.backoff_initial,
                config.backoff_max,
                rand::random::<f64>(),
            );
            backend.retrying(&job, &error, status, wait).await;
            return (key, Some((job, wait)));
        }
        Judgement::Dead { error, status } => End::Dead { error, status },
    };
    backend.finish(job, end).await;
    (key, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ficus_model::Side;

    fn job(domain: &str, key: &str, n: u32) -> Job<u32> {
        Job {
            entry: WriteEntry {
                id: format!("w-{n}"),
                domain: domain.into(),
                route: "/r".into(),
                key: key.into(),
                method: "PUT".into(),
                target: "/r".into(),
                headers: Vec::new(),
                body: bytes::Bytes::new(),
                to: Side::New,
                authoritative_id: None,
                accepted_at_ms: 0,
                unreplayable: None,
            },
            attempts: 0,
            order: u64::from(n),
            handle: n,
        }
    }

    #[test]
    fn one_write_per_entity_at_a_time_in_order() {
        let mut s = Schedule::new();
        s.push(job("d", "a", 1));
        s.push(job("d", "a", 2));
        s.push(job("d", "b", 3));
        let first = s.next().map(|j| j.handle);
        let second = s.next().map(|j| j.handle);
        assert_eq!((first, second), (Some(1), Some(3)));
        assert!(s.next().is_none(), "a's second write waits for its first");
        s.finished(("d".into(), "a".into()));
        assert_eq!(s.next().map(|j| j.handle), Some(2));
        let now = Instant::now();
        s.retry(job("d", "b", 3), now);
        assert!(s.next().is_none(), "b waits for its retry time");
        s.due(now);
        assert_eq!(s.next().map(|j| j.handle), Some(3));
        s.finished(("d".into(), "b".into()));
        s.finished(("d".into(), "a".into()));
        assert_eq!(s.held, 0);
        assert!(s.entities.is_empty());
    }

    #[test]
    fn a_late_write_goes_before_the_waiting_writes_that_came_after_it() {
        let mut s = Schedule::new();
        s.push(job("d", "a", 5));
        let first = s.next().map(|j| j.handle);
        s.push(job("d", "a", 7));
        s.push(job("d", "a", 9));
        s.push(job("d", "a", 3));
        s.finished(("d".into(), "a".into()));
        let mut order = vec![first];
        while let Some(j) = s.next() {
            order.push(Some(j.handle));
            s.finished(("d".into(), "a".into()));
        }
        assert_eq!(order, [Some(5), Some(3), Some(7), Some(9)], "5 was in flight already");
        assert_eq!(s.held, 0);
    }
}
