//! The embedded write queue's relay against a real SQLite store and a real secondary on
//! loopback: each entity's writes arrive in order through failed attempts, and a write whose
//! outcome cannot be committed is read and attempted again instead of waiting for a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ficus_control::Store;
use ficus_control::queue::{EmbeddedQueue, QueueProbe, QueueStats, Relay};
use ficus_gateway::Upstreams;
use ficus_gateway::replay::{WriteQueue, now_ms};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use support::{DOMAIN, Secondary, eventually};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// A store, the queue's writer and a running relay delivering to a secondary.
struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    queue: EmbeddedQueue,
    secondary: Arc<Secondary>,
    stop: watch::Sender<bool>,
    relay: JoinHandle<()>,
}

impl Harness {
    async fn start() -> Harness {
        let (secondary, dir, plan, store) = support::setup().await;
        let appended = Arc::new(Notify::new());
        let queue = EmbeddedQueue::start(store.clone(), Arc::clone(&appended)).unwrap();
        let relay = Relay::new(
            store.clone(),
            queue.clone(),
            Upstreams::from_plan(&plan),
            plan.write_queue.clone(),
            appended,
        );
        let (stop, mut rx) = watch::channel(false);
        let relay = tokio::spawn(relay.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        Harness { _dir: dir, store, queue, secondary, stop, relay }
    }

    async fn append(&self, entity: &str, body: &str) {
        self.queue.append(support::entry(entity, body)).await.unwrap();
    }

    async fn stats(&self) -> QueueStats {
        QueueProbe::Embedded.stats(&self.store, DOMAIN, now_ms()).await.unwrap()
    }

    async fn finish(self) {
        let _ = self.stop.send(true);
        self.relay.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_an_entity_arrive_in_order_when_first_attempts_fail() {
    let h = Harness::start().await;
    h.secondary.fail_next.store(5, Ordering::SeqCst);
    for i in 1..=4 {
        h.append("a", &format!("a{i}")).await;
        h.append("b", &format!("b{i}")).await;
    }
    eventually("both entities delivered", || {
        h.secondary.delivered("a").len() == 4 && h.secondary.delivered("b").len() == 4
    })
    .await;
    assert_eq!(h.secondary.delivered("a"), ["a1", "a2", "a3", "a4"]);
    assert_eq!(h.secondary.delivered("b"), ["b1", "b2", "b3", "b4"]);
    let mut stats = h.stats().await;
    for _ in 0..100 {
        if stats.depth == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stats = h.stats().await;
    }
    assert_eq!((stats.depth, stats.succeeded, stats.replayed), (0, 8, 13), "5 failed attempts");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_outcome_cannot_be_committed_is_attempted_again() {
    let h = Harness::start().await;
    // Another connection to the same file makes every DELETE from the queue fail, as a full
    // disk would fail the outcome's commit.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(h.store.path());
    let side = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER test_no_delete BEFORE DELETE ON write_queue
         BEGIN SELECT RAISE(ABORT, 'test: deletes refused'); END",
    )
    .execute(&side)
    .await
    .unwrap();
    h.append("x", "x1").await;
    eventually("delivered again after the failed commit", || h.secondary.delivered("x").len() >= 2)
        .await;
    assert_eq!(h.stats().await.depth, 1, "still queued: its outcome could not be committed");
    sqlx::query("DROP TRIGGER test_no_delete").execute(&side).await.unwrap();
    let mut depth = 1;
    for _ in 0..200 {
        depth = h.stats().await.depth;
        if depth == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(depth, 0, "once the commit works the write leaves the queue");
    let hits = h.secondary.hits();
    assert!(
        hits.iter().all(|hit| hit.body == "x1" && hit.idempotency_key == hits[0].idempotency_key)
    );
    side.close().await;
    h.finish().await;
}
