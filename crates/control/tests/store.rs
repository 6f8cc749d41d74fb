//! The control-plane store and the control loop against a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ficus_control::{Control, ControlError, Store, StoreError};
use ficus_gateway::replay::WriteQueue;
use ficus_model::phase::{self, RollbackTarget};
use ficus_model::{Percent, Phase, Plan, TransitionError};
use std::path::Path;
use std::sync::Arc;

fn plan(dir: &Path) -> Arc<Plan> {
    let text = r#"
[upstreams.legacy]
url = "http://127.0.0.1:1"
[upstreams.new]
url = "http://127.0.0.1:2"
[domains.invoices]
phase = "dual-write"
routes = [{ path = "/invoices/{id}" }]
[domains.tracks]
routes = [{ path = "/tracks" }]
"#;
    Arc::new(Plan::parse(text, "test.toml", dir).unwrap())
}

#[tokio::test]
async fn first_start_records_initial_phases_once() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = Store::open(&plan.state_path).await.unwrap();
    store.ensure_domains(&plan, "t").await.unwrap();
    store.ensure_domains(&plan, "t").await.unwrap();
    let states = store.states().await.unwrap();
    assert_eq!(states["invoices"].phase, Phase::DualWrite);
    assert_eq!(states["tracks"].phase, Phase::Legacy);
    let audit = store.audit(None, 100).await.unwrap();
    assert_eq!(audit.len(), 2, "init is audited once per domain");
    assert!(audit.iter().all(|e| e.action == "init"));
}

#[tokio::test]
async fn audit_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = Store::open(&plan.state_path).await.unwrap();
    store.ensure_domains(&plan, "t").await.unwrap();
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", plan.state_path.display()))
        .await
        .unwrap();
    let err =
        sqlx::query("UPDATE audit_log SET actor = 'mallory'").execute(&pool).await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM audit_log").execute(&pool).await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn a_stale_transition_is_refused_by_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = Store::open(&plan.state_path).await.unwrap();
    store.ensure_domains(&plan, "t").await.unwrap();
    let t = phase::advance(Phase::DualWrite, "a", "first").unwrap();
    store.record_transition("invoices", &t).await.unwrap();
    // A second writer that decided on the old phase must not apply.
    let err = store.record_transition("invoices", &t).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: Phase::DualWrite, .. }), "{err}");
    assert_eq!(store.states().await.unwrap()["invoices"].phase, Phase::Backfill);
    assert_eq!(
        store.audit(Some("invoices"), 10).await.unwrap().len(),
        2,
        "the refused one left no entry"
    );
}

#[tokio::test]
async fn control_publishes_every_change_and_keeps_it_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let control =
        Control::start(Arc::clone(&plan), Store::open(&plan.state_path).await.unwrap(), "t")
            .await
            .unwrap();
    let handle = control.handle();
    let v1 = handle.load().version;
    control.advance("invoices", "ops", "go").await.unwrap();
    assert_eq!(handle.load().state("invoices").unwrap().phase, Phase::Backfill);
    assert!(handle.load().version > v1);
    control.advance("invoices", "ops", "reads").await.unwrap();
    control
        .set_percentages(
            "invoices",
            Some(Percent::from_percent(25.0).unwrap()),
            None,
            "ops",
            "ramp",
        )
        .await
        .unwrap();
    assert_eq!(handle.load().state("invoices").unwrap().read_new_percent.basis_points(), 2500);

    let err = control
        .rollback("invoices", RollbackTarget::To(Phase::New), false, "ops", "")
        .await
        .unwrap_err();
    assert!(matches!(err, ControlError::Refused(TransitionError::NotEarlier { .. })));
    let err = control.advance("payments", "ops", "").await.unwrap_err();
    assert!(matches!(err, ControlError::UnknownDomain(_)));
    control.store().close().await;
    drop(control);

    let control =
        Control::start(Arc::clone(&plan), Store::open(&plan.state_path).await.unwrap(), "t")
            .await
            .unwrap();
    let s = control.snapshot().state("invoices").unwrap();
    assert_eq!((s.phase, s.read_new_percent.basis_points()), (Phase::ReadNew, 2500));
}

