//! The demo's report: requests by phase and upstream (from the gateway's own metrics),
//! client-visible errors, latency through the gateway beside the same reads sent direct, the
//! walk and the audit log.

use super::load::Stats;
use super::walk::Walk;
use crate::commands::table;
use ficus_control::AuditEntry;
use ficus_model::Phase;
use std::collections::BTreeMap;
use std::time::Duration;

/// Requests of one phase: [legacy, new] successes and every other outcome.
#[derive(Debug, Default, Clone)]
struct PhaseRow {
    by_upstream: [u64; 2],
    not_success: u64,
}

/// What the parallel run of the `tracks` domain found, per route and field.
pub struct Shadow {
    comparisons: serde_json::Value,
    mismatch_rate: Option<f64>,
    /// (route, field, raw, noise, verdict)
    fields: Vec<(String, String, u64, u64, String)>,
}

impl Shadow {
    /// From the answer of `GET /v1/domains/tracks/diffs`.
    pub fn new(diffs: &serde_json::Value) -> Shadow {
        let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_owned();
        let mut fields = Vec::new();
        for route in diffs["report"]["routes"].as_array().into_iter().flatten() {
            for f in route["fields"].as_array().into_iter().flatten() {
                fields.push((
                    s(&route["route"]),
                    s(&f["field"]),
                    f["raw"].as_u64().unwrap_or(0),
                    f["noise"].as_u64().unwrap_or(0),
                    s(&f["verdict"]),
                ));
            }
        }
        Shadow {
            comparisons: diffs["comparisons"].clone(),
            mismatch_rate: diffs["mismatch_rate"].as_f64(),
            fields,
        }
    }

    fn print(&self) {
        let rate = self.mismatch_rate.map_or("—".into(), |r| format!("{:.1} %", r * 100.0));
        println!(
            "Parallel run of `tracks` (served by legacy, reads shadowed to new): comparisons {}, mismatch rate {rate}",
            self.comparisons
        );
        let mut t = table(&["route", "field", "raw", "noise", "verdict"]);
        for (route, field, raw, noise, verdict) in &self.fields {
            let verdict = match verdict.as_str() {
                "mismatch" => "MISMATCH: new answers differently".to_owned(),
                "noise" => {
                    "noise: filtered out (differs between two legacy answers too)".to_owned()
                }
                other => other.to_owned(),
            };
            t.add_row(vec![
                route.clone(),
                field.clone(),
                raw.to_string(),
                noise.to_string(),
                verdict,
            ]);
        }
        println!("{t}");
        println!(
            "  (raw: differences legacy vs new; noise: legacy vs legacy for the same request. Try `ficus diffs tracks`.)\n"
        );
    }

    fn to_json(&self) -> serde_json::Value {
        let fields: Vec<_> = self
            .fields
            .iter()
            .map(|(route, field, raw, noise, verdict)| serde_json::json!({ "route": route, "field": field, "raw": raw, "noise": noise, "verdict": verdict }))
            .collect();
        serde_json::json!({
            "domain": "tracks",
            "comparisons": self.comparisons,
            "mismatch_rate": self.mismatch_rate,
            "fields": fields,
        })
    }
}

pub struct Report {
    shadow: Shadow,
    rows: BTreeMap<Phase, PhaseRow>,
    stats_summary: serde_json::Value,
    errors: u64,
    error_samples: Vec<String>,
    latency: [(f64, f64); 2],
    steps: Vec<(String, f64, u64)>,
    audit: Vec<AuditEntry>,
    elapsed: Duration,
    admin_url: String,
}

