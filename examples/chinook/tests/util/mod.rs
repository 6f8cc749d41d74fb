//! Test harness: starts the legacy and new services on `127.0.0.1:0` over temp copies of
//! Chinook and talks to them with reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;

use ficus_example_chinook::{legacy, new, write_chinook_sqlite};
use reqwest::Method;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running service; the server task stops when this is dropped.
pub struct Service {
    pub name: &'static str,
    pub base: String,
    pub client: reqwest::Client,
    _dir: Option<TempDir>,
    server: JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One HTTP answer: status, `Location`, `Content-Type`, and the body as JSON (`Null` if empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status, body: {}", self.body);
        self.body
    }

    /// Asserts an RFC 9457 problem answer with `status`; returns its `detail`.
    #[track_caller]
    pub fn expect_problem(self, status: u16) -> String {
        assert_eq!(self.status, status, "unexpected status, body: {}", self.body);
        assert_eq!(self.content_type.as_deref(), Some("application/problem+json"));
        assert_eq!(self.body["type"], "about:blank");
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string(), "no title in {}", self.body);
        self.body["detail"].as_str().expect("detail").to_owned()
    }
}

/// Serves `router` on an ephemeral loopback port.
pub async fn serve(router: axum::Router) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{addr}"), server)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The legacy service over a fresh temp copy of the Chinook SQLite file.
pub async fn legacy_sqlite() -> Service {
    let dir = TempDir::new().unwrap();
    let path = write_chinook_sqlite(dir.path()).unwrap();
    let db = legacy::open_sqlite(&path).await.unwrap();
    let (base, server) = serve(legacy::router(db)).await;
    Service { name: "legacy", base, client: client(), _dir: Some(dir), server }
}

/// The legacy service over an already opened database (e.g. MariaDB).
pub async fn legacy_on(db: legacy::LegacyDb, name: &'static str) -> Service {
    let (base, server) = serve(legacy::router(db)).await;
    Service { name, base, client: client(), _dir: None, server }
}

/// The new service over a new SQLite file imported from a fresh Chinook copy.
pub async fn new_sqlite() -> Service {
    let dir = TempDir::new().unwrap();
    let chinook = write_chinook_sqlite(&dir.path().join("source")).unwrap();
    let pool = new::open(&dir.path().join("new.sqlite"), &chinook).await.unwrap();
    let (base, server) = serve(new::router(pool)).await;
    Service { name: "new", base, client: client(), _dir: Some(dir), server }
}

/// Both services, legacy first.
pub async fn both() -> [Service; 2] {
    let (legacy, new) = tokio::join!(legacy_sqlite(), new_sqlite());
    [legacy, new]
}

impl Service {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request).await
    }

    /// Sends `body` verbatim with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: &str,
        content_type: &str,
    ) -> Reply {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_owned());
        reply(request).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// `POST` with `Ficus-Authoritative-Id: id`.
    pub async fn post_as(&self, path: &str, body: &Value, id: &str) -> Reply {
        self.send(Method::POST, path, Some(body), &[("Ficus-Authoritative-Id", id)]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }
}

async fn reply(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = response.status().as_u16();
    let location = header("location");
    let content_type = header("content-type");
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body {text:?}: {e}"))
    };
    Reply { status, location, content_type, body }
}
