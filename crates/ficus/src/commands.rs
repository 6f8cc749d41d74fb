//! The read and change commands: validate, status, advance, rollback, set, audit. Data goes to
//! stdout (text tables or JSON), everything else to stderr.

use crate::cli::{AdminArgs, ChangeArgs, Output};
use crate::client::AdminClient;
use crate::exit::{CliError, Exit};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ficus_control::AuditEntry;
use ficus_control::admin::{ChangeView, DomainView};
use ficus_model::Plan;
use reqwest::Method;
use serde::Serialize;
use std::path::Path;

/// A table for terminal output; plain when `NO_COLOR` is set.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    if std::env::var_os("NO_COLOR").is_some() {
        t.force_no_tty();
    }
    t.set_header(header.iter().copied());
    t
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?;
    println!("{text}");
    Ok(())
}

pub(crate) fn actor(change: &ChangeArgs) -> String {
    change
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "cli".to_owned())
}

fn pct(p: f64) -> String {
    format!("{p}%")
}

pub fn validate(path: &Path, output: Output) -> Result<(), CliError> {
    let plan = Plan::load(path).map_err(|e| CliError::new(Exit::InvalidPlan, e))?;
    if output == Output::Json {
        let domains: Vec<_> = plan
            .domains
            .iter()
            .map(|d| serde_json::json!({ "name": d.name, "phase": d.initial_phase.as_str(), "routes": d.routes.len() }))
            .collect();
        return print_json(&serde_json::json!({ "valid": true, "domains": domains }));
    }
    println!(
        "{}: valid — {} domain(s), {} route(s); gateway {}, admin {}",
        path.display(),
        plan.domains.len(),
        plan.domains.iter().map(|d| d.routes.len()).sum::<usize>(),
        plan.listener.address,
        plan.admin.address
    );
    Ok(())
}

pub async fn status(domain: Option<&str>, admin: &AdminArgs) -> Result<(), CliError> {
    let client = AdminClient::new(admin)?;
    let views: Vec<DomainView> = match domain {
        Some(name) => vec![client.get(&format!("/v1/domains/{name}")).await?],
        None => client.get("/v1/domains").await?,
    };
    if admin.output == Output::Json {
        return print_json(
            &if domain.is_some() {
                serde_json::to_value(&views[0])
            } else {
                serde_json::to_value(&views)
            }
            .map_err(anyhow::Error::from)?,
        );
    }
    let mut t =
        table(&["domain", "phase", "reads", "writes", "synced", "read new", "shadow", "next"]);
    for v in &views {
        t.add_row(vec![
            v.name.clone(),
            v.phase.clone(),
            v.reads_served_by.clone(),
            v.authoritative.clone(),
            v.synced.clone().unwrap_or_else(|| "—".into()),
            pct(v.read_new_percent),
            pct(v.shadow_percent),
            v.next_phase.clone().unwrap_or_else(|| "—".into()),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn print_change(c: &ChangeView, output: Output) -> Result<(), CliError> {
    if output == Output::Json {
        return print_json(c);
    }
    if c.action == "set" {
        println!(
            "{}: read new {}, shadow {} (phase {}, table v{})",
            c.domain,
            pct(c.read_new_percent),
            pct(c.shadow_percent),
            c.to_phase,
            c.table_version
        );
    } else {
        println!(
            "{}: {} {} → {}{} (table v{})",
            c.domain,
            c.action,
            c.from_phase,
            c.to_phase,
            if c.forced { " (forced)" } else { "" },
            c.table_version
        );
    }
    Ok(())
}

pub async fn advance(domain: &str, change: &ChangeArgs, admin: &AdminArgs) -> Result<(), CliError> {
    let client = AdminClient::new(admin)?;
    let body = serde_json::json!({ "reason": change.reason, "actor": actor(change) });
    let c: ChangeView =
        client.change(Method::POST, &format!("/v1/domains/{domain}/advance"), body).await?;
    print_change(&c, admin.output)
}

pub async fn rollback(
    domain: &str,
    to: Option<&str>,
    force: bool,
    change: &ChangeArgs,
    admin: &AdminArgs,
) -> Result<(), CliError> {
    let client = AdminClient::new(admin)?;
    let body = serde_json::json!({ "to": to, "force": force, "reason": change.reason, "actor": actor(change) });
    let c: ChangeView =
        client.change(Method::POST, &format!("/v1/domains/{domain}/rollback"), body).await?;
    print_change(&c, admin.output)
}

pub async fn set(
    domain: &str,
    read_new: Option<f64>,
    shadow: Option<f64>,
    change: &ChangeArgs,
    admin: &AdminArgs,
) -> Result<(), CliError> {
    if read_new.is_none() && shadow.is_none() {
        return Err(CliError::new(
            Exit::Refused,
            anyhow::anyhow!("nothing to set: give --read-new-percent and/or --shadow-percent"),
        ));
    }
    let client = AdminClient::new(admin)?;
    let body = serde_json::json!({
        "read_new_percent": read_new, "shadow_percent": shadow,
        "reason": change.reason, "actor": actor(change),
    });
    let c: ChangeView =
        client.change(Method::PATCH, &format!("/v1/domains/{domain}"), body).await?;
    print_change(&c, admin.output)
}

pub async fn audit(domain: Option<&str>, limit: u32, admin: &AdminArgs) -> Result<(), CliError> {
    let client = AdminClient::new(admin)?;
    let mut path = format!("/v1/audit?limit={limit}");
    if let Some(d) = domain {
        path.push_str(&format!("&domain={d}"));
    }
    let entries: Vec<AuditEntry> = client.get(&path).await?;
    if admin.output == Output::Json {
        return print_json(&entries);
    }
    let mut t = table(&["#", "time", "actor", "domain", "action", "from", "to", "reason"]);
    for e in &entries {
        t.add_row(vec![
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.domain.clone(),
            e.action.clone(),
            e.from_phase.clone().unwrap_or_else(|| "—".into()),
            e.to_phase.clone().unwrap_or_else(|| "—".into()),
            e.reason.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}
