//! The write queue's embedded backend and its consumer: accepted writes appended by the gateway
//! in batches (group commit, one sync per batch), and the relay that replays them on the
//! secondary — in order per entity, retried with exponential backoff and jitter, the same
//! `Idempotency-Key` on every attempt, dead letters after too many attempts or a definite 4xx.
//! The NATS JetStream backend ([`nats`]) shares the dead letters, counters and retry rules.

mod backoff;
mod dispatch;
mod embedded;
mod log;
pub mod nats;
mod probe;
mod relay;
mod store;

pub use backoff::backoff;
pub use embedded::EmbeddedQueue;
pub use probe::{ProbeError, QueueProbe};
pub use relay::{Judgement, Relay, Verdict, judge, verdict};
pub use store::{DeadLetter, Outcome, Pending, QueueStats};
