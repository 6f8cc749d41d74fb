//! Dual writes, producer side: what the gateway hands to the write queue.

use super::util::{Backend, PlanOpts, TestGateway, raw_exchange};
use ficus_gateway::replay::{AppendFuture, WriteEntry, WriteQueue};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A write queue that keeps what it is given, in memory.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<WriteEntry>>);

impl WriteQueue for Recorded {
    fn append(&self, entry: WriteEntry) -> AppendFuture<'_> {
        self.0.lock().unwrap().push(entry);
        Box::pin(async { Ok(()) })
    }
}

/// A client that hangs up while the authoritative side is still working on its write does not
/// stop the write: legacy applies it, so it must still reach the queue (else new never gets
/// it). Regression: the handler was dropped with the connection, between the authoritative
/// answer and the append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_client_hung_up_is_still_queued() {
    let legacy = Backend::start("legacy").await;
    let new = Backend::start("new").await;
    let mut opts = PlanOpts::new(legacy.url(), new.url());
    opts.phase = "dual-write";
    let queue = Arc::new(Recorded::default());
    let gw =
        TestGateway::start_with(opts.parse(), Duration::from_secs(5), Some(queue.clone())).await;

    let body = r#"{"total":3}"#;
    let request = format!(
        "PUT /invoices/42?delay_ms=400 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    // Read for 100 ms, then drop the connection: legacy answers only after 400 ms.
    let got = raw_exchange(gw.addr, request.as_bytes(), false, Duration::from_millis(100)).await;
    assert!(got.is_empty(), "the answer came before the hang-up: {got:?}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while queue.0.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the accepted write was never queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(legacy.hits(), 1);
    let entries = queue.0.lock().unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!((e.method.as_str(), e.target.as_str()), ("PUT", "/invoices/42?delay_ms=400"));
    assert_eq!((e.key.as_str(), &e.body[..]), ("42", body.as_bytes()));
}
