//! Dual writes with nothing lost: the real `ficus serve` in front of the Chinook legacy and new
//! services (in this process, on loopback), a bounded write load, the gateway killed with
//! SIGKILL at random moments (20 times) and the new service stopped for 30 seconds mid-load.
//! At the end every write the client saw acknowledged is in new's own database exactly once,
//! as legacy has it, and no client request failed because of the secondary. The same run
//! passes with the write queue embedded and on NATS JetStream (at `FICUS_TEST_NATS_URL`,
//! default `nats://127.0.0.1:4222`, in a stream of its own that is deleted at the end).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use ficus_example_chinook::{legacy, new, write_chinook_sqlite};
use rand::Rng;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use util::{Serve, client, ficus, free_port};

const KILLS: usize = 20;
const OUTAGE: Duration = Duration::from_secs(30);

/// A service on a fixed port that can be stopped and started again.
struct Service {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(addr: SocketAddr, router: axum::Router) -> Service {
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let (stop, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
    });
    Service { stop, task }
}

impl Service {
    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Where the write queue is.
enum Queue {
    Embedded,
    Nats { url: String, stream: String },
}

impl Queue {
    fn name(&self) -> &'static str {
        match self {
            Queue::Embedded => "embedded queue",
            Queue::Nats { .. } => "NATS JetStream",
        }
    }

    /// The `[write_queue]` keys that choose it.
    fn keys(&self) -> String {
        match self {
            Queue::Embedded => String::new(),
            Queue::Nats { url, stream } => {
                format!("backend = \"nats\"\nnats_url = \"{url}\"\nstream = \"{stream}\"\n")
            }
        }
    }
}

fn plan(
    dir: &Path,
    legacy: SocketAddr,
    new: SocketAddr,
    queue: &Queue,
) -> (std::path::PathBuf, util::Ports) {
    let ports = util::Ports { gateway: free_port(), admin: free_port() };
    let text = format!(
        r#"
[listener]
address = "127.0.0.1:{g}"
workers = 2
[admin]
address = "127.0.0.1:{a}"
token_env = "TEST_FICUS_TOKEN"
[state]
path = "state.db"
[upstreams.legacy]
url = "http://{legacy}"
request_timeout = "5s"
[upstreams.new]
url = "http://{new}"
connect_timeout = "200ms"
request_timeout = "5s"
[write_queue]
{queue}backoff_initial = "50ms"
backoff_max = "2s"
max_attempts = 200
[domains.invoices]
phase = "dual-write"
sticky = {{ header = "x-customer-id" }}
routes = [
  {{ methods = ["GET", "POST"], path = "/invoices", id_pointer = "/id" }},
  {{ methods = ["GET", "PUT", "DELETE"], path = "/invoices/{{id}}" }},
]
"#,
        g = ports.gateway,
        a = ports.admin,
        queue = queue.keys(),
    );
    let path = dir.join("ficus.toml");
    std::fs::write(&path, text).unwrap();
    (path, ports)
}

fn invoice(customer: u32, track: u32, quantity: u32) -> Value {
    json!({
        "customer_id": customer,
        "invoice_date": "2026-11-21T12:00:00Z",
        "billing_city": "Porto Alegre",
        "billing_country": "Brazil",
        "lines": [{ "track_id": track, "quantity": quantity }],
    })
}

#[derive(Default)]
struct Seen {
    /// Invoice ids whose create was acknowledged, with the body of the last acknowledged write.
    acknowledged: std::collections::BTreeMap<i64, Value>,
    /// Answers that were not 2xx (a connection cut by a kill is not an answer).
    failed_answers: Vec<String>,
    /// Invoices whose last write got no answer (the gateway was killed): legacy may have
    /// applied it before it was queued, so new may or may not have it.
    unanswered: std::collections::BTreeSet<i64>,
    writes: usize,
}

