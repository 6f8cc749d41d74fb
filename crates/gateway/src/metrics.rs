//! Request metrics: `ficus_requests_total` and `ficus_request_duration_seconds` by domain,
//! upstream, phase and outcome. Handles are resolved once per routing snapshot, so recording a
//! request is two atomic updates with no label allocation.

use ficus_model::{Phase, Side};
use metrics::{Counter, Histogram, counter, histogram};
use std::time::Duration;

pub const REQUESTS_TOTAL: &str = "ficus_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "ficus_request_duration_seconds";

/// How a request ended, as seen by the client. A bounded label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered 1xx-3xx.
    Success,
    /// The upstream answered 4xx.
    ClientError,
    /// The upstream answered 5xx.
    ServerError,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The upstream could not be reached or broke the exchange (502).
    Unreachable,
    /// The gateway refused the request itself (413, 400, 404 for no route).
    Rejected,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::Timeout,
        Outcome::Unreachable,
        Outcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::Rejected => "rejected",
        }
    }

    /// The outcome of an upstream answer with this status.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            500.. => Outcome::ServerError,
            400..=499 => Outcome::ClientError,
            _ => Outcome::Success,
        }
    }
}

/// Label value for requests that reached no upstream.
const NO_UPSTREAM: &str = "none";

/// Pre-resolved handles for one domain in one phase: `[upstream][outcome]`, where upstream 0 is
/// legacy, 1 new, 2 none.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    counters: Vec<Counter>,
    histograms: Vec<Histogram>,
}

impl RequestMetrics {
    /// Resolve the handles for `domain` in `phase` (`None` for unmatched requests).
    pub fn new(domain: &str, phase: Option<Phase>) -> RequestMetrics {
        let phase = phase.map_or("none", Phase::as_str);
        let mut counters = Vec::with_capacity(18);
        let mut histograms = Vec::with_capacity(18);
        for upstream in [Side::Legacy.as_str(), Side::New.as_str(), NO_UPSTREAM] {
            for outcome in Outcome::ALL {
                let labels = [
                    ("domain", domain.to_owned()),
                    ("upstream", upstream.to_owned()),
                    ("phase", phase.to_owned()),
                    ("outcome", outcome.as_str().to_owned()),
                ];
                counters.push(counter!(REQUESTS_TOTAL, &labels));
                histograms.push(histogram!(REQUEST_DURATION_SECONDS, &labels));
            }
        }
        RequestMetrics {
            counters,
            histograms,
        }
    }

    /// Count one request and its latency up to the response head.
    pub fn record(&self, upstream: Option<Side>, outcome: Outcome, elapsed: Duration) {
        let u = upstream.map_or(2, Side::index);
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        let i = u * Outcome::ALL.len() + o;
        if let (Some(c), Some(h)) = (self.counters.get(i), self.histograms.get(i)) {
            c.increment(1);
            h.record(elapsed.as_secs_f64());
        }
    }
}

/// Register descriptions of the gateway's metrics with the installed recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "Requests through the gateway by domain, upstream, phase and outcome."
    );
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time from receiving a request to sending the response head, by domain, upstream, phase and outcome."
    );
}
