//! `ficus writes DOMAIN` and `ficus writes retry|discard ID`: the write queue through the admin
//! API.

use crate::cli::{AdminArgs, WritesAction};
use crate::client::AdminClient;
use crate::commands::{actor, print_json, table};
use crate::exit::{CliError, Exit};
use reqwest::Method;
use serde_json::Value;

pub async fn run(
    domain: Option<String>,
    action: Option<WritesAction>,
    admin: &AdminArgs,
) -> Result<(), CliError> {
    let client = AdminClient::new(admin)?;
    let (id, change, verb) = match action {
        Some(WritesAction::Retry { id, change }) => (id, change, "retry"),
        Some(WritesAction::Discard { id, change }) => (id, change, "discard"),
        None => {
            let Some(domain) = domain else {
                return Err(CliError::new(
                    Exit::Usage,
                    anyhow::anyhow!("give a DOMAIN, or `retry ID` / `discard ID`"),
                ));
            };
            return show(&client, &domain, admin).await;
        }
    };
    let body = serde_json::json!({ "reason": change.reason, "actor": actor(&change) });
    let v: Value = client.change(Method::POST, &format!("/v1/writes/{id}/{verb}"), body).await?;
    if admin.output == crate::cli::Output::Json {
        return print_json(&v);
    }
    println!(
        "{}: write {id} {}",
        v["domain"].as_str().unwrap_or("?"),
        v["action"].as_str().unwrap_or(verb)
    );
    Ok(())
}

async fn show(client: &AdminClient, domain: &str, admin: &AdminArgs) -> Result<(), CliError> {
    let v: Value = client.get(&format!("/v1/domains/{domain}/writes")).await?;
    if admin.output == crate::cli::Output::Json {
        return print_json(&v);
    }
    let s = &v["stats"];
    println!(
        "{domain}: {} waiting (oldest {:.1} s), {} delivered in {} attempts, {} dead letters ({} discarded)",
        s["depth"],
        s["lag_seconds"].as_f64().unwrap_or(0.0),
        s["succeeded"],
        s["replayed"],
        s["dead"],
        s["discarded"]
    );
    let letters = v["dead_letters"].as_array().cloned().unwrap_or_default();
    if !letters.is_empty() {
        let mut t = table(&["id", "request", "to", "attempts", "last error"]);
        for l in &letters {
            t.add_row(vec![
                l["id"].as_str().unwrap_or("?").to_owned(),
                format!(
                    "{} {}",
                    l["method"].as_str().unwrap_or("?"),
                    l["target"].as_str().unwrap_or("?")
                ),
                l["to"].as_str().unwrap_or("?").to_owned(),
                l["attempts"].to_string(),
                l["last_error"].as_str().unwrap_or("-").to_owned(),
            ]);
        }
        println!("{t}");
    }
    Ok(())
}
