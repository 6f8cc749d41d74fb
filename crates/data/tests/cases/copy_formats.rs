//! The backfill's binary `COPY` lands every value as PostgreSQL's own text input does: the same
//! transfer texts, sent once in binary format (`ficus_data::pgcopy`) and once in text format,
//! read back equal for every type the encoder takes — type modifiers' rounding, padding and
//! length checks included — and a value the encoder does not read still copies (as text).

use super::{data_config, plain_backfill};
use crate::util::{PgSchema, pg_url};
use ficus_data::pgcopy::{Wire, encode, wire};
use ficus_data::{Progress, backfill, resolve_tables};
use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use std::str::FromStr;

/// (declared type, transfer texts): edge values of each type the binary encoder takes.
const CASES: &[(&str, &[&str])] = &[
    ("smallint", &["0", "-32768", "32767"]),
    ("integer", &["-2147483648", "7"]),
    ("bigint", &["9223372036854775807", "-1"]),
    (
        "numeric(12,4)",
        &["170.3610", "-0.00005", "0.00004", "12345678.12345", "0", "-0.00", "99999999.9999", "1"],
    ),
    (
        "numeric",
        &[
            "0.00001234",
            "-12345678901234567890.123456789",
            "10000",
            "0.10",
            "1000000000000000000000000",
        ],
    ),
    ("real", &["0.1", "3.4028235e38", "-1.5", "0", "16777217"]),
    ("double precision", &["0.1", "1e-300", "123456789.123456789", "-0", "2.5E10"]),
    (
        "timestamp(6)",
        &[
            "2024-01-01 00:00:01.007919",
            "1999-12-31 23:59:59.999999",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            "1970-01-01 00:00:00.5",
            "2024-02-29 12:00:00",
            "1900-03-01 00:00:00.000001",
        ],
    ),
    ("timestamp(3)", &["2024-01-01 00:00:01.007919", "2024-01-01 23:59:59.9999"]),
    ("timestamp(0)", &["2024-01-01 00:00:01.5", "2024-01-01 00:00:01.499999"]),
    ("timestamptz", &["2024-06-01 12:00:00.25", "1900-01-01 00:00:00"]),
    ("date", &["2024-02-29", "0001-01-01", "1999-12-31", "2000-01-01"]),
    ("boolean", &["1", "0"]),
    ("bytea", &["", "00ff10", "deadbeef"]),
    ("uuid", &["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC999C0B4EF8BB6D6BB9BD380A11"]),
    ("json", &[r#"{"b": 1, "a": [1, 2]}"#, "null"]),
    ("jsonb", &[r#"{"b": 1, "a": [1, 2]}"#, r#""😀""#]),
    ("varchar(10)", &["café 😀", ""]),
    ("character(5)", &["ab", ""]),
    ("text", &["x😀y", "", "tab\there", "back\\slash", "line\nbreak"]),
];

async fn connect() -> PgConnection {
    let url = pg_url();
    let opts = PgConnectOptions::from_str(&url).unwrap().options([("TimeZone", "UTC")]);
    PgConnection::connect_with(&opts).await.unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"))
}

/// COPY `data` into `table` in `format`; the error text if PostgreSQL refused it.
async fn copy(
    conn: &mut PgConnection,
    table: &str,
    format: &str,
    data: &[u8],
) -> Result<(), String> {
    let mut c = conn
        .copy_in_raw(&format!("COPY {table} (id, v) FROM STDIN WITH (FORMAT {format})"))
        .await
        .map_err(|e| e.to_string())?;
    c.send(data).await.map_err(|e| e.to_string())?;
    c.finish().await.map(|_| ()).map_err(|e| e.to_string())
}

/// The rows of `table` as PostgreSQL's text of each value, in id order.
async fn read_back(conn: &mut PgConnection, table: &str) -> Vec<(i32, Option<String>)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, v::text FROM {table} ORDER BY id")))
        .fetch_all(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn binary_copy_lands_values_as_text_copy_does() {
    let pg = PgSchema::new().await;
    let mut conn = connect().await;
    for (i, (declared, values)) in CASES.iter().enumerate() {
        let w = wire(declared).unwrap_or_else(|| panic!("{declared}: no binary encoding"));
        let (bin, txt) = (format!("{}.b{i}", pg.name), format!("{}.t{i}", pg.name));
        for table in [&bin, &txt] {
            pg.exec(&format!("CREATE TABLE {table} (id integer, v {declared})")).await;
        }
        let mut rows: Vec<Vec<Option<String>>> = values
            .iter()
            .enumerate()
            .map(|(n, v)| vec![Some(n.to_string()), Some((*v).to_owned())])
            .collect();
        rows.push(vec![Some(values.len().to_string()), None]);
        let data = encode(&rows, &[Wire::Int4, w])
            .unwrap_or_else(|| panic!("{declared}: the encoder refused one of {values:?}"));
        copy(&mut conn, &bin, "binary", &data).await.unwrap_or_else(|e| panic!("{declared}: {e}"));
        let text: String = rows
            .iter()
            .map(|r| {
                let v = r[1].as_deref().map_or("\\N".to_owned(), |v| {
                    let esc = v.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n");
                    if declared == &"bytea" { format!("\\\\x{esc}") } else { esc }
                });
                format!("{}\t{v}\n", r[0].as_deref().unwrap())
            })
            .collect();
        copy(&mut conn, &txt, "text", text.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{declared}: {e}"));
        let (b, t) = (read_back(&mut conn, &bin).await, read_back(&mut conn, &txt).await);
        assert_eq!(b.len(), values.len() + 1, "{declared}");
        assert_eq!(b, t, "{declared}: binary and text COPY differ");
    }

    // A modifier's check fails the binary COPY as it fails the text one.
    for (declared, value) in [("varchar(3)", "abcd"), ("numeric(5,2)", "12345.6")] {
        let table = format!("{}.refused", pg.name);
        pg.exec(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id integer, v {declared})"
        ))
        .await;
        let rows = vec![vec![Some("1".to_owned()), Some(value.to_owned())]];
        let data = encode(&rows, &[Wire::Int4, wire(declared).unwrap()]).unwrap();
        let bin = copy(&mut conn, &table, "binary", &data).await;
        let txt = copy(&mut conn, &table, "text", format!("1\t{value}\n").as_bytes()).await;
        assert!(bin.is_err() && txt.is_err(), "{declared} {value}: binary {bin:?}, text {txt:?}");
    }
    conn.close().await.unwrap();
    pg.drop().await;
}

/// PostgreSQL → PostgreSQL: values whose transfer text the binary encoder does not read
/// (`NaN`, `infinity`) send their chunk as text, and every row still copies exactly. (Before
/// this test, a PostgreSQL source's `infinity` timestamp was sent as NULL: `to_char` gives NULL
/// for it.)
#[tokio::test]
async fn values_the_encoder_refuses_still_copy() {
    let pg = PgSchema::new().await;
    pg.exec(
        "CREATE TABLE {schema}.src (id bigint PRIMARY KEY, amount numeric, seen timestamp, tag text);
         INSERT INTO {schema}.src SELECT g, g * 1.5, TIMESTAMP '2024-01-01' + g * INTERVAL '1 second', 'r' || g
           FROM generate_series(1, 100) g;
         UPDATE {schema}.src SET amount = 'NaN' WHERE id = 17;
         UPDATE {schema}.src SET seen = 'infinity' WHERE id = 64;
         CREATE TABLE {schema}.dst (id bigint PRIMARY KEY, amount numeric, seen timestamp, tag text)",
    )
    .await;
    let config = data_config(&format!(
        "source = \"{url}\"\ntarget = \"{url}\"\n\
         [[domains.d.data.tables]]\nsource = \"{s}.src\"\ntarget = \"{s}.dst\"\nkey = [\"id\"]\n",
        url = pg.url,
        s = pg.name
    ));
    let tables = resolve_tables(&pg.db, &pg.db, &config.tables).await.unwrap();
    assert!(tables[0].columns.iter().all(|c| c.copy.is_some()), "every column has a binary form");
    let report = backfill(&pg.db, &pg.db, &tables, &plain_backfill(10, 2), &Progress::default())
        .await
        .unwrap();
    assert_eq!(report.tables.iter().map(|t| t.rows_copied).sum::<u64>(), 100);
    let mut conn = connect().await;
    let differing: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM (SELECT * FROM {s}.src EXCEPT SELECT * FROM {s}.dst) d",
        s = pg.name
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(differing, 0, "every row copied exactly, NaN and infinity included");
    conn.close().await.unwrap();
    pg.drop().await;
}
