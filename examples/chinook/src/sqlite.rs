//! SQLite connection settings shared by both services: WAL, a generous busy timeout, foreign
//! keys on, and a small pool, so ~16 concurrent clients never see `SQLITE_BUSY`.

use std::path::Path;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// How long a connection waits for another writer's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections per SQLite pool (readers run in parallel under WAL; writers are serialized).
pub const POOL_SIZE: u32 = 8;

/// Options for the database file at `path`: WAL journal, `synchronous=NORMAL`, foreign keys on,
/// [`BUSY_TIMEOUT`]; created if missing only when `create` is true.
pub fn options(path: &Path, create: bool) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
}

/// Opens a pool of [`POOL_SIZE`] connections with `options`.
pub async fn pool(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    SqlitePoolOptions::new()
        .max_connections(POOL_SIZE)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(options)
        .await
}