fn percentile(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Parse `ficus_requests_total{domain="invoices",…} N` lines.
fn rows(metrics: &str) -> BTreeMap<Phase, PhaseRow> {
    let mut rows: BTreeMap<Phase, PhaseRow> = BTreeMap::new();
    for line in metrics.lines().filter(|l| l.starts_with("ficus_requests_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(n) = value.parse::<f64>() else {
            continue;
        };
        let label = |name: &str| {
            let key = format!("{name}=\"");
            let start = labels.find(&key)? + key.len();
            let end = labels[start..].find('"')? + start;
            Some(labels[start..end].to_owned())
        };
        if label("domain").as_deref() != Some("invoices") || n == 0.0 {
            continue;
        }
        let Some(phase) = label("phase").and_then(|p| p.parse::<Phase>().ok()) else {
            continue;
        };
        let row = rows.entry(phase).or_default();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n as u64;
        if label("outcome").as_deref() == Some("success") {
            match label("upstream").as_deref() {
                Some("legacy") => row.by_upstream[0] += n,
                Some("new") => row.by_upstream[1] += n,
                _ => row.not_success += n,
            }
        } else {
            row.not_success += n;
        }
    }
    rows
}

impl Report {
    pub fn new(
        stats: &Stats,
        metrics: &str,
        walk: &Walk,
        audit: &[AuditEntry],
        shadow: Shadow,
        elapsed: Duration,
        admin_url: &str,
    ) -> Report {
        Report {
            shadow,
            rows: rows(metrics),
            stats_summary: serde_json::json!({
                "requests": stats.requests, "reads": stats.reads, "writes": stats.writes,
            }),
            errors: stats.errors,
            error_samples: stats.error_samples.clone(),
            latency: [
                (percentile(&stats.gateway_reads, 0.5), percentile(&stats.gateway_reads, 0.99)),
                (percentile(&stats.direct_reads, 0.5), percentile(&stats.direct_reads, 0.99)),
            ],
            steps: walk
                .steps
                .iter()
                .map(|s| (s.label.clone(), s.at.as_secs_f64(), s.table_version))
                .collect(),
            audit: audit.to_vec(),
            elapsed,
            admin_url: admin_url.to_owned(),
        }
    }

    pub fn client_errors(&self) -> u64 {
        self.errors
    }

    pub fn print(&self) {
        println!(
            "\nFicus demo — the `invoices` domain walked through all five phases under load ({:.1} s)\n",
            self.elapsed.as_secs_f64()
        );
        let mut walk = table(&["t (s)", "step", "table version"]);
        for (label, at, v) in &self.steps {
            walk.add_row(vec![format!("{at:.1}"), label.clone(), v.to_string()]);
        }
        println!("{walk}\n");
        let mut t = table(&["phase", "served by legacy", "served by new", "other outcomes"]);
        for (phase, row) in &self.rows {
            t.add_row(vec![
                phase.to_string(),
                row.by_upstream[0].to_string(),
                row.by_upstream[1].to_string(),
                row.not_success.to_string(),
            ]);
        }
        println!(
            "Requests to `invoices` by phase and upstream (the gateway's ficus_requests_total):\n{t}\n"
        );
        let mut l = table(&["reads", "p50 (ms)", "p99 (ms)"]);
        l.add_row(vec![
            "through the gateway".into(),
            format!("{:.2}", self.latency[0].0),
            format!("{:.2}", self.latency[0].1),
        ]);
        l.add_row(vec![
            "direct to the same upstream".into(),
            format!("{:.2}", self.latency[1].0),
            format!("{:.2}", self.latency[1].1),
        ]);
        l.add_row(vec![
            "added by the gateway".into(),
            format!("{:+.2}", self.latency[0].0 - self.latency[1].0),
            format!("{:+.2}", self.latency[0].1 - self.latency[1].1),
        ]);
        println!("Latency:\n{l}\n");
        self.shadow.print();
        println!(
            "Client requests: {} ({} reads, {} writes); client-visible errors: {}",
            self.stats_summary["requests"],
            self.stats_summary["reads"],
            self.stats_summary["writes"],
            self.errors
        );
        for s in &self.error_samples {
            println!("  error: {s}");
        }
        println!("\nAudit log:");
        for e in &self.audit {
            println!(
                "  #{} {} {} {} {} {} → {} {}",
                e.id,
                e.at,
                e.actor,
                e.domain,
                e.action,
                e.from_phase.as_deref().unwrap_or("—"),
                e.to_phase.as_deref().unwrap_or("—"),
                e.reason
            );
        }
        println!(
            "\nThe admin API listened on {} (GET /v1/domains, /v1/audit, /metrics, /v1/openapi.json).",
            self.admin_url
        );
    }

    pub fn to_json(&self) -> serde_json::Value {
        let phases: Vec<_> = self
            .rows
            .iter()
            .map(|(p, r)| serde_json::json!({ "phase": p.as_str(), "legacy": r.by_upstream[0], "new": r.by_upstream[1], "other": r.not_success }))
            .collect();
        serde_json::json!({
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "requests": self.stats_summary,
            "client_visible_errors": self.errors,
            "error_samples": self.error_samples,
            "by_phase": phases,
            "latency_ms": {
                "gateway": { "p50": self.latency[0].0, "p99": self.latency[0].1 },
                "direct": { "p50": self.latency[1].0, "p99": self.latency[1].1 },
            },
            "steps": self.steps.iter().map(|(l, t, v)| serde_json::json!({ "step": l, "at_seconds": t, "table_version": v })).collect::<Vec<_>>(),
            "audit": self.audit,
            "shadow": self.shadow.to_json(),
            "admin_url": self.admin_url,
        })
    }
}
