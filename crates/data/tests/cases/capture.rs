//! Change capture against the real services: a concurrent random write workload (inserts,
//! updates, key changes, deletes, multi-row transactions) on the MariaDB source during a
//! backfill with the applier running converges to PostgreSQL; the triggers of each engine
//! (SQLite and PostgreSQL sources too) log and apply inserts, updates, key changes and deletes.

use super::{data_config, items_pair, plain_backfill, quick_verify};
use crate::util::{MyDatabase, PgSchema, scalar};
use ficus_data::capture::{self, CaptureOptions, CaptureStatus};
use ficus_data::{BackfillOptions, Db, Progress, Side, backfill, resolve_tables, verify};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts of what the workload did.
#[derive(Default)]
struct Done {
    inserts: AtomicU64,
    updates: AtomicU64,
    deletes: AtomicU64,
    key_changes: AtomicU64,
    transactions: AtomicU64,
    refused: AtomicU64,
}

fn name(rng: &mut StdRng) -> Option<String> {
    match rng.random_range(0..6) {
        0 => None,
        1 => Some(String::new()),
        2 => Some(format!("w😀{}", rng.random::<u16>())),
        _ => Some(format!("w {}", rng.random::<u32>())),
    }
}

/// One random statement on the items table (keys in `eu`/`us` × 1..=2000).
fn statement(rng: &mut StdRng) -> (&'static str, String, Vec<Option<String>>) {
    let region = if rng.random_bool(0.5) { "eu" } else { "us" }.to_owned();
    let id = rng.random_range(1..=2000u32).to_string();
    let amount =
        Some(format!("{}.{:04}", rng.random_range(0..100_000), rng.random_range(0..10_000)));
    match rng.random_range(0..100) {
        0..35 => (
            "update",
            "UPDATE items SET name = ?, amount = ?, updated_at = NOW(6) WHERE region = ? AND id = ?"
                .into(),
            vec![name(rng), amount, Some(region), Some(id)],
        ),
        35..65 => (
            "delete",
            "DELETE FROM items WHERE region = ? AND id = ?".into(),
            vec![Some(region), Some(id)],
        ),
        65..92 => (
            "insert",
            "INSERT INTO items VALUES (?, ?, ?, 'w', ?, NOW(6), NOW(6)) \
             ON DUPLICATE KEY UPDATE name = VALUES(name), updated_at = NOW(6)"
                .into(),
            vec![Some(region), Some(id), name(rng), amount],
        ),
        _ => (
            "key",
            "UPDATE items SET id = ?, updated_at = NOW(6) WHERE region = ? AND id = ?".into(),
            vec![Some(rng.random_range(2001..=2600u32).to_string()), Some(region), Some(id)],
        ),
    }
}

fn count(done: &Done, kind: &str) {
    let c = match kind {
        "update" => &done.updates,
        "delete" => &done.deletes,
        "insert" => &done.inserts,
        _ => &done.key_changes,
    };
    c.fetch_add(1, Ordering::Relaxed);
}

