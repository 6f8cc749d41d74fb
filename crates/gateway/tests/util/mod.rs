//! Test harness for the gateway: two real backend servers that answer with a JSON description of
//! what reached them, a gateway on a real listener, an HTTP/1.1 and h2c client, and raw TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use bytes::Bytes;
use ficus_gateway::{Gateway, RoutingTable, ServeError, SnapshotHandle};
use ficus_model::{DomainState, Percent, Phase, Plan};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::{Client as LegacyClient, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ClientBody = BoxBody<Bytes, BoxError>;

/// Upper bound for any single exchange in a test.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// A real HTTP/1.1 backend that answers every request with
/// `{"side", "method", "path", "query", "version", "headers": {name: [values]}, "body_len"}`.
///
/// Query parameters it understands: `delay_ms=N` (sleep before answering, after reading the
/// body) and `hop=1` (answer with hop-by-hop headers the gateway must strip).
pub struct Backend {
    pub side: &'static str,
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Backend {
    pub async fn start(side: &'static str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(side, Arc::clone(&counter), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend { side, addr, hits, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests that reached this backend so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

async fn answer(
    side: &'static str,
    hits: Arc<AtomicUsize>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    hits.fetch_add(1, Ordering::SeqCst);
    let (parts, mut body) = req.into_parts();
    let mut body_len = 0usize;
    let mut body_prefix = Vec::new();
    let mut body_error = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                let data = frame.data_ref().map_or(&[][..], |d| &d[..]);
                body_len += data.len();
                let room = 64usize.saturating_sub(body_prefix.len()).min(data.len());
                body_prefix.extend_from_slice(&data[..room]);
            }
            Err(e) => {
                body_error = Some(e.to_string());
                break;
            }
        }
    }
    let query = parts.uri.query();
    if let Some(ms) = query_param(query, "delay_ms").and_then(|v| v.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let doc = json!({
        "side": side,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": query,
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body_len": body_len,
        "body_prefix": String::from_utf8_lossy(&body_prefix),
        "body_error": body_error,
    });
    let mut resp = Response::new(Full::new(Bytes::from(doc.to_string())));
    resp.headers_mut().insert("content-type", "application/json".parse().unwrap());
    if query_param(query, "hop").is_some() {
        let h = resp.headers_mut();
        h.insert("connection", "x-backend-hop".parse().unwrap());
        h.insert("x-backend-hop", "secret".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-backend-kept", "yes".parse().unwrap());
    }
    Ok(resp)
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------

/// The knobs of the test plan. One domain (`invoices` unless `domain` says otherwise), sticky
/// on `x-customer-id`, with `GET,POST /invoices` and `GET,PUT,DELETE /invoices/{id}`. Shadow
/// findings are shared per domain name by the whole process, so tests that count them use a
/// domain of their own.
#[derive(Debug, Clone)]
pub struct PlanOpts {
    pub legacy_url: String,
    pub new_url: String,
    pub request_timeout: &'static str,
    pub max_body_bytes: u64,
    pub unmatched: &'static str,
    pub phase: &'static str,
    pub read_new_percent: f64,
    pub domain: &'static str,
    /// `POST /invoices` may be sent twice (shadowed with its body).
    pub repeatable: bool,
    /// TOML appended after the domain (e.g. `shadow_percent` and a shadow table).
    pub extra: String,
}

impl PlanOpts {
    pub fn new(legacy_url: String, new_url: String) -> PlanOpts {
        PlanOpts {
            legacy_url,
            new_url,
            request_timeout: "10s",
            max_body_bytes: 1_048_576,
            unmatched: "legacy",
            phase: "legacy",
            read_new_percent: 0.0,
            domain: "invoices",
            repeatable: false,
            extra: String::new(),
        }
    }

    pub fn toml(&self) -> String {
        format!(
            r#"
[listener]
address = "127.0.0.1:0"
max_body_bytes = {max}

[upstreams.legacy]
url = "{legacy}"
connect_timeout = "1s"
request_timeout = "{timeout}"

[upstreams.new]
url = "{new}"
connect_timeout = "1s"
request_timeout = "{timeout}"

[unmatched]
upstream = "{unmatched}"

[domains.{domain}]
phase = "{phase}"
read_new_percent = {pct:?}
sticky = {{ header = "x-customer-id" }}
routes = [
  {{ methods = ["GET", "POST"], path = "/invoices", repeatable = {repeatable} }},
  {{ methods = ["GET", "PUT", "DELETE"], path = "/invoices/{{id}}" }},
]
{extra}
"#,
            extra = self.extra,
            domain = self.domain,
            repeatable = self.repeatable,
            max = self.max_body_bytes,
            legacy = self.legacy_url,
            new = self.new_url,
            timeout = self.request_timeout,
            unmatched = self.unmatched,
            phase = self.phase,
            pct = self.read_new_percent,
        )
    }

    pub fn parse(&self) -> Plan {
        Plan::parse(&self.toml(), "test.toml", Path::new(".")).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The gateway under test
// ---------------------------------------------------------------------------------------------

/// A gateway serving on a real listener on 127.0.0.1:0.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub plan: Plan,
    pub handle: SnapshotHandle,
    version: AtomicU64,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestGateway {
    pub async fn start(plan: Plan, drain: Duration) -> TestGateway {
        TestGateway::start_with(plan, drain, None).await
    }

    /// A gateway that hands accepted writes to `queue` (when given).
    pub async fn start_with(
        plan: Plan,
        drain: Duration,
        queue: Option<Arc<dyn ficus_gateway::replay::WriteQueue>>,
    ) -> TestGateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = RoutingTable::build(&plan, &[], 1).into_handle();
        let mut gateway = Gateway::from_plan(Arc::clone(&handle), &plan);
        if let Some(queue) = queue {
            gateway = gateway.with_queue(queue);
        }
        let gateway = Arc::new(gateway);
        let (tx, rx) = oneshot::channel::<()>();
        let served = tokio::spawn(ficus_gateway::serve(
            listener,
            gateway,
            async move {
                let _ = rx.await;
            },
            drain,
        ));
        TestGateway {
            addr,
            plan,
            handle,
            version: AtomicU64::new(1),
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Publish a new snapshot with the first domain in `phase` at `read_new_percent`.
    pub fn set(&self, phase: Phase, read_new_percent: f64) {
        let state = DomainState {
            phase,
            read_new_percent: Percent::from_percent(read_new_percent).unwrap(),
            shadow_percent: Percent::ZERO,
        };
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let table = RoutingTable::build(&self.plan, &[state], version);
        self.handle.store(Arc::new(table));
    }

    /// Resolve the shutdown future given to `serve`.
    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Whether `serve` has returned.
    pub fn has_stopped(&self) -> bool {
        self.served.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// What `serve` returned (waits at most `REQUEST_DEADLINE`).
    pub async fn served(&mut self) -> Result<(), ServeError> {
        let task = self.served.take().expect("served() called twice");
        tokio::time::timeout(REQUEST_DEADLINE, task)
            .await
            .expect("serve did not return in time")
            .expect("serve panicked")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(task) = &self.served {
            task.abort();
        }
    }
}

/// Two backends and a gateway in front of them.
pub struct Env {
    pub legacy: Backend,
    pub new: Backend,
    pub gw: TestGateway,
}

impl Env {
    pub async fn start(configure: impl FnOnce(&mut PlanOpts)) -> Env {
        Env::start_with_drain(configure, Duration::from_secs(10)).await
    }

    pub async fn start_with_drain(configure: impl FnOnce(&mut PlanOpts), drain: Duration) -> Env {
        let legacy = Backend::start("legacy").await;
        let new = Backend::start("new").await;
        let mut opts = PlanOpts::new(legacy.url(), new.url());
        configure(&mut opts);
        let gw = TestGateway::start(opts.parse(), drain).await;
        Env { legacy, new, gw }
    }
}

// ---------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------

/// An HTTP client to the gateway: HTTP/1.1 or h2c with prior knowledge.
#[derive(Clone)]
pub struct Client {
    inner: LegacyClient<HttpConnector, ClientBody>,
}

impl Client {
    pub fn http1() -> Client {
        Client {
            inner: LegacyClient::builder(TokioExecutor::new())
                .retry_canceled_requests(false)
                .build_http(),
        }
    }

    pub fn h2c() -> Client {
        Client {
            inner: LegacyClient::builder(TokioExecutor::new())
                .http2_only(true)
                .retry_canceled_requests(false)
                .build_http(),
        }
    }

    /// Send a request and read the whole answer, within `REQUEST_DEADLINE`.
    pub async fn try_send(&self, req: Request<ClientBody>) -> Result<Reply, String> {
        let what = format!("{} {}", req.method(), req.uri());
        let exchange = async {
            let resp = self.inner.request(req).await.map_err(|e| error_chain(&e))?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.map_err(|e| error_chain(&e))?.to_bytes();
            Ok(Reply { status: parts.status, version: parts.version, headers: parts.headers, body })
        };
        tokio::time::timeout(REQUEST_DEADLINE, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("{what}: no answer within {REQUEST_DEADLINE:?}")))
    }

    pub async fn send(&self, req: Request<ClientBody>) -> Reply {
        let what = format!("{} {}", req.method(), req.uri());
        self.try_send(req).await.unwrap_or_else(|e| panic!("{what} failed: {e}"))
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.send(request(Method::GET, url).body(empty()).unwrap()).await
    }

    /// A GET carrying the sticky subject `customer`.
    pub async fn get_as(&self, url: &str, customer: &str) -> Reply {
        self.send(
            request(Method::GET, url).header("x-customer-id", customer).body(empty()).unwrap(),
        )
        .await
    }
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        s.push_str(": ");
        s.push_str(&err.to_string());
        source = err.source();
    }
    s
}

pub fn request(method: Method, url: &str) -> http::request::Builder {
    Request::builder().method(method).uri(url)
}

pub fn empty() -> ClientBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body with a known length (sent with `Content-Length`).
pub fn full(bytes: impl Into<Bytes>) -> ClientBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// A streamed body of unknown length (sent chunked over HTTP/1.1, without `content-length`
/// over h2): `count` chunks of `size` bytes each.
pub fn chunked(count: usize, size: usize) -> ClientBody {
    let chunk = Bytes::from(vec![b'x'; size]);
    Chunks { left: std::iter::repeat_n(chunk, count).collect() }.boxed()
}

struct Chunks {
    left: VecDeque<Bytes>,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.left.pop_front().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.left.is_empty()
    }
}

/// A whole answer from the gateway.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "answer {} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The backend that served this answer ("legacy" or "new"); panics on anything else.
    pub fn side(&self) -> String {
        let doc = self.json();
        match doc["side"].as_str() {
            Some(side) => side.to_owned(),
            None => panic!("not a backend answer: {} {doc}", self.status),
        }
    }

    /// Every value of a request header as the backend saw it.
    pub fn seen_all(&self, name: &str) -> Vec<String> {
        let doc = self.json();
        doc["headers"][name]
            .as_array()
            .map(|vs| vs.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    /// The single value of a request header as the backend saw it.
    pub fn seen(&self, name: &str) -> Option<String> {
        let all = self.seen_all(name);
        assert!(all.len() <= 1, "{name} arrived {} times: {all:?}", all.len());
        all.into_iter().next()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Assert this is a problem+json answer with `status` and return the document.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problem answers are application/problem+json"
        );
        let doc = self.json();
        assert_eq!(doc["status"], status, "{doc}");
        assert!(doc["type"].as_str().is_some_and(|t| !t.is_empty()), "{doc}");
        assert!(doc["title"].as_str().is_some_and(|t| !t.is_empty()), "{doc}");
        let id = self.header("x-request-id").expect("problem without x-request-id");
        assert_eq!(doc["request_id"], id, "{doc}");
        doc
    }
}

// ---------------------------------------------------------------------------------------------
// Raw TCP and waiting
// ---------------------------------------------------------------------------------------------

/// Write `bytes` on a fresh connection, optionally half-close, and read what comes back until
/// the gateway closes the connection or `read_for` passes. Write errors are ignored (the
/// gateway may close early).
pub async fn raw_exchange(
    addr: SocketAddr,
    bytes: &[u8],
    half_close: bool,
    read_for: Duration,
) -> Vec<u8> {
    let mut stream = tokio::time::timeout(REQUEST_DEADLINE, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    let (mut rd, mut wr) = stream.split();
    let write = async {
        let _ = wr.write_all(bytes).await;
        if half_close {
            let _ = wr.shutdown().await;
        }
    };
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(read_for, async {
        tokio::join!(write, read);
    })
    .await;
    got
}

/// The status line of a raw HTTP/1.1 answer, if any.
pub fn status_line(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines().next().filter(|l| !l.is_empty()).map(str::to_owned)
}

/// The JSON body of a raw HTTP/1.1 answer (everything after the head).
pub fn raw_json(raw: &[u8]) -> Value {
    let text = String::from_utf8_lossy(raw);
    let (_, body) =
        text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("answer body is not JSON ({e}): {text:?}"))
}

/// Poll `cond` every few milliseconds for up to five seconds.
pub async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
