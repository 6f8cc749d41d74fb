//! The embedded write queue: three threads between the gateway's appends and the queue's
//! table in the state store.
//!
//! - **log** (`ficus-queue-log`): takes whatever appends have gathered (group commit), gives
//!   each its queue position (`seq`), and writes them to the append log ([`super::log`]) in one
//!   `pwrite`, without a sync.
//! - **sync** (`ficus-queue-sync`): one `fdatasync` covers every batch written before it;
//!   then each of those appends is answered, and the writes go on to the table. The log thread
//!   writes the next batch while this one syncs.
//! - **table** (`ficus-queue-table`): inserts the synced writes and records the relay's
//!   outcomes on its own SQLite connection, in a transaction it commits every [`COMMIT_EVERY`]
//!   without a sync (the log has the writes), and checkpoints every [`CHECKPOINT_EVERY`] (which
//!   syncs the table to disk). After a completed checkpoint it publishes the highest `seq`
//!   durable in the table, which lets the log thread turn to the other file.
//!
//! An answered append is therefore on disk in the log; a table commit lost with the machine is
//! read back from the log on the next start (the writes above the table's high-water mark,
//! `sqlite_sequence`, positions never being reused), before the relay starts. A write the
//! relay delivered (deleted) before the crash stays gone. A write whose id the table already
//! holds is the same write (the id is its `Idempotency-Key`) and is stored once.

use super::log::{AppendLog, LogError, log_paths, read_back};
use super::store::{Batch, Outcome, checkpoint, high_water, is_refusal};
use crate::store::{Store, StoreError};
use ficus_gateway::replay::{AppendFuture, QueueError, WriteEntry, WriteQueue};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// Most appends written in one batch, or table jobs applied under one savepoint.
const MAX_BATCH: usize = 512;
/// Appends waiting for the log thread before `append` waits for room.
const CHANNEL: usize = 8192;
/// Jobs waiting for the table thread before the sync thread (and the relay) wait for room: a
/// table thread that falls behind slows the appends instead of filling the memory.
const TABLE_CHANNEL: usize = 4096;
/// How long the table thread keeps its transaction open: its pages are written once per
/// interval instead of once per batch, and the relay sees a write at most this late.
const COMMIT_EVERY: Duration = Duration::from_millis(5);
/// How often the table thread checkpoints between two commits (its commits never do by
/// themselves): frequent, so that each is short (the jobs that arrive meanwhile wait for it).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// The embedded queue could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("starting the write queue's threads: {0}")]
    Thread(std::io::Error),
}

type Ack = oneshot::Sender<Result<(), QueueError>>;

/// Appends written to the log, waiting for their sync.
struct Written {
    /// The log file they are in.
    half: usize,
    acks: Vec<Ack>,
    writes: Vec<(i64, WriteEntry)>,
}

enum TableJob {
    /// Durable in the log: to be inserted.
    Insert(Vec<(i64, WriteEntry)>),
    Record(Outcome, Ack),
    /// Commit what is open now.
    Commit(Ack),
}

/// The handle on the embedded queue: the gateway appends, the relay records outcomes.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    appends: flume::Sender<(WriteEntry, Ack)>,
    table: flume::Sender<TableJob>,
    /// Where the relay must read the table again from (exclusive; `i64::MAX`: nowhere).
    rewind: Arc<AtomicI64>,
}

impl std::fmt::Debug for TableJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableJob::Insert(w) => write!(f, "Insert({} writes)", w.len()),
            TableJob::Record(o, _) => write!(f, "Record({o:?})"),
            TableJob::Commit(_) => f.write_str("Commit"),
        }
    }
}

