//! The comparison engine of shadow reads: rules, the comparer of two answers (status, headers,
//! JSON / text / bytes bodies) and Diffy-style noise cancellation over many comparisons. Pure:
//! no I/O, no clock, no randomness.
//!
//! Flow: [`compare`] two [`Answer`]s under [`DiffRules`] → a [`Comparison`] (differences
//! counted per field path: `status`, `header:<name>`, `body`, or a JSON Pointer with array
//! elements as `*`, e.g. `/lines/*/unit_price`; the concrete place in [`Difference::at`], e.g.
//! `/lines/[id=7]/unit_price`) → [`DiffLedger::record_raw`] / [`DiffLedger::record_noise`] per
//! route template → [`DiffLedger::report`] judges every field ([`judge`], after Diffy) and gives
//! the domain's [`DiffLedger::mismatch_rate`].

mod canonical;
mod compare;
mod difference;
mod equal;
mod headers;
mod json;
mod ledger;
mod noise;
mod pattern;
mod render;
mod report;
mod rules;
mod ruleset;
mod tape;
mod text;

pub use compare::{Answer, compare};
pub use difference::{Comparison, DiffKind, Difference, MAX_EXAMPLES_PER_FIELD};
pub use json::MAX_JSON_DEPTH;
pub use ledger::{DiffLedger, MAX_FIELD_SETS_PER_ROUTE, MAX_FIELDS_PER_ROUTE, OTHER_FIELDS};
pub use noise::{
    DEFAULT_ABSOLUTE_THRESHOLD, DEFAULT_RELATIVE_THRESHOLD, FieldStats, FieldVerdict,
    NoiseThresholds, judge, rate,
};
pub use pattern::{PatternError, PointerPattern, Segment};
pub use render::MAX_RENDERED_CHARS;
pub use report::{FieldReport, LedgerReport, RouteReport};
pub use rules::{DEFAULT_COMPARED_HEADERS, DEFAULT_MAX_COMPARED_BYTES, DiffRules, UnorderedArray};
pub use ruleset::{KnownDifference, KnownFieldError, KnownRule, RuleSet, known_rule};
pub use text::MAX_DETAIL_BYTES;
