//! MariaDB columns read as they are (`ResolvedColumn::source_raw`): the reader's rendering of
//! each binary-protocol value equals the text the transfer's SQL conversion gives for it, on the
//! real server, for every integer width and sign, decimals, datetimes of each precision and
//! UTF-8 text; and a backfill that reads them raw copies them exactly.

use super::{data_config, plain_backfill};
use crate::util::{MyDatabase, PgSchema};
use ficus_data::types::Class;
use ficus_data::{Progress, backfill, resolve_tables};

const COLUMNS: &[(&str, &str, Class)] = &[
    ("b", "BIGINT", Class::Int),
    ("bu", "BIGINT UNSIGNED", Class::Int),
    ("i", "INT", Class::Int),
    ("iu", "INT UNSIGNED", Class::Int),
    ("m", "MEDIUMINT", Class::Int),
    ("mu", "MEDIUMINT UNSIGNED", Class::Int),
    ("s", "SMALLINT", Class::Int),
    ("su", "SMALLINT UNSIGNED", Class::Int),
    ("d", "DECIMAL(12,4)", Class::Decimal),
    ("d0", "DECIMAL(30,0)", Class::Decimal),
    ("t6", "DATETIME(6)", Class::Timestamp),
    ("t3", "DATETIME(3)", Class::Timestamp),
    ("t0", "DATETIME", Class::Timestamp),
    ("ts", "TIMESTAMP(6) NULL", Class::Timestamp),
    ("v", "VARCHAR(50)", Class::Text),
    ("x", "TEXT", Class::Text),
];

const ROWS: &[&str] = &[
    "(1, -9223372036854775808, 18446744073709551615, -2147483648, 4294967295, -8388608, 16777215, \
      -32768, 65535, -99999999.9999, 123456789012345678901234567890, '2024-01-01 00:00:01.007919', \
      '2024-01-01 00:00:01.5', '2024-01-01 00:00:01', '2024-06-01 12:00:00.000001', 'café 😀', 'a\\tb\\nc')",
    "(2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '1000-01-01 00:00:00', '9999-12-31 23:59:59.999', \
      '2000-02-29 23:59:59', '1970-01-01 00:00:01', '', '')",
    "(3, 9223372036854775807, 1, 2147483647, 1, 8388607, 1, 32767, 1, 0.0001, -1, \
      '2024-03-01 12:00:00.100000', '2024-03-01 12:00:00.010', '2024-03-01 12:00:00', '2038-01-19 03:14:07.999999', '\u{1F680}', NULL)",
    "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
];

async fn raw_source(my: &MyDatabase) {
    let cols: Vec<String> = COLUMNS.iter().map(|(n, t, _)| format!("{n} {t}")).collect();
    my.db
        .execute(
            &format!(
                "CREATE TABLE raw_src (id INT PRIMARY KEY, {}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                cols.join(", ")
            ),
            &[],
        )
        .await
        .unwrap();
    my.db.execute(&format!("INSERT INTO raw_src VALUES {}", ROWS.join(", ")), &[]).await.unwrap();
}

