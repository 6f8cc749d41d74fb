//! Minimal HTTP/1.1 backend for the benchmarks in `bench/`: answers a read (GET, HEAD, OPTIONS)
//! with the same JSON body (`--body`), and a write (any other method) by reading the request
//! body to its end and answering `201 Created` with `{"id":N}`, `N` a counter unique per
//! process (`bench/writes.sh`). `GET /_bench/stats` answers the request and connection counts.
//!
//! Usage: `ficus-bench-backend --listen 127.0.0.1:PORT [--workers N]
//! [--body padded|record|record-reordered]`
//! (default 1 worker thread, so the backend does not compete for every core with the proxy and
//! the load generator).
//!
//! - `--body padded` (default, `bench/gateway.sh`): exactly 1024 bytes, four fields, one of them a
//!   long padding string.
//! - `--body record` (`bench/shadow.sh`, legacy): an invoice-like record of 1362 bytes with
//!   nested objects, an array of line items, strings, integers, decimals and booleans (~90 JSON
//!   values).
//! - `--body record-reordered` (`bench/shadow.sh`, new): the same record with every object's
//!   keys in reverse order and spaces after separators — equal as JSON, different as bytes, so
//!   a gateway comparing the two answers has to parse and walk both documents (identical bytes
//!   would be matched by a byte comparison alone).
//!
//! `GET /_bench/stats` answers `{"requests":R,"connections":C}`: requests served (not counting
//! the stats requests) and connections accepted since start, so a benchmark can check who
//! really reached this backend and over how many connections.

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

/// Size of the `padded` response body, in bytes.
const BODY_LEN: usize = 1024;

/// The path that reports this backend's counters instead of the fixed body.
const STATS_PATH: &str = "/_bench/stats";

type BoxError = Box<dyn Error + Send + Sync>;

/// Which fixed body every request gets.
#[derive(Debug, Clone, Copy)]
enum BodyKind {
    Padded,
    Record,
    RecordReordered,
}

#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    workers: usize,
    body: BodyKind,
}

const USAGE: &str = "usage: ficus-bench-backend --listen ADDR:PORT [--workers N] \
[--body padded|record|record-reordered]";

