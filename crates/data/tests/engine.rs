//! The data engine against the real PostgreSQL and MariaDB of this machine: Chinook migrated
//! MariaDB → PostgreSQL into a renamed schema and verified equal; verify finding exactly 100
//! planted differences of six kinds; resume after aborted runs; the conflict rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

#[path = "cases/capture.rs"]
mod capture;
#[path = "cases/copy_formats.rs"]
mod copy_formats;
#[path = "cases/forms.rs"]
mod forms;
#[path = "cases/harness.rs"]
mod harness;
#[path = "cases/raw_reads.rs"]
mod raw_reads;
#[path = "cases/repair.rs"]
mod repair;
#[path = "cases/runs.rs"]
mod runs;
#[path = "cases/stored.rs"]
mod stored;
#[path = "cases/throttle.rs"]
mod throttle;

use ficus_data::verify::DiffKind;
use ficus_data::{
    BackfillOptions, Db, Progress, ResolvedTable, Side, VerifyOptions, backfill, resolve_tables,
    verify,
};
use ficus_model::Plan;
use ficus_model::mapping::DataConfig;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use util::{MyDatabase, PgSchema, scalar};

/// A plan with one domain `d` whose data section is `data` (TOML after `[domains.d.data]`).
pub(crate) fn data_config(data: &str) -> DataConfig {
    let text = format!(
        "[upstreams]\nlegacy = {{ url = \"http://127.0.0.1:1\" }}\nnew = {{ url = \"http://127.0.0.1:2\" }}\n\
         [domains.d]\nroutes = [{{ path = \"/x\" }}]\n[domains.d.data]\n{data}"
    );
    let plan = Plan::parse(&text, "test.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    plan.domain("d").unwrap().data.clone().unwrap()
}

/// Small chunks and leaves, narrowed down inside the databases (never by fetched rows, so
/// the path does not depend on the catalogue's estimates).
pub(crate) fn quick_verify() -> VerifyOptions {
    VerifyOptions {
        chunk_rows: 500,
        recheck_delay: Duration::from_millis(50),
        leaf_rows: 64,
        fetch_leaf_bytes: 0,
        ..VerifyOptions::default()
    }
}

/// [`quick_verify`] with every differing leaf's rows fetched and compared by the client.
pub(crate) fn fetching_verify() -> VerifyOptions {
    VerifyOptions { fetch_leaf_bytes: u64::MAX, ..quick_verify() }
}

/// A backfill of domain `d`: no rate limit, throttle, locking read or delay.
pub(crate) fn plain_backfill(chunk_rows: u64, workers: usize) -> BackfillOptions {
    BackfillOptions {
        domain: "d".into(),
        chunk_rows,
        rate_rows_per_second: None,
        workers,
        dry_run: false,
        lock_source_rows: false,
        throttle: None,
        write_delay: None,
    }
}

fn chinook_plan(schema: &str) -> String {
    let mut s = String::from("source = \"mysql://unused\"\ntarget = \"postgres://unused\"\n");
    let tables: [(&str, &str, &str); 11] = [
        ("Genre", "genres", "\"GenreId\""),
        ("MediaType", "media_types", "\"MediaTypeId\""),
        ("Artist", "artists", "\"ArtistId\""),
        ("Album", "albums", "\"AlbumId\""),
        ("Track", "tracks", "\"TrackId\""),
        ("Employee", "employees", "\"EmployeeId\""),
        ("Customer", "customers", "\"CustomerId\""),
        ("Invoice", "invoices", "\"InvoiceId\""),
        ("InvoiceLine", "invoice_lines", "\"InvoiceLineId\""),
        ("Playlist", "playlists", "\"PlaylistId\""),
        ("PlaylistTrack", "playlist_tracks", "\"PlaylistId\", \"TrackId\""),
    ];
    for (src, tgt, key) in tables {
        s.push_str(&format!(
            "[[tables]]\nsource = \"{src}\"\ntarget = \"{schema}.{tgt}\"\nkey = [{key}]\nrename_all = \"snake_case\"\n"
        ));
        match src {
            "Track" | "InvoiceLine" => s.push_str(
                "[tables.columns]\nunit_price_cents = { from = \"UnitPrice\", transform = \"money_to_cents\" }\n",
            ),
            "Invoice" => s.push_str(
                "[tables.columns]\ntotal_cents = { from = \"Total\", transform = \"money_to_cents\" }\n\
                 invoiced_at = { from = \"InvoiceDate\", transform = \"timestamp_utc\" }\n",
            ),
            _ => {}
        }
    }
    // The data section's keys live under [domains.d.data]; tables under it.
    s.replace("[[tables]]", "[[domains.d.data.tables]]")
        .replace("[tables.columns]", "[domains.d.data.tables.columns]")
}

#[tokio::test]
async fn chinook_mariadb_to_postgres_renamed_schema_verifies_equal() {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    my.load_chinook().await;
    pg.exec(include_str!("data/chinook_target_postgres.sql")).await;

    let cfg = data_config(&chinook_plan(&pg.name));
    assert_eq!(cfg.tables.len(), 11);
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    let opts = plain_backfill(700, 3);

    let dry = backfill(
        &my.db,
        &pg.db,
        &tables,
        &BackfillOptions { dry_run: true, ..opts.clone() },
        &Progress::default(),
    )
    .await
    .unwrap();
    let total: u64 = dry.tables.iter().map(|t| t.rows_left_at_start).sum();
    assert_eq!(total, 15_607, "Chinook 1.4.5 has 15,607 rows");
    assert_eq!(
        scalar(&pg.db, &format!("SELECT CAST(COUNT(*) AS text) FROM {}.invoice_lines", pg.name))
            .await
            .as_deref(),
        Some("0")
    );

    let report = backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    let copied: u64 = report.tables.iter().map(|t| t.rows_copied).sum();
    assert_eq!(copied, 15_607);

    // Transforms landed: money as cents, timestamps as UTC.
    let inv = format!(
        "SELECT CAST(total_cents AS text) || ' ' || to_char(invoiced_at, 'YYYY-MM-DD HH24:MI') FROM {}.invoices WHERE invoice_id = 1",
        pg.name
    );
    assert_eq!(scalar(&pg.db, &inv).await.as_deref(), Some("198 2021-01-01 00:00"));
    let composite = format!("SELECT CAST(COUNT(*) AS text) FROM {}.playlist_tracks", pg.name);
    assert_eq!(scalar(&pg.db, &composite).await.as_deref(), Some("8715"));

    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "{}", v.to_text());
    assert_eq!(v.tables.iter().map(|t| t.source_rows).sum::<u64>(), 15_607);
    assert_eq!(v.tables.iter().map(|t| t.target_rows).sum::<u64>(), 15_607);

    // A second run finds every checkpoint done and copies nothing.
    let again = backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    assert!(again.tables.iter().all(|t| t.resumed && t.rows_copied == 0));
    assert_eq!(again.tables.iter().map(|t| t.rows_copied_total).sum::<u64>(), 15_607);

    // One changed cent is found, named by key and column.
    pg.exec(&format!(
        "UPDATE {}.invoices SET total_cents = total_cents + 1 WHERE invoice_id = 7",
        pg.name
    ))
    .await;
    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert_eq!(v.difference_count(), 1, "{}", v.to_text());
    let d = &v.tables.iter().find(|t| t.table.ends_with(".invoices")).unwrap().differences[0];
    assert_eq!((d.kind, d.key.clone()), (DiffKind::Different, vec!["7".to_owned()]));
    assert_eq!(d.columns[0].column, "total_cents");

    pg.drop().await;
    my.drop().await;
}