#[tokio::test]
async fn raw_values_render_as_the_transfer_sql_does() {
    let my = MyDatabase::new().await;
    raw_source(&my).await;
    let d = my.db.dialect();
    for (name, declared, class) in COLUMNS {
        let raw = my
            .db
            .fetch_texts(&format!("SELECT {name} FROM raw_src ORDER BY id"), &[])
            .await
            .unwrap();
        let converted = my
            .db
            .fetch_texts(
                &format!("SELECT {} FROM raw_src ORDER BY id", d.transfer(*class, name)),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(raw.len(), ROWS.len());
        assert_eq!(raw, converted, "{name} {declared}: raw read against the transfer SQL");
    }
    my.drop().await;
}

#[tokio::test]
async fn a_backfill_reading_raw_columns_copies_them_exactly() {
    let my = MyDatabase::new().await;
    raw_source(&my).await;
    let pg = PgSchema::new().await;
    pg.exec(
        "CREATE TABLE {schema}.raw_dst (id integer PRIMARY KEY, b bigint, bu numeric(20), i integer, \
         iu bigint, m integer, mu integer, s smallint, su integer, d numeric(12,4), d0 numeric(30), \
         t6 timestamp(6), t3 timestamp(3), t0 timestamp(0), ts timestamptz, v varchar(50), x text)",
    )
    .await;
    let config = data_config(&format!(
        "source = \"{}\"\ntarget = \"{}\"\n[[domains.d.data.tables]]\nsource = \"raw_src\"\n\
         target = \"{}.raw_dst\"\nkey = [\"id\"]\n",
        my.url, pg.url, pg.name
    ));
    let tables = resolve_tables(&my.db, &pg.db, &config.tables).await.unwrap();
    let raw: Vec<&str> =
        tables[0].columns.iter().filter(|c| !c.source_raw).map(|c| c.target.as_str()).collect();
    // `bu` goes into a numeric column: an integer becoming a decimal is converted in SQL.
    assert_eq!(raw, ["bu"], "every other column is read raw");
    backfill(&my.db, &pg.db, &tables, &plain_backfill(2, 1), &Progress::default()).await.unwrap();
    let got = pg
        .db
        .fetch_texts(
            &format!(
                "SELECT concat_ws('|', id, b, bu, i, iu, m, mu, s, su, d, d0, t6, t3, t0, ts, v, x) \
                 FROM {}.raw_dst ORDER BY id",
                pg.name
            ),
            &[],
        )
        .await
        .unwrap();
    let got: Vec<String> = got.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(
        got,
        [
            "1|-9223372036854775808|18446744073709551615|-2147483648|4294967295|-8388608|16777215|\
             -32768|65535|-99999999.9999|123456789012345678901234567890|2024-01-01 00:00:01.007919|\
             2024-01-01 00:00:01.5|2024-01-01 00:00:01|2024-06-01 12:00:00.000001+00|café 😀|a\tb\nc",
            "2|0|0|0|0|0|0|0|0|0.0000|0|1000-01-01 00:00:00|9999-12-31 23:59:59.999|\
             2000-02-29 23:59:59|1970-01-01 00:00:01+00||",
            "3|9223372036854775807|1|2147483647|1|8388607|1|32767|1|0.0001|-1|\
             2024-03-01 12:00:00.1|2024-03-01 12:00:00.01|2024-03-01 12:00:00|2038-01-19 03:14:07.999999+00|🚀",
            "4",
        ]
    );
    pg.drop().await;
    my.drop().await;
}

/// PostgreSQL columns of each type `pgread` renders: (name, declared type, class).
const PG_COLUMNS: &[(&str, &str, Class)] = &[
    ("s", "smallint", Class::Int),
    ("i", "integer", Class::Int),
    ("b", "bigint", Class::Int),
    ("d", "numeric(12,4)", Class::Decimal),
    ("w", "numeric(40,10)", Class::Decimal),
    ("z", "numeric(20,0)", Class::Decimal),
    ("t6", "timestamp(6)", Class::Timestamp),
    ("t0", "timestamp(0)", Class::Timestamp),
    ("v", "varchar(20)", Class::Text),
];

const PG_ROWS: &str = "INSERT INTO {schema}.raw_pg VALUES
    (1, -32768, -2147483648, -9223372036854775808, -99999999.9999, 123456789012345678901234567890.0123456789,
     -99999999999999999999, '2024-01-01 00:00:01.007919', '2024-01-01 00:00:01', 'café 😀'),
    (2, 32767, 2147483647, 9223372036854775807, 0, 0.0000000001, 0, '0001-01-01 00:00:00',
     '9999-12-31 23:59:59', ''),
    (3, 0, 0, 0, 'NaN', 'NaN', 0, 'infinity', '-infinity', 'x'),
    (4, 1, -1, 10000, 0.5, -0.00001234, 10000, '1999-12-31 23:59:59.999999', '2000-02-29 12:00:00', 'y'),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";

async fn pg_source(pg: &PgSchema) {
    let cols: Vec<String> = PG_COLUMNS.iter().map(|(n, t, _)| format!("{n} {t}")).collect();
    pg.exec(&format!(
        "CREATE TABLE {{schema}}.raw_pg (id integer PRIMARY KEY, {})",
        cols.join(", ")
    ))
    .await;
    pg.exec(PG_ROWS).await;
}

#[tokio::test]
async fn postgres_raw_values_render_as_the_transfer_sql_does() {
    let pg = PgSchema::new().await;
    pg_source(&pg).await;
    let d = pg.db.dialect();
    for (name, declared, class) in PG_COLUMNS {
        let from = format!("FROM {}.raw_pg ORDER BY id", pg.name);
        let raw = pg.db.fetch_texts(&format!("SELECT {name} {from}"), &[]).await.unwrap();
        let converted = pg
            .db
            .fetch_texts(&format!("SELECT {} {from}", d.transfer(*class, name)), &[])
            .await
            .unwrap();
        assert_eq!(raw.len(), 5);
        assert_eq!(raw, converted, "{name} {declared}: raw read against the transfer SQL");
    }
    // Before the year 1 both keep the era (`to_char` alone drops it).
    let (ts, day) = ("TIMESTAMP '0044-03-15 12:00:00.5 BC'", "DATE '0001-12-31 BC'");
    let sql = format!(
        "SELECT {ts}, {}, {}, {}",
        d.transfer(Class::Timestamp, ts),
        d.transfer(Class::Timestamp, &format!("CAST({day} AS timestamp)")),
        d.transfer(Class::Date, day)
    );
    let bc: Vec<Option<String>> = pg.db.fetch_texts(&sql, &[]).await.unwrap().remove(0);
    assert_eq!(bc[0].as_deref(), Some("0044-03-15 12:00:00.500000 BC"), "raw");
    assert_eq!(bc[1].as_deref(), Some("0044-03-15 12:00:00.500000 BC"), "transfer SQL");
    assert_eq!(bc[2].as_deref(), Some("0001-12-31 00:00:00.000000 BC"));
    assert_eq!(bc[3].as_deref(), Some("0001-12-31 BC"));
    pg.drop().await;
}

#[tokio::test]
async fn a_postgres_backfill_reading_raw_columns_copies_them_exactly() {
    let pg = PgSchema::new().await;
    pg_source(&pg).await;
    pg.exec("CREATE TABLE {schema}.raw_pg_copy (LIKE {schema}.raw_pg INCLUDING ALL)").await;
    pg.exec("INSERT INTO {schema}.raw_pg VALUES (6, 0, 0, 0, 0, 0, 0, '0044-03-15 12:00:00.5 BC', NULL, 'bc')")
        .await;
    let config = data_config(&format!(
        "source = \"{url}\"\ntarget = \"{url}\"\n[[domains.d.data.tables]]\nsource = \"{s}.raw_pg\"\n\
         target = \"{s}.raw_pg_copy\"\nkey = [\"id\"]\n",
        url = pg.url,
        s = pg.name
    ));
    let tables = resolve_tables(&pg.db, &pg.db, &config.tables).await.unwrap();
    assert!(tables[0].columns.iter().all(|c| c.source_raw), "every column is read raw");
    backfill(&pg.db, &pg.db, &tables, &plain_backfill(2, 1), &Progress::default()).await.unwrap();
    let differing = pg
        .db
        .fetch_texts(
            &format!(
                "SELECT CAST(count(*) AS text) FROM (SELECT * FROM {s}.raw_pg EXCEPT SELECT * FROM {s}.raw_pg_copy) d",
                s = pg.name
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        differing,
        [[Some("0".to_owned())]],
        "every row copied exactly, NaN, infinite timestamps and BC included"
    );
    pg.drop().await;
}