#[tokio::test]
async fn a_change_made_by_another_process_is_picked_up_by_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let a = Control::start(Arc::clone(&plan), Store::open(&plan.state_path).await.unwrap(), "a")
        .await
        .unwrap();
    let b = Control::start(Arc::clone(&plan), Store::open(&plan.state_path).await.unwrap(), "b")
        .await
        .unwrap();
    b.advance("tracks", "ops", "from b").await.unwrap();
    assert_eq!(a.snapshot().state("tracks").unwrap().phase, Phase::Legacy);
    a.reconcile().await.unwrap();
    assert_eq!(a.snapshot().state("tracks").unwrap().phase, Phase::DualWrite);
    // A decides on the stored phase, not its stale table.
    let c = a.advance("tracks", "ops", "from a").await.unwrap();
    assert_eq!((c.before.phase, c.after.phase), (Phase::DualWrite, Phase::Backfill));
}

fn example(route: &str, fields: &[&str], at_ms: u64) -> ficus_gateway::shadow::Example {
    ficus_gateway::shadow::Example {
        at_ms,
        route: route.into(),
        method: "GET".into(),
        target: "/invoices/1".into(),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        request_id: None,
        primary: "legacy".into(),
        secondary: "new".into(),
        primary_status: 200,
        secondary_status: 200,
        primary_body: "{}".into(),
        secondary_body: "{}".into(),
        request_body: None,
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        differences: vec![],
    }
}

/// Retention keeps a few examples of each kind (route and set of fields), so a noisy field
/// cannot crowd out a rare real difference, and caps the domain as a whole.
#[tokio::test]
async fn examples_are_kept_per_kind_and_capped() {
    use ficus_control::{EXAMPLES_PER_KIND, ExampleFilter};
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = Store::open(&plan.state_path).await.unwrap();
    let noisy: Vec<_> = (0..50).map(|i| example("/invoices/{id}", &["/at"], i)).collect();
    let rare = [example("/invoices/{id}", &["/total", "/at"], 100)];
    store.store_examples("invoices", &rare, 100).await.unwrap();
    store.store_examples("invoices", &noisy, 100).await.unwrap();
    store.store_examples("tracks", &noisy[..3], 100).await.unwrap();
    let all = |field: Option<&'static str>| {
        let store = store.clone();
        async move {
            let filter = ExampleFilter { field, limit: 500, ..ExampleFilter::default() };
            store.examples("invoices", &filter).await.unwrap()
        }
    };
    let kept = all(None).await;
    assert_eq!(kept.len(), usize::try_from(EXAMPLES_PER_KIND).unwrap() + 1);
    assert_eq!(kept[0].example.at_ms, 49, "newest first");
    let total = all(Some("/total")).await;
    assert_eq!(total.len(), 1, "the rare difference survives the noise");
    assert_eq!(store.example("invoices", total[0].id).await.unwrap().unwrap(), total[0]);
    assert_eq!(store.example("tracks", total[0].id).await.unwrap(), None, "ids are per domain");
    // The domain cap: the oldest go first.
    store.store_examples("invoices", &noisy[..1], 5).await.unwrap();
    let kept = all(None).await;
    assert_eq!(kept.len(), 5);
    assert!(kept.iter().all(|e| e.example.fields == ["/at"]), "the oldest (the rare one) went");
    let filter = ExampleFilter { limit: 500, ..ExampleFilter::default() };
    assert_eq!(store.examples("tracks", &filter).await.unwrap().len(), 3);
}

