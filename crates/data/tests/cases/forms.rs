//! Verify's cheaper checksum forms: column pairs whose declared types agree (integers, decimals
//! of equal or different scale, timestamps of any precision, UTF-8 text) are checksummed over
//! each engine's own text, the others over the canonical text, and both kinds still find exactly the planted
//! differences, with equal data hashing equal across MariaDB and PostgreSQL.

use super::{data_config, plain_backfill, quick_verify};
use crate::util::{MyDatabase, PgSchema};
use ficus_data::dialect::CheckForm;
use ficus_data::verify::DiffKind;
use ficus_data::{Progress, VerifyOptions, backfill, resolve_tables, verify};
use std::collections::BTreeMap;
use std::time::Duration;

const ROWS: i64 = 600;

async fn forms_source(my: &MyDatabase) {
    my.db
        .execute(
            "CREATE TABLE forms (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(100) NULL, \
             amount DECIMAL(12,4) NULL, wide DECIMAL(12,4) NULL, whole DECIMAL(10,0) NULL, \
             created DATETIME(6) NULL, milli DATETIME(3) NULL, sec DATETIME NULL, \
             zoned DATETIME(6) NULL, qty INT NOT NULL, loose DECIMAL(12,4) NULL, note TEXT NULL) \
             CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            &[],
        )
        .await
        .unwrap();
    let mut values = Vec::new();
    for id in 1..=ROWS {
        let name = match id % 10 {
            3 => "NULL".to_owned(),
            4 => "''".to_owned(),
            5 => format!("'x😀y {id}'"),
            _ => format!("'name {id} é'"),
        };
        // Separators of the row text, `N` (NULL's mark in the unframed forms), empty, emoji.
        let note = match id % 6 {
            0 => "NULL".to_owned(),
            1 => "'N'".to_owned(),
            2 => "''".to_owned(),
            3 => "',;:'".to_owned(),
            4 => format!("'note 😀 {id}'"),
            _ => "'a,b'".to_owned(),
        };
        let null_or = |every: i64, v: String| if id % every == 0 { "NULL".to_owned() } else { v };
        // Fractions with and without trailing zeros, zero, negatives.
        let dec =
            format!("{}.{}", id * 3 - 900, ["0000", "5000", "1234", "0100"][(id % 4) as usize]);
        // Microseconds: none, trailing zeros, all six digits.
        let micros = ["000000", "500000", "123456", "000010"][(id % 4) as usize];
        let ts = format!("'2024-03-01 12:{:02}:{:02}.{micros}'", id / 60 % 60, id % 60);
        values.push(format!(
            "({id}, {name}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {note})",
            null_or(7, dec.clone()),
            null_or(9, dec.clone()),
            null_or(11, (id * 7 - 1000).to_string()),
            null_or(13, ts.clone()),
            null_or(17, ts.clone()),
            null_or(19, ts.clone()),
            null_or(23, ts),
            id % 97,
            null_or(29, dec),
        ));
    }
    for batch in values.chunks(200) {
        my.db
            .execute(&format!("INSERT INTO forms VALUES {}", batch.join(", ")), &[])
            .await
            .unwrap();
    }
}

const FORMS_TARGET: &str = "CREATE TABLE {schema}.forms (id bigint NOT NULL PRIMARY KEY, name text, \
    amount numeric(12,4), wide numeric(16,6), whole numeric(12,2), created timestamp(6), \
    milli timestamp, sec timestamp(0), zoned timestamptz, qty bigint NOT NULL, loose numeric, \
    note varchar(200))";

