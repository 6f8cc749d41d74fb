//! The legacy service: the Chinook schema as shipped (`Customer`, `Invoice`, `InvoiceLine`,
//! `Track`; PascalCase, `NUMERIC(10,2)` money, `DATETIME` text) on SQLite or MariaDB/MySQL.

/// Evaluates `$body` once per engine with `$pool` bound to the concrete pool (`&SqlitePool` or
/// `&MySqlPool`), so one piece of sqlx code serves both engines without `AnyPool`.
macro_rules! on_engine {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::legacy::LegacyDb::Sqlite($pool) => $body,
            $crate::legacy::LegacyDb::MySql($pool) => $body,
        }
    };
}

mod customers;
mod invoices;
mod tracks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{MySql, MySqlPool, Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::api::{self, Problem, problem};

/// The legacy database: the Chinook schema as shipped, on one of two engines.
#[derive(Debug, Clone)]
pub enum LegacyDb {
    /// A Chinook SQLite file (see [`open_sqlite`]).
    Sqlite(SqlitePool),
    /// A MariaDB/MySQL database loaded from `Chinook_MySql.sql` (see [`open_mysql`]).
    MySql(MySqlPool),
}

/// Opens an existing Chinook SQLite file (never creates one): WAL mode, 30 s busy timeout,
/// foreign keys on, 8 connections; adds the `idempotency_keys` table if missing (see
/// [`crate::api::idempotency`]).
///
/// Errors: the file is missing, cannot be opened, has no `Customer` table, or the key table
/// cannot be created.
pub async fn open_sqlite(path: &Path) -> anyhow::Result<LegacyDb> {
    if !path.is_file() {
        bail!("legacy database {} does not exist", path.display());
    }
    let pool = crate::sqlite::pool(crate::sqlite::options(path, false))
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let db = LegacyDb::Sqlite(pool);
    check_schema(&db).await.with_context(|| format!("checking {}", path.display()))?;
    create_key_table(&db).await.with_context(|| format!("preparing {}", path.display()))?;
    Ok(db)
}

/// Opens a MariaDB/MySQL database holding the Chinook schema, e.g.
/// `mysql://root@127.0.0.1:3306/Chinook` (16 connections); adds the `idempotency_keys` table if
/// missing (see [`crate::api::idempotency`]).
///
/// Errors: the server is unreachable, the login fails, the database has no `Customer` table, or
/// the key table cannot be created (the user needs the `CREATE` privilege the first time).
pub async fn open_mysql(url: &str) -> anyhow::Result<LegacyDb> {
    let pool = MySqlPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(60))
        .connect(url)
        .await
        .context("connecting to MariaDB/MySQL")?;
    let db = LegacyDb::MySql(pool);
    check_schema(&db).await.context("checking the Chinook schema")?;
    create_key_table(&db).await.context("creating the idempotency_keys table")?;
    Ok(db)
}

/// Creates database `database` on the MariaDB/MySQL server at `server_url` (a URL without a
/// database path, e.g. `mysql://root@127.0.0.1:3306`) and loads the embedded Chinook schema and
/// data into it, replacing any database of that name.
///
/// Errors: the name is not 1-64 ASCII letters, digits or `_`; the server is unreachable; a
/// statement fails.
pub async fn load_mysql(server_url: &str, database: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let script = crate::data::chinook_mysql_script(database)?;
    let mut conn =
        sqlx::MySqlConnection::connect(server_url).await.context("connecting to MariaDB/MySQL")?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut conn)
        .await
        .with_context(|| format!("loading Chinook into database {database}"))?;
    conn.close().await.ok();
    Ok(())
}

async fn check_schema(db: &LegacyDb) -> Result<(), sqlx::Error> {
    const PROBE: &str = "SELECT COUNT(*) FROM Customer";
    on_engine!(db, |pool| sqlx::query(PROBE).fetch_one(pool).await.map(drop))
}

/// The Chinook schema as shipped plus the table of `Idempotency-Key`s, created if missing (the
/// only addition the legacy service makes to the schema).
async fn create_key_table(db: &LegacyDb) -> Result<(), sqlx::Error> {
    use crate::api::idempotency::{MYSQL_TABLE, SQLITE_TABLE};
    match db {
        LegacyDb::Sqlite(pool) => sqlx::query(SQLITE_TABLE).execute(pool).await.map(drop),
        LegacyDb::MySql(pool) => sqlx::query(MYSQL_TABLE).execute(pool).await.map(drop),
    }
}