impl EmbeddedQueue {
    /// Store what the append log holds beyond the queue's table (see the module doc), then
    /// start the three threads. `appended` is notified after every table commit that inserted
    /// something (the relay waits on it). The threads stop when every handle is dropped.
    ///
    /// # Errors
    /// The table's connection cannot be opened, the append log cannot be opened or read (or
    /// another process holds it), the recovered writes cannot be stored, or a thread cannot
    /// be started. Nothing is lost then: the log is left as it was.
    pub fn start(store: Store, appended: Arc<Notify>) -> Result<EmbeddedQueue, StartError> {
        let mut conn = store.queue_writer()?;
        let high = high_water(&conn)?;
        let paths = log_paths(store.path());
        let (log, found) = AppendLog::open(&paths, high)?;
        let next_seq = found.last().map_or(high, |(seq, _)| (*seq).max(high)) + 1;
        store_recovered(&mut conn, &paths, found)?;
        // On disk in the table now when the checkpoint completes, so both files may turn;
        // otherwise nothing is known to be (the last process's commits were not synced).
        let durable = Arc::new(AtomicI64::new(if checkpoint(&conn)? { next_seq - 1 } else { 0 }));
        let files =
            log.files().map_err(|source| LogError::Io { path: paths[0].clone(), source })?;
        let rewind = Arc::new(AtomicI64::new(i64::MAX));
        let (appends, appends_rx) = flume::bounded(CHANNEL);
        let (written, written_rx) = flume::unbounded();
        let (table, table_rx) = flume::bounded(TABLE_CHANNEL);
        let state = Table {
            conn,
            paths,
            opened: None,
            inserted: false,
            inserted_to: next_seq - 1,
            committed_to: next_seq - 1,
            recorded_from: i64::MAX,
            behind: false,
            rewind: Arc::clone(&rewind),
            durable: Arc::clone(&durable),
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(drop)
                .map_err(StartError::Thread)
        };
        spawn("ficus-queue-table", Box::new(move || state.run(&table_rx, &appended)))?;
        let to_table = table.clone();
        spawn("ficus-queue-sync", Box::new(move || sync(&files, &written_rx, &to_table)))?;
        spawn(
            "ficus-queue-log",
            Box::new(move || write_log(log, next_seq, &appends_rx, &written, &durable)),
        )?;
        Ok(EmbeddedQueue { appends, table, rewind })
    }

    /// Record what became of a delivery; resolves once it is applied in the table's open
    /// transaction (committed within [`COMMIT_EVERY`]; a failed commit sends the relay back
    /// to it, see [`EmbeddedQueue::rewind`]).
    ///
    /// # Errors
    /// Its statement failed or the table thread has stopped.
    pub async fn record(&self, outcome: Outcome) -> Result<(), QueueError> {
        let (ack, done) = oneshot::channel();
        self.table
            .send_async(TableJob::Record(outcome, ack))
            .await
            .map_err(|_| QueueError("the write queue's table thread has stopped".into()))?;
        answer(done).await
    }

    /// Commit what the table thread holds open now, so that the table shows every append
    /// answered and every outcome recorded so far (it does within [`COMMIT_EVERY`] of their
    /// sync anyway).
    ///
    /// # Errors
    /// The commit failed and the table is behind the log, or the table thread has stopped.
    pub async fn commit(&self) -> Result<(), QueueError> {
        let (ack, done) = oneshot::channel();
        self.table
            .send_async(TableJob::Commit(ack))
            .await
            .map_err(|_| QueueError("the write queue's table thread has stopped".into()))?;
        answer(done).await
    }

    /// Where the relay reads the table again from (shared with the table thread, which lowers
    /// it when a failed commit lost outcomes it had answered).
    pub(crate) fn rewind(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.rewind)
    }
}

async fn answer(done: oneshot::Receiver<Result<(), QueueError>>) -> Result<(), QueueError> {
    done.await.map_err(|_| QueueError("the write queue stopped before answering".into()))?
}

impl WriteQueue for EmbeddedQueue {
    fn append(&self, entry: WriteEntry) -> AppendFuture<'_> {
        Box::pin(async move {
            let (ack, done) = oneshot::channel();
            self.appends
                .send_async((entry, ack))
                .await
                .map_err(|_| QueueError("the write queue's log thread has stopped".into()))?;
            answer(done).await
        })
    }
}

/// The log thread: number each gathered batch, write it, hand it to the sync thread.
fn write_log(
    mut log: AppendLog,
    mut next_seq: i64,
    rx: &flume::Receiver<(WriteEntry, Ack)>,
    written: &flume::Sender<Written>,
    durable: &AtomicI64,
) {
    let mut batch: Vec<(WriteEntry, Ack)> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        batch.extend(rx.try_iter().take(MAX_BATCH - 1));
        log.turn(durable.load(Ordering::Acquire));
        let mut writes = Vec::with_capacity(batch.len());
        let mut acks = Vec::with_capacity(batch.len());
        for (entry, ack) in batch.drain(..) {
            writes.push((next_seq, entry));
            acks.push(ack);
            // Positions are never reused, even when this batch fails.
            next_seq += 1;
        }
        match log.write(writes.iter().map(|(seq, e)| (*seq, e))) {
            Ok(half) => {
                if let Err(flume::SendError(w)) = written.send(Written { half, acks, writes }) {
                    fail(w.acks, &QueueError("the write queue's sync thread has stopped".into()));
                }
            }
            Err(e) => {
                let paths = log.paths();
                let e = QueueError(format!("write queue log {}: {e}", paths[0].display()));
                tracing::error!(error = %e, writes = writes.len(), "write queue append failed");
                fail(acks, &e);
            }
        }
    }
}

