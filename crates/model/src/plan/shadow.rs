//! Checks a domain's `[domains.NAME.shadow]` table into a [`ShadowConfig`]: where reads are
//! shadowed, the bounds of the shadow queue, and the comparison rules.

use super::ShadowConfig;
use super::check::Checker;
use super::locate::Seg;
use super::raw::RawShadow;
use crate::diff::{DiffRules, NoiseThresholds, PointerPattern};

pub(super) fn check(c: &mut Checker<'_>, domain: &str, raw: RawShadow) -> ShadowConfig {
    use Seg::{Index, Key};
    let d = ShadowConfig::default();
    let at = |k: &'static str| [Key("domains"), Key(domain), Key("shadow"), Key(k)];
    let timeout = raw.timeout.unwrap_or(d.timeout);
    if timeout.is_zero() {
        c.issue(&at("timeout"), "must be longer than zero; expected a duration such as \"2s\"");
    }
    let mut count = |k, v: Option<usize>, default: usize| {
        let v = v.unwrap_or(default);
        if v == 0 {
            c.issue(&at(k), "must be at least 1");
        }
        v
    };
    let max_concurrency = count("max_concurrency", raw.max_concurrency, d.max_concurrency);
    let queue = count("queue", raw.queue, d.queue);
    let noise_percent = match raw.noise_percent {
        Some(p) => c.percent(&at("noise_percent"), Some(p)),
        None => d.noise_percent,
    };

    let mut rules = DiffRules::default();
    if let Some(names) = &raw.compare_headers {
        rules = rules.compare_only_headers(names.iter().map(String::as_str));
    }
    for name in &raw.ignore_headers {
        rules = rules.deny_header(name);
    }
    for (i, text) in raw.ignore.iter().enumerate() {
        match text.parse::<PointerPattern>() {
            Ok(p) => rules = rules.ignore(p),
            Err(e) => c.issue(
                &[Key("domains"), Key(domain), Key("shadow"), Key("ignore"), Index(i)],
                e.to_string(),
            ),
        }
    }
    if let Some(t) = raw.tolerance {
        if t.is_finite() && t >= 0.0 {
            rules = rules.tolerance(t);
        } else {
            c.issue(&at("tolerance"), format!("{t} is not valid; expected a number ≥ 0"));
        }
    }
    for (i, u) in raw.unordered.iter().enumerate() {
        let path = [Key("domains"), Key(domain), Key("shadow"), Key("unordered"), Index(i)];
        match (u.path.parse::<PointerPattern>(), &u.key) {
            (Ok(p), Some(key)) => rules = rules.unordered_by_key(p, key.clone()),
            (Ok(p), None) => rules = rules.unordered(p),
            (Err(e), _) => c.issue(&path, e.to_string()),
        }
    }
    if let Some(cap) = raw.max_compared_bytes {
        if cap == 0 {
            c.issue(&at("max_compared_bytes"), "must be at least 1 byte");
        }
        rules = rules.cap_compared_bytes(cap);
    }
    let mut thresholds = NoiseThresholds::default();
    let mut fraction = |k, v: Option<f64>, slot: &mut f64| {
        if let Some(v) = v {
            if (0.0..=1.0).contains(&v) {
                *slot = v;
            } else {
                c.issue(&at(k), format!("{v} is out of range; expected a fraction from 0 to 1"));
            }
        }
    };
    fraction("relative_threshold", raw.relative_threshold, &mut thresholds.relative);
    fraction("absolute_threshold", raw.absolute_threshold, &mut thresholds.absolute);
    ShadowConfig {
        in_legacy: raw.in_legacy.unwrap_or(d.in_legacy),
        timeout,
        max_concurrency,
        queue,
        noise_percent,
        rules,
        thresholds,
    }
}
