//! The state store in SQLite (sqlx, WAL mode, migrations run on open): each domain's phase and
//! percentages, and the append-only audit log (time, actor, domain, from, to, reason). Shadow
//! findings are in `findings.rs`.

use ficus_model::{DomainState, Percent, Phase, Plan, Transition};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How long a writer waits on a locked database before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("state store {path}: opening the write queue's connection: {source}")]
    OpenQueue { path: PathBuf, source: rusqlite::Error },
    #[error("state store {path}: migrating the schema: {source}")]
    Migrate { path: PathBuf, source: sqlx::migrate::MigrateError },
    #[error("state store: {0}")]
    Query(#[from] sqlx::Error),
    /// From the write queue's own connection (see [`crate::queue::EmbeddedQueue`]).
    #[error("state store (write queue): {0}")]
    Queue(#[from] rusqlite::Error),
    #[error("state store (write queue): its connection was poisoned by a panic")]
    QueuePoisoned,
    #[error("state store holds an invalid value for domain {domain:?}: {detail}")]
    Corrupt { domain: String, detail: String },
    #[error("domain {domain:?} changed concurrently (expected {expected}); try again")]
    Conflict { domain: String, expected: Phase },
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339 UTC time of the change.
    pub at: String,
    pub actor: String,
    pub domain: String,
    /// `init`, `advance`, `rollback`, `set`, `known-difference` or `unknown-difference`.
    pub action: String,
    pub from_phase: Option<String>,
    pub to_phase: Option<String>,
    pub reason: String,
    /// JSON object with what else changed (percentages, force).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The control-plane store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// A blocking connection on the write queue's tables with `synchronous = FULL` (every
    /// commit on disk before it returns), for the NATS backend's dead letters and the async
    /// helpers: a batch is a few prepared statements run back to back on one thread, where
    /// sqlx would hop between its connection thread and the caller for every statement. (The
    /// embedded queue's table thread has a connection of its own: [`Store::queue_writer`].)
    queue: Arc<Mutex<rusqlite::Connection>>,
    path: PathBuf,
}

/// Open the write queue's connection on the (migrated) store at `path`. Its commits never
/// checkpoint by themselves: the queue's writer checkpoints between batches, after answering
/// (see `queue::EmbeddedQueue`). Statement journals (kept while a transaction runs) stay in
/// memory rather than in a temp file.
fn open_queue_connection(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

/// Open the embedded write queue's writer connection on the (migrated) store at `path`: as
/// [`open_queue_connection`], but its commits are not synced (`synchronous = NORMAL`), because
/// the writes they insert are already durable in the queue's append log; its checkpoints are
/// (SQLite syncs the log and the database around each), and they are what lets the append log
/// start over.
fn open_queue_writer(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = open_queue_connection(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// A count or a time in milliseconds as SQLite's integer (saturating).
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl Store {
    /// Open (creating on first run) the store at `path` and bring its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Open`] or [`StoreError::Migrate`] naming the file.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path: path.to_owned(), source })?;
        let queue = open_queue_connection(path)
            .map_err(|source| StoreError::OpenQueue { path: path.to_owned(), source })?;
        Ok(Store { pool, queue: Arc::new(Mutex::new(queue)), path: path.to_owned() })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The write queue's connection, locked (blocking: call it from the writer thread or
    /// `spawn_blocking`).
    ///
    /// # Errors
    /// [`StoreError::QueuePoisoned`] after a panic while it was held.
    pub(crate) fn queue_connection(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, StoreError> {
        self.queue.lock().map_err(|_| StoreError::QueuePoisoned)
    }

    /// A new connection for the embedded write queue's writer thread ([`open_queue_writer`]).
    ///
    /// # Errors
    /// [`StoreError::OpenQueue`] naming the file.
    pub(crate) fn queue_writer(&self) -> Result<rusqlite::Connection, StoreError> {
        open_queue_writer(&self.path)
            .map_err(|source| StoreError::OpenQueue { path: self.path.clone(), source })
    }

    /// The file behind the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Give every plan domain without a stored state its initial state, audited as `init`.
    pub async fn ensure_domains(&self, plan: &Plan, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for d in &plan.domains {
            let s = DomainState::initial(d);
            let inserted = sqlx::query(
                "INSERT INTO domain_state (domain, phase, read_new_bp, shadow_bp, updated_at)
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (domain) DO NOTHING",
            )
            .bind(&d.name)
            .bind(s.phase.as_str())
            .bind(i64::from(s.read_new_percent.basis_points()))
            .bind(i64::from(s.shadow_percent.basis_points()))
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                let detail = serde_json::json!({
                    "read_new_percent": s.read_new_percent.as_percent(),
                    "shadow_percent": s.shadow_percent.as_percent(),
                });
                insert_audit(
                    &mut tx,
                    actor,
                    &d.name,
                    "init",
                    None,
                    Some(s.phase),
                    "first seen in the plan",
                    &detail,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every stored domain state by name.
    pub async fn states(&self) -> Result<HashMap<String, DomainState>, StoreError> {
        let rows = sqlx::query("SELECT domain, phase, read_new_bp, shadow_bp FROM domain_state")
            .fetch_all(&self.pool)
            .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            let domain: String = row.try_get("domain")?;
            let phase: String = row.try_get("phase")?;
            let corrupt = |detail: String| StoreError::Corrupt { domain: domain.clone(), detail };
            let phase: Phase =
                phase.parse().map_err(|e: ficus_model::PhaseParseError| corrupt(e.to_string()))?;
            let pct = |col: &str| -> Result<Percent, StoreError> {
                let bp: i64 = row.try_get(col)?;
                u16::try_from(bp)
                    .ok()
                    .and_then(Percent::from_basis_points)
                    .ok_or_else(|| corrupt(format!("{col} = {bp} is outside 0..=10000")))
            };
            let state = DomainState {
                phase,
                read_new_percent: pct("read_new_bp")?,
                shadow_percent: pct("shadow_bp")?,
            };
            out.insert(domain, state);
        }
        Ok(out)
    }

    /// Record a transition: the phase moves only if it is still `t.from` (so two concurrent
    /// changes cannot both apply), and the audit entry is written in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the stored phase is no longer `t.from`.
    pub async fn record_transition(&self, domain: &str, t: &Transition) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE domain_state SET phase = ?, updated_at = ? WHERE domain = ? AND phase = ?",
        )
        .bind(t.to.as_str())
        .bind(now())
        .bind(domain)
        .bind(t.from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(StoreError::Conflict { domain: domain.to_owned(), expected: t.from });
        }
        let detail = serde_json::json!({ "forced": t.forced });
        insert_audit(
            &mut tx,
            &t.actor,
            domain,
            t.kind.as_str(),
            Some(t.from),
            Some(t.to),
            &t.reason,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record new percentages with an audit entry (`set`) in one transaction.
    pub async fn record_percentages(
        &self,
        domain: &str,
        before: DomainState,
        after: DomainState,
        actor: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE domain_state SET read_new_bp = ?, shadow_bp = ?, updated_at = ? WHERE domain = ?")
            .bind(i64::from(after.read_new_percent.basis_points()))
            .bind(i64::from(after.shadow_percent.basis_points()))
            .bind(now())
            .bind(domain)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({
            "read_new_percent": { "from": before.read_new_percent.as_percent(), "to": after.read_new_percent.as_percent() },
            "shadow_percent": { "from": before.shadow_percent.as_percent(), "to": after.shadow_percent.as_percent() },
        });
        insert_audit(
            &mut tx,
            actor,
            domain,
            "set",
            Some(before.phase),
            Some(after.phase),
            reason,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audit entries, newest first, optionally for one domain; at most `limit`.
    pub async fn audit(
        &self,
        domain: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, domain, action, from_phase, to_phase, reason, detail FROM audit_log
             WHERE (?1 IS NULL OR domain = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(domain)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    domain: r.try_get("domain")?,
                    action: r.try_get("action")?,
                    from_phase: r.try_get("from_phase")?,
                    to_phase: r.try_get("to_phase")?,
                    reason: r.try_get("reason")?,
                    detail: serde_json::from_str(&detail)
                        .unwrap_or(serde_json::Value::String(detail)),
                })
            })
            .collect()
    }

    /// Close the pool. The write queue's connection closes with the last handle on the store
    /// (its writer thread ends when the queue's last handle is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    actor: &str,
    domain: &str,
    action: &str,
    from: Option<Phase>,
    to: Option<Phase>,
    reason: &str,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, domain, action, from_phase, to_phase, reason, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now())
    .bind(actor)
    .bind(domain)
    .bind(action)
    .bind(from.map(Phase::as_str))
    .bind(to.map(Phase::as_str))
    .bind(reason)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
