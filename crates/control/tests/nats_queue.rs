//! The NATS JetStream write queue and its relay against a real NATS server (with JetStream)
//! and a real secondary on loopback: order per entity through failed attempts and a restart,
//! dead letters and their retry, the figures the admin API shows. Each test has a stream of its
//! own and deletes it. NATS is at `FICUS_TEST_NATS_URL` (default `nats://127.0.0.1:4222`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ficus_control::Store;
use ficus_control::queue::QueueProbe;
use ficus_control::queue::nats::{Nats, NatsQueue, NatsRelay};
use ficus_gateway::Upstreams;
use ficus_gateway::replay::{WriteQueue, now_ms};
use ficus_model::Plan;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod support;
use support::{DOMAIN, Secondary, eventually};

fn nats_url() -> String {
    std::env::var("FICUS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A store, a stream of its own, the queue and (when running) a relay.
struct Harness {
    _dir: tempfile::TempDir,
    plan: Arc<Plan>,
    store: Store,
    nats: Nats,
    queue: NatsQueue,
    secondary: Arc<Secondary>,
    relay: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl Harness {
    async fn start() -> Harness {
        let (secondary, dir, plan, store) = support::setup().await;
        let stream = format!("FICUS_TEST_{:016x}", rand::random::<u64>());
        let url = nats_url();
        let nats = Nats::connect(&url, &stream).await.unwrap_or_else(|e| {
            panic!("NATS with JetStream is needed at {url} (set FICUS_TEST_NATS_URL): {e}")
        });
        let queue = NatsQueue::new(nats.clone(), store.clone());
        Harness { _dir: dir, plan, store, nats, queue, secondary, relay: None }
    }

    async fn start_relay(&mut self) {
        let relay = NatsRelay::start(
            self.nats.clone(),
            self.store.clone(),
            Upstreams::from_plan(&self.plan),
            self.plan.write_queue.clone(),
        )
        .await
        .unwrap();
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(relay.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        self.relay = Some((stop, task));
    }

    /// Stop the relay the way SIGTERM does.
    async fn stop_relay(&mut self) {
        let (stop, task) = self.relay.take().unwrap();
        let _ = stop.send(true);
        task.await.unwrap();
    }

    /// End the relay abruptly, as a crash would: nothing in flight finishes, nothing is acked.
    async fn kill_relay(&mut self) {
        let (_stop, task) = self.relay.take().unwrap();
        task.abort();
        let _ = task.await;
    }

    async fn append(&self, entity: &str, body: &str) -> String {
        let entry = support::entry(entity, body);
        let id = entry.id.clone();
        self.queue.append(entry).await.unwrap();
        id
    }

    async fn stats(&self) -> ficus_control::queue::QueueStats {
        QueueProbe::Nats(Box::new(self.nats.clone()))
            .stats(&self.store, DOMAIN, now_ms())
            .await
            .unwrap()
    }

    async fn finish(mut self) {
        if self.relay.is_some() {
            self.stop_relay().await;
        }
        self.nats.delete_stream().await.unwrap();
    }
}

/// Wait until the queue's figures satisfy `done`, and return them.
async fn stats_until(
    h: &Harness,
    what: &str,
    done: impl Fn(&ficus_control::queue::QueueStats) -> bool,
) -> ficus_control::queue::QueueStats {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = h.stats().await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting: {what}: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_an_entity_arrive_in_order_when_first_attempts_fail() {
    let mut h = Harness::start().await;
    h.secondary.fail_next.store(5, Ordering::SeqCst);
    for i in 1..=4 {
        h.append("a", &format!("a{i}")).await;
        h.append("b", &format!("b{i}")).await;
    }
    h.start_relay().await;
    let s = Arc::clone(&h.secondary);
    eventually("8 writes delivered", || s.delivered("a").len() + s.delivered("b").len() == 8).await;
    assert_eq!(h.secondary.delivered("a"), ["a1", "a2", "a3", "a4"]);
    assert_eq!(h.secondary.delivered("b"), ["b1", "b2", "b3", "b4"]);
    // No write of an entity was even tried before the one ahead of it was delivered.
    for entity in ["a", "b"] {
        let tried: Vec<String> =
            h.secondary.hits().into_iter().filter(|x| x.entity == entity).map(|x| x.body).collect();
        let mut sorted = tried.clone();
        sorted.sort();
        assert_eq!(tried, sorted, "attempts of {entity} in order");
    }
    let stats = stats_until(&h, "counters stored", |s| s.succeeded == 8).await;
    assert_eq!((stats.depth, stats.replayed, stats.dead), (0, 13, 0), "{stats:?}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_a_dead_letter_and_its_retry_delivers_it() {
    let mut h = Harness::start().await;
    h.start_relay().await;
    let id = h.append("c", "404 c1").await;
    h.append("c", "c2").await;
    let stats = stats_until(&h, "a dead letter", |s| s.dead == 1 && s.succeeded == 1).await;
    assert_eq!((stats.depth, stats.dead_lettered, stats.replayed), (0, 1, 2), "{stats:?}");
    let dead = h.store.dead_letters(DOMAIN, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].id.as_str(), dead[0].last_status, dead[0].attempts),
        (id.as_str(), Some(404), 1)
    );
    assert_eq!(dead[0].last_error.as_deref(), Some("new answered 404"));
    assert_eq!(dead[0].target, "/items/c");

    h.secondary.accept_404.store(true, Ordering::SeqCst);
    assert!(h.store.retry_dead_letter(&id, "ana", "it exists now", now_ms()).await.unwrap());
    let stats = stats_until(&h, "the retried write delivered", |s| s.succeeded == 2).await;
    assert_eq!((stats.depth, stats.dead), (0, 0), "{stats:?}");
    assert!(h.store.dead_letters(DOMAIN, 10).await.unwrap().is_empty());
    let keys: Vec<String> = h
        .secondary
        .hits()
        .into_iter()
        .filter(|x| x.body == "404 c1")
        .map(|x| x.idempotency_key)
        .collect();
    assert_eq!(keys, [id.clone(), id], "the retry keeps the write's Idempotency-Key");
    // Retried, it goes behind the writes of its entity already queued.
    assert_eq!(h.secondary.delivered("c"), ["c2", "404 c1"]);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_delivers_what_was_left_unacked_in_order() {
    let mut h = Harness::start().await;
    h.secondary.down.store(true, Ordering::SeqCst);
    h.start_relay().await;
    for i in 1..=3 {
        h.append("a", &format!("a{i}")).await;
        h.append("b", &format!("b{i}")).await;
    }
    let s = Arc::clone(&h.secondary);
    eventually("both entities tried", || s.hits().len() >= 4).await;
    let stats = stats_until(&h, "depth and lag", |s| s.depth == 6 && s.lag_seconds > 0.0).await;
    assert_eq!((stats.succeeded, stats.dead), (0, 0), "{stats:?}");

    // A crash: the relay ends with its writes in memory, unacked.
    h.kill_relay().await;
    h.start_relay().await;
    let s = Arc::clone(&h.secondary);
    eventually("tried again after the restart", || s.hits().len() >= 8).await;
    // A clean stop keeps them in the stream too.
    h.stop_relay().await;
    assert_eq!(h.stats().await.depth, 6);

    h.secondary.down.store(false, Ordering::SeqCst);
    h.start_relay().await;
    let s = Arc::clone(&h.secondary);
    eventually("all delivered", || s.delivered("a").len() + s.delivered("b").len() == 6).await;
    assert_eq!(h.secondary.delivered("a"), ["a1", "a2", "a3"]);
    assert_eq!(h.secondary.delivered("b"), ["b1", "b2", "b3"]);
    let stats = stats_until(&h, "drained", |s| s.depth == 0 && s.succeeded == 6).await;
    assert_eq!((stats.lag_seconds, stats.dead), (0.0, 0), "{stats:?}");
    h.finish().await;
}

#[tokio::test]
async fn an_unreachable_nats_is_an_error_naming_the_plan_key() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err =
        Nats::connect(&format!("nats://127.0.0.1:{port}"), "FICUS_NOWHERE").await.unwrap_err();
    assert!(err.to_string().starts_with("write_queue.nats_url"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_a_write_is_a_dead_letter_with_the_reason() {
    let mut h = Harness::start().await;
    h.start_relay().await;
    let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let subject = format!("{}.{DOMAIN}", h.nats.stream_name());
    let ack = js.publish(subject, "not a write".into()).await.unwrap();
    ack.await.unwrap();
    h.append("d", "d1").await;
    let stats = stats_until(&h, "a dead letter", |s| s.dead == 1 && s.succeeded == 1).await;
    assert_eq!(stats.depth, 0, "{stats:?}");
    let dead = h.store.dead_letters(DOMAIN, 10).await.unwrap();
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("the message has no headers"), "{error}");
    assert_eq!(h.secondary.delivered("d"), ["d1"]);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_relay_on_the_stream_takes_over_and_the_first_stops() {
    let mut h = Harness::start().await;
    h.start_relay().await;
    let (first_stop, first) = h.relay.take().unwrap();
    h.start_relay().await;
    tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first relay stops once its consumer is taken")
        .unwrap();
    drop(first_stop);
    h.append("e", "e1").await;
    let s = Arc::clone(&h.secondary);
    eventually("delivered by the second relay", || s.delivered("e") == ["e1"]).await;
    h.finish().await;
}