#[tokio::test]
async fn known_differences_are_audited_both_ways() {
    use ficus_model::diff::KnownDifference;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = Store::open(&plan.state_path).await.unwrap();
    let control = Control::start(Arc::clone(&plan), store.clone(), "t").await.unwrap();
    let known = KnownDifference { route: "/invoices/{id}".into(), field: "/total".into() };
    assert!(control.mark_known("invoices", &known, "ana", "cents by design").await.unwrap());
    assert!(!control.mark_known("invoices", &known, "ana", "again").await.unwrap());
    let refused = control
        .mark_known(
            "invoices",
            &KnownDifference { field: "body".into(), ..known.clone() },
            "ana",
            "",
        )
        .await;
    assert!(matches!(refused, Err(ControlError::Invalid(_))), "{refused:?}");
    let wrong_route = KnownDifference { route: "/tracks".into(), ..known.clone() };
    let refused = control.mark_known("invoices", &wrong_route, "ana", "").await;
    assert!(matches!(refused, Err(ControlError::Invalid(_))), "{refused:?}");
    let listed = store.known_differences(Some("invoices")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].1.actor.as_str(), listed[0].1.reason.as_str()),
        ("ana", "cents by design")
    );
    assert!(control.unmark_known("invoices", &known, "bo", "compare again").await.unwrap());
    assert!(!control.unmark_known("invoices", &known, "bo", "").await.unwrap());
    assert!(store.known_differences(None).await.unwrap().is_empty());
    let audit = store.audit(Some("invoices"), 10).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["unknown-difference", "known-difference", "init"]);
    assert_eq!(audit[1].detail["field"], "/total");
}

fn write(id: &str, entity: &str, unreplayable: Option<&str>) -> ficus_gateway::replay::WriteEntry {
    ficus_gateway::replay::WriteEntry {
        id: id.into(),
        domain: "invoices".into(),
        route: "/invoices/{id}".into(),
        key: entity.into(),
        method: "PUT".into(),
        target: format!("/invoices/{entity}"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: bytes::Bytes::from_static(b"{}"),
        to: ficus_model::Side::New,
        authoritative_id: None,
        accepted_at_ms: 1_000,
        unreplayable: unreplayable.map(str::to_owned),
    }
}

/// The relay's feed reads pending writes in queue order (dead letters left out); dead letters
/// can be put back — found by `requeued_writes` until attempted again — or discarded, and
/// both are audited. (Per-entity order is the dispatcher's, tested beside it.)
#[tokio::test]
async fn write_queue_feeds_in_order_and_keeps_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = Store::open(&plan.state_path).await.unwrap();
    let entries = [
        write("w-1", "7", None),
        write("w-2", "7", None),
        write("w-3", "8", None),
        write("w-4", "9", Some("body lost")),
    ];
    store.append_writes(&entries, 1_000).await.unwrap();
    let ids = |rows: Vec<ficus_control::queue::Pending>| -> Vec<String> {
        rows.into_iter().map(|p| p.entry.id).collect()
    };
    let feed = store.pending_after(0, 10).await.unwrap();
    assert_eq!(feed[0].entry, entries[0]);
    let seqs: Vec<i64> = feed.iter().map(|p| p.seq).collect();
    assert_eq!(ids(feed), ["w-1", "w-2", "w-3"], "queue order; the unreplayable one is dead");
    assert_eq!(ids(store.pending_after(seqs[0], 1).await.unwrap()), ["w-2"], "a page after a seq");
    assert_eq!(ids(store.requeued_writes(i64::MAX, 10).await.unwrap()), Vec::<String>::new());

    store.write_delivered(seqs[2], "invoices").await.unwrap();
    store
        .write_failed(seqs[0], "invoices", "new answered 404", Some(404), 5_000, true)
        .await
        .unwrap();
    assert_eq!(ids(store.pending_after(0, 10).await.unwrap()), ["w-2"]);
    let stats = store.queue_stats("invoices", 3_000).await.unwrap();
    assert_eq!(
        (stats.depth, stats.dead, stats.succeeded, stats.replayed, stats.dead_lettered),
        (1, 2, 1, 2, 2)
    );
    assert!((stats.lag_seconds - 2.0).abs() < 1e-9, "{stats:?}");
    let dead = store.dead_letters("invoices", 10).await.unwrap();
    assert_eq!(dead.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["w-1", "w-4"]);
    assert_eq!((dead[0].last_status, dead[0].attempts), (Some(404), 1));
    assert_eq!(dead[1].last_error.as_deref(), Some("body lost"));

    assert!(store.retry_dead_letter("w-1", "ana", "customer 7 exists now", 4_000).await.unwrap());
    assert!(!store.retry_dead_letter("w-1", "ana", "again", 4_000).await.unwrap());
    assert_eq!(ids(store.requeued_writes(seqs[1], 10).await.unwrap()), ["w-1"], "put back");
    assert_eq!(ids(store.requeued_writes(0, 10).await.unwrap()), Vec::<String>::new(), "≤ seq");
    assert_eq!(ids(store.pending_after(0, 10).await.unwrap()), ["w-1", "w-2"], "in its place");
    // An attempt that fails again makes it an ordinary pending write.
    store
        .write_failed(seqs[0], "invoices", "new answered 503", Some(503), 5_000, false)
        .await
        .unwrap();
    assert_eq!(ids(store.requeued_writes(i64::MAX, 10).await.unwrap()), Vec::<String>::new());
    assert!(store.discard_dead_letter("w-4", "bo", "covered by the backfill").await.unwrap());
    assert_eq!(store.dead_letter("w-4").await.unwrap(), None);
    let stats = store.queue_stats("invoices", 4_000).await.unwrap();
    assert_eq!((stats.dead, stats.discarded), (0, 1));
    let audit = store.audit(Some("invoices"), 10).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).take(2).collect();
    assert_eq!(actions, ["write-discard", "write-retry"]);
    assert_eq!(audit[1].detail["write"], "w-1");
}

