//! Runs of one backfill that overlap: a second `ficus backfill` started beside the first, or a
//! killed run whose last transaction the server commits after the next run has read the
//! checkpoint. The rows must come out exact and every row be counted once in the checkpoints.

use super::{data_config, items_pair, plain_backfill, quick_verify};
use crate::util::{MyDatabase, PgSchema, scalar};
use ficus_data::{BackfillOptions, Db, Progress, Session, Side, backfill, resolve_tables, verify};
use std::time::Duration;

/// The slow run reads its first chunk, then waits while the fast one copies the whole table:
/// its write must not count that chunk again (it did before the checkpoint advance was
/// guarded by the last key it was read at: 10 rows too many, the flaky kill test's 250).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_backfill_count_every_row_once() {
    let (my, pg, tables) = items_pair(80).await;
    let slow =
        BackfillOptions { write_delay: Some(Duration::from_millis(700)), ..plain_backfill(10, 1) };
    let fast = plain_backfill(10, 1);
    let (slow_progress, fast_progress) = (Progress::default(), Progress::default());
    let first = backfill(&my.db, &pg.db, &tables, &slow, &slow_progress);
    let second = async {
        // After the slow run has made the checkpoint and read its first chunk.
        tokio::time::sleep(Duration::from_millis(200)).await;
        backfill(&my.db, &pg.db, &tables, &fast, &fast_progress).await
    };
    let (a, b) = tokio::join!(first, second);
    a.unwrap();
    b.unwrap();
    let sql = format!(
        "SELECT CAST(SUM(rows_copied) AS text), CAST(MIN(done) AS text) \
         FROM {}.ficus_checkpoint WHERE domain = 'd'",
        pg.name
    );
    let row = pg.db.fetch_texts(&sql, &[]).await.unwrap().into_iter().next().unwrap();
    let (counted, done) = (row[0].clone(), row[1].clone());
    assert_eq!(counted.as_deref(), Some("80"), "every row counted once");
    assert_eq!(done.as_deref(), Some("1"), "the checkpoint is finished");
    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "{}", v.to_text());
    pg.drop().await;
    my.drop().await;
}

/// A row that appears in the target's range while the backfill copies straight into it: the
/// chunk read ahead from MariaDB already encoded for a binary `COPY` fails with a unique
/// violation, and is then upserted from its rows as text under the conflict rule. The newer
/// target row stays; every other row lands, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_appearing_during_a_direct_copy_turns_the_chunk_into_upserts() {
    let (my, pg, tables) = items_pair(80).await;
    let slow =
        BackfillOptions { write_delay: Some(Duration::from_millis(300)), ..plain_backfill(10, 1) };
    let progress = Progress::default();
    let run = backfill(&my.db, &pg.db, &tables, &slow, &progress);
    let appear = async {
        // While the first chunk's write waits: a newer version of a row of the third chunk
        // (eu 21-30), as the new service would write it.
        tokio::time::sleep(Duration::from_millis(150)).await;
        pg.exec(
            "INSERT INTO {schema}.items VALUES \
             ('eu', 25, 'newer', 'n', 1, '2030-01-01 00:00:00', '2030-01-01 00:00:00')",
        )
        .await;
    };
    let (copied, ()) = tokio::join!(run, appear);
    copied.unwrap();
    let s = &pg.name;
    let sql = format!("SELECT name FROM {s}.items WHERE region = 'eu' AND id = 25");
    assert_eq!(scalar(&pg.db, &sql).await.as_deref(), Some("newer"), "the newer row stays");
    let sql = format!("SELECT CAST(count(*) AS text) FROM {s}.items");
    assert_eq!(scalar(&pg.db, &sql).await.as_deref(), Some("80"));
    let sql = format!(
        "SELECT CAST(SUM(rows_copied) AS text) FROM {s}.ficus_checkpoint WHERE domain = 'd'"
    );
    assert_eq!(scalar(&pg.db, &sql).await.as_deref(), Some("80"), "every row counted once");
    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    let keys: Vec<Vec<String>> = v.tables[0].differences.iter().map(|d| d.key.clone()).collect();
    assert_eq!(keys, vec![vec!["eu".to_owned(), "25".to_owned()]], "{}", v.to_text());
    pg.drop().await;
    my.drop().await;
}

