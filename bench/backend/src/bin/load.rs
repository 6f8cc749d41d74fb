//! Open-loop (fixed-rate) HTTP/1.1 load generator for `bench/shadow.sh`.
//!
//! Usage: `ficus-bench-load --url http://127.0.0.1:PORT/PATH --rate R --duration S
//! [--warmup S] [--connections N] [--workers N] [--timeout S]`
//!
//! Requests are scheduled at a fixed rate, independent of how fast answers come back: request
//! `i` is *due* at `start + i / rate`. A pacing thread (a plain OS thread sleeping with
//! `nanosleep` precision, not the 1 ms tokio timer) hands out each request when it is due; any
//! of the `N` keep-alive connections that is idle takes the next one. Latency is measured from
//! the due time, not from the moment the request was written, so time spent waiting for a free
//! connection when the target falls behind counts against the target (no coordinated
//! omission, as in wrk2). The delay between the due time and the actual send is reported
//! separately (`send_delay_*`): when it is large, the target (or this generator) could not keep
//! up with the offered rate and the latencies include that queueing.
//!
//! Latencies go into HDR histograms (`hdrhistogram`, 3 significant digits, microseconds), one
//! per connection, merged at the end. Requests due during `--warmup` are sent but not
//! recorded. Each request that fails (connect error, I/O error, timeout) is counted as an
//! error and its connection is re-established; non-2xx answers are counted apart. Requests
//! still waiting once the schedule's end plus one `--timeout` has passed are not sent but
//! counted as errors (`unsent`), so the run ends by itself even if the target stops answering.
//!
//! Output: a human summary on stderr, and one line of `key=value` pairs on stdout for scripts.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

type BoxError = Box<dyn Error + Send + Sync>;

const USAGE: &str = "usage: ficus-bench-load --url http://HOST:PORT/PATH --rate REQ_PER_S \
--duration SECS [--warmup SECS] [--connections N] [--workers N] [--timeout SECS]";

/// Largest latency the histograms hold, in microseconds (beyond it values are clamped).
const MAX_MICROS: u64 = 120_000_000;

#[derive(Debug)]
struct Args {
    addr: SocketAddr,
    host: HeaderValue,
    path: Uri,
    rate: f64,
    duration: f64,
    warmup: f64,
    connections: usize,
    workers: usize,
    timeout: Duration,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut url = None;
    let mut rate = None;
    let mut duration = None;
    let mut warmup = 0.0f64;
    let mut connections = 32usize;
    let mut workers = 1usize;
    let mut timeout = 10.0f64;
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
        let positive = |name: &str, v: String| -> Result<f64, BoxError> {
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
                _ => Err(format!("{name} {v:?}: want a positive number").into()),
            }
        };
        let count = |name: &str, v: String| -> Result<usize, BoxError> {
            match v.parse::<usize>() {
                Ok(x) if x > 0 => Ok(x),
                _ => Err(format!("{name} {v:?}: want a positive integer").into()),
            }
        };
        match flag.as_str() {
            "--url" | "-u" => url = Some(value("--url")?),
            "--rate" | "-r" => rate = Some(positive("--rate", value("--rate")?)?),
            "--duration" | "-d" => duration = Some(positive("--duration", value("--duration")?)?),
            "--warmup" => {
                let v = value("--warmup")?;
                warmup = match v.parse::<f64>() {
                    Ok(x) if x.is_finite() && x >= 0.0 => x,
                    _ => return Err(format!("--warmup {v:?}: want a number >= 0").into()),
                };
            }
            "--connections" | "-c" => {
                connections = count("--connections", value("--connections")?)?
            }
            "--workers" | "-w" => workers = count("--workers", value("--workers")?)?,
            "--timeout" => timeout = positive("--timeout", value("--timeout")?)?,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let url = url.ok_or_else(|| format!("--url is required\n{USAGE}"))?;
    let rate = rate.ok_or_else(|| format!("--rate is required\n{USAGE}"))?;
    let duration = duration.ok_or_else(|| format!("--duration is required\n{USAGE}"))?;
    let uri: Uri = url.parse().map_err(|e| format!("--url {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("--url {url:?}: only http:// is supported").into());
    }
    let authority = uri.authority().ok_or_else(|| format!("--url {url:?}: no host:port"))?;
    let addr: SocketAddr = authority
        .as_str()
        .parse()
        .map_err(|e| format!("--url {url:?}: want a literal IP:PORT ({e})"))?;
    let host = HeaderValue::from_str(authority.as_str())?;
    let path: Uri = uri.path_and_query().map_or("/", |p| p.as_str()).parse()?;
    Ok(Args {
        addr,
        host,
        path,
        rate,
        duration,
        warmup,
        connections,
        workers,
        timeout: Duration::from_secs_f64(timeout),
    })
}

/// The schedule every connection draws from.
struct Schedule {
    start: Instant,
    /// Nanoseconds between two due times.
    interval_ns: f64,
    /// Requests in the whole run (warm-up and measured).
    total: u64,
    /// The first `warmup` requests are not recorded.
    warmup: u64,
    /// The next request index to take.
    next: AtomicU64,
    /// One permit per request that is due (plus one per connection at the end, to stop).
    due: Semaphore,
    /// Past this instant requests are no longer sent but counted as `unsent` (and as errors):
    /// the end of the schedule plus one request timeout, so that a target that stops
    /// answering cannot keep the run going.
    deadline: Instant,
}

impl Schedule {
    fn due_at(&self, i: u64) -> Instant {
        self.start + Duration::from_nanos((i as f64 * self.interval_ns) as u64)
    }
}

fn histogram() -> Histogram<u64> {
    // Bounds and precision are constants that `new_with_bounds` accepts.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!())
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_MICROS);
    h.saturating_record(us);
}