fn fail(acks: Vec<Ack>, e: &QueueError) {
    for ack in acks {
        let _ = ack.send(Err(e.clone()));
    }
}

/// The sync thread: one `fdatasync` per file written for everything written so far, then
/// answer those appends and pass the writes to the table.
fn sync(files: &[File; 2], rx: &flume::Receiver<Written>, table: &flume::Sender<TableJob>) {
    let mut batch: Vec<Written> = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        batch.extend(rx.try_iter());
        let mut synced = [Ok(()), Ok(())];
        for (half, file) in files.iter().enumerate() {
            if batch.iter().any(|w| w.half == half) {
                synced[half] = file.sync_data();
            }
        }
        for w in batch.drain(..) {
            match &synced[w.half] {
                Ok(()) => {
                    // To the table before the answers, so that a commit asked for after an
                    // answer comes after the insert. The table thread stops last (the handles
                    // keep its channel open).
                    let _ = table.send(TableJob::Insert(w.writes));
                    for ack in w.acks {
                        let _ = ack.send(Ok(()));
                    }
                }
                Err(e) => {
                    let e = QueueError(format!("write queue log: fdatasync: {e}"));
                    tracing::error!(error = %e, writes = w.writes.len(), "write queue append failed");
                    fail(w.acks, &e);
                }
            }
        }
    }
}

/// The table thread's state.
struct Table {
    conn: rusqlite::Connection,
    paths: [PathBuf; 2],
    /// When the open transaction began; `None` when none is open.
    opened: Option<Instant>,
    /// The open transaction inserted writes (the relay is told at its commit).
    inserted: bool,
    /// Highest `seq` inserted (committed or in the open transaction).
    inserted_to: i64,
    /// Highest `seq` committed.
    committed_to: i64,
    /// Lowest `seq` whose outcome the open transaction holds (`i64::MAX`: none).
    recorded_from: i64,
    /// Writes the log holds are missing from the table (a failed statement or commit): the
    /// log is read back into it at the next commit.
    behind: bool,
    /// Where the relay must read again from (shared with it).
    rewind: Arc<AtomicI64>,
    /// Highest `seq` on disk in the table (shared with the log thread).
    durable: Arc<AtomicI64>,
}

impl Table {
    fn run(mut self, rx: &flume::Receiver<TableJob>, appended: &Notify) {
        let mut batch: Vec<TableJob> = Vec::with_capacity(MAX_BATCH);
        let mut last_checkpoint = Instant::now();
        // Something was committed since the last checkpoint.
        let mut dirty = false;
        loop {
            if let Some(opened) = self.opened
                && opened.elapsed() >= COMMIT_EVERY
            {
                dirty |= self.commit(appended);
            }
            if dirty && self.opened.is_none() && last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                self.checkpoint();
                last_checkpoint = Instant::now();
                dirty = false;
            }
            let deadline = match (self.opened, dirty) {
                (Some(opened), _) => Some(opened + COMMIT_EVERY),
                (None, true) => Some(last_checkpoint + CHECKPOINT_EVERY),
                (None, false) => None,
            };
            let first = match deadline {
                Some(at) => match rx.recv_deadline(at) {
                    Ok(job) => job,
                    Err(flume::RecvTimeoutError::Timeout) => continue,
                    Err(flume::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(job) => job,
                    Err(flume::RecvError::Disconnected) => break,
                },
            };
            batch.push(first);
            batch.extend(rx.try_iter().take(MAX_BATCH - 1));
            dirty |= self.apply(&mut batch, appended);
        }
        dirty |= self.commit(appended);
        if dirty {
            self.checkpoint();
        }
    }

