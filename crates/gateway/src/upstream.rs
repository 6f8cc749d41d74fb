//! The client side of each upstream: a keep-alive connection pool per gateway worker, and the
//! request target rewrite (the upstream's path prefix).

use crate::pool::Pool;
use ficus_model::{Plan, Side, Upstream};
use std::sync::Arc;
use std::time::Duration;

/// The client of one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    pub side: Side,
    pub(crate) pool: Arc<Pool>,
    /// Path prefix without a trailing slash ("" for none).
    prefix: String,
    pub(crate) request_timeout: Duration,
}

impl UpstreamClient {
    /// A client with the upstream's pool size and timeouts. Opens no connection yet.
    pub fn new(up: &Upstream) -> UpstreamClient {
        UpstreamClient {
            side: up.side,
            pool: Pool::new(up.authority.clone(), up.connect_timeout, up.pool_max_idle),
            prefix: up.path_prefix.clone(),
            request_timeout: up.request_timeout,
        }
    }

    /// The origin-form target of a request on this upstream: its prefix, then the target's
    /// path and query.
    ///
    /// # Errors
    /// The prefixed target is not a valid URI.
    pub fn target_for(
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
        Ok(http::Uri::from(path_and_query))
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

    #[test]
    fn target_keeps_prefix_and_query() {
        let pq = http::uri::PathAndQuery::from_static("/invoices/7?x=1");
        assert_eq!(client("").target_for(Some(&pq)).unwrap(), "/invoices/7?x=1");
        assert_eq!(client("/api").target_for(Some(&pq)).unwrap(), "/api/invoices/7?x=1");
        assert_eq!(client("").target_for(None).unwrap(), "/");
    }
}