async fn load(gateway: String, seen: Arc<Mutex<Seen>>, until: Instant) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    while Instant::now() < until {
        let (customer, track, qty, replace) = {
            let mut rng = rand::rng();
            let known: Vec<i64> = seen.lock().unwrap().acknowledged.keys().copied().collect();
            let replace = (!known.is_empty() && rng.random_bool(0.3))
                .then(|| known[rng.random_range(0..known.len())]);
            (rng.random_range(1..=59), rng.random_range(1..=3503), rng.random_range(1..=3), replace)
        };
        let body = invoice(customer, track, qty);
        let req = match replace {
            Some(id) => http.put(format!("{gateway}/invoices/{id}")),
            None => http.post(format!("{gateway}/invoices")),
        };
        let sent = req.header("x-customer-id", customer.to_string()).json(&body).send().await;
        let answer = match sent {
            Ok(resp) => {
                let status = resp.status();
                resp.json::<Value>().await.ok().map(|a| (status, a))
            }
            Err(_) => None,
        };
        let Some((status, answer)) = answer else {
            // The gateway is down (killed): not an answer, not acknowledged.
            if let Some(id) = replace {
                seen.lock().unwrap().unanswered.insert(id);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        {
            let mut s = seen.lock().unwrap();
            s.writes += 1;
            if status.is_success() {
                let id = answer["id"].as_i64().unwrap();
                s.unanswered.remove(&id);
                s.acknowledged.insert(id, answer);
            } else {
                s.failed_answers.push(format!("{status}: {answer}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The invoice as both services must agree on it (ids of lines are each side's own).
fn essence(v: &Value) -> Value {
    let lines: Vec<Value> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!([l["track_id"], l["unit_price"], l["quantity"]]))
        .collect();
    json!([v["id"], v["customer_id"], v["invoice_date"], v["billing_city"], v["total"], lines])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_reach_new_exactly_once_through_kills_and_an_outage() {
    kills_and_an_outage(&Queue::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_reach_new_exactly_once_through_kills_and_an_outage_on_nats() {
    let url =
        std::env::var("FICUS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let stream = format!("FICUS_TEST_{:016x}", rand::random::<u64>());
    let nats = ficus_control::queue::nats::Nats::connect(&url, &stream).await.unwrap_or_else(|e| {
        panic!("NATS with JetStream is needed at {url} (set FICUS_TEST_NATS_URL): {e}")
    });
    kills_and_an_outage(&Queue::Nats { url, stream }).await;
    nats.delete_stream().await.unwrap();
}

async fn kills_and_an_outage(queue: &Queue) {
    let dir = tempfile::tempdir().unwrap();
    let chinook = write_chinook_sqlite(dir.path()).unwrap();
    let legacy_db = legacy::open_sqlite(&chinook).await.unwrap();
    let new_pool = new::open(&dir.path().join("new.sqlite"), &chinook).await.unwrap();
    let legacy_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let new_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let legacy_svc = serve(legacy_addr, legacy::router(legacy_db)).await;
    let mut new_svc = Some(serve(new_addr, new::router(new_pool.clone())).await);
    let (plan, ports) = plan(dir.path(), legacy_addr, new_addr, queue);
    let mut gateway = Some(Serve::start(&plan, &ports).await);
    let gateway_url = gateway.as_ref().unwrap().gateway.clone();
    let admin = gateway.as_ref().unwrap().admin.clone();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let started = Instant::now();
    let load_until = started + OUTAGE + Duration::from_secs(25);
    let loader = tokio::spawn(load(gateway_url.clone(), Arc::clone(&seen), load_until));

    // The new service goes away for 30 s, a few seconds in.
    let outage = {
        let new_pool = new_pool.clone();
        let svc = new_svc.take().unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            svc.stop().await;
            tokio::time::sleep(OUTAGE).await;
            serve(new_addr, new::router(new_pool)).await
        })
    };

    // SIGKILL the gateway at random moments, and start it again each time.
    for _ in 0..KILLS {
        let pause = rand::rng().random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        gateway.take().unwrap().kill();
        gateway = Some(Serve::start(&plan, &ports).await);
    }
    loader.await.unwrap();
    new_svc = Some(outage.await.unwrap());

    // Every queued write is delivered: nothing waits, nothing is dead.
    let deadline = Instant::now() + Duration::from_secs(120);
    let stats = loop {
        let out = ficus(&admin, None, &["writes", "invoices", "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["stats"]["depth"] == 0 {
            break v;
        }
        assert!(Instant::now() < deadline, "the queue did not drain: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(stats["stats"]["dead"], 0, "no dead letters: {stats}");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.failed_answers.is_empty(), "client requests failed: {:?}", seen.failed_answers);
    assert!(
        seen.acknowledged.len() >= 50,
        "enough writes acknowledged: {}",
        seen.acknowledged.len()
    );
    assert!(stats["stats"]["succeeded"].as_u64().unwrap() >= seen.acknowledged.len() as u64);

    // New has each acknowledged invoice exactly once, as legacy has it.
    let http = client();
    let mut unqueued = 0;
    for (id, acknowledged) in &seen.acknowledged {
        let get = |base: SocketAddr| {
            let http = http.clone();
            async move {
                let r = http.get(format!("http://{base}/invoices/{id}")).send().await.unwrap();
                assert_eq!(r.status(), 200, "invoice {id} on {base}");
                r.json::<Value>().await.unwrap()
            }
        };
        let (l, n) = (get(legacy_addr).await, get(new_addr).await);
        let (l, n, acknowledged) = (essence(&l), essence(&n), essence(acknowledged));
        if seen.unanswered.contains(id) && n == acknowledged {
            // Killed after legacy applied the last write and before it was queued: the client
            // got no answer, so nothing was promised; new keeps the last acknowledged write.
            unqueued += usize::from(l != n);
            continue;
        }
        assert_eq!(
            l, n,
            "invoice {id} differs between legacy and new; last acknowledged: {acknowledged}"
        );
    }
    // Nothing in new that legacy lacks: a write applied twice would be an extra invoice (new
    // adopts legacy's ids, so a second copy could only come under another id).
    let ids = |base: SocketAddr| {
        let http = http.clone();
        async move {
            let mut ids = std::collections::BTreeSet::new();
            let mut offset = 0;
            loop {
                let page = util::get_json(
                    &http,
                    &format!("http://{base}/invoices?limit=100&offset={offset}"),
                )
                .await;
                let items = page["items"].as_array().unwrap();
                ids.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
                offset += 100;
                if offset >= page["total"].as_i64().unwrap() {
                    return ids;
                }
            }
        }
    };
    let (in_legacy, in_new) = (ids(legacy_addr).await, ids(new_addr).await);
    let extra: Vec<_> = in_new.difference(&in_legacy).collect();
    assert!(extra.is_empty(), "invoices in new but not in legacy: {extra:?}");
    eprintln!(
        "dual writes ({}): {} writes answered, {} invoices acknowledged, {KILLS} SIGKILLs, {OUTAGE:?} outage of new, {unqueued} unanswered writes legacy kept and new did not get, {}",
        queue.name(),
        seen.writes,
        seen.acknowledged.len(),
        stats["stats"]
    );
    drop(gateway);
    if let Some(s) = new_svc {
        s.stop().await;
    }
    legacy_svc.stop().await;
}