/// Random writes until `stop`: single statements and 3-statement transactions (which commit
/// out of changelog order). Deadlocks, lock timeouts and duplicate keys are refused writes.
async fn workload(db: &Db, seed: u64, stop: &AtomicBool, done: &Done) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        if rng.random_range(0..10) == 0 {
            let mut tx = db.begin(false).await.unwrap();
            let mut kinds = Vec::new();
            let mut ok = true;
            for _ in 0..3 {
                let (kind, sql, params) = statement(&mut rng);
                match tx.execute(&sql, &params).await {
                    Ok(_) => kinds.push(kind),
                    Err(sqlx::Error::Database(_)) => {
                        ok = false;
                        break;
                    }
                    Err(e) => panic!("{sql}: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..3))).await;
            }
            if ok && tx.commit().await.is_ok() {
                done.transactions.fetch_add(1, Ordering::Relaxed);
                kinds.iter().for_each(|k| count(done, k));
            } else {
                done.refused.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            let (kind, sql, params) = statement(&mut rng);
            match db.execute(&sql, &params).await {
                Ok(_) => count(done, kind),
                Err(sqlx::Error::Database(_)) => {
                    done.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => panic!("{sql}: {e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_writes_during_backfill_and_capture_converge() {
    let (my, pg, tables) = items_pair(3000).await;

    // Capture first, then the backfill (holding each chunk's source rows until it commits).
    capture::start(&my.db, &tables, "d").await.unwrap();
    assert!(capture::installed(&my.db, &tables, "d").await.unwrap());
    let opts = BackfillOptions {
        rate_rows_per_second: Some(1000),
        lock_source_rows: true,
        ..plain_backfill(100, 2)
    };
    let stop = AtomicBool::new(false);
    let backfill_done = AtomicBool::new(false);
    let done = Done::default();
    let status = CaptureStatus::default();
    let copt =
        CaptureOptions { poll_interval: Duration::from_millis(50), ..CaptureOptions::new("d") };
    let seed: u64 = rand::rng().random();
    eprintln!("workload seed {seed}");
    let start = Instant::now();
    let writers = async {
        let w = |i: u64| workload(&my.db, seed.wrapping_add(i), &stop, &done);
        let timer = async {
            // At least 5 s of writes, and until the backfill is over.
            tokio::time::sleep(Duration::from_secs(5)).await;
            while !backfill_done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.store(true, Ordering::Relaxed);
        };
        tokio::join!(w(0), w(1), w(2), timer);
    };
    let copy = async {
        let r = backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await;
        backfill_done.store(true, Ordering::Relaxed);
        r
    };
    let applier = capture::run(&my.db, &pg.db, &tables, &copt, &status, async {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let (_, copied, applied) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(writers, copy, applier)
    })
    .await
    .expect("workload, backfill and applier finish within 2 minutes");
    let copied = copied.unwrap();
    applied.unwrap();
    // The last changes, then the lag is zero.
    capture::apply_pending(&my.db, &pg.db, &tables, &copt, &status).await.unwrap();
    let lag = capture::lag(&my.db, &pg.db, &tables, "d").await.unwrap();
    assert_eq!(lag.pending_changes, 0);
    assert!(lag.applied_changes > 0 && lag.applied_seq > 0, "{lag:?}");

    let (ins, upd, del, keys, txs) = (
        done.inserts.load(Ordering::Relaxed),
        done.updates.load(Ordering::Relaxed),
        done.deletes.load(Ordering::Relaxed),
        done.key_changes.load(Ordering::Relaxed),
        done.transactions.load(Ordering::Relaxed),
    );
    eprintln!(
        "{:.1}s: {} rows backfilled; workload: {ins} inserts, {upd} updates, {del} deletes, {keys} key changes, \
         {txs} transactions, {} refused; applier: {} entries, {} upserts, {} deletes",
        start.elapsed().as_secs_f64(),
        copied.tables[0].rows_copied,
        done.refused.load(Ordering::Relaxed),
        status.applied.load(Ordering::Relaxed),
        status.upserted.load(Ordering::Relaxed),
        status.deleted.load(Ordering::Relaxed),
    );
    assert!(ins > 100 && upd > 100 && del > 100 && keys > 10 && txs > 10, "too little workload");
    assert!(status.deleted.load(Ordering::Relaxed) > 0);

    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "{}", v.to_text());
    assert_eq!(v.tables[0].source_rows, v.tables[0].target_rows);
    // Deleted rows stayed deleted: the target holds exactly the source's keys.
    let n = scalar(&my.db, "SELECT CAST(COUNT(*) AS CHAR) FROM items").await.unwrap();
    let m = scalar(&pg.db, &format!("SELECT CAST(COUNT(*) AS text) FROM {}.items", pg.name))
        .await
        .unwrap();
    assert_eq!(n, m);

    capture::stop(&my.db, &tables, "d", true).await.unwrap();
    assert!(!capture::installed(&my.db, &tables, "d").await.unwrap());
    pg.drop().await;
    my.drop().await;
}

/// The race the locking read closes: a row deleted after the backfill read it and before it is
/// written. Without the lock the delete commits at once, the applier applies it (nothing to
/// delete yet), then the backfill writes the row back: resurrected. With the lock the delete
/// waits for the chunk's commit, so its changelog entry is applied after the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_deleted_between_backfill_read_and_write_never_comes_back() {
    for lock in [false, true] {
        let (my, pg, tables) = items_pair(40).await;
        capture::start(&my.db, &tables, "d").await.unwrap();
        let opts = BackfillOptions {
            lock_source_rows: lock,
            write_delay: Some(Duration::from_millis(600)),
            ..plain_backfill(100, 1)
        };
        let status = CaptureStatus::default();
        let copt = CaptureOptions::new("d");
        let progress = Progress::default();
        let copy = backfill(&my.db, &pg.db, &tables, &opts, &progress);
        let race = async {
            // Inside the window between the chunk's read and its write.
            tokio::time::sleep(Duration::from_millis(250)).await;
            let t = Instant::now();
            my.db.execute("DELETE FROM items WHERE region = 'eu' AND id = 5", &[]).await.unwrap();
            let waited = t.elapsed();
            capture::apply_pending(&my.db, &pg.db, &tables, &copt, &status).await.unwrap();
            waited
        };
        let (copied, waited) = tokio::join!(copy, race);
        copied.unwrap();
        capture::apply_pending(&my.db, &pg.db, &tables, &copt, &status).await.unwrap();
        let back = scalar(
            &pg.db,
            &format!(
                "SELECT CAST(COUNT(*) AS text) FROM {}.items WHERE region = 'eu' AND id = 5",
                pg.name
            ),
        )
        .await;
        if lock {
            assert!(
                waited >= Duration::from_millis(200),
                "the delete waited for the chunk: {waited:?}"
            );
            assert_eq!(back.as_deref(), Some("0"), "the deleted row stays deleted");
            let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
            assert!(v.is_equal(), "{}", v.to_text());
        } else {
            assert!(waited < Duration::from_millis(200), "no lock: the delete did not wait");
            assert_eq!(back.as_deref(), Some("1"), "without the lock the backfill resurrects it");
        }
        pg.drop().await;
        my.drop().await;
    }
}

/// Insert, update, key change and delete on a source of `engine`, applied and verified.
async fn small_round_trip(source: &Db, target: &Db, plan: &str, exec_source: &[&str]) {
    let cfg = data_config(plan);
    let tables = resolve_tables(source, target, &cfg.tables).await.unwrap();
    capture::start(source, &tables, "d").await.unwrap();
    // Installing twice is harmless.
    capture::start(source, &tables, "d").await.unwrap();
    let opts = BackfillOptions { lock_source_rows: true, ..plain_backfill(7, 1) };
    backfill(source, target, &tables, &opts, &Progress::default()).await.unwrap();
    let v = verify(source, target, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "after the backfill: {}", v.to_text());
    // Equal chunks hash equal on both engines, SQLite's hashed here included: no chunk was
    // bisected to find the rows equal.
    assert_eq!(v.tables[0].chunks_differing, 0, "{}", v.to_text());
    for sql in exec_source {
        source.execute(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let status = CaptureStatus::default();
    let lag = capture::lag(source, target, &tables, "d").await.unwrap();
    assert_eq!(
        lag.pending_changes as usize,
        exec_source.len() + 1,
        "one entry per row, two for the key change"
    );
    let n = capture::apply_pending(source, target, &tables, &CaptureOptions::new("d"), &status)
        .await
        .unwrap();
    assert_eq!(n, lag.pending_changes);
    let v = verify(source, target, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "{}", v.to_text());
    assert_eq!(v.tables[0].source_rows, 20);
    capture::stop(source, &tables, "d", true).await.unwrap();
    assert!(!capture::installed(source, &tables, "d").await.unwrap());
    source.execute(exec_source[0], &[]).await.unwrap();
    assert_eq!(capture::lag(source, target, &tables, "d").await.unwrap().pending_changes, 0);
}

const SMALL_CHANGES: [&str; 4] = [
    "UPDATE items SET name = 'changed 😀' WHERE id = 3",
    "DELETE FROM items WHERE id = 5",
    "INSERT INTO items (id, name, amount) VALUES (100, NULL, 1.25)",
    "UPDATE items SET id = 200 WHERE id = 7",
];

#[tokio::test]
async fn sqlite_source_triggers_capture_every_kind_of_change() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("legacy.db").display());
    let source = Db::connect(Side::Source, &url, 2).await.unwrap();
    source
        .execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC(10,2))",
            &[],
        )
        .await
        .unwrap();
    for i in 1..=20 {
        source
            .execute(&format!("INSERT INTO items VALUES ({i}, 'n{i}', {i}.5)"), &[])
            .await
            .unwrap();
    }
    let pg = PgSchema::new().await;
    pg.exec("CREATE TABLE {schema}.items (id bigint PRIMARY KEY, name text, amount numeric(10,2))")
        .await;
    let plan = format!(
        "source = \"sqlite:unused\"\ntarget = \"postgres://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"items\"\ntarget = \"{}.items\"\nkey = [\"id\"]\n",
        pg.name
    );
    small_round_trip(&source, &pg.db, &plan, &SMALL_CHANGES).await;
    source.close().await;
    pg.drop().await;
}

#[tokio::test]
async fn postgres_source_triggers_capture_every_kind_of_change() {
    let pg = PgSchema::new().await;
    let my = MyDatabase::new().await;
    pg.exec("CREATE TABLE {schema}.items (id bigint PRIMARY KEY, name text, amount numeric(10,2))")
        .await;
    pg.exec("INSERT INTO {schema}.items SELECT g, 'n' || g, g + 0.5 FROM generate_series(1, 20) g")
        .await;
    my.db
        .execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(10,2)) CHARACTER SET utf8mb4", &[])
        .await
        .unwrap();
    let plan = format!(
        "source = \"postgres://unused\"\ntarget = \"mysql://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"{}.items\"\ntarget = \"items\"\nkey = [\"id\"]\n",
        pg.name
    );
    let changes: Vec<String> =
        SMALL_CHANGES.iter().map(|s| s.replace("items", &format!("{}.items", pg.name))).collect();
    let changes: Vec<&str> = changes.iter().map(String::as_str).collect();
    small_round_trip(&pg.db, &my.db, &plan, &changes).await;
    my.drop().await;
    pg.drop().await;
}

#[tokio::test]
async fn reverse_capture_applies_new_changes_to_legacy_through_the_inverted_mapping() {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    my.db
        .execute(
            "CREATE TABLE Invoice (InvoiceId INT PRIMARY KEY, Total DECIMAL(10,2) NOT NULL, \
             IssuedAt DATETIME(6) NULL, Region VARCHAR(8) NULL) CHARACTER SET utf8mb4",
            &[],
        )
        .await
        .unwrap();
    my.db
        .execute(
            "INSERT INTO Invoice VALUES (1, 1.98, '2024-01-01 02:00:00', 'x'), (2, 3.96, NULL, 'y'), (3, 5.94, '2024-02-01 12:30:00.5', NULL)",
            &[],
        )
        .await
        .unwrap();
    pg.exec(
        "CREATE TABLE {schema}.invoices (invoice_id integer PRIMARY KEY, total_cents bigint NOT NULL, \
         issued_at timestamp(6), region text, source text)",
    )
    .await;
    let plan = format!(
        "source = \"mysql://unused\"\ntarget = \"postgres://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"Invoice\"\ntarget = \"{}.invoices\"\nkey = [\"InvoiceId\"]\nrename_all = \"snake_case\"\n\
         [domains.d.data.tables.columns]\ntotal_cents = {{ from = \"Total\", transform = \"money_to_cents\" }}\n\
         issued_at = {{ from = \"IssuedAt\", transform = \"timestamp_utc\", offset = \"+02:00\" }}\n\
         source = {{ value = \"legacy\" }}\n",
        pg.name
    );
    let cfg = data_config(&plan);
    let forward = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    let opts = plain_backfill(10, 1);
    backfill(&my.db, &pg.db, &forward, &opts, &Progress::default()).await.unwrap();

    // read-new: the new side takes the writes; capture them there and apply them to legacy.
    let reverse = ficus_data::resolve_reverse(&my.db, &pg.db, &cfg.tables).await.unwrap();
    capture::start(&pg.db, &reverse, "d/reverse").await.unwrap();
    let s = &pg.name;
    pg.exec(&format!(
        "UPDATE {s}.invoices SET total_cents = 1234, region = 'eu' WHERE invoice_id = 1"
    ))
    .await;
    pg.exec(&format!("DELETE FROM {s}.invoices WHERE invoice_id = 2")).await;
    pg.exec(&format!(
        "INSERT INTO {s}.invoices VALUES (4, 999, '2024-03-01 10:00:00', NULL, 'new')"
    ))
    .await;
    let status = CaptureStatus::default();
    let n = capture::apply_pending(
        &pg.db,
        &my.db,
        &reverse,
        &CaptureOptions::new("d/reverse"),
        &status,
    )
    .await
    .unwrap();
    assert_eq!(n, 3);
    let rows = my
        .db
        .fetch_texts(
            "SELECT CAST(InvoiceId AS CHAR), CAST(Total AS CHAR), CAST(IssuedAt AS CHAR), Region FROM Invoice ORDER BY InvoiceId",
            &[],
        )
        .await
        .unwrap();
    let some = |v: &str| Some(v.to_owned());
    assert_eq!(
        rows,
        vec![
            vec![some("1"), some("12.34"), some("2024-01-01 02:00:00.000000"), some("eu")],
            vec![some("3"), some("5.94"), some("2024-02-01 12:30:00.500000"), None],
            // Offset re-applied: 10:00 UTC is 12:00 at +02:00.
            vec![some("4"), some("9.99"), some("2024-03-01 12:00:00.000000"), None],
        ]
    );
    // And forward they agree again (the constant column aside, which has no inverse).
    let v = verify(&my.db, &pg.db, &forward, &quick_verify()).await.unwrap();
    let t = &v.tables[0];
    assert_eq!((t.source_rows, t.target_rows), (3, 3));
    assert!(
        t.differences.iter().all(|d| d.columns.iter().all(|c| c.column == "source")),
        "{}",
        v.to_text()
    );
    capture::stop(&pg.db, &reverse, "d/reverse", true).await.unwrap();
    pg.drop().await;
    my.drop().await;
}