/// Four workers on a single integer key: the key space is cut into more ranges than workers
/// (one per four chunks), the workers take them in key order, and PostgreSQL's heap comes out
/// in nearly key order. With one range per worker, four concurrent `COPY`s interleaved four
/// distant key ranges page by page (`id`'s correlation 0.21 on the bench's 1 M rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_take_key_ranges_in_key_order() {
    const ROWS: u32 = 6000;
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    my.db
        .execute(
            &format!(
                "CREATE TABLE seq_rows (id BIGINT NOT NULL PRIMARY KEY, body VARCHAR(200) NOT NULL) \
                 SELECT seq AS id, REPEAT(CHAR(97 + seq % 26), 150) AS body FROM seq_1_to_{ROWS}"
            ),
            &[],
        )
        .await
        .unwrap();
    pg.exec("CREATE TABLE {schema}.seq_rows (id bigint NOT NULL PRIMARY KEY, body text NOT NULL)")
        .await;
    let cfg = data_config(&format!(
        "source = \"mysql://unused\"\ntarget = \"postgres://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"seq_rows\"\ntarget = \"{}.seq_rows\"\nkey = [\"id\"]\n",
        pg.name
    ));
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    // Its own connections, closed after the copy: a backend flushes its statistics on exit.
    let target = Db::connect(Side::Target, &pg.url, 4).await.unwrap();
    let report = backfill(&my.db, &target, &tables, &plain_backfill(50, 4), &Progress::default())
        .await
        .unwrap();
    assert_eq!(report.tables[0].rows_copied, u64::from(ROWS));
    target.close().await;

    // A worker starting a range asks whether the target already holds rows in it. Without an
    // order, PostgreSQL answered that `LIMIT 1` by a sequential scan of the table being
    // filled, read to its end because the range was empty: 5,626 rows read here, ≈ a fifth
    // more PostgreSQL CPU in the bench. (A scan of the still empty table reads none.)
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sql = format!(
        "SELECT CAST(seq_tup_read AS text) FROM pg_stat_user_tables \
         WHERE schemaname = '{}' AND relname = 'seq_rows'",
        pg.name
    );
    let read = scalar(&pg.db, &sql).await;
    assert_eq!(read.as_deref(), Some("0"), "rows read by sequential scans of the target");

    let sql = format!(
        "SELECT CAST(count(*) AS text), CAST(SUM(rows_copied) AS text), CAST(MIN(done) AS text) \
         FROM {}.ficus_checkpoint WHERE domain = 'd'",
        pg.name
    );
    let row = pg.db.fetch_texts(&sql, &[]).await.unwrap().into_iter().next().unwrap();
    // About 6,000 rows / (4 chunks × 50 rows) = 30 ranges (the rows are InnoDB's estimate).
    let ranges: u32 = row[0].as_deref().unwrap().parse().unwrap();
    assert!((20..=40).contains(&ranges), "{ranges} ranges");
    assert_eq!(row[1].as_deref(), Some("6000"), "every row counted once");
    assert_eq!(row[2].as_deref(), Some("1"), "every range finished");

    // Physical order (ctid) against key order.
    let sql = format!(
        "SELECT CAST(corr(n, id) AS text) FROM \
         (SELECT id, row_number() OVER (ORDER BY ctid) AS n FROM {}.seq_rows) AS h",
        pg.name
    );
    let corr: f64 = scalar(&pg.db, &sql).await.unwrap().parse().unwrap();
    assert!(corr > 0.9, "the heap is not in key order: correlation {corr}");

    // The backfill gathered the table's planner statistics for its key (one row per column):
    // without them, until autovacuum came by, PostgreSQL read a key range by a bitmap heap
    // scan and a sort. The other columns are left to autovacuum.
    let sql = format!(
        "SELECT string_agg(CAST(attname AS text), ',') FROM pg_stats \
         WHERE schemaname = '{}' AND tablename = 'seq_rows'",
        pg.name
    );
    assert_eq!(scalar(&pg.db, &sql).await.as_deref(), Some("id"), "statistics of the key");
    // From a small sample (target 10: at most 11 histogram bounds), yet a row count close to
    // the table's.
    let sql = format!(
        "SELECT CAST(array_length(histogram_bounds::text::text[], 1) AS text) FROM pg_stats \
         WHERE schemaname = '{}' AND tablename = 'seq_rows'",
        pg.name
    );
    let bounds: usize = scalar(&pg.db, &sql).await.unwrap().parse().unwrap();
    assert!((2..=11).contains(&bounds), "{bounds} histogram bounds");
    let sql = format!(
        "SELECT CAST(reltuples AS text) FROM pg_class WHERE oid = '{}.seq_rows'::regclass",
        pg.name
    );
    let tuples: f64 = scalar(&pg.db, &sql).await.unwrap().parse().unwrap();
    assert!((5000.0..=7000.0).contains(&tuples), "reltuples {tuples}");
    let sql = format!(
        "EXPLAIN SELECT id FROM {}.seq_rows WHERE id > 100 AND id <= 200 ORDER BY id",
        pg.name
    );
    let plan = pg.db.fetch_texts(&sql, &[]).await.unwrap();
    let plan = plan.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect::<Vec<_>>();
    assert!(plan[0].starts_with("Index"), "a key range is read by the index: {plan:?}");

    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "{}", v.to_text());
    pg.drop().await;
    my.drop().await;
}

/// `Session { async_commit }` turns PostgreSQL's `synchronous_commit` off for the pool's
/// sessions and keeps their UTC time zone; by default `synchronous_commit` stays on.
#[tokio::test]
async fn async_commit_sessions_keep_utc() {
    let pg = PgSchema::new().await;
    let fast =
        Db::connect_with(Side::Target, &pg.url, 1, Session { async_commit: true }).await.unwrap();
    assert_eq!(scalar(&fast, "SHOW synchronous_commit").await.as_deref(), Some("off"));
    assert_eq!(scalar(&fast, "SHOW TimeZone").await.as_deref(), Some("UTC"));
    fast.close().await;
    assert_eq!(scalar(&pg.db, "SHOW synchronous_commit").await.as_deref(), Some("on"));
    pg.drop().await;
}
