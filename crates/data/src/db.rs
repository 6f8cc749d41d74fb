//! One connection pool per engine behind [`Db`] (never `AnyPool`, which drops connect options),
//! with the few operations the engine needs: run a statement, fetch rows of text.

use crate::dialect::{self, Dialect};
use crate::error::{DataError, Side};
use crate::{myread, pgread};
use ficus_model::mapping::Engine;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, MySqlPool, PgPool, Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// A row of text values (`None` for NULL), in select-list order.
pub type TextRow = Vec<Option<String>>;

/// Time to wait for a pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Room for a verify chunk's concatenated rows in `GROUP_CONCAT` (MariaDB/MySQL sessions; the
/// server's `max_allowed_packet`, 16 MiB by default, still caps it): a longer chunk is reported
/// cut and bisected ([`crate::verify`]).
const GROUP_CONCAT_MAX_LEN: &str = "SET SESSION group_concat_max_len = 1073741824";

/// Session settings of a pool's connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Session {
    /// PostgreSQL: commit without waiting for the WAL flush (`synchronous_commit = off`). A
    /// server crash can then lose the last transactions committed — whole, never part of
    /// one — so only for writes that are redone when lost (the backfill's chunks, each
    /// committed with its checkpoint; see `checkpoint::make_durable`). Other engines: ignored.
    pub async_commit: bool,
}

