//! Route matching and the routing decision: which domain a request belongs to, and which side
//! serves it in the domain's phase. Pure; the gateway calls these on every request.

use crate::defaults::BUCKETS;
use crate::phase::Phase;
use crate::plan::{Domain, Route};
use crate::side::Side;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A share of traffic in basis points: 0 ..= 10,000 (0.01 % steps).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Percent(u16);

impl Percent {
    pub const ZERO: Percent = Percent(0);
    pub const FULL: Percent = Percent(BUCKETS);

    /// From basis points; `None` above 10,000.
    pub fn from_basis_points(bp: u16) -> Option<Percent> {
        (bp <= BUCKETS).then_some(Percent(bp))
    }

    /// From a percentage 0.0 ..= 100.0, rounded to the nearest 0.01 %; `None` outside the range
    /// or for NaN.
    pub fn from_percent(p: f64) -> Option<Percent> {
        if !(0.0..=100.0).contains(&p) {
            return None;
        }
        // In range, so the rounded value fits u16.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bp = (p * 100.0).round() as u16;
        Percent::from_basis_points(bp)
    }

    pub fn basis_points(self) -> u16 {
        self.0
    }

    pub fn as_percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// Whether a subject in `bucket` falls inside this share. Buckets below the share are in,
    /// so raising the share only ever adds subjects.
    pub fn contains(self, bucket: Bucket) -> bool {
        bucket.0 < self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.as_percent())
    }
}

/// A subject's sticky bucket, 0 ..= 9,999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(u16);

impl Bucket {
    /// The bucket of a sticky key: XXH3-64 of its bytes modulo 10,000. Stable across builds,
    /// machines and replicas (never `DefaultHasher`), so one subject always lands in one bucket.
    pub fn of_key(key: &[u8]) -> Bucket {
        let h = xxhash_rust::xxh3::xxh3_64(key) % u64::from(BUCKETS);
        // h < 10_000 fits in u16.
        #[allow(clippy::cast_possible_truncation)]
        Bucket(h as u16)
    }

    /// A bucket from a uniformly random number, for requests that carry no sticky key.
    pub fn from_random(r: u64) -> Bucket {
        #[allow(clippy::cast_possible_truncation)]
        Bucket((r % u64::from(BUCKETS)) as u16)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// What the request path does with one request, decided from the phase table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The side whose answer the client gets.
    pub primary: Side,
    /// The other side.
    pub secondary: Side,
    /// Whether the request is a read (safe method).
    pub read: bool,
}

/// Whether a method is a read that may be served by either side: GET, HEAD, OPTIONS
/// (the safe methods of RFC 9110 §9.2.1, less TRACE, which the gateway does not route).
pub fn is_read(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Decide the primary for one request.
///
/// Reads go to the side that serves reads in `phase`; in `read-new` a subject whose bucket is
/// inside `read_new` reads from new. Writes go to the authoritative side.
pub fn decide(phase: Phase, method: &str, bucket: Bucket, read_new: Percent) -> Decision {
    let read = is_read(method);
    let primary = if !read {
        phase.authoritative()
    } else {
        match phase {
            Phase::Legacy | Phase::DualWrite | Phase::Backfill => Side::Legacy,
            Phase::ReadNew if read_new.contains(bucket) => Side::New,
            Phase::ReadNew => Side::Legacy,
            Phase::New => Side::New,
        }
    };
    Decision { primary, secondary: primary.other(), read }
}

/// Whether requests of a domain in `phase` may be shadowed to the secondary: in `dual-write`,
/// `backfill` and `read-new` (both sides hold the data), in `legacy` only when the domain opts
/// in, never in `new` (legacy may be retired).
pub fn shadow_eligible(phase: Phase, in_legacy: bool) -> bool {
    match phase {
        Phase::DualWrite | Phase::Backfill | Phase::ReadNew => true,
        Phase::Legacy => in_legacy,
        Phase::New => false,
    }
}

/// A matched route: the domain (index into the plan's domains), the template and the path
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'t, 'p> {
    pub domain: usize,
    pub template: &'t str,
    /// (name from the template, value from the path)
    pub params: Vec<(&'t str, &'p str)>,
    /// The route may be sent twice (shadowed) whatever its method.
    pub repeatable: bool,
    /// Index of the route in its domain's `routes`.
    pub route: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    template: String,
    /// (methods or None for any, domain index, repeatable, route index), in plan order.
    owners: Vec<(Option<Vec<String>>, usize, bool, usize)>,
}

/// Route templates of every domain compiled into one radix tree (matchit). Built once per plan;
/// lookups allocate only the parameter list.
#[derive(Debug, Clone)]
pub struct RouteTable {
    router: matchit::Router<usize>,
    entries: Vec<Entry>,
}

/// Two routes that cannot live in one table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteConflict {
    #[error("path template {template:?} is not valid: {message}")]
    Invalid { template: String, message: String },
    #[error(
        "route {template:?} of domain {domain:?} overlaps {other_template:?} of domain \
         {other_domain:?} for method {method}"
    )]
    Overlap {
        template: String,
        domain: String,
        other_template: String,
        other_domain: String,
        method: String,
    },
}

impl RouteTable {
    /// A table that matches nothing.
    pub fn empty() -> RouteTable {
        RouteTable { router: matchit::Router::new(), entries: Vec::new() }
    }

