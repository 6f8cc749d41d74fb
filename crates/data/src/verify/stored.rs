//! Verify results kept with their time and scope: `ficus_verify_result` in the target (in the
//! schema of the domain's first target table), one row per run — what the gate "recent
//! verification clean" reads, and what an operator lists.

use super::VerifyReport;
use crate::db::{Db, is_missing_table};
use crate::error::{DataError, Side};
use crate::resolve::ResolvedTable;
use crate::types::Class;

/// Differences kept in a stored report (the counts stay exact).
const STORED_DIFFERENCES: usize = 1000;

/// One stored verify run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredVerify {
    pub domain: String,
    /// When the run finished, Unix microseconds.
    pub finished_unix_micros: u64,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// The tables compared (target names), comma-separated.
    pub scope: String,
    pub source_rows: u64,
    pub target_rows: u64,
    /// Confirmed differences.
    pub differences: u64,
    /// The report as JSON (at most 1000 differences per table).
    pub report_json: String,
}

impl StoredVerify {
    /// No confirmed difference.
    pub fn is_equal(&self) -> bool {
        self.differences == 0
    }
}

fn table(target: &Db, tables: &[ResolvedTable]) -> String {
    let d = target.dialect();
    match tables.first().and_then(|t| t.name.split_once('.')) {
        Some((schema, _)) => format!("{}.{}", d.quote(schema), d.quote("ficus_verify_result")),
        None => d.quote("ficus_verify_result"),
    }
}

/// Store a run's result; returns what was stored.
///
/// # Errors
/// [`DataError::Sql`] from the target.
pub async fn store(
    target: &Db,
    tables: &[ResolvedTable],
    domain: &str,
    report: &VerifyReport,
) -> Result<StoredVerify, DataError> {
    let t = table(target, tables);
    let err = |doing: &'static str| DataError::sql(Side::Target, doing);
    target
        .execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {t} (domain VARCHAR(64) NOT NULL, finished_unix_micros BIGINT NOT NULL, \
                 seconds DOUBLE PRECISION NOT NULL, scope TEXT NOT NULL, source_rows BIGINT NOT NULL, \
                 target_rows BIGINT NOT NULL, differences BIGINT NOT NULL, report_json TEXT NOT NULL)"
            ),
            &[],
        )
        .await
        .map_err(err("create the verify result table"))?;
    let mut trimmed = report.clone();
    for tv in &mut trimmed.tables {
        tv.differences.truncate(STORED_DIFFERENCES);
    }
    let stored = StoredVerify {
        domain: domain.to_owned(),
        finished_unix_micros: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
        seconds: report.seconds,
        scope: report.tables.iter().map(|t| t.table.as_str()).collect::<Vec<_>>().join(","),
        source_rows: report.tables.iter().map(|t| t.source_rows).sum(),
        target_rows: report.tables.iter().map(|t| t.target_rows).sum(),
        differences: report.difference_count() as u64,
        report_json: serde_json::to_string(&trimmed).unwrap_or_default(),
    };
    let d = target.dialect();
    let int = |n| d.param(Class::Int, &d.placeholder(n));
    let sql = format!(
        "INSERT INTO {t} (domain, finished_unix_micros, seconds, scope, source_rows, target_rows, differences, report_json) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
        d.placeholder(1),
        int(2),
        d.param(Class::Float, &d.placeholder(3)),
        d.placeholder(4),
        int(5),
        int(6),
        int(7),
        d.placeholder(8),
    );
    let params = vec![
        Some(stored.domain.clone()),
        Some(stored.finished_unix_micros.to_string()),
        Some(stored.seconds.to_string()),
        Some(stored.scope.clone()),
        Some(stored.source_rows.to_string()),
        Some(stored.target_rows.to_string()),
        Some(stored.differences.to_string()),
        Some(stored.report_json.clone()),
    ];
    target.execute(&sql, &params).await.map_err(err("store the verify result"))?;
    Ok(stored)
}

/// The newest `limit` stored runs of `domain`, newest first (none when nothing was stored).
///
/// # Errors
/// [`DataError::Sql`] from the target, other than a missing table.
pub async fn latest(
    target: &Db,
    tables: &[ResolvedTable],
    domain: &str,
    limit: u64,
) -> Result<Vec<StoredVerify>, DataError> {
    let t = table(target, tables);
    let d = target.dialect();
    let sql = format!(
        "SELECT domain, {}, {}, scope, {}, {}, {}, report_json FROM {t} WHERE domain = {} \
         ORDER BY finished_unix_micros DESC {}",
        d.to_text("finished_unix_micros"),
        d.to_text("seconds"),
        d.to_text("source_rows"),
        d.to_text("target_rows"),
        d.to_text("differences"),
        d.placeholder(1),
        d.limit_offset(limit, 0)
    );
    let rows = match target.fetch_texts(&sql, &[Some(domain.to_owned())]).await {
        Ok(r) => r,
        Err(e) if is_missing_table(&e) => return Ok(vec![]),
        Err(e) => return Err(DataError::sql(Side::Target, "read verify results")(e)),
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            let mut next = || it.next().unwrap_or_default();
            let num = |s: String| s.parse::<f64>().unwrap_or(0.0);
            StoredVerify {
                domain: next(),
                finished_unix_micros: num(next()) as u64,
                seconds: num(next()),
                scope: next(),
                source_rows: num(next()) as u64,
                target_rows: num(next()) as u64,
                differences: num(next()) as u64,
                report_json: next(),
            }
        })
        .collect())
}
