//! Helpers for the binary's integration tests: side-naming backends on loopback, plan files,
//! and `ficus serve` as a real child process that is killed when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-0123456789";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ficus")
}

/// A backend that answers every request with `{"side": NAME, "method": M, "path": P}`.
pub async fn backend(side: &'static str) -> SocketAddr {
    use axum::extract::Request;
    let app = axum::Router::new().fallback(move |req: Request| async move {
        axum::Json(serde_json::json!({
            "side": side,
            "method": req.method().as_str(),
            "path": req.uri().path(),
        }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Ports {
    pub gateway: u16,
    pub admin: u16,
}

/// Write a plan with one `invoices` domain in `phase` to `dir/ficus.toml`.
pub fn write_plan(
    dir: &Path,
    legacy: SocketAddr,
    new: SocketAddr,
    phase: &str,
) -> (PathBuf, Ports) {
    let ports = Ports { gateway: free_port(), admin: free_port() };
    let text = format!(
        r#"
[listener]
address = "127.0.0.1:{g}"
[admin]
address = "127.0.0.1:{a}"
token_env = "TEST_FICUS_TOKEN"
[state]
path = "state.db"
[upstreams.legacy]
url = "http://{legacy}"
[upstreams.new]
url = "http://{new}"
[domains.invoices]
phase = "{phase}"
sticky = {{ header = "x-customer-id" }}
routes = [{{ methods = ["GET", "POST"], path = "/invoices" }}, {{ methods = ["GET", "PUT", "DELETE"], path = "/invoices/{{id}}" }}]
"#,
        g = ports.gateway,
        a = ports.admin
    );
    let path = dir.join("ficus.toml");
    std::fs::write(&path, text).unwrap();
    (path, ports)
}

/// `ficus serve` as a child process.
pub struct Serve {
    pub child: Child,
    pub admin: String,
    pub gateway: String,
}

impl Serve {
    pub async fn start(plan: &Path, ports: &Ports) -> Serve {
        let child = Command::new(bin())
            .args(["serve", "-c"])
            .arg(plan)
            .env("TEST_FICUS_TOKEN", TOKEN)
            .env("FICUS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let serve = Serve {
            child,
            admin: format!("http://127.0.0.1:{}", ports.admin),
            gateway: format!("http://127.0.0.1:{}", ports.gateway),
        };
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", serve.admin)).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "ficus serve did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        serve
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "ficus serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

/// Run the CLI against an admin API.
pub fn ficus(admin: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("FICUS_ADMIN_URL", admin)
        .env_remove("FICUS_ADMIN_TOKEN")
        .env("NO_COLOR", "1");
    if let Some(t) = token {
        cmd.env("FICUS_ADMIN_TOKEN", t);
    }
    cmd.output().unwrap()
}

/// GET `url` and parse the answer as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let r = http.get(url).send().await.unwrap();
    r.json().await.unwrap()
}

/// Which side served a GET through the gateway.
pub async fn side_of(http: &reqwest::Client, gateway: &str, path: &str, subject: &str) -> String {
    let v: serde_json::Value = http
        .get(format!("{gateway}{path}"))
        .header("x-customer-id", subject)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["side"].as_str().unwrap().to_owned()
}
