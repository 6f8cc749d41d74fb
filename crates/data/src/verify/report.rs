//! The verify report: per table, counts, chunks compared, and the confirmed row differences with
//! their differing columns; as JSON (serde) or as text for people.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The result of verifying a domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    pub tables: Vec<TableVerify>,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
}

impl VerifyReport {
    /// No confirmed difference in any table.
    pub fn is_equal(&self) -> bool {
        self.tables.iter().all(|t| t.differences.is_empty())
    }

    /// Confirmed differences in all tables.
    pub fn difference_count(&self) -> usize {
        self.tables.iter().map(|t| t.differences.len()).sum()
    }

    /// A plain-text report: one line per table, then one per differing row.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for t in &self.tables {
            let verdict = if t.differences.is_empty() {
                "equal".to_owned()
            } else {
                format!("{} difference(s)", t.differences.len())
            };
            let _ = writeln!(
                s,
                "{}: {verdict} — source {} rows, target {} rows, {} chunk(s), {} differing; {} suspect row(s) cleared on re-check",
                t.table,
                t.source_rows,
                t.target_rows,
                t.chunks,
                t.chunks_differing,
                t.cleared_on_recheck
            );
            for d in &t.differences {
                let key = d.key.join(", ");
                match d.kind {
                    DiffKind::Missing => {
                        let _ = writeln!(s, "  missing  [{key}] (in source, not in target)");
                    }
                    DiffKind::Extra => {
                        let _ = writeln!(s, "  extra    [{key}] (in target, not in source)");
                    }
                    DiffKind::Different => {
                        let cols: Vec<String> = d
                            .columns
                            .iter()
                            .map(|c| {
                                format!("{}: {} → {}", c.column, show(&c.source), show(&c.target))
                            })
                            .collect();
                        let _ = writeln!(s, "  changed  [{key}] {}", cols.join("; "));
                    }
                }
            }
        }
        let _ = writeln!(s, "{} difference(s) in {:.2}s", self.difference_count(), self.seconds);
        s
    }
}

fn show(v: &Option<String>) -> String {
    match v {
        None => "NULL".to_owned(),
        Some(s) => format!("{s:?}"),
    }
}

/// One table's verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableVerify {
    pub table: String,
    pub source_rows: u64,
    pub target_rows: u64,
    pub chunks: u64,
    pub chunks_differing: u64,
    /// Rows that differed at first but not after the re-check delay (lag, not drift).
    pub cleared_on_recheck: u64,
    /// Confirmed differences in key order.
    pub differences: Vec<RowDiff>,
}

/// How a row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    /// In the source, not in the target.
    Missing,
    /// In the target, not in the source.
    Extra,
    /// On both sides with different values.
    Different,
}

/// One differing row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDiff {
    pub kind: DiffKind,
    /// Key values as text, in key order.
    pub key: Vec<String>,
    /// For `different`: the columns that differ.
    pub columns: Vec<ColumnDiff>,
    /// The hash of the target row's canonical text when it was checked (16 hex digits, the
    /// MD5 slice verify sums), absent for a missing row. Repair compares it with the row's
    /// hash at repair time and leaves a row that changed since untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_hash: Option<String>,
}

/// One differing column: canonical text on each side (`None` for NULL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDiff {
    pub column: String,
    pub source: Option<String>,
    pub target: Option<String>,
}
