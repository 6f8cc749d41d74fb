//! `ficus diffs DOMAIN [examples|show|known|unknown]`: shadow findings through the admin API —
//! the report per route and field, stored examples, and marking known differences.

use crate::cli::{AdminArgs, ChangeArgs, DiffsAction, Output};
use crate::client::AdminClient;
use crate::commands::{actor, print_json, table};
use crate::exit::CliError;
use reqwest::Method;
use serde_json::Value;

pub async fn run(
    domain: &str,
    examples: usize,
    action: Option<DiffsAction>,
    admin: &AdminArgs,
) -> Result<(), CliError> {
    let client = AdminClient::new(admin)?;
    let base = format!("/v1/domains/{domain}/diffs");
    match action {
        None => report(&client, &base, domain, examples, admin.output).await,
        Some(DiffsAction::Examples { route, field, limit }) => {
            let mut query = vec![format!("limit={limit}")];
            if let Some(r) = route {
                query.push(format!("route={}", encode(&r)));
            }
            if let Some(f) = field {
                query.push(format!("field={}", encode(&f)));
            }
            let list: Vec<Value> =
                client.get(&format!("{base}/examples?{}", query.join("&"))).await?;
            if admin.output == Output::Json {
                return print_json(&list);
            }
            let mut t = table(&["id", "route", "request", "status", "fields"]);
            for e in &list {
                t.add_row(vec![
                    e["id"].to_string(),
                    str_of(&e["route"]),
                    format!("{} {}", str_of(&e["method"]), str_of(&e["target"])),
                    format!("{} / {}", e["primary_status"], e["secondary_status"]),
                    strings(&e["fields"]).join(", "),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        Some(DiffsAction::Show { id }) => {
            let e: Value = client.get(&format!("{base}/examples/{id}")).await?;
            if admin.output == Output::Json {
                return print_json(&e);
            }
            print_example(&e, true);
            Ok(())
        }
        Some(DiffsAction::Known { route, field, change }) => {
            let said =
                ("is a known difference; no longer compared", "already was a known difference");
            known(&client, &base, Method::POST, domain, &route, &field, &change, admin, said).await
        }
        Some(DiffsAction::Unknown { route, field, change }) => {
            let said = ("is compared again", "was not a known difference");
            known(&client, &base, Method::DELETE, domain, &route, &field, &change, admin, said)
                .await
        }
    }
}

/// Mark (POST) or unmark (DELETE) a known difference; `said` is what to print when it changed
/// and when it did not.
#[allow(clippy::too_many_arguments)]
async fn known(
    client: &AdminClient,
    base: &str,
    method: Method,
    domain: &str,
    route: &str,
    field: &str,
    change: &ChangeArgs,
    admin: &AdminArgs,
    said: (&str, &str),
) -> Result<(), CliError> {
    let body = serde_json::json!({
        "route": route, "field": field, "reason": change.reason, "actor": actor(change),
    });
    let v: Value = client.change(method, &format!("{base}/known"), body).await?;
    if admin.output == Output::Json {
        return print_json(&v);
    }
    let what = if v["changed"].as_bool() == Some(true) { said.0 } else { said.1 };
    println!("{domain}: {field} of {route} {what}");
    Ok(())
}

async fn report(
    client: &AdminClient,
    base: &str,
    domain: &str,
    examples: usize,
    output: Output,
) -> Result<(), CliError> {
    let v: Value = client.get(base).await?;
    if output == Output::Json {
        return print_json(&v);
    }
    let rate =
        v["mismatch_rate"].as_f64().map_or("—".to_owned(), |r| format!("{:.3}%", r * 100.0));
    println!(
        "{domain}: mismatch rate {rate}; shadow requests {}; comparisons {}",
        v["shadow_requests"], v["comparisons"]
    );
    let mut t = table(&["route", "field", "raw", "noise", "verdict"]);
    for route in v["report"]["routes"].as_array().into_iter().flatten() {
        for field in route["fields"].as_array().into_iter().flatten() {
            t.add_row(vec![
                str_of(&route["route"]),
                str_of(&field["field"]),
                field["raw"].to_string(),
                field["noise"].to_string(),
                str_of(&field["verdict"]),
            ]);
        }
    }
    println!("{t}");
    let known = v["known"].as_array().cloned().unwrap_or_default();
    if !known.is_empty() {
        println!("\nknown differences (not compared):");
        for k in &known {
            println!(
                "  {} {} — {} by {} at {}",
                str_of(&k["route"]),
                str_of(&k["field"]),
                str_of(&k["reason"]),
                str_of(&k["actor"]),
                str_of(&k["at"])
            );
        }
    }
    let summaries = v["examples"].as_array().cloned().unwrap_or_default();
    for s in summaries.iter().take(examples) {
        let id = s["id"].as_i64().unwrap_or_default();
        let e: Value = client.get(&format!("{base}/examples/{id}")).await?;
        print_example(&e, false);
    }
    Ok(())
}

fn print_example(e: &Value, whole: bool) {
    println!(
        "\n#{} {} {} ({} {} vs {} {}, trace {})",
        e["id"],
        str_of(&e["method"]),
        str_of(&e["target"]),
        str_of(&e["primary"]),
        e["primary_status"],
        str_of(&e["secondary"]),
        e["secondary_status"],
        e["trace_id"].as_str().unwrap_or("-")
    );
    for d in strings(&e["differences"]) {
        println!("  {d}");
    }
    if whole {
        if let Some(body) = e["request_body"].as_str() {
            println!("\nrequest body:\n{body}");
        }
        println!("\n{} answered:\n{}", str_of(&e["primary"]), str_of(&e["primary_body"]));
        println!("\n{} answered:\n{}", str_of(&e["secondary"]), str_of(&e["secondary_body"]));
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().map(str_of).collect()
}

/// Percent-encode a query value (route templates hold `{`, `}` and `/`).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
