//! Verify results stored in the target with their time and scope, newest first.

use super::{items_pair, plain_backfill, quick_verify};
use ficus_data::verify::stored::{latest, store};
use ficus_data::{Progress, backfill, verify};

#[tokio::test]
async fn verify_results_are_stored_with_time_and_scope() {
    let (my, pg, tables) = items_pair(100).await;
    assert!(latest(&pg.db, &tables, "d", 5).await.unwrap().is_empty(), "nothing stored yet");
    let opts = plain_backfill(50, 1);
    backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    let clean = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    store(&pg.db, &tables, "d", &clean).await.unwrap();
    pg.exec(&format!("DELETE FROM {}.items WHERE id = 7", pg.name)).await;
    let dirty = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    store(&pg.db, &tables, "d", &dirty).await.unwrap();

    let runs = latest(&pg.db, &tables, "d", 5).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].differences, runs[1].differences), (2, 0), "newest first");
    assert!(runs[0].finished_unix_micros > runs[1].finished_unix_micros);
    assert_eq!(runs[0].scope, format!("{}.items", pg.name));
    assert_eq!((runs[1].source_rows, runs[1].target_rows), (100, 100));
    assert!(runs[1].is_equal() && !runs[0].is_equal());
    let report: serde_json::Value = serde_json::from_str(&runs[0].report_json).unwrap();
    assert_eq!(report["tables"][0]["differences"].as_array().unwrap().len(), 2);
    pg.drop().await;
    my.drop().await;
}
