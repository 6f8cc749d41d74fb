//! The diff ledger: per route template and field, raw and noise difference counts, the verdict
//! of the noise filter, and the domain's mismatch rate that gates read.

use super::difference::Comparison;
use super::noise::{FieldStats, FieldVerdict, NoiseThresholds, judge, rate};
use super::report::{FieldReport, LedgerReport, RouteReport};
use std::collections::HashMap;

/// Distinct fields tracked per route; differences in further fields count under
/// [`OTHER_FIELDS`] (a body keyed by ids could otherwise grow the ledger without bound).
pub const MAX_FIELDS_PER_ROUTE: usize = 1024;
/// The field that collects differences past [`MAX_FIELDS_PER_ROUTE`].
pub const OTHER_FIELDS: &str = "(other fields)";
/// Distinct sets of differing fields remembered per route for [`DiffLedger::mismatch_rate`].
pub const MAX_FIELD_SETS_PER_ROUTE: usize = 1024;

/// Counts of one domain's comparisons, by route template and field. Pure and `Clone`: the
/// caller owns it (behind whatever lock) and takes a [`report`](DiffLedger::report) when needed.
#[derive(Debug, Clone, Default)]
pub struct DiffLedger {
    thresholds: NoiseThresholds,
    routes: Vec<(String, RouteLedger)>,
    by_route: HashMap<String, usize>,
}

#[derive(Debug, Clone, Default)]
struct RouteLedger {
    compared: u64,
    noise_compared: u64,
    truncated: u64,
    fields: Vec<(String, FieldStats)>,
    index: HashMap<String, usize>,
    /// Raw comparisons with differences, by their sorted set of differing field indices: what
    /// makes the mismatch rate exact (a request differing in two fields counts once).
    field_sets: HashMap<Box<[usize]>, u64>,
    /// Raw comparisons with differences whose field set was not kept (past the cap).
    unkept: u64,
}

