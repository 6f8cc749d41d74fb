//! A small client of the admin API for the CLI commands. Maps answers to exit codes: 401/403 →
//! not authorised, 404/409 → refused, anything else unexpected → failure.

use crate::cli::AdminArgs;
use crate::exit::{CliError, Exit};
use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl AdminClient {
    pub fn new(args: &AdminArgs) -> Result<AdminClient, CliError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("build the HTTP client")?;
        Ok(AdminClient {
            http,
            base: args.admin_url.trim_end_matches('/').to_owned(),
            token: args.token.clone(),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn change<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, CliError> {
        if self.token.is_none() {
            return Err(CliError::new(
                Exit::NotAuthorised,
                anyhow::anyhow!(
                    "changes need the admin token: pass --token or set FICUS_ADMIN_TOKEN"
                ),
            ));
        }
        self.call(method, path, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, CliError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.with_context(|| {
            format!("{method} {url}: is `ficus serve` running? (--admin-url / FICUS_ADMIN_URL)")
        })?;
        let status = resp.status();
        let text = resp.text().await.with_context(|| format!("{method} {url}: read the answer"))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .with_context(|| format!("{method} {url}: unexpected answer: {text}"))
                .map_err(CliError::from);
        }
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
            .unwrap_or(text);
        let exit = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Exit::NotAuthorised,
            StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                Exit::Refused
            }
            _ => Exit::Failure,
        };
        Err(CliError::new(exit, anyhow::anyhow!("{status}: {detail}")))
    }
}
