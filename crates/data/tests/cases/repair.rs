//! Repair from a verify JSON report: only the confirmed differing rows are re-copied, and a
//! target row that changed after the report is left alone.

use super::{items_pair, plain_backfill, quick_verify};
use ficus_data::verify::VerifyReport;
use ficus_data::{Progress, backfill, repair, verify};

#[tokio::test]
async fn repair_recopies_reported_rows_and_skips_rows_changed_since() {
    let (my, pg, tables) = items_pair(1000).await;
    let opts = plain_backfill(250, 1);
    backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    let s = &pg.name;
    // 10 missing, 10 extra, 10 changed.
    pg.exec(&format!("DELETE FROM {s}.items WHERE region = 'eu' AND id BETWEEN 11 AND 20")).await;
    pg.exec(&format!(
        "INSERT INTO {s}.items SELECT 'us', g, 'ghost', NULL, 1, NULL, now() FROM generate_series(901, 910) g"
    ))
    .await;
    pg.exec(&format!(
        "UPDATE {s}.items SET note = 'drift' WHERE region = 'us' AND id BETWEEN 31 AND 40"
    ))
    .await;
    let report = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert_eq!(report.difference_count(), 30, "{}", report.to_text());
    // The report goes through its JSON file form.
    let json = serde_json::to_string(&report).unwrap();
    let report: VerifyReport = serde_json::from_str(&json).unwrap();

    // After the report, live writes touch one row of each kind: they must survive the repair.
    pg.exec(&format!("UPDATE {s}.items SET note = 'newer' WHERE region = 'us' AND id = 31")).await;
    pg.exec(&format!("UPDATE {s}.items SET name = 'newer ghost' WHERE region = 'us' AND id = 901"))
        .await;
    pg.exec(&format!("INSERT INTO {s}.items VALUES ('eu', 11, 'newer', 'newer', 1, NULL, now())"))
        .await;

    let done = repair(&my.db, &pg.db, &tables, &report).await.unwrap();
    let t = &done.tables[0];
    assert_eq!((t.upserted, t.deleted), (18, 9), "{done:?}");
    let mut skipped = t.skipped_changed.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        vec![
            vec!["eu".to_owned(), "11".to_owned()],
            vec!["us".into(), "31".into()],
            vec!["us".into(), "901".into()]
        ]
    );

    let after = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    let mut left: Vec<Vec<String>> =
        after.tables[0].differences.iter().map(|d| d.key.clone()).collect();
    left.sort();
    assert_eq!(left, skipped, "only the rows changed after the report still differ");
    pg.drop().await;
    my.drop().await;
}