impl RouteLedger {
    /// Sorted, distinct indices of the comparison's fields, interning new ones.
    fn intern(&mut self, comparison: &Comparison) -> Vec<usize> {
        let mut ids: Vec<usize> = comparison.fields().into_iter().map(|f| self.id(f)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn id(&mut self, field: &str) -> usize {
        if let Some(id) = self.index.get(field) {
            return *id;
        }
        let field = if self.fields.len() < MAX_FIELDS_PER_ROUTE { field } else { OTHER_FIELDS };
        if let Some(id) = self.index.get(field) {
            return *id;
        }
        self.fields.push((field.to_owned(), FieldStats::default()));
        self.index.insert(field.to_owned(), self.fields.len() - 1);
        self.fields.len() - 1
    }

    fn verdicts(&self, thresholds: &NoiseThresholds) -> Vec<FieldVerdict> {
        let judge = |s: &FieldStats| judge(*s, self.compared, self.noise_compared, thresholds);
        self.fields.iter().map(|(_, s)| judge(s)).collect()
    }

    /// Raw comparisons with at least one `Mismatch` field. Comparisons whose field set was not
    /// kept count as mismatched whenever the route has any `Mismatch` field (an upper bound).
    fn mismatched(&self, verdicts: &[FieldVerdict]) -> u64 {
        let is_mismatch = |id: &usize| verdicts.get(*id) == Some(&FieldVerdict::Mismatch);
        let known: u64 = self
            .field_sets
            .iter()
            .filter(|(set, _)| set.iter().any(is_mismatch))
            .map(|(_, n)| n)
            .sum();
        let any = verdicts.contains(&FieldVerdict::Mismatch);
        known + if any { self.unkept } else { 0 }
    }
}

impl DiffLedger {
    /// An empty ledger judging with `thresholds`.
    pub fn new(thresholds: NoiseThresholds) -> Self {
        DiffLedger { thresholds, ..DiffLedger::default() }
    }

    /// The thresholds verdicts are judged with.
    pub fn thresholds(&self) -> NoiseThresholds {
        self.thresholds
    }

    fn route(&mut self, route: &str) -> &mut RouteLedger {
        let i = match self.by_route.get(route) {
            Some(i) => *i,
            None => {
                self.routes.push((route.to_owned(), RouteLedger::default()));
                self.by_route.insert(route.to_owned(), self.routes.len() - 1);
                self.routes.len() - 1
            }
        };
        &mut self.routes[i].1
    }

    /// Records a primary-vs-secondary comparison of a request to `route` (a route template,
    /// e.g. `GET /invoices/{id}`): one more compared request, one more raw count per differing
    /// field.
    pub fn record_raw(&mut self, route: &str, comparison: &Comparison) {
        let r = self.route(route);
        r.compared += 1;
        r.truncated += u64::from(comparison.truncated);
        let ids = r.intern(comparison);
        for id in &ids {
            r.fields[*id].1.raw += 1;
        }
        if ids.is_empty() {
            return;
        }
        if let Some(n) = r.field_sets.get_mut(ids.as_slice()) {
            *n += 1;
        } else if r.field_sets.len() < MAX_FIELD_SETS_PER_ROUTE {
            r.field_sets.insert(ids.into_boxed_slice(), 1);
        } else {
            r.unkept += 1;
        }
    }

    /// Records a primary-vs-primary comparison (the noise sample): one more noise-compared
    /// request, one more noise count per differing field.
    pub fn record_noise(&mut self, route: &str, comparison: &Comparison) {
        let r = self.route(route);
        r.noise_compared += 1;
        for id in r.intern(comparison) {
            r.fields[id].1.noise += 1;
        }
    }

    /// Forgets the counts of `field` on `route` (an operator marked it a known difference, so
    /// it is no longer compared): it leaves the report and stops counting towards the mismatch
    /// rate. Returns whether there was anything to forget.
    pub fn forget(&mut self, route: &str, field: &str) -> bool {
        let Some(r) = self.by_route.get(route).and_then(|i| self.routes.get_mut(*i)) else {
            return false;
        };
        let Some(id) = r.1.index.get(field) else { return false };
        let stats = &mut r.1.fields[*id].1;
        let had = *stats != FieldStats::default();
        *stats = FieldStats::default();
        had
    }

    /// Raw comparisons recorded, over all routes.
    pub fn compared(&self) -> u64 {
        self.routes.iter().map(|(_, r)| r.compared).sum()
    }

    /// The verdict on one field of one route; `Clean` for a field or route never seen.
    pub fn verdict(&self, route: &str, field: &str) -> FieldVerdict {
        let Some((_, r)) = self.by_route.get(route).and_then(|i| self.routes.get(*i)) else {
            return FieldVerdict::Clean;
        };
        let Some(id) = r.index.get(field) else { return FieldVerdict::Clean };
        judge(r.fields[*id].1, r.compared, r.noise_compared, &self.thresholds)
    }

    /// The domain's mismatch rate, a fraction in `[0, 1]`: the number of raw comparisons (over
    /// all routes) in which at least one field judged [`FieldVerdict::Mismatch`] *now* differed,
    /// divided by the number of raw comparisons. Verdicts are re-judged on every call, so a
    /// field later explained by noise stops counting. Exact while each route has at most
    /// [`MAX_FIELD_SETS_PER_ROUTE`] distinct sets of differing fields; past that, see the
    /// report's `mismatched`. `None` before any comparison.
    pub fn mismatch_rate(&self) -> Option<f64> {
        self.report().mismatch_rate
    }

    /// Everything counted, judged now: routes by name, fields with mismatches first.
    pub fn report(&self) -> LedgerReport {
        let mut routes: Vec<RouteReport> =
            self.routes.iter().map(|(name, r)| self.route_report(name, r)).collect();
        routes.sort_by(|a, b| a.route.cmp(&b.route));
        let compared = routes.iter().map(|r| r.compared).sum();
        let mismatched = routes.iter().map(|r| r.mismatched).sum();
        LedgerReport {
            thresholds: self.thresholds,
            compared,
            noise_compared: routes.iter().map(|r| r.noise_compared).sum(),
            mismatched,
            mismatch_rate: (compared > 0).then(|| rate(mismatched, compared)),
            routes,
        }
    }

    fn route_report(&self, name: &str, r: &RouteLedger) -> RouteReport {
        let verdicts = r.verdicts(&self.thresholds);
        let mut fields: Vec<FieldReport> = r
            .fields
            .iter()
            .zip(&verdicts)
            // Forgotten fields (known differences) have no counts left.
            .filter(|((_, s), _)| s.raw > 0 || s.noise > 0)
            .map(|((field, s), verdict)| FieldReport {
                field: field.clone(),
                raw: s.raw,
                noise: s.noise,
                raw_rate: rate(s.raw, r.compared),
                noise_rate: rate(s.noise, r.noise_compared),
                verdict: *verdict,
            })
            .collect();
        fields.sort_by(|a, b| (a.verdict, &a.field).cmp(&(b.verdict, &b.field)));
        let mismatched = r.mismatched(&verdicts);
        RouteReport {
            route: name.to_owned(),
            compared: r.compared,
            noise_compared: r.noise_compared,
            truncated: r.truncated,
            mismatched,
            mismatch_rate: (r.compared > 0).then(|| rate(mismatched, r.compared)),
            fields,
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