/// Verify runs: newest first, reports only when asked, the newest 100 per domain kept, other
/// domains untouched.
#[tokio::test]
async fn verify_runs_are_kept_newest_first_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).await.unwrap();
    let run = |domain: &str, i: u64| ficus_control::VerifyRun {
        id: 0,
        domain: domain.to_owned(),
        finished_at_ms: 1_000 + i,
        seconds: 0.5,
        scope: "public.orders".to_owned(),
        source_rows: i,
        target_rows: i,
        differences: i % 2,
        equal: false,
        report: Some(serde_json::json!({ "run": i })),
    };
    store.record_verify(&run("other", 0)).await.unwrap();
    let kept = ficus_control::VERIFY_RUNS_KEPT as u64;
    for i in 1..=kept + 2 {
        store.record_verify(&run("orders", i)).await.unwrap();
    }
    let runs = store.verify_runs("orders", 1000, false).await.unwrap();
    assert_eq!(runs.len() as u64, kept);
    assert_eq!(runs[0].source_rows, kept + 2, "newest first");
    assert_eq!(runs.last().unwrap().source_rows, 3, "the two oldest are gone");
    assert!(runs.iter().all(|r| r.report.is_none() && r.equal == (r.differences == 0)));
    let latest = store.verify_runs("orders", 1, true).await.unwrap();
    assert_eq!(latest[0].report, Some(serde_json::json!({ "run": kept + 2 })));
    assert_eq!(store.verify_runs("other", 10, false).await.unwrap().len(), 1);
}

