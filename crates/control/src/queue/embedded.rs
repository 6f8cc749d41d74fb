//! The embedded write queue: the gateway's appends (from any worker thread) go through one
//! channel to one writer task, which commits whatever has gathered in one transaction — group
//! commit — and then acknowledges each append. Under load a batch holds many writes, so the
//! cost of a durable commit is shared instead of paid per request.

use crate::store::Store;
use ficus_gateway::replay::{AppendFuture, QueueError, WriteEntry, WriteQueue};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// Most appends committed in one transaction.
const MAX_BATCH: usize = 512;
/// Appends waiting for the writer before `append` waits for room.
const CHANNEL: usize = 8192;

type Ack = oneshot::Sender<Result<(), QueueError>>;

/// The gateway's handle on the embedded queue.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    tx: mpsc::Sender<(WriteEntry, Ack)>,
}

impl EmbeddedQueue {
    /// Start the writer on the current runtime. `appended` is notified after every commit
    /// (the relay waits on it). The writer stops when every handle is dropped.
    pub fn start(store: Store, appended: Arc<Notify>) -> EmbeddedQueue {
        let (tx, rx) = mpsc::channel(CHANNEL);
        tokio::spawn(writer(store, rx, appended));
        EmbeddedQueue { tx }
    }
}

impl WriteQueue for EmbeddedQueue {
    fn append(&self, entry: WriteEntry) -> AppendFuture<'_> {
        Box::pin(async move {
            let (ack, done) = oneshot::channel();
            self.tx
                .send((entry, ack))
                .await
                .map_err(|_| QueueError("the queue writer has stopped".into()))?;
            done.await
                .map_err(|_| QueueError("the queue writer stopped before committing".into()))?
        })
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<(WriteEntry, Ack)>, appended: Arc<Notify>) {
    let mut batch: Vec<(WriteEntry, Ack)> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let entries: Vec<WriteEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
        let result = store
            .append_writes(&entries, ficus_gateway::replay::now_ms())
            .await
            .map_err(|e| QueueError(e.to_string()));
        if let Err(e) = &result {
            tracing::error!(error = %e, writes = entries.len(), "write queue commit failed");
        }
        for (_, ack) in batch.drain(..) {
            let _ = ack.send(result.clone());
        }
        appended.notify_one();
    }
}