    /// Apply `batch` (emptied) in the open transaction (begun if none is) and answer its
    /// jobs. Returns whether it committed (a `Commit` job).
    fn apply(&mut self, batch: &mut Vec<TableJob>, appended: &Notify) -> bool {
        let mut acks = Vec::new();
        let mut commits = Vec::new();
        let applied = self.statements(batch, &mut acks, &mut commits);
        if let Err(e) = &applied {
            // No savepoint to go back to (one per batch made every page changed twice):
            // the whole open transaction goes, its writes are read back from the log, and
            // the relay goes back to its outcomes.
            tracing::error!(error = %e, "write queue: a table statement failed; the open transaction is rolled back and read back from the log");
            self.abandon();
        }
        for ack in acks {
            let _ = ack.send(applied.clone());
        }
        if commits.is_empty() {
            // After a failure, catch up with the log at once.
            return applied.is_err() && self.commit(appended);
        }
        let committed = self.commit(appended);
        let answer = if self.behind {
            Err(QueueError("the write queue's table is behind its log".into()))
        } else {
            Ok(())
        };
        for ack in commits {
            let _ = ack.send(answer.clone());
        }
        committed
    }

    /// Run `batch`'s statements; an outcome's ack goes to `acks`, a commit's to `commits`.
    /// Stops at the first statement that fails (the caller abandons the transaction).
    fn statements(
        &mut self,
        batch: &mut Vec<TableJob>,
        acks: &mut Vec<Ack>,
        commits: &mut Vec<Ack>,
    ) -> Result<(), QueueError> {
        let err = |e: StoreError| QueueError(e.to_string());
        let mut done = Ok(());
        if self.opened.is_none() {
            done = self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| err(e.into()));
            if done.is_ok() {
                self.opened = Some(Instant::now());
            }
        }
        let mut statements = Batch::new(ficus_gateway::replay::now_ms());
        for job in batch.drain(..) {
            match job {
                TableJob::Insert(writes) => {
                    for (seq, e) in writes {
                        if seq <= self.inserted_to {
                            continue; // Read back from the log already.
                        }
                        if done.is_ok() {
                            match statements.insert(&self.conn, &e, Some(seq)) {
                                Ok(()) => self.inserted = true,
                                Err(r) if is_refusal(&r) => {
                                    tracing::warn!(write = e.id, error = %r, "write queue: the table refuses a write (one with its id is queued already); it is stored once");
                                }
                                Err(r) => done = Err(err(r)),
                            }
                        } else {
                            self.behind = true; // In the log: read back at the next commit.
                        }
                        self.inserted_to = seq;
                    }
                }
                TableJob::Record(o, ack) => {
                    if done.is_ok() {
                        done = statements.record(&self.conn, &o).map_err(err);
                    }
                    self.recorded_from = self.recorded_from.min(o.seq());
                    acks.push(ack);
                }
                TableJob::Commit(ack) => commits.push(ack),
            }
        }
        if done.is_ok() {
            done = statements.write_stats(&self.conn).map_err(err);
        }
        done
    }

    /// Commit the open transaction, if any (no sync: the log has its writes). Returns whether
    /// something was committed. When the commit fails, what it held is read back from the log
    /// and the relay is sent back to the outcomes it lost.
    fn commit(&mut self, appended: &Notify) -> bool {
        let mut committed = false;
        if self.opened.is_some() {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::error!(error = %e, "write queue: committing the table failed; its writes are read back from the append log");
                self.abandon();
            } else {
                self.opened = None;
                self.recorded_from = i64::MAX;
                self.committed_to = self.inserted_to;
            }
            committed = true;
        }
        if self.behind {
            self.catch_up();
            committed = true;
        }
        if std::mem::take(&mut self.inserted) {
            appended.notify_one();
        }
        committed
    }

    /// Roll the open transaction back: its writes are in the log (read back by the caller),
    /// its outcomes are attempted again (the relay reads from the lowest).
    fn abandon(&mut self) {
        if self.opened.take().is_some() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let lowest = std::mem::replace(&mut self.recorded_from, i64::MAX);
        if lowest != i64::MAX {
            self.rewind.fetch_min(lowest - 1, Ordering::AcqRel);
        }
        self.behind |= self.inserted_to > self.committed_to;
    }

    /// Store what the log holds above the table's high-water mark.
    fn catch_up(&mut self) {
        let done = high_water(&self.conn)
            .map_err(StartError::from)
            .and_then(|high| Ok(read_back(&self.paths, high)?))
            .and_then(|found| {
                let top = found.last().map(|(seq, _)| *seq);
                store_recovered(&mut self.conn, &self.paths, found)?;
                Ok(top)
            });
        match done {
            Ok(top) => {
                self.behind = false;
                if let Some(top) = top {
                    self.inserted = true;
                    self.inserted_to = self.inserted_to.max(top);
                }
                self.committed_to = self.inserted_to;
            }
            Err(e) => {
                tracing::error!(error = %e, "write queue: reading the append log back into the table failed; trying again at the next commit")
            }
        }
    }

    /// Checkpoint the store; once that completes, everything committed is on disk in the
    /// table, and the log thread may start over a file whose writes are all at or below it.
    fn checkpoint(&mut self) {
        match checkpoint(&self.conn) {
            Ok(true) if !self.behind => self.durable.store(self.committed_to, Ordering::Release),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "state store checkpoint failed"),
        }
    }
}

