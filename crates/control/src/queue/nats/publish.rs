//! The gateway's side of the NATS write queue: an append is one JetStream publish, answered
//! when the stream has stored the write (the publish ack). Appends from all gateway workers
//! share one connection and are pipelined on it, so JetStream's own batching is the group
//! commit; nothing waits for another append's ack.

use super::{Nats, message};
use crate::store::Store;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use ficus_gateway::replay::{AppendFuture, QueueError, WriteEntry, WriteQueue, now_ms};

/// The gateway's handle on the NATS write queue.
#[derive(Debug, Clone)]
pub struct NatsQueue {
    nats: Nats,
    /// Where writes that cannot go through NATS become dead letters.
    store: Store,
}

/// A publish that did not get its ack.
#[derive(Debug)]
pub(super) enum PublishFailure {
    /// The write (body and headers) is larger than the NATS server takes in one message.
    TooLarge(String),
    Other(String),
}

impl Nats {
    /// Publish `entry` with `msg_id` as `Nats-Msg-Id` and wait for the stream's ack.
    pub(super) async fn publish(
        &self,
        entry: &WriteEntry,
        msg_id: &str,
    ) -> Result<(), PublishFailure> {
        let message = PublishMessage::build()
            .payload(entry.body.clone())
            .headers(message::encode(entry, msg_id));
        let failure = |e: async_nats::jetstream::context::PublishError| match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => PublishFailure::TooLarge(e.to_string()),
            _ => PublishFailure::Other(format!("publish to NATS stream {:?}: {e}", self.name)),
        };
        let ack =
            self.js.send_publish(self.subject(&entry.domain), message).await.map_err(failure)?;
        ack.await.map_err(failure)?;
        Ok(())
    }
}

impl NatsQueue {
    pub fn new(nats: Nats, store: Store) -> NatsQueue {
        NatsQueue { nats, store }
    }

    /// A write that cannot be replayed goes to the dead letters in the store, as with the
    /// embedded queue, so an operator sees it.
    async fn dead_letter(&self, entry: WriteEntry) -> Result<(), QueueError> {
        self.store.append_writes(&[entry], now_ms()).await.map_err(|e| QueueError(e.to_string()))
    }
}

impl WriteQueue for NatsQueue {
    fn append(&self, mut entry: WriteEntry) -> AppendFuture<'_> {
        Box::pin(async move {
            if entry.unreplayable.is_some() {
                return self.dead_letter(entry).await;
            }
            match self.nats.publish(&entry, &entry.id).await {
                Ok(()) => Ok(()),
                Err(PublishFailure::TooLarge(detail)) => {
                    entry.unreplayable =
                        Some(format!("too large for the NATS write queue: {detail}"));
                    self.dead_letter(entry).await
                }
                Err(PublishFailure::Other(e)) => Err(QueueError(e)),
            }
        })
    }
}
