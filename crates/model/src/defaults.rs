//! Every default of the plan, named once with its unit.

use std::time::Duration;

/// Where the gateway listens when the plan does not say.
pub const LISTENER_ADDRESS: &str = "127.0.0.1:8080";
/// Where the admin API listens when the plan does not say (loopback only).
pub const ADMIN_ADDRESS: &str = "127.0.0.1:9900";
/// The environment variable that holds the admin bearer token by default.
pub const ADMIN_TOKEN_ENV: &str = "FICUS_ADMIN_TOKEN";
/// The state store file, relative to the plan file's directory.
pub const STATE_PATH: &str = "ficus-state.db";
/// Largest request body the gateway forwards, in bytes (10 MiB); larger gets 413.
pub const MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Time to establish a TCP connection to an upstream.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Time from sending a request to receiving the upstream's response head.
pub const UPSTREAM_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle keep-alive connections kept per upstream.
pub const UPSTREAM_POOL_MAX_IDLE: usize = 256;
/// How long an idle pooled upstream connection is kept.
pub const UPSTREAM_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Number of sticky buckets: a percentage is applied at a resolution of 0.01 %.
pub const BUCKETS: u16 = 10_000;

/// How long a shadow request may take before it is abandoned (never seen by the client).
pub const SHADOW_TIMEOUT: Duration = Duration::from_secs(2);
/// Shadow requests in flight at once, per domain and gateway worker.
pub const SHADOW_MAX_CONCURRENCY: usize = 64;
/// Shadow requests waiting for a slot, per domain and gateway worker; past it they are dropped.
pub const SHADOW_QUEUE: usize = 256;
/// Share of shadowed reads also sent a second time to the primary, to learn noise (Diffy).
pub const SHADOW_NOISE_PERCENT: f64 = 10.0;
/// Full examples of differences kept per domain in the control-plane store.
pub const SHADOW_MAX_EXAMPLES: usize = 500;

/// Rows per backfill chunk: one source read, one target transaction, one checkpoint.
pub const BACKFILL_CHUNK_ROWS: u64 = 5_000;
/// Rows per verify chunk: one checksum query per side. Small enough that a chunk with
/// differences costs little to narrow down to rows (measured: 1M rows with 100 differences
/// spread over 29 chunks of 10,000 verified ≈ 20 % faster at 2,500, equal tables no slower),
/// and that a chunk's concatenated rows stay under MariaDB's default 16 MiB
/// `max_allowed_packet` up to ≈ 6 KB per row.
pub const VERIFY_CHUNK_ROWS: u64 = 2_500;
/// How long verify waits before re-checking suspect rows (so lag is not called drift).
pub const VERIFY_RECHECK_DELAY: Duration = Duration::from_secs(2);

/// Deliveries of one replayed write before it becomes a dead letter (with the backoff below,
/// about two minutes of retrying).
pub const REPLAY_MAX_ATTEMPTS: u32 = 15;
/// Wait before the second delivery attempt; doubled each time, with full jitter.
pub const REPLAY_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest wait between two delivery attempts.
pub const REPLAY_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Replayed writes of different entities delivered at once.
pub const REPLAY_CONCURRENCY: usize = 16;
/// The JetStream stream of the write queue.
pub const NATS_STREAM: &str = "FICUS_WRITES";