#[tokio::test]
async fn agreeing_types_are_checksummed_cheaply_and_differences_still_found() {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    forms_source(&my).await;
    pg.exec(FORMS_TARGET).await;
    let cfg = data_config(&format!(
        "source = \"mysql://unused\"\ntarget = \"postgres://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"forms\"\ntarget = \"{}.forms\"\nkey = [\"id\"]\n",
        pg.name
    ));
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    let forms: BTreeMap<&str, CheckForm> =
        tables[0].columns.iter().map(|c| (c.target.as_str(), c.check)).collect();
    let expected = [
        ("amount", CheckForm::Decimal { trim: false }),
        ("created", CheckForm::IsoTimestamp),
        ("id", CheckForm::Digits),
        ("loose", CheckForm::Canon),
        ("milli", CheckForm::IsoTimestamp),
        ("name", CheckForm::Utf8),
        ("note", CheckForm::Utf8),
        ("qty", CheckForm::Digits),
        ("sec", CheckForm::IsoTimestamp),
        ("whole", CheckForm::Decimal { trim: true }),
        ("wide", CheckForm::Decimal { trim: true }),
        ("zoned", CheckForm::Canon),
    ];
    assert_eq!(forms, expected.into_iter().collect());
    let opts = plain_backfill(250, 2);
    backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    // Three ways down to rows: bisection to small leaves, buckets of whole chunks then MD5s
    // of rows, and whole chunks' rows fetched (their bytes compared by the client).
    let direct = VerifyOptions {
        chunk_rows: 200,
        recheck_delay: Duration::from_millis(50),
        fetch_leaf_bytes: 0,
        ..VerifyOptions::default()
    };
    let fetched = VerifyOptions { fetch_leaf_bytes: u64::MAX, ..direct.clone() };
    for o in [quick_verify(), direct.clone(), fetched.clone()] {
        let clean = verify(&my.db, &pg.db, &tables, &o).await.unwrap();
        assert!(clean.is_equal(), "{}", clean.to_text());
        // Equal data hashes equal across engines: no chunk even needed a bisection.
        assert_eq!(clean.tables[0].chunks_differing, 0, "{}", clean.to_text());
    }

    let s = &pg.name;
    let mut planted: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    let mut plant = |ids: &[i64], col: &'static str| {
        for id in ids {
            planted.entry(*id).or_default().push(col);
        }
    };
    let updates: [(&str, &[i64], &str); 14] = [
        ("amount = amount + 0.0001", &[10, 11, 12], "amount"),
        // Below the source's scale: the target holds a value the source cannot. (Every id
        // here has a value in its column: NULLs fall on multiples of 7, 9, 11, 13, 17, 19.)
        ("wide = wide + 0.000001", &[20, 21, 22], "wide"),
        ("whole = whole + 0.01", &[30, 31], "whole"),
        ("created = created + interval '1 microsecond'", &[40, 41, 42], "created"),
        ("milli = milli + interval '1 millisecond'", &[50, 53], "milli"),
        ("milli = milli + interval '1 microsecond'", &[52], "milli"),
        ("sec = sec + interval '1 second'", &[60, 61], "sec"),
        ("qty = qty + 1", &[70, 71], "qty"),
        ("name = ''", &[83, 93], "name"),
        ("name = replace(name, '😀', '😃')", &[105, 115], "name"),
        ("amount = NULL", &[122, 123], "amount"),
        // A character moved from one text column into the next (121's note is `N`): the two
        // texts run together the same, so only the framing tells them apart.
        ("name = name || 'N'", &[121], "name"),
        ("note = ''", &[121, 126], "note"),
        ("note = NULL", &[124], "note"),
    ];
    for (set, ids, col) in updates {
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        pg.exec(&format!("UPDATE {s}.forms SET {set} WHERE id IN ({list})")).await;
        plant(ids, col);
    }
    // Not differences: the same values written again, the same instant at another offset.
    pg.exec(&format!("UPDATE {s}.forms SET wide = wide * 1, loose = CAST(loose AS numeric(20,8)) WHERE id BETWEEN 300 AND 350")).await;
    pg.exec(&format!("UPDATE {s}.forms SET zoned = zoned AT TIME ZONE 'UTC' AT TIME ZONE 'UTC' WHERE id BETWEEN 360 AND 390")).await;
    pg.exec(&format!("DELETE FROM {s}.forms WHERE id IN (200, 201)")).await;
    pg.exec(&format!(
        "INSERT INTO {s}.forms (id, qty) VALUES ({}, 1), ({}, 2)",
        ROWS + 1,
        ROWS + 2
    ))
    .await;

    for o in [quick_verify(), direct, fetched] {
        let report = verify(&my.db, &pg.db, &tables, &o).await.unwrap();
        let t = &report.tables[0];
        let mut found: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        let (mut missing, mut extra) = (Vec::new(), Vec::new());
        for d in &t.differences {
            let id: i64 = d.key[0].parse().unwrap();
            match d.kind {
                DiffKind::Different => {
                    found.insert(id, d.columns.iter().map(|c| c.column.as_str()).collect());
                }
                DiffKind::Missing => missing.push(id),
                DiffKind::Extra => extra.push(id),
            }
        }
        assert_eq!(found, planted, "{}", report.to_text());
        assert_eq!((missing, extra), (vec![200, 201], vec![ROWS + 1, ROWS + 2]));
        // Equal rows in differing leaves (those rewritten at 300–390 included) were never
        // suspects: their digests agree across engines, fetched or hashed in the databases.
        assert_eq!(t.cleared_on_recheck, 0, "{o:?}");
        // NULL and '' stay apart, and so do 4-byte characters.
        let ne = t.differences.iter().find(|d| d.key == ["83"]).unwrap();
        assert_eq!(
            (ne.columns[0].source.clone(), ne.columns[0].target.clone()),
            (None, Some(String::new()))
        );
        let framed = t.differences.iter().find(|d| d.key == ["126"]).unwrap();
        assert_eq!(
            (framed.columns[0].source.clone(), framed.columns[0].target.clone()),
            (None, Some(String::new()))
        );
        let em = t.differences.iter().find(|d| d.key == ["105"]).unwrap();
        assert_eq!(em.columns[0].target.as_deref(), Some("x😃y 105"));
    }
    pg.drop().await;
    my.drop().await;
}

