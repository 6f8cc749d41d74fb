//! Verify runs in the control-plane store: `ficus verify` records each run (time, scope, row
//! counts, confirmed differences, the report), the admin API lists them.

use crate::store::{Store, StoreError, int};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Runs kept per domain; older ones are deleted as new ones come.
pub const VERIFY_RUNS_KEPT: i64 = 100;

/// One verify run of a domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyRun {
    /// Assigned by the store (0 before it is recorded).
    pub id: i64,
    pub domain: String,
    /// When the run finished, milliseconds since the Unix epoch.
    pub finished_at_ms: u64,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// The tables compared (target names), comma-separated.
    pub scope: String,
    pub source_rows: u64,
    pub target_rows: u64,
    /// Confirmed differences (missing, extra and different rows).
    pub differences: u64,
    /// No confirmed difference.
    pub equal: bool,
    /// The report (see `ficus verify -o json`); left out of lists.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub report: Option<serde_json::Value>,
}

impl Store {
    /// Record a run (its `id` and `equal` are ignored) and drop the domain's runs beyond the
    /// newest [`VERIFY_RUNS_KEPT`]; returns the id given.
    ///
    /// # Errors
    /// [`StoreError::Query`] from SQLite.
    pub async fn record_verify(&self, run: &VerifyRun) -> Result<i64, StoreError> {
        let report = run.report.as_ref().map_or_else(|| "null".to_owned(), ToString::to_string);
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO verify_run (domain, finished_at_ms, seconds, scope, source_rows,
             target_rows, differences, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&run.domain)
        .bind(int(run.finished_at_ms))
        .bind(run.seconds)
        .bind(&run.scope)
        .bind(int(run.source_rows))
        .bind(int(run.target_rows))
        .bind(int(run.differences))
        .bind(report)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM verify_run WHERE domain = ?1 AND id <= (SELECT id FROM verify_run
             WHERE domain = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )
        .bind(&run.domain)
        .bind(VERIFY_RUNS_KEPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest `limit` runs of `domain`, newest first; with their reports when
    /// `with_report`.
    ///
    /// # Errors
    /// [`StoreError::Query`] from SQLite.
    pub async fn verify_runs(
        &self,
        domain: &str,
        limit: u32,
        with_report: bool,
    ) -> Result<Vec<VerifyRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, domain, finished_at_ms, seconds, scope, source_rows, target_rows,
             differences, CASE WHEN ?3 THEN report END AS report
             FROM verify_run WHERE domain = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(domain)
        .bind(i64::from(limit))
        .bind(with_report)
        .fetch_all(self.pool())
        .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        rows.iter()
            .map(|r| {
                let report: Option<String> = r.try_get("report")?;
                let differences = n(r.try_get("differences")?);
                Ok(VerifyRun {
                    id: r.try_get("id")?,
                    domain: r.try_get("domain")?,
                    finished_at_ms: n(r.try_get("finished_at_ms")?),
                    seconds: r.try_get("seconds")?,
                    scope: r.try_get("scope")?,
                    source_rows: n(r.try_get("source_rows")?),
                    target_rows: n(r.try_get("target_rows")?),
                    differences,
                    equal: differences == 0,
                    report: report.and_then(|t| serde_json::from_str(&t).ok()),
                })
            })
            .collect()
    }
}
