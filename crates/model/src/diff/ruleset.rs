//! The comparison rules of one domain: its default rules, the rules of routes that add their
//! own, and the fields an operator marked as known differences (each becomes an ignore rule of
//! its route).

use super::pattern::{PatternError, PointerPattern};
use super::rules::DiffRules;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A field of a route whose difference is understood and accepted: from now on it is not
/// compared on that route. `field` is a ledger field path: a JSON Pointer pattern
/// (`/lines/*/unit_price`) or `header:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KnownDifference {
    /// Route template, as in the ledger (`/invoices/{id}`).
    pub route: String,
    pub field: String,
}

/// The rule a known difference becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum KnownRule {
    /// Ignore the body values at and below this pattern.
    Ignore(PointerPattern),
    /// Never compare this header (lower case).
    DenyHeader(String),
}

/// Why a field cannot be marked as a known difference.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnownFieldError {
    #[error(
        "{field:?} cannot be marked known: ignoring the whole {field} would hide every \
         difference of the route; fix the service or add narrower rules to the plan"
    )]
    Whole { field: String },
    #[error("{0}")]
    Pattern(#[from] PatternError),
    #[error(
        "{field:?} is not a field path; expected a JSON Pointer such as /total or header:<name>"
    )]
    Unknown { field: String },
}

/// The rule that stops `field` (a ledger field path) from being compared.
///
/// Errors: [`KnownFieldError::Whole`] for `status` and `body` (the comparison would be
/// empty), [`KnownFieldError::Pattern`] for a malformed pointer, [`KnownFieldError::Unknown`]
/// for anything else.
pub fn known_rule(field: &str) -> Result<KnownRule, KnownFieldError> {
    if field == "status" || field == "body" || field.is_empty() {
        return Err(KnownFieldError::Whole { field: field.to_owned() });
    }
    if let Some(name) = field.strip_prefix("header:") {
        if name.is_empty() {
            return Err(KnownFieldError::Unknown { field: field.to_owned() });
        }
        return Ok(KnownRule::DenyHeader(name.to_ascii_lowercase()));
    }
    if field.starts_with('/') {
        return Ok(KnownRule::Ignore(PointerPattern::parse(field)?));
    }
    Err(KnownFieldError::Unknown { field: field.to_owned() })
}

impl DiffRules {
    /// These rules plus `rule`.
    pub fn with_known(self, rule: KnownRule) -> DiffRules {
        match rule {
            KnownRule::Ignore(p) => self.ignore(p),
            KnownRule::DenyHeader(h) => self.deny_header(&h),
        }
    }
}

/// A domain's rules: the default, and whole rule sets for routes that differ from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    default: DiffRules,
    routes: BTreeMap<String, DiffRules>,
}

impl RuleSet {
    /// Every route compared under `default`.
    pub fn new(default: DiffRules) -> RuleSet {
        RuleSet { default, routes: BTreeMap::new() }
    }

    /// `route` (a template) compared under `rules` instead of the default.
    pub fn with_route(mut self, route: impl Into<String>, rules: DiffRules) -> RuleSet {
        self.routes.insert(route.into(), rules);
        self
    }

    /// The domain's default rules.
    pub fn default_rules(&self) -> &DiffRules {
        &self.default
    }

    /// The rules `route` is compared under.
    pub fn for_route(&self, route: &str) -> &DiffRules {
        self.routes.get(route).unwrap_or(&self.default)
    }

    /// These rules with every known difference turned into a rule of its route. A field that
    /// is not a valid known difference (see [`known_rule`]) is left out and returned, so a
    /// stored entry written by an older version can never stop the rules from loading.
    pub fn with_known<'k>(
        &self,
        known: impl IntoIterator<Item = &'k KnownDifference>,
    ) -> (RuleSet, Vec<(&'k KnownDifference, KnownFieldError)>) {
        let mut out = self.clone();
        let mut rejected = Vec::new();
        for k in known {
            match known_rule(&k.field) {
                Ok(rule) => {
                    let rules = out.for_route(&k.route).clone().with_known(rule);
                    out.routes.insert(k.route.clone(), rules);
                }
                Err(e) => rejected.push((k, e)),
            }
        }
        (out, rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Segment;

    #[test]
    fn fields_become_rules() {
        assert!(matches!(known_rule("/lines/*/price"), Ok(KnownRule::Ignore(_))));
        assert_eq!(known_rule("header:ETag"), Ok(KnownRule::DenyHeader("etag".into())));
        assert!(matches!(known_rule("status"), Err(KnownFieldError::Whole { .. })));
        assert!(matches!(known_rule("body"), Err(KnownFieldError::Whole { .. })));
        assert!(matches!(known_rule("total"), Err(KnownFieldError::Unknown { .. })));
        assert!(matches!(known_rule("/a~2"), Err(KnownFieldError::Pattern(_))));
    }

    #[test]
    fn a_known_difference_applies_to_its_route_only() {
        let set = RuleSet::new(DiffRules::default());
        let known = [
            KnownDifference { route: "/invoices/{id}".into(), field: "/total".into() },
            KnownDifference { route: "/invoices/{id}".into(), field: "status".into() },
        ];
        let (set, rejected) = set.with_known(&known);
        assert_eq!(rejected.len(), 1);
        let total = [Segment::Key("total")];
        assert!(set.for_route("/invoices/{id}").is_ignored(&total));
        assert!(!set.for_route("/customers/{id}").is_ignored(&total));
        assert!(!set.default_rules().is_ignored(&total));
    }
}