/// Insert `found` (read from the log above the high-water mark) in one transaction; a write
/// whose id the table holds already is skipped.
fn store_recovered(
    conn: &mut rusqlite::Connection,
    paths: &[PathBuf; 2],
    found: Vec<(i64, WriteEntry)>,
) -> Result<(), StartError> {
    if found.is_empty() {
        return Ok(());
    }
    tracing::info!(
        writes = found.len(),
        log = %paths[0].display(),
        "write queue: storing the writes recovered from the append log"
    );
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let mut batch = Batch::new(ficus_gateway::replay::now_ms());
    for (seq, e) in &found {
        match batch.insert(&tx, e, Some(*seq)) {
            Err(err) if is_refusal(&err) => {
                tracing::warn!(write = e.id, error = %err, "write queue: a recovered write is stored already");
            }
            done => done?,
        }
    }
    batch.write_stats(&tx)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ficus_model::Side;

    fn write(id: &str) -> WriteEntry {
        WriteEntry {
            id: id.into(),
            domain: "invoices".into(),
            route: "/invoices/{id}".into(),
            key: id.into(),
            method: "PUT".into(),
            target: format!("/invoices/{id}"),
            headers: vec![("content-type".into(), "application/json".into())],
            body: bytes::Bytes::from_static(b"{}"),
            to: Side::New,
            authoritative_id: None,
            accepted_at_ms: 1_000,
            unreplayable: None,
        }
    }

    async fn pending_ids(store: &Store) -> Vec<(i64, String)> {
        let rows = store.pending_after(0, 100).await.unwrap();
        rows.into_iter().map(|p| (p.seq, p.entry.id)).collect()
    }

    /// What the table lost (its commits are not synced) comes back from the append log on the
    /// next start; what the table had and let go (a delivered write) does not; and positions
    /// go on after the highest ever given.
    #[tokio::test]
    async fn writes_only_the_log_kept_are_stored_on_start_and_delivered_ones_stay_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).await.unwrap();
        let queue = EmbeddedQueue::start(store.clone(), Arc::new(Notify::new())).unwrap();
        queue.append(write("w-1")).await.unwrap();
        queue.append(write("w-2")).await.unwrap();
        queue.commit().await.unwrap();
        let first = pending_ids(&store).await;
        assert_eq!(first.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(), ["w-1", "w-2"]);
        let (one, two) = (first[0].0, first[1].0);
        queue.record(Outcome::Delivered { seq: one, domain: "invoices".into() }).await.unwrap();
        drop(queue);

        // A machine crash after the log's sync and before the table reached the disk: the
        // log holds two writes the table never got. Beside them, an old round's record of the
        // delivered write, still readable after the tail.
        let (mut log, found) = AppendLog::open(&log_paths(store.path()), two).unwrap();
        assert!(found.is_empty(), "everything the log held is in the table: {found:?}");
        let lost = [(two + 1, write("w-3")), (two + 2, write("w-4")), (one, write("w-1"))];
        log.append(lost.iter().map(|(seq, e)| (*seq, e))).unwrap();
        drop(log);

        let queue = EmbeddedQueue::start(store.clone(), Arc::new(Notify::new())).unwrap();
        let ids = pending_ids(&store).await;
        assert_eq!(
            ids,
            [(two, "w-2".to_owned()), (two + 1, "w-3".to_owned()), (two + 2, "w-4".to_owned())],
            "recovered in their places; the delivered w-1 stays gone"
        );
        queue.append(write("w-5")).await.unwrap();
        queue.commit().await.unwrap();
        let last = pending_ids(&store).await.pop().unwrap();
        assert_eq!(last, (two + 3, "w-5".to_owned()), "positions go on after the recovered ones");

        // Started once more, nothing is stored twice.
        drop(queue);
        let _queue = EmbeddedQueue::start(store.clone(), Arc::new(Notify::new())).unwrap();
        assert_eq!(pending_ids(&store).await.len(), 4);
    }
}
