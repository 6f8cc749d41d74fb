//! A rows-per-second limit shared by all workers of a run: each chunk waits until the rows
//! before it fit in the budget since the run started (a virtual-time token bucket).

use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A shared rate limit; `None` rows/s lets everything through.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: Option<u64>,
    state: Mutex<(Instant, u64)>,
}

impl RateLimit {
    pub fn new(per_second: Option<u64>) -> RateLimit {
        RateLimit { per_second, state: Mutex::new((Instant::now(), 0)) }
    }

    /// Wait until `rows` more rows are allowed.
    pub async fn acquire(&self, rows: u64) {
        let Some(rate) = self.per_second.filter(|r| *r > 0) else { return };
        let due = {
            let mut s = self.state.lock().await;
            let due = s.0 + Duration::from_secs_f64(s.1 as f64 / rate as f64);
            s.1 += rows;
            due
        };
        tokio::time::sleep_until(due.into()).await;
    }
}