/// Builds the legacy service: `/customers`, `/invoices`, `/tracks` (list, get, create, replace,
/// delete) and `/healthz`, all answering JSON or problem+json. Creates, replaces and deletes
/// honour `Idempotency-Key` (see [`crate::api::idempotency`]).
pub fn router(db: LegacyDb) -> Router {
    let state = AppState { db, sqlite_writes: Arc::new(Mutex::new(())) };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/customers", get(customers::list).post(customers::create))
        .route(
            "/customers/{id}",
            get(customers::get).put(customers::replace).delete(customers::delete),
        )
        .route("/invoices", get(invoices::list).post(invoices::create))
        .route("/invoices/{id}", get(invoices::get).put(invoices::replace).delete(invoices::delete))
        .route("/tracks", get(tracks::list).post(tracks::create))
        .route("/tracks/{id}", get(tracks::get).put(tracks::replace).delete(tracks::delete))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::no_method)
        .with_state(state)
}

/// Shared state of the legacy handlers.
#[derive(Clone)]
struct AppState {
    db: LegacyDb,
    /// Serializes this process's SQLite write transactions (fair queueing instead of
    /// busy-polling); unused for MariaDB.
    sqlite_writes: Arc<Mutex<()>>,
}

impl AppState {
    /// Taken before a write transaction; `Some` only for SQLite.
    async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match self.db {
            LegacyDb::Sqlite(_) => Some(self.sqlite_writes.lock().await),
            LegacyDb::MySql(_) => None,
        }
    }
}

/// Starts a write transaction the way each engine needs it.
trait BeginWrite {
    type Db: sqlx::Database;

    /// SQLite: `BEGIN IMMEDIATE` (takes the write lock up front, so no lock upgrade can fail);
    /// MySQL: a plain transaction.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for MySqlPool {
    type Db = MySql;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, MySql>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// Maps an error of an `INSERT` with id `id`: duplicate key → 409 if the id was asked for
/// (`Ficus-Authoritative-Id`), else retryable (two writers picked the same next id); foreign
/// key → 422; anything else as [`Problem::from`].
fn insert_error(error: sqlx::Error, what: &str, id: i64, asked: bool) -> Problem {
    if problem::is_unique_violation(&error) {
        if asked {
            return Problem::conflict(format!("{what} {id} already exists"));
        }
        return Problem { retryable: true, ..Problem::internal() };
    }
    write_error(error)
}

/// Maps an error of an `UPDATE`/`INSERT`: foreign key → 422 (a referenced row vanished
/// meanwhile); anything else as [`Problem::from`].
fn write_error(error: sqlx::Error) -> Problem {
    if problem::is_foreign_key_violation(&error) {
        return Problem::unprocessable("a referenced row does not exist");
    }
    Problem::from(error)
}

/// Maps an error of a `DELETE`: foreign key → 409 (still referenced); else as [`Problem::from`].
fn delete_error(error: sqlx::Error, what: &str, id: i64) -> Problem {
    if problem::is_foreign_key_violation(&error) {
        return Problem::conflict(format!("{what} {id} is still referenced"));
    }
    Problem::from(error)
}

/// Converts legacy decimal text (`CAST(x AS CHAR)`) to cents; malformed data is a 500.
fn cents(text: &str) -> Result<api::Cents, Problem> {
    api::Cents::parse_decimal(text).map_err(|error| {
        tracing::error!(%error, "bad money value in the legacy database");
        Problem::internal()
    })
}

/// Converts legacy `DATETIME` text to a timestamp; malformed data is a 500.
fn timestamp(text: &str) -> Result<api::Timestamp, Problem> {
    api::Timestamp::parse_legacy(text).map_err(|error| {
        tracing::error!(%error, "bad date-time value in the legacy database");
        Problem::internal()
    })
}

async fn healthz(State(state): State<AppState>) -> Result<Response, Problem> {
    on_engine!(&state.db, |pool| sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
    Ok(api::healthy())
}