/// The source table of the planted-differences test: a composite key, NULLs and empty strings,
/// emoji, decimals with scale, timestamps with microseconds.
pub(crate) async fn items_source(my: &MyDatabase, rows: u32) {
    my.db
        .execute(
            "CREATE TABLE items (region VARCHAR(8) NOT NULL, id INT NOT NULL, \
             name VARCHAR(100) NULL, note VARCHAR(100) NULL, amount DECIMAL(12,4) NULL, \
             created DATETIME(6) NULL, updated_at DATETIME(6) NOT NULL, PRIMARY KEY (region, id)) \
             CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            &[],
        )
        .await
        .unwrap();
    let mut values = Vec::new();
    for region in ["eu", "us"] {
        for id in 1..=rows / 2 {
            let name = match id % 10 {
                3 => "NULL".to_owned(),
                4 => "''".to_owned(),
                5 => format!("'x😀y {id}'"),
                6 => format!("'tab\\tnew\\nline \\\\ {id}'"),
                _ => format!("'name {id} é'"),
            };
            let amount = if id % 7 == 0 {
                "NULL".to_owned()
            } else {
                format!("{}.{:04}", id * 3, id % 10_000)
            };
            values.push(format!(
                "('{region}', {id}, {name}, 'note {id}', {amount}, \
                 TIMESTAMP'2024-03-01 12:00:00' + INTERVAL {id} SECOND + INTERVAL {} MICROSECOND, \
                 TIMESTAMP'2024-01-01 00:00:00')",
                id * 37 % 1_000_000
            ));
        }
    }
    for batch in values.chunks(500) {
        my.db
            .execute(&format!("INSERT INTO items VALUES {}", batch.join(", ")), &[])
            .await
            .unwrap();
    }
}

