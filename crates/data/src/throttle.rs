//! Adaptive throttling of the backfill on source load: before each chunk, a probe is read on
//! the source (at most once per `check_interval`, shared by all workers), and the chunk waits
//! while it reads above `max`. Built-in probes: MariaDB/MySQL `Threads_running` and PostgreSQL
//! replication lag (gh-ost's `--max-load` and `--max-lag-millis` idea); or any query returning
//! one number.

use crate::db::Db;
use crate::error::{DataError, Side};
use ficus_model::mapping::{Engine, Probe, Throttle};
use std::time::Instant;
use tokio::sync::Mutex;

/// A throttle shared by the workers of a run.
#[derive(Debug)]
pub(crate) struct Gate {
    cfg: Option<Throttle>,
    /// When the probe was last read, and what it read.
    last: Mutex<Option<(Instant, f64)>>,
}

impl Gate {
    pub fn new(cfg: Option<Throttle>) -> Gate {
        Gate { cfg, last: Mutex::new(None) }
    }

    /// Wait until the probe reads at most `max`; the number of checks that found it above.
    ///
    /// # Errors
    /// [`DataError::Sql`] when the probe query fails; [`DataError::Mapping`] when a built-in
    /// probe does not exist on the source's engine or a query returns no number.
    pub async fn wait(&self, source: &Db) -> Result<u64, DataError> {
        let Some(cfg) = &self.cfg else { return Ok(0) };
        let mut waits = 0;
        loop {
            let value = {
                let mut last = self.last.lock().await;
                match *last {
                    Some((at, v)) if at.elapsed() < cfg.check_interval => v,
                    _ => {
                        let v = probe(source, &cfg.probe).await?;
                        *last = Some((Instant::now(), v));
                        v
                    }
                }
            };
            if value <= cfg.max {
                return Ok(waits);
            }
            if waits == 0 {
                tracing::info!(value, max = cfg.max, "source busy: backfill paused");
            }
            waits += 1;
            tokio::time::sleep(cfg.check_interval).await;
        }
    }
}

/// Read a probe once.
///
/// # Errors
/// As [`Gate::wait`].
pub async fn probe(source: &Db, p: &Probe) -> Result<f64, DataError> {
    let bad = |m: String| DataError::mapping("throttle", m);
    let sql = match (p, source.engine()) {
        (Probe::ThreadsRunning, Engine::MySql) => {
            "SELECT CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'THREADS_RUNNING'"
        }
        (Probe::ReplicationLag, Engine::Postgres) => {
            "SELECT CAST(COALESCE(EXTRACT(EPOCH FROM MAX(replay_lag)), 0) AS text) FROM pg_stat_replication"
        }
        (Probe::Sql(q), _) => q.as_str(),
        (Probe::ThreadsRunning, e) => {
            return Err(bad(format!(
                "probe threads_running needs a MariaDB/MySQL source, not {}",
                e.as_str()
            )));
        }
        (Probe::ReplicationLag, e) => {
            return Err(bad(format!(
                "probe replication_lag needs a PostgreSQL source, not {}",
                e.as_str()
            )));
        }
    };
    let rows = source
        .fetch_texts(sql, &[])
        .await
        .map_err(DataError::sql(Side::Source, "read the throttle probe"))?;
    let text = rows.into_iter().next().and_then(|r| r.into_iter().next()).flatten();
    text.as_deref()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .ok_or_else(|| bad(format!("the probe query returned {text:?}, not a number")))
}
