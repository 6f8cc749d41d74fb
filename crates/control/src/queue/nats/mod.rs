//! The write queue on NATS JetStream (`[write_queue] backend = "nats"`), for gateways on
//! several machines: the gateway publishes each accepted write to a work-queue stream and
//! answers the client once JetStream has acknowledged it ([`NatsQueue`]); one relay
//! ([`NatsRelay`]) pulls the writes and replays them in order per entity.
//!
//! The stream (the plan's `stream`) holds exactly the writes not yet delivered: its subjects are
//! `<stream>.<domain>` (stream and domain names are checked plan identifiers, so both are valid
//! subject tokens), its retention is work-queue (a message acked by the relay is removed), its
//! storage is file, and a duplicate window drops a second publish of the same `Nats-Msg-Id`
//! (the write id). Dead letters, their retry and discard, and the replay counters stay in the
//! control-plane store, as with the embedded queue.

mod consume;
mod message;
mod publish;
mod store;

pub use consume::NatsRelay;
pub use publish::NatsQueue;

use async_nats::jetstream::{self, stream};
use futures_util::TryStreamExt;
use std::time::Duration;

/// How long a second publish of a write id is recognised as a duplicate.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long connecting to NATS may take at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A NATS failure, naming what Ficus was doing.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("write_queue.nats_url {url:?}: cannot connect to NATS: {detail}")]
    Connect { url: String, detail: String },
    #[error("NATS JetStream stream {stream:?} (write_queue.stream): {detail}")]
    Stream { stream: String, detail: String },
}

/// A connection to NATS and the write queue's stream on it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Nats {
    js: jetstream::Context,
    stream: jetstream::stream::Stream<()>,
    name: String,
}

impl Nats {
    /// Connect to `url` and create the stream `name` (or check the one that is there).
    ///
    /// # Errors
    /// [`NatsError::Connect`] when NATS cannot be reached; [`NatsError::Stream`] when JetStream
    /// is not enabled on it, or a stream of that name exists with another retention policy.
    pub async fn connect(url: &str, name: &str) -> Result<Nats, NatsError> {
        let client = async_nats::ConnectOptions::new()
            .name("ficus")
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(url)
            .await
            .map_err(|e| NatsError::Connect { url: url.to_owned(), detail: e.to_string() })?;
        let js = jetstream::new(client);
        let config = stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{name}.*")],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            description: Some("Ficus write queue: accepted writes waiting for replay".into()),
            ..stream::Config::default()
        };
        let err = |detail: String| NatsError::Stream { stream: name.to_owned(), detail };
        let made = js.get_or_create_stream(config).await.map_err(|e| err(e.to_string()))?;
        let retention = made.cached_info().config.retention;
        if retention != stream::RetentionPolicy::WorkQueue {
            return Err(err(format!(
                "exists with {retention:?} retention; the write queue needs a work-queue stream \
                 (delete it, or name another in write_queue.stream)"
            )));
        }
        let stream = js.get_stream_no_info(name).await.map_err(|e| err(e.to_string()))?;
        Ok(Nats { js, stream, name: name.to_owned() })
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.name
    }

    fn subject(&self, domain: &str) -> String {
        format!("{}.{domain}", self.name)
    }

    fn error(&self, detail: impl std::fmt::Display) -> NatsError {
        NatsError::Stream { stream: self.name.clone(), detail: detail.to_string() }
    }

    /// Writes of `domain` waiting in the stream, and when the oldest of them was accepted
    /// (milliseconds since the Unix epoch).
    ///
    /// # Errors
    /// [`NatsError::Stream`] when NATS does not answer.
    pub async fn pending(&self, domain: &str) -> Result<(u64, Option<u64>), NatsError> {
        let subject = self.subject(domain);
        let mut counts =
            self.stream.info_with_subjects(&subject).await.map_err(|e| self.error(e))?;
        let mut depth = 0;
        while let Some((s, n)) = counts.try_next().await.map_err(|e| self.error(e))? {
            if s == subject {
                depth += n as u64;
            }
        }
        if depth == 0 {
            return Ok((0, None));
        }
        let first = match self.stream.get_next_raw_message_by_subject(&subject).await {
            Ok(m) => m,
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok((0, None));
            }
            Err(e) => return Err(self.error(e)),
        };
        let accepted =
            first.headers.get(message::ACCEPTED_AT_MS).and_then(|v| v.as_str().parse().ok());
        Ok((depth, accepted))
    }

    /// Delete the stream and everything in it (tests, and an operator's clean-up).
    ///
    /// # Errors
    /// [`NatsError::Stream`] when NATS refuses or does not answer.
    pub async fn delete_stream(&self) -> Result<(), NatsError> {
        self.js.delete_stream(&self.name).await.map_err(|e| self.error(e))?;
        Ok(())
    }
}
