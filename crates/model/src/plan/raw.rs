//! The plan as written: serde structs that mirror `ficus.toml` one to one. Unknown keys are
//! rejected here; meaning is checked in `check.rs`. Nothing outside the plan module sees these.

use crate::phase::Phase;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlan {
    #[serde(default)]
    pub listener: RawListener,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub state: RawState,
    pub upstreams: RawUpstreams,
    #[serde(default)]
    pub unmatched: RawUnmatched,
    #[serde(default)]
    pub domains: BTreeMap<String, RawDomain>,
    pub write_queue: Option<RawWriteQueue>,
}

/// `[write_queue]`: where replayed writes wait, and how they are delivered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWriteQueue {
    pub backend: Option<String>,
    pub nats_url: Option<String>,
    pub stream: Option<String>,
    pub max_attempts: Option<u32>,
    #[serde(default, with = "humantime_serde::option")]
    pub backoff_initial: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub backoff_max: Option<Duration>,
    pub concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub address: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub workers: Option<usize>,
    pub pin_workers: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub address: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstreams {
    pub legacy: RawUpstream,
    pub new: RawUpstream,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub url: String,
    #[serde(default, with = "humantime_serde::option")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub request_timeout: Option<Duration>,
    pub pool_max_idle: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUnmatched {
    pub upstream: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDomain {
    pub phase: Option<Phase>,
    pub read_new_percent: Option<f64>,
    pub shadow_percent: Option<f64>,
    pub sticky: Option<RawSticky>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    pub shadow: Option<RawShadow>,
    pub sync: Option<String>,
    pub data: Option<super::data::RawData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShadow {
    pub in_legacy: Option<bool>,
    #[serde(default, with = "humantime_serde::option")]
    pub timeout: Option<Duration>,
    pub max_concurrency: Option<usize>,
    pub queue: Option<usize>,
    pub noise_percent: Option<f64>,
    pub compare_headers: Option<Vec<String>>,
    #[serde(default)]
    pub ignore_headers: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub unordered: Vec<RawUnordered>,
    pub max_compared_bytes: Option<usize>,
    pub relative_threshold: Option<f64>,
    pub absolute_threshold: Option<f64>,
    pub max_examples: Option<usize>,
}

/// `[[domains.NAME.routes]] shadow = { … }`: comparison rules of one route, added to (or, for
/// headers and the byte cap, replacing) the domain's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRules {
    pub compare_headers: Option<Vec<String>>,
    #[serde(default)]
    pub ignore_headers: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub unordered: Vec<RawUnordered>,
    pub max_compared_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUnordered {
    pub path: String,
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSticky {
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub methods: Option<Vec<String>>,
    pub path: String,
    #[serde(default)]
    pub repeatable: bool,
    pub shadow: Option<RawRules>,
    pub id_pointer: Option<String>,
    pub key: Option<String>,
}