/// A store and the embedded queue's writer thread on it.
async fn open_queue()
-> (tempfile::TempDir, Store, ficus_control::queue::EmbeddedQueue, Arc<tokio::sync::Notify>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).await.unwrap();
    let appended = Arc::new(tokio::sync::Notify::new());
    let queue =
        ficus_control::queue::EmbeddedQueue::start(store.clone(), Arc::clone(&appended)).unwrap();
    (dir, store, queue, appended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// The queue group-commits concurrent appends and answers each once it is durable; every one
/// reaches the table.
async fn concurrent_appends_are_each_stored_once_and_answered() {
    let (_dir, store, queue, appended) = open_queue().await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..300 {
        let queue = queue.clone();
        tasks.spawn(async move {
            queue.append(write(&format!("w-{n:03}"), &n.to_string(), None)).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    tokio::time::timeout(std::time::Duration::from_secs(1), appended.notified()).await.unwrap();
    // The relay was told at the table's first commit; the 300 may span several commits.
    queue.commit().await.unwrap();
    let rows = store.pending_after(0, 1000).await.unwrap();
    let mut ids: Vec<String> = rows.iter().map(|p| p.entry.id.clone()).collect();
    ids.sort();
    let expected: Vec<String> = (0..300).map(|n| format!("w-{n:03}")).collect();
    assert_eq!(ids, expected, "every answered append is stored, once");
    assert_eq!(rows[0].entry.body, bytes::Bytes::from_static(b"{}"));
}

/// A write appended twice (the same id, which is its Idempotency-Key) is stored once and the
/// writes after it go on; outcomes go through the same table thread.
#[tokio::test]
async fn a_write_appended_twice_is_stored_once_and_the_queue_goes_on() {
    let (_dir, store, queue, _appended) = open_queue().await;
    queue.append(write("w-1", "7", None)).await.unwrap();
    queue.append(write("w-1", "8", None)).await.unwrap();
    queue.append(write("w-2", "7", None)).await.unwrap();
    // Answered appends are durable (the log); the table shows them after its next commit.
    queue.commit().await.unwrap();
    let rows = store.pending_after(0, 10).await.unwrap();
    let seen: Vec<(&str, &str)> =
        rows.iter().map(|p| (p.entry.id.as_str(), p.entry.key.as_str())).collect();
    assert_eq!(seen, [("w-1", "7"), ("w-2", "7")], "the second w-1 is the first one again");

    // Outcomes go through the same writer: a delivered write leaves, a failed one is counted.
    let (first, second) = (rows[0].seq, rows[1].seq);
    queue
        .record(ficus_control::queue::Outcome::Delivered { seq: first, domain: "invoices".into() })
        .await
        .unwrap();
    let failed = ficus_control::queue::Outcome::Failed {
        seq: second,
        domain: "invoices".into(),
        error: "new answered 503".into(),
        status: Some(503),
        next_ms: 9_000,
        dead: false,
    };
    queue.record(failed).await.unwrap();
    queue.commit().await.unwrap();
    let rows = store.pending_after(0, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].entry.id.as_str(), rows[0].attempts), ("w-2", 1));
    let stats = store.queue_stats("invoices", 2_000).await.unwrap();
    assert_eq!((stats.depth, stats.replayed, stats.succeeded), (1, 2, 1));
}

/// While clients' appends keep the writer busy, the relay's outcomes are still committed: a
/// writer that favoured appends must not starve them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_committed_while_appends_keep_coming() {
    let (_dir, store, queue, _appended) = open_queue().await;
    queue.append(write("w-first", "1", None)).await.unwrap();
    queue.commit().await.unwrap();
    let first = store.pending_after(0, 1).await.unwrap()[0].seq;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let (queue, stop) = (queue.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut n = 0_u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut batch = tokio::task::JoinSet::new();
                for _ in 0..16 {
                    n += 1;
                    let queue = queue.clone();
                    let w = write(&format!("w-{n}"), &n.to_string(), None);
                    batch.spawn(async move { queue.append(w).await });
                }
                while let Some(done) = batch.join_next().await {
                    done.unwrap().unwrap();
                }
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let delivered =
        ficus_control::queue::Outcome::Delivered { seq: first, domain: "invoices".into() };
    let recorded = tokio::time::timeout(std::time::Duration::from_secs(5), queue.record(delivered));
    recorded.await.expect("the outcome was committed under load").unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = appender.await.unwrap();
    assert!(appended >= 16, "appends kept coming: {appended}");
    queue.commit().await.unwrap();
    let rows = store.pending_after(0, 100_000).await.unwrap();
    assert!(rows.iter().all(|p| p.entry.id != "w-first"), "the delivered write left the queue");
    assert_eq!(rows.len(), appended as usize, "every other append is there");
}