    /// Compile the routes of `domains`.
    ///
    /// # Errors
    /// A template matchit rejects, two templates that match the same paths differently
    /// (`/a/{id}` beside `/a/{key}`), or one template claimed by two domains for one method.
    pub fn build(domains: &[Domain]) -> Result<RouteTable, RouteConflict> {
        let mut router = matchit::Router::new();
        let mut entries: Vec<Entry> = Vec::new();
        for (di, domain) in domains.iter().enumerate() {
            for (ri, route) in domain.routes.iter().enumerate() {
                let idx = match entries.iter().position(|e| e.template == route.path) {
                    Some(i) => i,
                    None => {
                        router.insert(route.path.clone(), entries.len()).map_err(|e| {
                            RouteConflict::Invalid {
                                template: route.path.clone(),
                                message: e.to_string(),
                            }
                        })?;
                        entries.push(Entry { template: route.path.clone(), owners: Vec::new() });
                        entries.len() - 1
                    }
                };
                let entry = &mut entries[idx];
                for (methods, other, _, _) in &entry.owners {
                    if let Some(method) = overlap(methods.as_deref(), route.methods.as_deref()) {
                        return Err(RouteConflict::Overlap {
                            template: route.path.clone(),
                            domain: domain.name.clone(),
                            other_template: entry.template.clone(),
                            other_domain: domains[*other].name.clone(),
                            method,
                        });
                    }
                }
                entry.owners.push((route.methods.clone(), di, route.repeatable, ri));
            }
        }
        Ok(RouteTable { router, entries })
    }

    /// The domain that owns `method` on `path`, if any.
    pub fn lookup<'t, 'p>(&'t self, method: &str, path: &'p str) -> Option<RouteMatch<'t, 'p>> {
        let m = self.router.at(path).ok()?;
        let entry = &self.entries[*m.value];
        let (domain, repeatable, route) =
            entry.owners.iter().find_map(|(methods, di, repeatable, ri)| {
                let hit = methods.as_ref().is_none_or(|ms| ms.iter().any(|x| x == method));
                hit.then_some((*di, *repeatable, *ri))
            })?;
        Some(RouteMatch {
            domain,
            template: &entry.template,
            params: m.params.iter().collect(),
            repeatable,
            route,
        })
    }
}

fn overlap(a: Option<&[String]>, b: Option<&[String]>) -> Option<String> {
    match (a, b) {
        (None, _) | (_, None) => Some("*".to_owned()),
        (Some(a), Some(b)) => a.iter().find(|m| b.contains(m)).cloned(),
    }
}

/// The routes of a domain that a given template belongs to; used in messages.
pub fn describe(route: &Route) -> String {
    match &route.methods {
        None => format!("* {}", route.path),
        Some(ms) => format!("{} {}", ms.join(","), route.path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_follow_the_authoritative_side() {
        for phase in Phase::ALL {
            for m in ["POST", "PUT", "PATCH", "DELETE"] {
                let d = decide(phase, m, Bucket(0), Percent::FULL);
                assert_eq!(d.primary, phase.authoritative(), "{phase} {m}");
                assert!(!d.read);
            }
        }
    }

    #[test]
    fn reads_follow_the_phase() {
        let r = |p, b, pct| decide(p, "GET", Bucket(b), Percent(pct)).primary;
        assert_eq!(r(Phase::Legacy, 0, 10_000), Side::Legacy);
        assert_eq!(r(Phase::Backfill, 0, 10_000), Side::Legacy);
        assert_eq!(r(Phase::ReadNew, 0, 1), Side::New);
        assert_eq!(r(Phase::ReadNew, 1, 1), Side::Legacy);
        assert_eq!(r(Phase::ReadNew, 9_999, 10_000), Side::New);
        assert_eq!(r(Phase::New, 9_999, 0), Side::New);
    }

    #[test]
    fn percent_parsing() {
        assert_eq!(Percent::from_percent(12.5), Some(Percent(1250)));
        assert_eq!(Percent::from_percent(100.0), Some(Percent::FULL));
        assert_eq!(Percent::from_percent(100.01), None);
        assert_eq!(Percent::from_percent(-1.0), None);
        assert_eq!(Percent::from_percent(f64::NAN), None);
    }

    #[test]
    fn ramp_share_is_close_to_setting_over_10k_subjects() {
        for pct in [1u16, 10, 25, 50, 75, 99] {
            let share = Percent(pct * 100);
            let on_new = (0..10_000)
                .filter(|i| share.contains(Bucket::of_key(format!("customer-{i}").as_bytes())))
                .count();
            let got = on_new as f64 / 100.0;
            assert!((got - f64::from(pct)).abs() <= 2.0, "{pct}% setting gave {got}%");
        }
    }

    proptest! {
        /// Raising the share never moves a subject from new back to legacy.
        #[test]
        fn raising_the_share_is_monotone(key in any::<Vec<u8>>(), a in 0u16..=10_000, b in 0u16..=10_000) {
            let (lo, hi) = (a.min(b), a.max(b));
            let bucket = Bucket::of_key(&key);
            if Percent(lo).contains(bucket) {
                prop_assert!(Percent(hi).contains(bucket));
            }
        }
    }
}