/// A database, with a pool for its engine.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl Db {
    /// Connect to `url` (`postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite:`)
    /// with at most `max_connections` connections. PostgreSQL sessions use `TimeZone=UTC`;
    /// MariaDB/MySQL sessions `time_zone='+00:00'` and `utf8mb4` (sqlx's defaults) and
    /// `group_concat_max_len` = 1 GiB.
    ///
    /// # Errors
    /// [`DataError::Url`] for an unknown scheme or a malformed URL; [`DataError::Sql`] when the
    /// server cannot be reached.
    pub async fn connect(side: Side, url: &str, max_connections: u32) -> Result<Db, DataError> {
        Db::connect_with(side, url, max_connections, Session::default()).await
    }

    /// [`Db::connect`] with session settings ([`Session`]).
    ///
    /// # Errors
    /// As [`Db::connect`].
    pub async fn connect_with(
        side: Side,
        url: &str,
        max_connections: u32,
        session: Session,
    ) -> Result<Db, DataError> {
        let engine = Engine::of_url(url).ok_or_else(|| DataError::Url {
            side,
            message:
                "not a database URL; expected postgres://…, mysql://…, mariadb://… or sqlite:…"
                    .to_owned(),
        })?;
        let bad = |e: sqlx::Error| DataError::Url { side, message: format!("invalid URL: {e}") };
        let doing = "connect";
        let max = max_connections.max(1);
        Ok(match engine {
            Engine::Postgres => {
                let mut opts =
                    PgConnectOptions::from_str(url).map_err(bad)?.options([("TimeZone", "UTC")]);
                if session.async_commit {
                    opts = opts.options([("synchronous_commit", "off")]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(opts)
                    .await
                    .map_err(DataError::sql(side, doing))?;
                Db::Postgres(pool)
            }
            Engine::MySql => {
                let url = match url.strip_prefix("mariadb://") {
                    Some(rest) => format!("mysql://{rest}"),
                    None => url.to_owned(),
                };
                let opts = MySqlConnectOptions::from_str(&url).map_err(bad)?;
                let pool = MySqlPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::Executor::execute(&mut *conn, GROUP_CONCAT_MAX_LEN).await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await
                    .map_err(DataError::sql(side, doing))?;
                Db::MySql(pool)
            }
            Engine::Sqlite => {
                let opts =
                    SqliteConnectOptions::from_str(url).map_err(bad)?.busy_timeout(ACQUIRE_TIMEOUT);
                let pool = SqlitePoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(opts)
                    .await
                    .map_err(DataError::sql(side, doing))?;
                Db::Sqlite(pool)
            }
        })
    }

    /// The engine of this database.
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
            Db::MySql(_) => Engine::MySql,
        }
    }

    /// The SQL dialect of this database.
    pub fn dialect(&self) -> &'static dyn Dialect {
        dialect::of(self.engine())
    }

    /// Run one statement with text parameters; the number of rows affected.
    ///
    /// # Errors
    /// The database's error.
    pub async fn execute(&self, sql: &str, params: &[Option<String>]) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            Db::Sqlite(p) => bind_all(sqlx::query(sql), params).execute(p).await?.rows_affected(),
            Db::Postgres(p) => bind_all(sqlx::query(sql), params).execute(p).await?.rows_affected(),
            Db::MySql(p) => bind_all(sqlx::query(sql), params).execute(p).await?.rows_affected(),
        })
    }

    /// Run a query whose every column is text (or NULL) and return the rows.
    ///
    /// # Errors
    /// The database's error.
    pub async fn fetch_texts(
        &self,
        sql: &str,
        params: &[Option<String>],
    ) -> Result<Vec<TextRow>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Db::Sqlite(p) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(p).await?;
                rows.iter().map(texts).collect()
            }
            Db::Postgres(p) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(p).await?;
                rows.iter().map(|r| pgread::texts(r, r.len())).collect()
            }
            Db::MySql(p) => mysql_fetch_texts(bind_all(sqlx::query(sql), params), p).await,
        }
    }

    /// Run a query whose columns are text (or NULL) but the last, which is read as its bytes
    /// (`bytea`, a binary or text string: whatever the engine returns, unchecked), and return
    /// each row as its texts and those bytes (`None` for NULL).
    ///
    /// # Errors
    /// The database's error.
    pub async fn fetch_texts_then_bytes(
        &self,
        sql: &str,
        params: &[Option<String>],
    ) -> Result<Vec<(TextRow, Option<Vec<u8>>)>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Db::Sqlite(p) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(p).await?;
                rows.iter().map(|r| then_bytes(r, first_texts)).collect()
            }
            Db::Postgres(p) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(p).await?;
                rows.iter().map(|r| then_bytes(r, pgread::texts)).collect()
            }
            Db::MySql(p) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(p).await?;
                rows.iter().map(|r| then_bytes(r, myread::texts)).collect()
            }
        }
    }

    /// Run SQL through the text protocol, without preparing it (DDL such as `CREATE TRIGGER`,
    /// which MariaDB/MySQL refuse to prepare; several `;`-separated statements are allowed).
    ///
    /// # Errors
    /// The database's error.
    pub async fn execute_script(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Db::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Db::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Db::MySql(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        }
    }

    /// Begin a transaction. `write_lock` asks SQLite for its write lock at once (`BEGIN
    /// IMMEDIATE`), so rows read in the transaction cannot change before it ends; the other
    /// engines lock rows with the locking reads of [`crate::dialect::Dialect::lock_rows`].
    ///
    /// # Errors
    /// The database's error.
    pub async fn begin(&self, write_lock: bool) -> Result<DbTx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) if write_lock => DbTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Sqlite(p) => DbTx::Sqlite(p.begin().await?),
            Db::Postgres(p) => DbTx::Postgres(p.begin().await?),
            Db::MySql(p) => DbTx::MySql(p.begin().await?),
        })
    }

    /// Close the pool.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
            Db::MySql(p) => p.close().await,
        }
    }
}

