//! The walk of the demo: moves `invoices` through every phase and one rollback through the
//! admin API, as an operator would, holding each step while the load runs.

use anyhow::Context;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One step taken.
pub struct Step {
    pub label: String,
    pub at: Duration,
    pub table_version: u64,
}

pub struct Walk {
    pub steps: Vec<Step>,
}

fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")
}

pub async fn walk(admin: &str, token: &str, hold: Duration) -> anyhow::Result<Walk> {
    let http = client()?;
    let start = Instant::now();
    let mut steps = Vec::new();
    let plan: [(&str, Value, &str); 9] = [
        ("advance", json!({}), "dual writes on"),
        ("advance", json!({}), "history copy"),
        ("advance", json!({}), "reads move to new"),
        ("patch", json!({ "read_new_percent": 10 }), "ramp 10%"),
        ("patch", json!({ "read_new_percent": 50 }), "ramp 50%"),
        ("patch", json!({ "read_new_percent": 100 }), "ramp 100%"),
        ("rollback", json!({ "to": "backfill" }), "rollback drill"),
        ("advance", json!({}), "reads back on new"),
        ("advance", json!({}), "cut over"),
    ];
    eprintln!("ficus demo: invoices in legacy; load running");
    tokio::time::sleep(hold).await;
    for (verb, mut body, reason) in plan {
        body["reason"] = json!(reason);
        body["actor"] = json!("ficus-demo");
        let (method, path) = match verb {
            "advance" => (reqwest::Method::POST, "/v1/domains/invoices/advance"),
            "rollback" => (reqwest::Method::POST, "/v1/domains/invoices/rollback"),
            _ => (reqwest::Method::PATCH, "/v1/domains/invoices"),
        };
        let resp = http
            .request(method, format!("{admin}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{verb} invoices"))?;
        let status = resp.status();
        let answer: Value =
            resp.json().await.with_context(|| format!("{verb} invoices: answer"))?;
        anyhow::ensure!(status.is_success(), "{verb} invoices refused: {status} {answer}");
        let label = format!(
            "{} {} → {} (read new {}%)",
            answer["action"].as_str().unwrap_or(verb),
            answer["from_phase"].as_str().unwrap_or("?"),
            answer["to_phase"].as_str().unwrap_or("?"),
            answer["read_new_percent"]
        );
        eprintln!("ficus demo: {label} — {reason}");
        steps.push(Step {
            label,
            at: start.elapsed(),
            table_version: answer["table_version"].as_u64().unwrap_or(0),
        });
        tokio::time::sleep(hold).await;
    }
    Ok(Walk { steps })
}

/// The admin API's Prometheus text.
pub async fn fetch_metrics(admin: &str) -> anyhow::Result<String> {
    client()?.get(format!("{admin}/metrics")).send().await?.text().await.context("read /metrics")
}

/// The audit log, oldest first.
pub async fn fetch_audit(admin: &str) -> anyhow::Result<Vec<ficus_control::AuditEntry>> {
    let mut entries: Vec<ficus_control::AuditEntry> = client()?
        .get(format!("{admin}/v1/audit?limit=1000"))
        .send()
        .await?
        .json()
        .await
        .context("read /v1/audit")?;
    entries.reverse();
    Ok(entries)
}

/// What the shadow reads of `domain` found (`GET /v1/domains/{domain}/diffs`).
pub async fn fetch_diffs(admin: &str, domain: &str) -> anyhow::Result<serde_json::Value> {
    client()?
        .get(format!("{admin}/v1/domains/{domain}/diffs"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("read /v1/domains/{domain}/diffs"))
}