/// What one connection task measured.
struct Tally {
    latency: Histogram<u64>,
    send_delay: Histogram<u64>,
    completed: u64,
    non_2xx: u64,
    errors: u64,
    unsent: u64,
    connects: u64,
    /// Measured requests answered, and the latest answer of a measured request.
    last_done: Option<Instant>,
}

type Sender = http1::SendRequest<Empty<Bytes>>;

async fn connect(args: &Args) -> Result<Sender, BoxError> {
    let stream = TcpStream::connect(args.addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn exchange(sender: &mut Sender, args: &Args) -> Result<bool, BoxError> {
    sender.ready().await?;
    let mut req = Request::new(Empty::<Bytes>::new());
    *req.method_mut() = Method::GET;
    *req.uri_mut() = args.path.clone();
    req.headers_mut().insert(HOST, args.host.clone());
    let resp = sender.send_request(req).await?;
    let ok = resp.status().is_success();
    // Read the whole body, as a real client would.
    resp.into_body().collect().await?;
    Ok(ok)
}

async fn connection(args: Arc<Args>, schedule: Arc<Schedule>) -> Tally {
    let mut t = Tally {
        latency: histogram(),
        send_delay: histogram(),
        completed: 0,
        non_2xx: 0,
        errors: 0,
        unsent: 0,
        connects: 0,
        last_done: None,
    };
    let mut sender: Option<Sender> = None;
    loop {
        let Ok(permit) = schedule.due.acquire().await else { break };
        permit.forget();
        let i = schedule.next.fetch_add(1, Ordering::Relaxed);
        if i >= schedule.total {
            break;
        }
        let due = schedule.due_at(i);
        let measured = i >= schedule.warmup;
        if Instant::now() > schedule.deadline {
            if measured {
                t.unsent += 1;
                t.errors += 1;
            }
            continue;
        }
        if measured {
            record(&mut t.send_delay, Instant::now().saturating_duration_since(due));
        }
        let attempt = async {
            if sender.is_none() {
                t.connects += 1;
                sender = Some(connect(&args).await?);
            }
            match sender.as_mut() {
                Some(s) => exchange(s, &args).await,
                None => Err("no connection".into()),
            }
        };
        let result = tokio::time::timeout(args.timeout, attempt).await;
        let done = Instant::now();
        match result {
            Ok(Ok(ok)) => {
                if measured {
                    record(&mut t.latency, done.saturating_duration_since(due));
                    t.completed += 1;
                    t.non_2xx += u64::from(!ok);
                    t.last_done = Some(done);
                }
            }
            Ok(Err(_)) | Err(_) => {
                // A broken or timed-out exchange: drop the connection, count, go on.
                sender = None;
                if measured {
                    t.errors += 1;
                }
            }
        }
    }
    t
}

/// Hands out one permit per request when it is due, sleeping on an OS thread (nanosleep
/// precision). Returns the histogram of how late each batch of permits was released.
fn pace(schedule: &Schedule, connections: usize) -> Histogram<u64> {
    let mut lag = histogram();
    let mut released = 0u64;
    while released < schedule.total {
        let next_due = schedule.due_at(released);
        let now = Instant::now();
        if now < next_due {
            std::thread::sleep(next_due - now);
            continue;
        }
        let elapsed_ns = now.duration_since(schedule.start).as_nanos() as f64;
        let due_now = ((elapsed_ns / schedule.interval_ns) as u64 + 1).min(schedule.total);
        if released >= schedule.warmup {
            record(&mut lag, now - next_due);
        }
        schedule.due.add_permits(usize::try_from(due_now - released).unwrap_or(usize::MAX));
        released = due_now;
    }
    // One stop permit per connection: the index it draws is past the end.
    schedule.due.add_permits(connections);
    lag
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

async fn run(args: Args) -> Result<(), BoxError> {
    let args = Arc::new(args);
    // Fail fast (before the clock starts) if the target does not answer at all.
    let probe = async {
        let mut sender = connect(&args).await.map_err(|e| format!("connect {}: {e}", args.addr))?;
        exchange(&mut sender, &args).await.map_err(|e| format!("first request: {e}"))?;
        Ok::<_, BoxError>(())
    };
    tokio::time::timeout(args.timeout, probe)
        .await
        .map_err(|_| format!("first request: no answer within {:?}", args.timeout))??;

    let warmup = (args.warmup * args.rate).round() as u64;
    let measured = ((args.duration * args.rate).round() as u64).max(1);
    // A short head start so that every connection task is waiting when the first is due.
    let start = Instant::now() + Duration::from_millis(50);
    let schedule = Arc::new(Schedule {
        start,
        interval_ns: 1e9 / args.rate,
        total: warmup + measured,
        warmup,
        next: AtomicU64::new(0),
        due: Semaphore::new(0),
        deadline: start + Duration::from_secs_f64(args.warmup + args.duration) + args.timeout,
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(Arc::clone(&args), Arc::clone(&schedule))))
        .collect();
    let pacer = {
        let schedule = Arc::clone(&schedule);
        let connections = args.connections;
        std::thread::Builder::new()
            .name("pacer".into())
            .spawn(move || pace(&schedule, connections))?
    };

    let mut latency = histogram();
    let mut send_delay = histogram();
    let (mut completed, mut non_2xx, mut errors, mut unsent, mut connects) = (0, 0, 0, 0, 0u64);
    let mut last_done: Option<Instant> = None;
    for task in tasks {
        let t = task.await?;
        latency.add(&t.latency).map_err(|e| format!("merge histograms: {e}"))?;
        send_delay.add(&t.send_delay).map_err(|e| format!("merge histograms: {e}"))?;
        completed += t.completed;
        non_2xx += t.non_2xx;
        errors += t.errors;
        unsent += t.unsent;
        connects += t.connects;
        last_done = last_done.max(t.last_done);
    }
    let lag = pacer.join().map_err(|_| "pacer thread panicked")?;

    // Achieved rate over the measured window: from the first measured due time to the last
    // measured answer (or the scheduled end, if that is later).
    let window_start = schedule.due_at(warmup);
    let scheduled_end = window_start + Duration::from_secs_f64(args.duration);
    let window_end = last_done.map_or(scheduled_end, |d| d.max(scheduled_end));
    let window = window_end.duration_since(window_start).as_secs_f64();
    let achieved = completed as f64 / window;

    let q = |h: &Histogram<u64>, p: f64| ms(h.value_at_quantile(p));
    eprintln!(
        "offered {:.0} req/s for {:.1} s (+{:.1} s warm-up) over {} connections: {} answered \
         ({:.0} req/s), {} non-2xx, {} errors ({} not sent: past the deadline), {} connects",
        args.rate,
        args.duration,
        args.warmup,
        args.connections,
        completed,
        achieved,
        non_2xx,
        errors,
        unsent,
        connects
    );
    eprintln!(
        "latency from due time (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        q(&latency, 0.5),
        q(&latency, 0.9),
        q(&latency, 0.99),
        q(&latency, 0.999),
        ms(latency.max())
    );
    eprintln!(
        "send delay after due time (ms): p50 {:.3}  p99 {:.3}  max {:.3}; pacer lag p99 {:.3} ms",
        q(&send_delay, 0.5),
        q(&send_delay, 0.99),
        ms(send_delay.max()),
        q(&lag, 0.99)
    );
    println!(
        "offered_rps={:.2} achieved_rps={:.2} requests={} completed={} non_2xx={} errors={} \
         unsent={} connects={} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} \
         send_delay_p50_ms={:.3} send_delay_p99_ms={:.3} send_delay_max_ms={:.3} \
         pacer_lag_p99_ms={:.3}",
        args.rate,
        achieved,
        measured,
        completed,
        non_2xx,
        errors,
        unsent,
        connects,
        q(&latency, 0.5),
        q(&latency, 0.9),
        q(&latency, 0.99),
        q(&latency, 0.999),
        ms(latency.max()),
        q(&send_delay, 0.5),
        q(&send_delay, 0.99),
        ms(send_delay.max()),
        q(&lag, 0.99)
    );
    if completed == 0 {
        return Err("no request was answered".into());
    }
    Ok(())
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
    runtime.block_on(run(args)).map_err(Report)
}
