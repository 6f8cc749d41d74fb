//! Checks a domain's `[domains.NAME.shadow]` table into a [`ShadowConfig`]: where reads are
//! shadowed, the bounds of the shadow queue, and the comparison rules.

use super::ShadowConfig;
use super::check::Checker;
use super::locate::Seg;
use super::raw::{RawRules, RawShadow};
use crate::diff::{DiffRules, NoiseThresholds, PointerPattern, RuleSet};

/// `routes` holds, per route entry with its own rules, the entry's index, its template and
/// its raw rules.
pub(super) fn check(
    c: &mut Checker<'_>,
    domain: &str,
    raw: RawShadow,
    routes: Vec<(usize, String, RawRules)>,
) -> ShadowConfig {
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
    let max_examples = count("max_examples", raw.max_examples, d.max_examples);
    let noise_percent = match raw.noise_percent {
        Some(p) => c.percent(&at("noise_percent"), Some(p)),
        None => d.noise_percent,
    };

    let domain_at = [Key("domains"), Key(domain), Key("shadow")];
    let domain_rules = RawRules {
        compare_headers: raw.compare_headers,
        ignore_headers: raw.ignore_headers,
        ignore: raw.ignore,
        tolerance: raw.tolerance,
        unordered: raw.unordered,
        max_compared_bytes: raw.max_compared_bytes,
    };
    let default = rules(c, &domain_at, DiffRules::default(), domain_rules);
    let mut set = RuleSet::new(default.clone());
    let mut seen: Vec<String> = Vec::new();
    for (i, template, raw_rules) in routes {
        let at = [Key("domains"), Key(domain), Key("routes"), Index(i), Key("shadow")];
        if seen.contains(&template) {
            c.issue(
                &at,
                format!("{template:?} already has shadow rules in another route entry; give a template's rules once"),
            );
        }
        let route_rules = rules(c, &at, default.clone(), raw_rules);
        set = set.with_route(template.clone(), route_rules);
        seen.push(template);
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
        rules: set,
        thresholds,
        max_examples,
    }
}

/// `base` plus the rules in `raw`; problems are reported at `at` + the key.
fn rules(c: &mut Checker<'_>, at: &[Seg<'_>], base: DiffRules, raw: RawRules) -> DiffRules {
    use Seg::{Index, Key};
    let key = |k: &'static str| {
        let mut p = at.to_vec();
        p.push(Key(k));
        p
    };
    let item = |k: &'static str, i: usize| {
        let mut p = key(k);
        p.push(Index(i));
        p
    };
    let mut rules = base;
    if let Some(names) = &raw.compare_headers {
        rules = rules.compare_only_headers(names.iter().map(String::as_str));
    }
    for name in &raw.ignore_headers {
        rules = rules.deny_header(name);
    }
    for (i, text) in raw.ignore.iter().enumerate() {
        match text.parse::<PointerPattern>() {
            Ok(p) => rules = rules.ignore(p),
            Err(e) => c.issue(&item("ignore", i), e.to_string()),
        }
    }
    if let Some(t) = raw.tolerance {
        if t.is_finite() && t >= 0.0 {
            rules = rules.tolerance(t);
        } else {
            c.issue(&key("tolerance"), format!("{t} is not valid; expected a number ≥ 0"));
        }
    }
    for (i, u) in raw.unordered.iter().enumerate() {
        match (u.path.parse::<PointerPattern>(), &u.key) {
            (Ok(p), Some(k)) => rules = rules.unordered_by_key(p, k.clone()),
            (Ok(p), None) => rules = rules.unordered(p),
            (Err(e), _) => c.issue(&item("unordered", i), e.to_string()),
        }
    }
    if let Some(cap) = raw.max_compared_bytes {
        if cap == 0 {
            c.issue(&key("max_compared_bytes"), "must be at least 1 byte");
        }
        rules = rules.cap_compared_bytes(cap);
    }
    rules
}
