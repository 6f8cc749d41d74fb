//! The control-plane store and the control loop against a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ficus_control::{Control, ControlError, Store, StoreError};
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
