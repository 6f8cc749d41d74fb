//! Adaptive throttling: a busy source (a probe above its maximum) pauses the backfill until it
//! calms down; the built-in probes read on the real services.

use super::{ITEMS_TARGET, data_config, items_plan, items_source, plain_backfill};
use crate::util::{MyDatabase, PgSchema};
use ficus_data::throttle::probe;
use ficus_data::{BackfillOptions, Progress, backfill, resolve_tables};
use ficus_model::mapping::{Probe, Throttle};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_busy_source_pauses_the_backfill_until_it_calms_down() {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    items_source(&my, 200).await;
    pg.exec(ITEMS_TARGET).await;
    my.db.execute("CREATE TABLE load_signal (v INT NOT NULL)", &[]).await.unwrap();
    my.db.execute("INSERT INTO load_signal VALUES (100)", &[]).await.unwrap();

    let threads = probe(&my.db, &Probe::ThreadsRunning).await.unwrap();
    assert!(threads >= 1.0, "Threads_running counts at least this query: {threads}");
    assert_eq!(probe(&pg.db, &Probe::ReplicationLag).await.unwrap(), 0.0, "no replicas here");
    assert!(probe(&pg.db, &Probe::ThreadsRunning).await.is_err());

    let cfg = data_config(&items_plan(&pg.name));
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    let opts = BackfillOptions {
        throttle: Some(Throttle {
            probe: Probe::Sql("SELECT CAST(v AS CHAR) FROM load_signal".into()),
            max: 10.0,
            check_interval: Duration::from_millis(100),
        }),
        ..plain_backfill(50, 1)
    };
    let progress = Progress::default();
    let start = Instant::now();
    let calm = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(progress.rows_done.load(Ordering::Relaxed), 0, "nothing copied while busy");
        my.db.execute("UPDATE load_signal SET v = 3", &[]).await.unwrap();
    };
    let (report, ()) = tokio::join!(backfill(&my.db, &pg.db, &tables, &opts, &progress), calm);
    let report = report.unwrap();
    assert_eq!(report.tables[0].rows_copied, 200);
    assert!(start.elapsed() >= Duration::from_millis(800));
    assert!(progress.throttle_waits.load(Ordering::Relaxed) >= 5);
    pg.drop().await;
    my.drop().await;
}