/// An open transaction on one of the engines; rolled back when dropped without
/// [`DbTx::commit`].
pub enum DbTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl DbTx {
    /// Run one statement with text parameters; the number of rows affected.
    ///
    /// # Errors
    /// The database's error.
    pub async fn execute(
        &mut self,
        sql: &str,
        params: &[Option<String>],
    ) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            DbTx::Sqlite(t) => {
                bind_all(sqlx::query(sql), params).execute(&mut **t).await?.rows_affected()
            }
            DbTx::Postgres(t) => {
                bind_all(sqlx::query(sql), params).execute(&mut **t).await?.rows_affected()
            }
            DbTx::MySql(t) => {
                bind_all(sqlx::query(sql), params).execute(&mut **t).await?.rows_affected()
            }
        })
    }

    /// Run a query whose every column is text (or NULL) and return the rows.
    ///
    /// # Errors
    /// The database's error.
    pub async fn fetch_texts(
        &mut self,
        sql: &str,
        params: &[Option<String>],
    ) -> Result<Vec<TextRow>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            DbTx::Sqlite(t) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(&mut **t).await?;
                rows.iter().map(texts).collect()
            }
            DbTx::Postgres(t) => {
                let rows = bind_all(sqlx::query(sql), params).fetch_all(&mut **t).await?;
                rows.iter().map(|r| pgread::texts(r, r.len())).collect()
            }
            DbTx::MySql(t) => mysql_fetch_texts(bind_all(sqlx::query(sql), params), &mut **t).await,
        }
    }

    /// Commit.
    ///
    /// # Errors
    /// The database's error.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            DbTx::Sqlite(t) => t.commit().await,
            DbTx::Postgres(t) => t.commit().await,
            DbTx::MySql(t) => t.commit().await,
        }
    }
}

/// Whether a failed statement may succeed when its transaction is run again: a deadlock, a
/// serialization failure, a lock wait timeout, or SQLite's busy/locked.
pub fn is_retryable(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    let code = db.code().unwrap_or_default();
    // PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected; MariaDB/MySQL report
    // deadlocks (1213) as 40001 and lock wait timeouts (1205) as HY000 with this message;
    // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED, 517 SQLITE_BUSY_SNAPSHOT.
    matches!(code.as_ref(), "40001" | "40P01" | "5" | "6" | "517")
        || db.message().contains("Lock wait timeout")
}

/// Whether a statement failed because its table does not exist (PostgreSQL 42P01,
/// MariaDB/MySQL 42S02, SQLite "no such table").
pub fn is_missing_table(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    matches!(db.code().as_deref(), Some("42P01" | "42S02"))
        || db.message().starts_with("no such table")
}

/// Bind every parameter as text.
pub(crate) fn bind_all<'q, DB>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    params: &[Option<String>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for p in params {
        q = q.bind(p.clone());
    }
    q
}

fn texts<R>(row: &R) -> Result<TextRow, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    first_texts(row, row.len())
}

/// The texts of a row's first `n` columns.
fn first_texts<R>(row: &R, n: usize) -> Result<TextRow, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (0..n).map(|i| row.try_get::<Option<String>, _>(i)).collect()
}

/// A row's texts (all columns but the last, by `texts`) and its last column's bytes.
fn then_bytes<R>(
    row: &R,
    texts: impl Fn(&R, usize) -> Result<TextRow, sqlx::Error>,
) -> Result<(TextRow, Option<Vec<u8>>), sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database>,
{
    let last = row.len().checked_sub(1).ok_or_else(|| sqlx::Error::ColumnNotFound("0".into()))?;
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(last)?;
    Ok((texts(row, last)?, bytes))
}

/// The rows of a MariaDB/MySQL query as [`mysql_texts`], each turned into text as it arrives
/// (no second copy of the whole result held as sqlx rows).
async fn mysql_fetch_texts<'e, E>(
    q: sqlx::query::Query<'_, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    e: E,
) -> Result<Vec<TextRow>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::MySql>,
{
    use futures_util::TryStreamExt;
    let mut rows = q.fetch(e);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        out.push(mysql_texts(&row)?);
    }
    Ok(out)
}

/// MariaDB types expressions such as `CONCAT(…)` or `CAST(… AS CHAR)` inconsistently (some with
/// the binary collation), so text is decoded without sqlx's type check, as UTF-8
/// ([`myread::texts`]).
fn mysql_texts(row: &sqlx::mysql::MySqlRow) -> Result<TextRow, sqlx::Error> {
    myread::texts(row, row.len())
}
