//! Pooled keep-alive HTTP/1.1 clients, one per upstream, built once from the plan.

use crate::body::Body;
use ficus_model::{Plan, Side, Upstream, defaults};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;

/// The client of one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    pub side: Side,
    pub(crate) client: Client<HttpConnector, Body>,
    /// `http://host:port/prefix` with no trailing slash.
    pub(crate) base: String,
    pub(crate) request_timeout: Duration,
}

impl UpstreamClient {
    /// A client with the upstream's pool size and timeouts. Opens no connection yet.
    pub fn new(up: &Upstream) -> UpstreamClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(up.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(up.pool_max_idle)
            .pool_idle_timeout(defaults::UPSTREAM_POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        UpstreamClient {
            side: up.side,
            client,
            base: up.base_url(),
            request_timeout: up.request_timeout,
        }
    }
}

/// Both upstream clients, indexed by side.
#[derive(Debug, Clone)]
pub struct Upstreams {
    clients: [UpstreamClient; 2],
}

impl Upstreams {
    pub fn from_plan(plan: &Plan) -> Upstreams {
        Upstreams {
            clients: [
                UpstreamClient::new(plan.upstream(Side::Legacy)),
                UpstreamClient::new(plan.upstream(Side::New)),
            ],
        }
    }

    pub fn get(&self, side: Side) -> &UpstreamClient {
        &self.clients[side.index()]
    }
}
