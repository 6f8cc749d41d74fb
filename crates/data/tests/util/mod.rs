//! Test harness: unique databases on the real PostgreSQL and MariaDB of this machine (URLs from
//! `FICUS_TEST_POSTGRES_URL` / `FICUS_TEST_MYSQL_URL`), dropped at the end of each test. A
//! service that cannot be reached fails the test, naming its variable.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use ficus_data::{Db, Side};
use rand::Rng;

pub const PG_VAR: &str = "FICUS_TEST_POSTGRES_URL";
pub const MY_VAR: &str = "FICUS_TEST_MYSQL_URL";

pub fn pg_url() -> String {
    std::env::var(PG_VAR).unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn mysql_url() -> String {
    std::env::var(MY_VAR).unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff)
}

/// `scheme://auth@host:port/db?q` with the database replaced.
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    format!("{base}/{db}{query}")
}

/// A fresh PostgreSQL schema in the test database; dropped by [`PgSchema::drop`], or by
/// [`Drop`] when the test fails before it.
pub struct PgSchema {
    pub name: String,
    pub db: Db,
    pub url: String,
    dropped: bool,
}

impl PgSchema {
    pub async fn new() -> PgSchema {
        let url = pg_url();
        let db = Db::connect(Side::Target, &url, 4)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {url} (set {PG_VAR}): {e}"));
        let name = unique("ficus_t");
        db.execute(&format!("CREATE SCHEMA {name}"), &[]).await.unwrap();
        PgSchema { name, db, url, dropped: false }
    }

    /// Run a script of `;`-separated statements (`--` comment lines ignored), with
    /// `{schema}` replaced by this schema's name.
    pub async fn exec(&self, sql: &str) {
        let sql: String = sql
            .replace("{schema}", &self.name)
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
            self.db.execute(stmt, &[]).await.unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
    }

    pub async fn drop(mut self) {
        self.db.execute(&format!("DROP SCHEMA {} CASCADE", self.name), &[]).await.unwrap();
        self.db.close().await;
        self.dropped = true;
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if !self.dropped {
            drop_on_failure(pg_url(), format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A failed test's leftover, dropped on a thread of its own (the test's runtime may be
/// unwinding) over a fresh connection to `url`; errors are ignored (the test already failed).
fn drop_on_failure(url: String, sql: String) {
    let cleanup = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            if let Ok(db) = Db::connect(Side::Target, &url, 1).await {
                let _ = db.execute(&sql, &[]).await;
                db.close().await;
            }
        });
    });
    let _ = cleanup.join();
}

/// A fresh MariaDB database; dropped by [`MyDatabase::drop`], or by [`Drop`] when the test
/// fails before it.
pub struct MyDatabase {
    pub name: String,
    pub db: Db,
    pub url: String,
    admin: Db,
    dropped: bool,
}

impl MyDatabase {
    pub async fn new() -> MyDatabase {
        let server = mysql_url();
        let admin = Db::connect(Side::Source, &server, 2)
            .await
            .unwrap_or_else(|e| panic!("MariaDB unreachable at {server} (set {MY_VAR}): {e}"));
        let name = unique("ficus_t");
        admin.execute(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"), &[]).await.unwrap();
        let url = with_database(&server, &name);
        let db = Db::connect(Side::Source, &url, 4).await.unwrap();
        MyDatabase { name, db, url, admin, dropped: false }
    }

    /// Load the Chinook script (from the example crate, MIT) into this database.
    pub async fn load_chinook(&self) {
        use sqlx::Connection;
        let script = ficus_example_chinook::data::chinook_mysql_script(&self.name).unwrap();
        let mut conn = sqlx::MySqlConnection::connect(&mysql_url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut conn).await.unwrap();
        conn.close().await.ok();
    }

    pub async fn drop(mut self) {
        self.db.close().await;
        self.admin.execute(&format!("DROP DATABASE {}", self.name), &[]).await.unwrap();
        self.admin.close().await;
        self.dropped = true;
    }
}

impl Drop for MyDatabase {
    fn drop(&mut self) {
        if !self.dropped {
            drop_on_failure(mysql_url(), format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

/// One value of a single-row, single-column text query.
pub async fn scalar(db: &Db, sql: &str) -> Option<String> {
    db.fetch_texts(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .next()?
        .into_iter()
        .next()?
}
