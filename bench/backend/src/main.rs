//! Minimal HTTP/1.1 backend for the benchmarks in `bench/`: answers a read (GET, HEAD, OPTIONS)
//! with the same 1 KiB JSON body (`bench/gateway.sh`), and a write (any other method) by reading
//! the request body to its end and answering `201 Created` with `{"id":N}`, `N` a counter unique
//! per process (`bench/writes.sh`).
//!
//! Usage: `ficus-bench-backend --listen 127.0.0.1:PORT [--workers N]` (default 1 worker thread, so
//! the backend does not compete for every core with the proxy and the load generator).

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Size of the response body, in bytes.
const BODY_LEN: usize = 1024;

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    workers: usize,
}

const USAGE: &str = "usage: ficus-bench-backend --listen ADDR:PORT [--workers N]";

fn parse_args() -> Result<Args, BoxError> {
    let mut listen = None;
    let mut workers = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, BoxError> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}").into())
        };
        match flag.as_str() {
            "--listen" | "-l" => {
                let v = value("--listen")?;
                listen = Some(v.parse::<SocketAddr>().map_err(|e| format!("--listen {v:?}: {e}"))?);
            }
            "--workers" | "-w" => {
                let v = value("--workers")?;
                workers = v.parse::<usize>().map_err(|e| format!("--workers {v:?}: {e}"))?;
                if workers == 0 {
                    return Err("--workers must be at least 1".into());
                }
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    Ok(Args { listen, workers })
}

/// A valid JSON object of exactly `BODY_LEN` bytes.
fn body() -> Bytes {
    let head = r#"{"id":1,"name":"ficus-bench","status":"ok","padding":""#;
    let tail = r#""}"#;
    let pad = BODY_LEN.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(BODY_LEN);
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    debug_assert_eq!(s.len(), BODY_LEN);
    Bytes::from(s)
}

/// Answer one request: the fixed body for a read; for a write, drain the request body (so the
/// connection stays reusable) and answer 201 with the next id.
async fn answer(
    req: Request<hyper::body::Incoming>,
    body: Bytes,
    next_id: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let json = HeaderValue::from_static("application/json");
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let mut resp = Response::new(Full::new(body));
        resp.headers_mut().insert(CONTENT_TYPE, json);
        return Ok(resp);
    }
    req.into_body().collect().await?;
    let id = next_id.fetch_add(1, Ordering::Relaxed);
    let mut resp = Response::new(Full::new(Bytes::from(format!("{{\"id\":{id}}}"))));
    *resp.status_mut() = StatusCode::CREATED;
    resp.headers_mut().insert(CONTENT_TYPE, json);
    Ok(resp)
}

async fn run(listen: SocketAddr) -> Result<(), BoxError> {
    let listener = TcpListener::bind(listen).await?;
    let body = body();
    let next_id = Arc::new(AtomicU64::new(1));
    eprintln!(
        "ficus-bench-backend listening on {} ({} byte body)",
        listener.local_addr()?,
        body.len()
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning or exiting.
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        let next_id = Arc::clone(&next_id);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                answer(req, body.clone(), Arc::clone(&next_id))
            });
            // Keep-alive is on by default; errors here are client resets, not worth logging.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// An error returned from `main`: printed with `Display` (not `Debug`) so messages read cleanly.
struct Report(BoxError);

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

fn main() -> Result<(), Report> {
    let args = parse_args().map_err(Report)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .map_err(|e| Report(e.into()))?;
    runtime.block_on(run(args.listen)).map_err(Report)
}
