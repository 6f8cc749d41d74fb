//! Runs of one backfill that overlap: a second `ficus backfill` started beside the first, or a
//! killed run whose last transaction the server commits after the next run has read the
//! checkpoint. The rows must come out exact and every row be counted once in the checkpoints.

use super::{items_pair, plain_backfill, quick_verify};
use ficus_data::{BackfillOptions, Progress, backfill, verify};
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