/// A chunk whose concatenated rows pass MariaDB's `GROUP_CONCAT` cap (`max_allowed_packet`,
/// 16 MiB by default) is cut there; a cut digest never passes for equal, so a change in the
/// rows beyond the cut is still found — MariaDB → MariaDB (both sides cut the same way) and
/// MariaDB → PostgreSQL.
#[tokio::test]
async fn rows_beyond_a_cut_group_concat_are_still_compared() {
    let my = MyDatabase::new().await;
    let other = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    let wide = "CREATE TABLE wide (id BIGINT NOT NULL PRIMARY KEY, body LONGTEXT NOT NULL) \
                CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
    for db in [&my.db, &other.db] {
        db.execute(wide, &[]).await.unwrap();
    }
    // 400 rows of ≈ 60 KB: 24 MB in one chunk.
    my.db
        .execute(
            "INSERT INTO wide SELECT seq, REPEAT(CONCAT('row ', seq, ' 😀 '), 5000) FROM seq_1_to_400",
            &[],
        )
        .await
        .unwrap();
    pg.exec("CREATE TABLE {schema}.wide (id bigint NOT NULL PRIMARY KEY, body text NOT NULL)")
        .await;
    let one_chunk = VerifyOptions {
        chunk_rows: 400,
        recheck_delay: Duration::from_millis(50),
        ..VerifyOptions::default()
    };
    let targets: [(&ficus_data::Db, String, &str); 2] = [
        (&other.db, "wide".to_owned(), "CONCAT(body, '!')"),
        (&pg.db, format!("{}.wide", pg.name), "body || '!'"),
    ];
    for (target, name, changed) in targets {
        let cfg = data_config(&format!(
            "source = \"mysql://unused\"\ntarget = \"mysql://unused\"\n\
             [[domains.d.data.tables]]\nsource = \"wide\"\ntarget = \"{name}\"\nkey = [\"id\"]\n"
        ));
        let tables = resolve_tables(&my.db, target, &cfg.tables).await.unwrap();
        backfill(&my.db, target, &tables, &plain_backfill(50, 1), &Progress::default())
            .await
            .unwrap();
        let clean = verify(&my.db, target, &tables, &one_chunk).await.unwrap();
        assert!(clean.is_equal(), "{}", clean.to_text());
        // Only a row far beyond the first 16 MiB of the chunk changes.
        target
            .execute(&format!("UPDATE {name} SET body = {changed} WHERE id = 390"), &[])
            .await
            .unwrap();
        let report = verify(&my.db, target, &tables, &one_chunk).await.unwrap();
        let keys: Vec<&str> =
            report.tables[0].differences.iter().map(|d| d.key[0].as_str()).collect();
        assert_eq!(keys, ["390"], "{}", report.to_text());
    }
    pg.drop().await;
    other.drop().await;
    my.drop().await;
}

