//! Dual writes, the producer side: a write the authoritative side accepted (2xx) is handed to
//! the write queue — and the queue has made it durable — before the client's answer is sent, so
//! an acknowledged write cannot be lost. The queue itself (embedded SQLite or NATS JetStream)
//! and its consumer, the relay, live in the control plane; the gateway only sees
//! [`WriteQueue`].

mod body;
mod counters;
mod deliver;

pub use body::MAX_ID_SCAN_BYTES;
pub(crate) use body::authoritative_id;
pub(crate) use counters::count;
pub use counters::{AppendOutcome, render_prometheus};
pub use deliver::{Delivery, deliver};

use ficus_model::Side;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// The header every replay attempt carries (`1`), so the secondary can tell replays apart.
pub const FICUS_REPLAY: http::HeaderName = http::HeaderName::from_static("ficus-replay");
/// The header with the authoritative side's identifier of a created entity (`id_pointer`).
pub const FICUS_AUTHORITATIVE_ID: http::HeaderName =
    http::HeaderName::from_static("ficus-authoritative-id");

/// One write to replay on the secondary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteEntry {
    /// Unique id, also the `Idempotency-Key` of every delivery attempt (`w-` + 32 hex digits,
    /// time-ordered: [`new_write_id`]).
    pub id: String,
    pub domain: String,
    /// Route template (`/invoices/{id}`).
    pub route: String,
    /// The entity the write changes: the route's key parameter, else the authoritative id,
    /// else empty (the route's writes are then ordered as one entity). Deliveries of one
    /// (domain, key) happen in queue order.
    pub key: String,
    pub method: String,
    /// Path and query as the client sent them.
    pub target: String,
    /// End-to-end request headers as forwarded to the primary (hop-by-hop and `host` removed).
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
    /// The side to replay to (the secondary).
    pub to: Side,
    /// The authoritative answer's identifier, sent as `Ficus-Authoritative-Id`.
    pub authoritative_id: Option<String>,
    /// Milliseconds since the Unix epoch when the write was accepted.
    pub accepted_at_ms: u64,
    /// Set when the write cannot be replayed as it is (its body could not be kept): it goes
    /// straight to the dead letters with this reason, so an operator sees it.
    pub unreplayable: Option<String>,
}

/// Appending failed: the write is not durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("write queue: {0}")]
pub struct QueueError(pub String);

/// A future the queue returns.
pub type AppendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), QueueError>> + Send + 'a>>;

/// A durable write queue. `append` resolves once the entry is durable (committed to disk, or
/// acknowledged by the JetStream server); implementations batch concurrent appends (group
/// commit) so that durability does not cost one sync per request.
pub trait WriteQueue: Send + Sync + fmt::Debug {
    fn append(&self, entry: WriteEntry) -> AppendFuture<'_>;
}

/// A fresh write id: `w-` and 32 hex digits, the first 12 the time in milliseconds since the
/// Unix epoch and the other 20 random (80 bits) — the layout of a UUIDv7 (RFC 9562 §5.7)
/// without its version bits. Ids made later sort later, so the queue's index on the id grows
/// at its end (one page touched per commit) instead of at a random place per write.
pub fn new_write_id() -> String {
    let ms = now_ms() & 0xffff_ffff_ffff;
    let random =
        (u128::from(crate::ids::next_u64()) << 16) | u128::from(crate::ids::next_u64() >> 48);
    format!("w-{ms:012x}{random:020x}")
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_ids_are_unique_hex_and_sort_by_time() {
        let first = new_write_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..1000).map(|_| new_write_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 34, "{id}");
            assert!(id.starts_with("w-") && id[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert!(*id > first, "{id} was made after {first}");
        }
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        let ms = u64::from_str_radix(&first[2..14], 16).unwrap();
        assert!(now_ms().abs_diff(ms) < 60_000, "the prefix is the time in ms: {first}");
    }
}
