//! The Prometheus recorder: installed once per process, with explicit histogram buckets (or the
//! exporter renders summaries), and `ficus_build_info`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// How often recorded histogram samples are folded into their buckets; between upkeeps they
/// are kept raw, so without it memory grows with every request.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

use ficus_gateway::LATENCY_BUCKETS;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder handle, installing it on first use.
pub fn metrics() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new().name("ficus-metrics".into()).spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no metrics upkeep thread; histograms grow until scraped");
            }
            metrics::describe_gauge!(
                "ficus_build_info",
                "Always 1; the labels say which build runs."
            );
            metrics::gauge!("ficus_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .clone()
}
