//! Which side failed and how: decides the status the client gets, the problem document and the
//! metrics outcome (after pingora's `ErrorSource`).

use ficus_model::Side;

/// Who is at fault for a request that did not get an upstream answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureSide {
    /// The legacy or new upstream.
    Upstream(Side),
    /// The client sent something the gateway refuses.
    Client,
    /// Ficus itself.
    Gateway,
}

impl FailureSide {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureSide::Upstream(s) => s.as_str(),
            FailureSide::Client => "client",
            FailureSide::Gateway => "gateway",
        }
    }
}

/// A request the gateway answers itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("upstream {side} did not answer within {timeout_ms} ms")]
    UpstreamTimeout { side: Side, timeout_ms: u128 },
    #[error("could not connect to upstream {side}: {detail}")]
    UpstreamConnect { side: Side, detail: String },
    #[error("upstream {side} failed: {detail}")]
    UpstreamBroken { side: Side, detail: String },
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("the request could not be read: {detail}")]
    BadRequest { detail: String },
    #[error("no route matches {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("{method} is not forwarded by the gateway")]
    MethodNotAllowed { method: String },
}

impl Failure {
    /// HTTP status the client gets.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Failure::UpstreamTimeout { .. } => S::GATEWAY_TIMEOUT,
            Failure::UpstreamConnect { .. } | Failure::UpstreamBroken { .. } => S::BAD_GATEWAY,
            Failure::BodyTooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            Failure::BadRequest { .. } => S::BAD_REQUEST,
            Failure::NoRoute { .. } => S::NOT_FOUND,
            Failure::MethodNotAllowed { .. } => S::METHOD_NOT_ALLOWED,
        }
    }

    /// Which side failed.
    pub fn side(&self) -> FailureSide {
        match self {
            Failure::UpstreamTimeout { side, .. }
            | Failure::UpstreamConnect { side, .. }
            | Failure::UpstreamBroken { side, .. } => FailureSide::Upstream(*side),
            Failure::BodyTooLarge { .. }
            | Failure::BadRequest { .. }
            | Failure::NoRoute { .. }
            | Failure::MethodNotAllowed { .. } => FailureSide::Client,
        }
    }

    /// Short stable title for the problem document.
    pub fn title(&self) -> &'static str {
        match self {
            Failure::UpstreamTimeout { .. } => "Upstream timed out",
            Failure::UpstreamConnect { .. } => "Upstream unreachable",
            Failure::UpstreamBroken { .. } => "Upstream failed",
            Failure::BodyTooLarge { .. } => "Request body too large",
            Failure::BadRequest { .. } => "Bad request",
            Failure::NoRoute { .. } => "No route",
            Failure::MethodNotAllowed { .. } => "Method not allowed",
        }
    }

    /// A URI reference naming the kind of problem (RFC 9457 §3.1.1).
    pub fn type_uri(&self) -> &'static str {
        match self {
            Failure::UpstreamTimeout { .. } => "urn:ficus:problem:upstream-timeout",
            Failure::UpstreamConnect { .. } => "urn:ficus:problem:upstream-unreachable",
            Failure::UpstreamBroken { .. } => "urn:ficus:problem:upstream-failed",
            Failure::BodyTooLarge { .. } => "urn:ficus:problem:body-too-large",
            Failure::BadRequest { .. } => "urn:ficus:problem:bad-request",
            Failure::NoRoute { .. } => "urn:ficus:problem:no-route",
            Failure::MethodNotAllowed { .. } => "urn:ficus:problem:method-not-allowed",
        }
    }
}
