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
    authority: http::uri::Authority,
    /// Path prefix without a trailing slash ("" for none).
    prefix: String,
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
        // The plan checked the authority; a failure here leaves an empty one that fails to
        // connect (502) rather than a panic.
        let authority = up
            .authority
            .parse()
            .unwrap_or_else(|_| http::uri::Authority::from_static("invalid.invalid"));
        UpstreamClient {
            side: up.side,
            client,
            authority,
            prefix: up.path_prefix.clone(),
            request_timeout: up.request_timeout,
        }
    }

    /// The absolute URI of a request target on this upstream: scheme and authority of the
    /// upstream, its prefix, then the target's path and query.
    ///
    /// # Errors
    /// The prefixed target is not a valid URI.
    pub fn uri_for(
        &self,
        target: Option<&http::uri::PathAndQuery>,
    ) -> Result<http::Uri, http::Error> {
        let path_and_query = match (target, self.prefix.is_empty()) {
            (Some(pq), true) => pq.clone(),
            (None, true) => http::uri::PathAndQuery::from_static("/"),
            (t, false) => {
                let tail = t.map_or("/", http::uri::PathAndQuery::as_str);
                http::uri::PathAndQuery::try_from(format!("{}{tail}", self.prefix))?
            }
        };
        http::Uri::builder()
            .scheme(http::uri::Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
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

#[cfg(test)]
mod tests {
    use super::*;
    use ficus_model::Upstream;

    fn client(prefix: &str) -> UpstreamClient {
        UpstreamClient::new(&Upstream {
            side: Side::New,
            authority: "127.0.0.1:8002".into(),
            path_prefix: prefix.into(),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            pool_max_idle: 1,
        })
    }

    #[tokio::test]
    async fn uri_keeps_the_upstream_port_prefix_and_query() {
        let pq = http::uri::PathAndQuery::from_static("/invoices/7?x=1");
        assert_eq!(client("").uri_for(Some(&pq)).unwrap(), "http://127.0.0.1:8002/invoices/7?x=1");
        assert_eq!(
            client("/api").uri_for(Some(&pq)).unwrap(),
            "http://127.0.0.1:8002/api/invoices/7?x=1"
        );
        assert_eq!(client("").uri_for(None).unwrap(), "http://127.0.0.1:8002/");
    }
}