pub(crate) const ITEMS_TARGET: &str = "CREATE TABLE {schema}.items (region text NOT NULL, id integer NOT NULL, \
    name text, note text, amount numeric, created timestamptz, updated_at timestamptz NOT NULL, \
    PRIMARY KEY (region, id))";

/// A MariaDB source of `rows` items, the empty PostgreSQL target table, and the mapping between
/// them resolved against both.
pub(crate) async fn items_pair(rows: u32) -> (MyDatabase, PgSchema, Vec<ResolvedTable>) {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    items_source(&my, rows).await;
    pg.exec(ITEMS_TARGET).await;
    let cfg = data_config(&items_plan(&pg.name));
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    (my, pg, tables)
}

pub(crate) fn items_plan(schema: &str) -> String {
    format!(
        "source = \"mysql://unused\"\ntarget = \"postgres://unused\"\n\
         [[domains.d.data.tables]]\nsource = \"items\"\ntarget = \"{schema}.items\"\nkey = [\"region\", \"id\"]\nversion = \"updated_at\"\n"
    )
}

#[tokio::test]
async fn verify_finds_exactly_100_planted_differences() {
    let (my, pg, tables) = items_pair(2000).await;
    backfill(&my.db, &pg.db, &tables, &plain_backfill(300, 2), &Progress::default()).await.unwrap();
    let clean = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert!(
        clean.is_equal(),
        "emoji, tabs, NULL/empty, decimals and timestamps copy equal:\n{}",
        clean.to_text()
    );

    let s = &pg.name;
    let mut expected: BTreeMap<(String, i64), (DiffKind, Vec<&str>)> = BTreeMap::new();
    let mut plant = |region: &str, ids: Vec<i64>, kind: DiffKind, cols: Vec<&'static str>| {
        for id in ids {
            assert!(
                expected.insert((region.to_owned(), id), (kind, cols.clone())).is_none(),
                "planted twice: {id}"
            );
        }
    };
    // 20 missing, 20 extra, 15 changed values, 15 NULL vs '', 15 emoji, 15 decimal scale.
    let missing: Vec<i64> = (100..120).collect();
    let extra: Vec<i64> = (5001..5021).collect();
    let changed: Vec<i64> = (200..215).collect();
    let null_to_empty: Vec<i64> = (0..8).map(|i| 303 + i * 10).collect();
    let empty_to_null: Vec<i64> = (0..7).map(|i| 404 + i * 10).collect();
    let emoji: Vec<i64> = (0..15).map(|i| 505 + i * 10).collect();
    let scale: Vec<i64> = (701..730).filter(|i| i % 7 != 0).take(15).collect();
    assert_eq!(scale.len(), 15);
    let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    pg.exec(&format!("DELETE FROM {s}.items WHERE region = 'eu' AND id IN ({})", list(&missing)))
        .await;
    pg.exec(&format!(
        "INSERT INTO {s}.items SELECT 'us', g, 'ghost', NULL, 1.5, NULL, now() FROM generate_series(5001, 5020) g"
    ))
    .await;
    pg.exec(&format!(
        "UPDATE {s}.items SET note = 'changed' WHERE region = 'us' AND id IN ({})",
        list(&changed)
    ))
    .await;
    pg.exec(&format!(
        "UPDATE {s}.items SET name = '' WHERE region = 'eu' AND id IN ({})",
        list(&null_to_empty)
    ))
    .await;
    pg.exec(&format!(
        "UPDATE {s}.items SET name = NULL WHERE region = 'eu' AND id IN ({})",
        list(&empty_to_null)
    ))
    .await;
    pg.exec(&format!(
        "UPDATE {s}.items SET name = replace(name, '😀', '😃') WHERE region = 'us' AND id IN ({})",
        list(&emoji)
    ))
    .await;
    pg.exec(&format!(
        "UPDATE {s}.items SET amount = amount + 0.0001 WHERE region = 'eu' AND id IN ({})",
        list(&scale)
    ))
    .await;
    // Not differences: the same decimal at another scale, the same instant at another offset.
    pg.exec(&format!("UPDATE {s}.items SET amount = CAST(amount AS numeric(20,8)) WHERE region = 'us' AND id BETWEEN 900 AND 950")).await;
    pg.exec(&format!("UPDATE {s}.items SET created = created AT TIME ZONE 'UTC' AT TIME ZONE 'UTC' WHERE region = 'us' AND id BETWEEN 960 AND 990")).await;
    plant("eu", missing, DiffKind::Missing, vec![]);
    plant("us", extra, DiffKind::Extra, vec![]);
    plant("us", changed, DiffKind::Different, vec!["note"]);
    plant("eu", null_to_empty, DiffKind::Different, vec!["name"]);
    plant("eu", empty_to_null, DiffKind::Different, vec!["name"]);
    plant("us", emoji, DiffKind::Different, vec!["name"]);
    plant("eu", scale, DiffKind::Different, vec!["amount"]);
    assert_eq!(expected.len(), 100);

    // Leaves narrowed down by MD5s in the databases, then by rows fetched: the same report.
    let report = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    let fetched = verify(&my.db, &pg.db, &tables, &fetching_verify()).await.unwrap();
    assert_eq!(
        serde_json::to_value(&fetched.tables).unwrap(),
        serde_json::to_value(&report.tables).unwrap()
    );
    let t = &report.tables[0];
    assert_eq!((t.source_rows, t.target_rows), (2000, 2000));
    let mut found: BTreeMap<(String, i64), (DiffKind, Vec<&str>)> = BTreeMap::new();
    for d in &t.differences {
        let key = (d.key[0].clone(), d.key[1].parse::<i64>().unwrap());
        let cols: Vec<&str> = d.columns.iter().map(|c| c.column.as_str()).collect();
        assert!(found.insert(key, (d.kind, cols)).is_none(), "reported twice: {:?}", d.key);
    }
    assert_eq!(found, expected, "{}", report.to_text());
    // NULL and '' are told apart in the report, and 4-byte characters survive.
    let ne = t.differences.iter().find(|d| d.key == ["eu", "303"]).unwrap();
    assert_eq!(
        (ne.columns[0].source.clone(), ne.columns[0].target.clone()),
        (None, Some(String::new()))
    );
    let em = t.differences.iter().find(|d| d.key == ["us", "505"]).unwrap();
    assert_eq!(em.columns[0].target.as_deref(), Some("x😃y 505"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["tables"][0]["differences"].as_array().unwrap().len(), 100);

    pg.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn aborted_backfills_resume_to_an_exactly_equal_copy() {
    let (my, pg, tables) = items_pair(3000).await;
    let opts = BackfillOptions { rate_rows_per_second: Some(20_000), ..plain_backfill(50, 2) };
    for i in 0..12u64 {
        // Abort the run at a different point each time (drops the future mid-chunk), with its
        // own connections, which close like a crashed process's: the server rolls back.
        let source = Db::connect(Side::Source, &my.url, 4).await.unwrap();
        let target = Db::connect(Side::Target, &pg.url, 4).await.unwrap();
        let cut = Duration::from_millis(5 + (i * 37) % 150);
        let _ = tokio::time::timeout(
            cut,
            backfill(&source, &target, &tables, &opts, &Progress::default()),
        )
        .await;
        drop((source, target));
    }
    let last = backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    assert!(last.tables[0].resumed);
    // Every chunk was counted once: the checkpoints' rows add up to the source exactly.
    assert_eq!(last.tables[0].rows_copied_total, 3000);
    let v = verify(&my.db, &pg.db, &tables, &quick_verify()).await.unwrap();
    assert!(v.is_equal(), "{}", v.to_text());
    pg.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn a_newer_target_row_is_never_overwritten() {
    let my = MyDatabase::new().await;
    let pg = PgSchema::new().await;
    items_source(&my, 40).await;
    pg.exec(ITEMS_TARGET).await;
    // A live write reached the target first, with a newer version.
    pg.exec(&format!(
        "INSERT INTO {}.items VALUES ('eu', 1, 'live', 'live', 9.99, NULL, '2030-01-01 00:00:00+00')",
        pg.name
    ))
    .await;
    let cfg = data_config(&items_plan(&pg.name));
    let tables = resolve_tables(&my.db, &pg.db, &cfg.tables).await.unwrap();
    let opts = plain_backfill(7, 1);
    backfill(&my.db, &pg.db, &tables, &opts, &Progress::default()).await.unwrap();
    let live = format!("SELECT name FROM {}.items WHERE region = 'eu' AND id = 1", pg.name);
    assert_eq!(scalar(&pg.db, &live).await.as_deref(), Some("live"));
    let others = format!("SELECT CAST(COUNT(*) AS text) FROM {}.items", pg.name);
    assert_eq!(scalar(&pg.db, &others).await.as_deref(), Some("40"));
    pg.drop().await;
    my.drop().await;
}