fn parse_args() -> Result<Args, BoxError> {
    let mut listen = None;
    let mut workers = 1usize;
    let mut body = BodyKind::Padded;
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
            "--body" | "-b" => {
                body = match value("--body")?.as_str() {
                    "padded" => BodyKind::Padded,
                    "record" => BodyKind::Record,
                    "record-reordered" => BodyKind::RecordReordered,
                    other => {
                        return Err(format!(
                            "--body {other:?}: want padded, record or record-reordered"
                        )
                        .into());
                    }
                };
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    Ok(Args { listen, workers, body })
}

/// A valid JSON object of exactly `BODY_LEN` bytes.
fn padded_body() -> Bytes {
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

/// Answer a write: drain the request body (so the connection stays reusable), then 201 with
/// the next id.
async fn created(
    req: Request<hyper::body::Incoming>,
    next_id: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    req.into_body().collect().await?;
    let id = next_id.fetch_add(1, Ordering::Relaxed);
    let mut resp = respond(Bytes::from(format!("{{\"id\":{id}}}")));
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

/// A JSON object from rendered values: keys in the given order, compact; or, `reordered`, keys
/// in reverse order with a space after every `:` and `,` — the same document to a structural
/// comparison, different bytes.
fn object(fields: &[(&str, String)], reordered: bool) -> String {
    let (colon, comma) = if reordered { (": ", ", ") } else { (":", ",") };
    let mut pairs: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\"{colon}{v}")).collect();
    if reordered {
        pairs.reverse();
    }
    format!("{{{}}}", pairs.join(comma))
}

fn string(s: &str) -> String {
    format!("\"{s}\"")
}

/// An invoice-like JSON record (1362 bytes compact): nested objects, an array of eight line
/// items and mixed value types, so that comparing two answers walks a real document. With
/// `reordered` the same record is written with every object's keys in reverse order and spaces
/// after separators (see [`object`]): a gateway comparing it with the compact form must parse
/// both and compare them structurally; they match.
fn record_body(reordered: bool) -> Bytes {
    const TRACKS: [(u32, &str, &str, u32); 8] = [
        (2, "Balls to the Wall", "Accept", 342_562),
        (4, "Restless and Wild", "Accept", 252_051),
        (6, "Put The Finger On You", "AC/DC", 205_662),
        (8, "Inject The Venom", "AC/DC", 210_834),
        (10, "Evil Walks", "AC/DC", 263_497),
        (12, "Breaking The Rules", "AC/DC", 263_288),
        (14, "Spellbound", "AC/DC", 270_863),
        (16, "Dog Eat Dog", "AC/DC", 215_196),
    ];
    let comma = if reordered { ", " } else { "," };
    let lines: Vec<String> = TRACKS
        .iter()
        .enumerate()
        .map(|(i, (track, name, artist, ms))| {
            object(
                &[
                    ("line", (i + 1).to_string()),
                    ("track_id", track.to_string()),
                    ("name", string(name)),
                    ("artist", string(artist)),
                    ("milliseconds", ms.to_string()),
                    ("unit_price", "0.99".into()),
                    ("quantity", "1".into()),
                ],
                reordered,
            )
        })
        .collect();
    let customer = object(
        &[
            ("id", "1".into()),
            ("first_name", string("Luís")),
            ("last_name", string("Gonçalves")),
            ("email", string("luisg@embraer.com.br")),
            ("support_rep_id", "3".into()),
            ("vip", "false".into()),
        ],
        reordered,
    );
    let billing = object(
        &[
            ("address", string("Av. Brigadeiro Faria Lima, 2170")),
            ("city", string("São José dos Campos")),
            ("state", string("SP")),
            ("country", string("Brazil")),
            ("postal_code", string("12227-000")),
        ],
        reordered,
    );
    let record = object(
        &[
            ("invoice_id", "98".into()),
            ("customer", customer),
            ("invoice_date", string("2010-03-11T00:00:00Z")),
            ("billing", billing),
            ("lines", format!("[{}]", lines.join(comma))),
            ("total", "7.92".into()),
            ("currency", string("USD")),
            ("paid", "true".into()),
            ("tags", format!("[\"rock\"{comma}\"metal\"]")),
        ],
        reordered,
    );
    Bytes::from(record)
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    connections: AtomicU64,
}

fn respond(body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn run(listen: SocketAddr, kind: BodyKind) -> Result<(), BoxError> {
    let listener = TcpListener::bind(listen).await?;
    let body = match kind {
        BodyKind::Padded => padded_body(),
        BodyKind::Record => record_body(false),
        BodyKind::RecordReordered => record_body(true),
    };
    let counters = Arc::new(Counters::default());
    let next_id = Arc::new(AtomicU64::new(1));
    eprintln!(
        "ficus-bench-backend listening on {} ({kind:?} body, {} bytes)",
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
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let body = body.clone();
        let counters = Arc::clone(&counters);
        let next_id = Arc::clone(&next_id);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let is_read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
                let stats = req.uri().path() == STATS_PATH;
                let body = body.clone();
                let counters = Arc::clone(&counters);
                let next_id = Arc::clone(&next_id);
                async move {
                    if stats {
                        return Ok(respond(Bytes::from(format!(
                            r#"{{"requests":{},"connections":{}}}"#,
                            counters.requests.load(Ordering::Relaxed),
                            counters.connections.load(Ordering::Relaxed)
                        ))));
                    }
                    counters.requests.fetch_add(1, Ordering::Relaxed);
                    if is_read { Ok(respond(body)) } else { created(req, next_id).await }
                }
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
    runtime.block_on(run(args.listen, args.body)).map_err(Report)
}