/// Each side leaves the NULL test out of its own `NOT NULL` columns (their text is the same):
/// source columns `NOT NULL`, target columns nullable, and the reverse. Equal data still hashes
/// equal; a NULL on the nullable side and a changed value are still found — and a row holding
/// a MariaDB zero date in a NOT NULL column stays in the digest.
#[tokio::test]
async fn not_null_on_one_side_only_hashes_equal_and_still_finds_differences() {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    my.db
        .execute(
            "CREATE TABLE nn (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, \
             amount DECIMAL(12,4) NOT NULL, created DATETIME(6) NOT NULL, qty INT NULL, \
             note TEXT NULL) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            &[],
        )
        .await
        .unwrap();
    my.db
        .execute(
            "INSERT INTO nn SELECT seq, CONCAT('n ', seq, IF(seq % 5 = 0, ' 😀', '')), \
             seq * 1.25, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq MICROSECOND, \
             seq % 9, IF(seq % 4 = 0, NULL, CONCAT('note ', seq)) FROM seq_1_to_300",
            &[],
        )
        .await
        .unwrap();
    pg.exec(
        "CREATE TABLE {schema}.nn (id bigint NOT NULL PRIMARY KEY, name varchar(50), \
         amount numeric(12,4), created timestamp(6), qty integer NOT NULL, note text NOT NULL \
         DEFAULT '')",
    )
    .await;
    // The target's `note` is NOT NULL: the source's NULLs become '' on the way (a transform
    // would make the source side canonical; here the copy is plain and the rows with a NULL
    // note are left out of the comparison by the filter).
    let cfg = data_config(&format!(
        "source = \"mysql://unused\"\ntarget = \"postgres://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"nn\"\ntarget = \"{}.nn\"\nkey = [\"id\"]\n\
         filter = \"note IS NOT NULL\"\n",
        pg.name
    ));
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    let flags: BTreeMap<&str, (bool, bool)> = tables[0]
        .columns
        .iter()
        .map(|c| (c.target.as_str(), (c.source_not_null, c.target_not_null)))
        .collect();
    let expected = [
        ("amount", (true, false)),
        ("created", (true, false)),
        ("id", (true, true)),
        ("name", (true, false)),
        ("note", (false, true)),
        ("qty", (false, true)),
    ];
    assert_eq!(flags, expected.into_iter().collect());
    backfill(&my.db, &pg.db, &tables, &plain_backfill(100, 1), &Progress::default()).await.unwrap();
    let opts = [quick_verify(), super::fetching_verify()];
    for o in &opts {
        let clean = verify(&my.db, &pg.db, &tables, o).await.unwrap();
        assert!(clean.is_equal(), "{}", clean.to_text());
        assert_eq!(clean.tables[0].chunks_differing, 0, "{}", clean.to_text());
    }
    let s = &pg.name;
    pg.exec(&format!("UPDATE {s}.nn SET name = NULL WHERE id = 10")).await;
    pg.exec(&format!("UPDATE {s}.nn SET amount = NULL WHERE id = 21")).await;
    pg.exec(&format!("UPDATE {s}.nn SET created = NULL WHERE id = 33")).await;
    pg.exec(&format!("UPDATE {s}.nn SET name = 'n 45 😃' WHERE id = 45")).await;
    pg.exec(&format!("UPDATE {s}.nn SET qty = 100 WHERE id = 50")).await;
    pg.exec(&format!("UPDATE {s}.nn SET note = 'x' WHERE id = 61")).await;
    for o in &opts {
        let report = verify(&my.db, &pg.db, &tables, o).await.unwrap();
        let found: Vec<(String, Vec<String>)> = report.tables[0]
            .differences
            .iter()
            .map(|d| (d.key[0].clone(), d.columns.iter().map(|c| c.column.clone()).collect()))
            .collect();
        let want: Vec<(String, Vec<String>)> = [
            ("10", "name"),
            ("21", "amount"),
            ("33", "created"),
            ("45", "name"),
            ("50", "qty"),
            ("61", "note"),
        ]
        .iter()
        .map(|(k, c)| ((*k).to_owned(), vec![(*c).to_owned()]))
        .collect();
        assert_eq!(found, want, "{}", report.to_text());
    }

    // MariaDB → MariaDB with zero dates in a NOT NULL column, checksummed without a NULL test:
    // some renderings of a zero date are NULL (the canonical `TIMESTAMPDIFF`, which keeps its
    // test), and a NULL there would drop the whole row out of both digests, so that a change
    // in its other columns went unseen. Row 9 holds a zero date.
    let other = MyDatabase::new().await;
    let zero =
        "CREATE TABLE z (id BIGINT NOT NULL PRIMARY KEY, d DATETIME NOT NULL, v INT NOT NULL)";
    for db in [&my.db, &other.db] {
        db.execute("SET SESSION sql_mode = ''", &[]).await.unwrap();
        db.execute(zero, &[]).await.unwrap();
    }
    for db in [&my.db, &other.db] {
        db.execute(
            "INSERT INTO z SELECT seq, IF(seq % 3 = 0, '0000-00-00 00:00:00', '2024-01-01'), seq \
             FROM seq_1_to_50",
            &[],
        )
        .await
        .unwrap();
    }
    other.db.execute("UPDATE z SET v = 0 WHERE id = 9", &[]).await.unwrap();
    let cfg = data_config(
        "source = \"mysql://unused\"\ntarget = \"mysql://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"z\"\ntarget = \"z\"\nkey = [\"id\"]\n",
    );
    let tables = resolve_tables(&my.db, &other.db, &cfg.tables).await.unwrap();
    let d = &tables[0].columns[0];
    assert_eq!(
        (d.target.as_str(), d.check, d.source_not_null),
        ("d", CheckForm::IsoTimestamp, true)
    );
    for o in &opts {
        let report = verify(&my.db, &other.db, &tables, o).await.unwrap();
        let keys: Vec<&str> =
            report.tables[0].differences.iter().map(|d| d.key[0].as_str()).collect();
        assert_eq!(keys, ["9"], "{}", report.to_text());
    }
    other.drop().await;
    pg.drop().await;
    my.drop().await;
}
