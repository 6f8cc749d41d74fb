//! The demo's load: clients sending a steady mix of reads and writes through the gateway, and
//! the same reads straight to the upstream the gateway chose, to show what the gateway adds.

use ficus_gateway::SnapshotHandle;
use ficus_model::{Bucket, Plan, Side, decide};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Ids of the Chinook data every side holds.
const INVOICES: u32 = 412;
const CUSTOMERS: u32 = 59;
const TRACKS: u32 = 3503;

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub reads: u64,
    pub writes: u64,
    /// Reads through the gateway, and the same reads sent direct.
    pub gateway_reads: Vec<Duration>,
    pub direct_reads: Vec<Duration>,
    /// Unexpected statuses and transport errors, counted; the first few kept.
    pub errors: u64,
    pub error_samples: Vec<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.requests += o.requests;
        self.reads += o.reads;
        self.writes += o.writes;
        self.gateway_reads.extend(o.gateway_reads);
        self.direct_reads.extend(o.direct_reads);
        self.errors += o.errors;
        for s in o.error_samples {
            if self.error_samples.len() < 10 {
                self.error_samples.push(s);
            }
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < 10 {
            self.error_samples.push(what);
        }
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Stats>>,
}

#[derive(Clone)]
struct Ctx {
    http: reqwest::Client,
    gateway: String,
    direct: [String; 2],
    plan: Arc<Plan>,
    table: SnapshotHandle,
}

impl Ctx {
    /// The side the gateway routes to now, by the same rule and snapshot it uses.
    fn side(&self, method: &str, path: &str, subject: Option<&str>) -> (Side, Side) {
        let table = self.table.load();
        let Some(m) = self.plan.routes.lookup(method, path) else {
            return (Side::Legacy, Side::Legacy);
        };
        let domain = &self.plan.domains[m.domain];
        let Some(state) = table.state(&domain.name) else {
            return (Side::Legacy, Side::Legacy);
        };
        let bucket = subject.map_or(Bucket::from_random(0), |s| Bucket::of_key(s.as_bytes()));
        (
            decide(state.phase, method, bucket, state.read_new_percent).primary,
            state.phase.authoritative(),
        )
    }
}

impl Load {
    pub fn start(
        clients: usize,
        gateway: SocketAddr,
        direct: [SocketAddr; 2],
        plan: Arc<Plan>,
        table: SnapshotHandle,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(clients * 2)
            .build()
            .unwrap_or_default();
        let ctx = Ctx {
            http,
            gateway: format!("http://{gateway}"),
            direct: direct.map(|a| format!("http://{a}")),
            plan,
            table,
        };
        let workers = (0..clients.max(1))
            .map(|_| tokio::spawn(worker(ctx.clone(), Arc::clone(&stop))))
            .collect();
        Load { stop, workers }
    }

    pub async fn stop(self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Stats::default();
        for w in self.workers {
            match w.await {
                Ok(s) => all.merge(s),
                Err(e) => all.error(format!("load client panicked: {e}")),
            }
        }
        all
    }
}

async fn worker(ctx: Ctx, stop: Arc<AtomicBool>) -> Stats {
    let mut stats = Stats::default();
    while !stop.load(Ordering::Relaxed) {
        let roll: u32 = rand::rng().random_range(0..100);
        if roll < 75 {
            read(&ctx, &mut stats, roll).await;
        } else {
            write(&ctx, &mut stats).await;
        }
    }
    stats
}

async fn read(ctx: &Ctx, stats: &mut Stats, roll: u32) {
    // The thread-local RNG is not Send: draw everything before the first await.
    let (customer, path) = {
        let mut rng = rand::rng();
        let customer = rng.random_range(1..=CUSTOMERS).to_string();
        let path = match roll {
            0..50 => format!("/invoices/{}", rng.random_range(1..=INVOICES)),
            50..60 => format!("/invoices?limit=10&offset={}", rng.random_range(0..400)),
            60..68 => format!("/customers/{customer}"),
            _ => format!("/tracks/{}", rng.random_range(1..=TRACKS)),
        };
        (customer, path)
    };
    let (side, _) = ctx.side("GET", path.split('?').next().unwrap_or(&path), Some(&customer));
    stats.requests += 1;
    stats.reads += 1;
    let t = Instant::now();
    let via = ctx
        .http
        .get(format!("{}{path}", ctx.gateway))
        .header("x-customer-id", &customer)
        .send()
        .await;
    let elapsed = t.elapsed();
    match via {
        Ok(r) if r.status() == reqwest::StatusCode::OK => {
            let _ = r.bytes().await;
            stats.gateway_reads.push(elapsed);
        }
        Ok(r) => return stats.error(format!("GET {path} through the gateway: {}", r.status())),
        Err(e) => return stats.error(format!("GET {path} through the gateway: {e}")),
    }
    let t = Instant::now();
    let direct = ctx
        .http
        .get(format!("{}{path}", ctx.direct[side.index()]))
        .header("x-customer-id", &customer)
        .send()
        .await;
    if let Ok(r) = direct {
        let _ = r.bytes().await;
        stats.direct_reads.push(t.elapsed());
    }
}

async fn write(ctx: &Ctx, stats: &mut Stats) {
    // Creates, and full replacements of invoices every side holds. No write follows up on an
    // id a create returned: until dual writes keep the other side in sync (a later step), each
    // side assigns its own ids, and the same id can name different invoices on the two sides.
    let (customer, track, qty, replace) = {
        let mut rng = rand::rng();
        let replace = rng.random_bool(0.5).then(|| rng.random_range(1..=INVOICES));
        (
            rng.random_range(1..=CUSTOMERS),
            rng.random_range(1..=TRACKS),
            rng.random_range(1..=3),
            replace,
        )
    };
    let body = serde_json::json!({
        "customer_id": customer,
        "invoice_date": "2026-11-20T12:00:00Z",
        "billing_address": "Rua Dr. Falcão Filho, 155",
        "billing_city": "São Paulo",
        "billing_state": "SP",
        "billing_country": "Brazil",
        "billing_postal_code": "01007-010",
        "lines": [{ "track_id": track, "quantity": qty }],
    });
    let subject = customer.to_string();
    stats.requests += 1;
    stats.writes += 1;
    let (request, what, expected) = match replace {
        Some(id) => (
            ctx.http.put(format!("{}/invoices/{id}", ctx.gateway)),
            format!("PUT /invoices/{id}"),
            reqwest::StatusCode::OK,
        ),
        None => (
            ctx.http.post(format!("{}/invoices", ctx.gateway)),
            "POST /invoices".to_owned(),
            reqwest::StatusCode::CREATED,
        ),
    };
    match request.header("x-customer-id", &subject).json(&body).send().await {
        Ok(r) if r.status() == expected => {
            let _ = r.bytes().await;
        }
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            stats.error(format!("{what} through the gateway: {status} {text}"));
        }
        Err(e) => stats.error(format!("{what} through the gateway: {e}")),
    }
}
