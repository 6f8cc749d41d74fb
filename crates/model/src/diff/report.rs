//! The judged report of a diff ledger: per route and field, counts, rates and verdicts, as data
//! (serde) for the admin API and store, and as plain text for the CLI.

use super::noise::{FieldVerdict, NoiseThresholds};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A judged snapshot of a [`DiffLedger`](super::DiffLedger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerReport {
    pub thresholds: NoiseThresholds,
    /// Raw (primary-vs-secondary) comparisons, all routes.
    pub compared: u64,
    /// Noise (primary-vs-primary) comparisons, all routes.
    pub noise_compared: u64,
    /// Raw comparisons with at least one field judged `Mismatch`.
    pub mismatched: u64,
    /// `mismatched / compared`; `None` when nothing was compared. See
    /// [`DiffLedger::mismatch_rate`](super::DiffLedger::mismatch_rate).
    pub mismatch_rate: Option<f64>,
    pub routes: Vec<RouteReport>,
}

/// One route template's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteReport {
    /// The route template, as recorded.
    pub route: String,
    pub compared: u64,
    pub noise_compared: u64,
    /// Raw comparisons that did not cover a whole body (see `Comparison::truncated`).
    pub truncated: u64,
    pub mismatched: u64,
    pub mismatch_rate: Option<f64>,
    /// Fields seen differing, `Mismatch` first, then `Noise`; by field path within each.
    pub fields: Vec<FieldReport>,
}

/// One field of one route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldReport {
    /// Field path, as in [`Difference::field`](super::Difference::field).
    pub field: String,
    /// Raw comparisons in which the field differed.
    pub raw: u64,
    /// Noise comparisons in which the field differed.
    pub noise: u64,
    /// `raw / compared` of the route.
    pub raw_rate: f64,
    /// `noise / noise_compared` of the route (0 without noise samples).
    pub noise_rate: f64,
    pub verdict: FieldVerdict,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |r| format!("{:.2} %", r * 100.0))
}

impl fmt::Display for LedgerReport {
    /// A plain-text table: one header line per route, one line per field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} compared, {} noise-compared, {} mismatched ({})",
            self.compared,
            self.noise_compared,
            self.mismatched,
            percent(self.mismatch_rate)
        )?;
        for r in &self.routes {
            writeln!(
                f,
                "{}: {} compared, {} noise-compared, {} mismatched ({})",
                r.route,
                r.compared,
                r.noise_compared,
                r.mismatched,
                percent(r.mismatch_rate)
            )?;
            let width = r.fields.iter().map(|x| x.field.chars().count()).max().unwrap_or(0);
            for x in &r.fields {
                writeln!(
                    f,
                    "  {:<9}{:<width$}  raw {} ({})  noise {} ({})",
                    x.verdict.as_str(),
                    x.field,
                    x.raw,
                    percent(Some(x.raw_rate)),
                    x.noise,
                    percent(Some(x.noise_rate))
                )?;
            }
        }
        Ok(())
    }
}
