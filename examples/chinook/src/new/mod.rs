//! The new service: a redesigned SQLite schema (`customers`, `invoices`, `invoice_lines`,
//! `tracks`; integer cents, UTC ISO-8601 text) serving the same JSON API as legacy.

mod customers;
mod import;
mod invoices;
mod tracks;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use sqlx::SqlitePool;
use tokio::sync::{Mutex, MutexGuard};

use crate::api::{self, Problem, problem};

/// The new schema's migrations (`examples/chinook/migrations/new/`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/new");

/// Opens (creating it if missing) the new service's SQLite file at `path` — WAL mode, 30 s busy
/// timeout, foreign keys on, 8 connections — then runs [`init`] with `chinook_sqlite` as the
/// import source.
///
/// Errors: the file cannot be created or opened; [`init`] fails.
pub async fn open(path: &Path, chinook_sqlite: &Path) -> anyhow::Result<SqlitePool> {
    let pool = crate::sqlite::pool(crate::sqlite::options(path, true))
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    init(&pool, chinook_sqlite).await?;
    Ok(pool)
}

/// Creates the schema (migrations, including the `idempotency_keys` table; already-applied ones
/// are skipped) and, if `customers`,
/// `invoices`, `invoice_lines` and `tracks` are all empty, imports the Chinook data from the
/// SQLite file `chinook_sqlite` (opened read-only) in one transaction: money to cents, dates to
/// `YYYY-MM-DDTHH:MM:SSZ`, ids kept. Idempotent.
///
/// Errors: a migration fails; the Chinook file cannot be attached or read; a row does not
/// convert (e.g. an unparsable date).
pub async fn init(pool: &SqlitePool, chinook_sqlite: &Path) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("migrating the new schema")?;
    import::import_if_empty(pool, chinook_sqlite)
        .await
        .with_context(|| format!("importing Chinook from {}", chinook_sqlite.display()))?;
    Ok(())
}

/// Builds the new service: `/customers`, `/invoices`, `/tracks` (list, get, create, replace,
/// delete) and `/healthz`, all answering JSON or problem+json. Creates, replaces and deletes
/// honour `Idempotency-Key` (see [`crate::api::idempotency`]).
pub fn router(pool: SqlitePool) -> Router {
    let state = AppState { pool, writes: Arc::new(Mutex::new(())) };
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

/// Shared state of the new handlers.
#[derive(Clone)]
struct AppState {
    pool: SqlitePool,
    /// Serializes this process's write transactions (fair queueing instead of busy-polling).
    writes: Arc<Mutex<()>>,
}

impl AppState {
    /// Takes the write lock and starts a `BEGIN IMMEDIATE` transaction; keep the guard until the
    /// transaction ends.
    async fn begin_write(
        &self,
    ) -> Result<(MutexGuard<'_, ()>, sqlx::Transaction<'static, sqlx::Sqlite>), Problem> {
        let guard = self.writes.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }
}

/// Maps an error of an `INSERT` with id `id` asked for by the client: duplicate key → 409;
/// foreign key → 422; else as [`Problem::from`].
fn insert_error(error: sqlx::Error, what: &str, id: Option<i64>) -> Problem {
    match id {
        Some(id) if problem::is_unique_violation(&error) => {
            Problem::conflict(format!("{what} {id} already exists"))
        }
        _ => write_error(error),
    }
}

/// Maps an error of an `UPDATE`/`INSERT`: foreign key → 422; else as [`Problem::from`].
fn write_error(error: sqlx::Error) -> Problem {
    if problem::is_foreign_key_violation(&error) {
        return Problem::unprocessable("a referenced row does not exist");
    }
    Problem::from(error)
}

/// Maps an error of a `DELETE`: foreign key → 409; else as [`Problem::from`].
fn delete_error(error: sqlx::Error, what: &str, id: i64) -> Problem {
    if problem::is_foreign_key_violation(&error) {
        return Problem::conflict(format!("{what} {id} is still referenced"));
    }
    Problem::from(error)
}

async fn healthz(State(state): State<AppState>) -> Result<Response, Problem> {
    sqlx::query("SELECT 1").execute(&state.pool).await?;
    Ok(api::healthy())
}
