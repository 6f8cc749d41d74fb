//! Unit tests of the ledger: counting once per comparison and field, verdicts, the exact
//! mismatch rate, and the bounds on fields and field sets.

use super::*;
use crate::diff::{DiffKind, Difference};

fn comparison(fields: &[&str]) -> Comparison {
    let differences = fields
        .iter()
        .map(|f| Difference {
            field: (*f).to_owned(),
            at: (*f).to_owned(),
            kind: DiffKind::Value,
            primary: None,
            secondary: None,
            detail: None,
        })
        .collect();
    Comparison { differences, truncated: false, omitted: 0 }
}

const ROUTE: &str = "GET /invoices/{id}";

#[test]
fn a_field_counts_once_per_comparison() {
    let mut ledger = DiffLedger::default();
    ledger.record_raw(ROUTE, &comparison(&["/items/*/p", "/items/*/p", "/total"]));
    let report = ledger.report();
    let fields: Vec<_> =
        report.routes[0].fields.iter().map(|f| (f.field.as_str(), f.raw)).collect();
    assert_eq!(fields, [("/items/*/p", 1), ("/total", 1)]);
    assert_eq!((report.compared, report.mismatched), (1, 1));
}

#[test]
fn the_mismatch_rate_counts_requests_not_fields_and_skips_noise() {
    let mut ledger = DiffLedger::default();
    for i in 0..100 {
        // Every request: a noisy timestamp; one in four: two real differences together.
        let mut fields = vec!["/generated_at"];
        if i % 4 == 0 {
            fields.extend(["/total", "/currency"]);
        }
        ledger.record_raw(ROUTE, &comparison(&fields));
        if i % 10 == 0 {
            ledger.record_noise(ROUTE, &comparison(&["/generated_at"]));
        }
    }
    ledger.record_raw("GET /tracks/{id}", &comparison(&[]));
    assert_eq!(ledger.verdict(ROUTE, "/generated_at"), FieldVerdict::Noise);
    assert_eq!(ledger.verdict(ROUTE, "/total"), FieldVerdict::Mismatch);
    assert_eq!(ledger.verdict(ROUTE, "/name"), FieldVerdict::Clean);
    assert_eq!(ledger.verdict("GET /nowhere", "/total"), FieldVerdict::Clean);
    assert_eq!(ledger.compared(), 101);
    assert_eq!(ledger.mismatch_rate(), Some(25.0 / 101.0));
    let route = &ledger.report().routes[0];
    assert_eq!((route.route.as_str(), route.mismatched, route.noise_compared), (ROUTE, 25, 10));
    let order: Vec<_> = route.fields.iter().map(|f| (f.verdict, f.field.as_str())).collect();
    assert_eq!(
        order,
        [
            (FieldVerdict::Mismatch, "/currency"),
            (FieldVerdict::Mismatch, "/total"),
            (FieldVerdict::Noise, "/generated_at")
        ]
    );
}

#[test]
fn no_comparison_means_no_rate() {
    assert_eq!(DiffLedger::default().mismatch_rate(), None);
    let mut ledger = DiffLedger::new(NoiseThresholds { relative: 0.5, absolute: 0.0 });
    ledger.record_noise(ROUTE, &comparison(&["/a"]));
    assert_eq!(ledger.mismatch_rate(), None);
    assert_eq!(ledger.verdict(ROUTE, "/a"), FieldVerdict::Noise);
    assert_eq!(ledger.thresholds().relative, 0.5);
}

#[test]
fn fields_and_field_sets_past_the_caps_are_bounded_and_still_counted() {
    let mut ledger = DiffLedger::default();
    let names: Vec<String> =
        (0..MAX_FIELDS_PER_ROUTE + 10).map(|i| format!("/by_id/{i}")).collect();
    for name in &names {
        ledger.record_raw(ROUTE, &comparison(&[name.as_str()]));
    }
    let route = &ledger.report().routes[0];
    assert_eq!(route.fields.len(), MAX_FIELDS_PER_ROUTE + 1);
    let other = route.fields.iter().find(|f| f.field == OTHER_FIELDS).unwrap();
    assert_eq!(other.raw, 10);
    // Without noise every field is a mismatch; the 10 requests whose field sets were not kept
    // (past MAX_FIELD_SETS_PER_ROUTE) still count, once each.
    assert_eq!(route.mismatched, route.compared);
}

#[test]
fn reports_serialize_and_print() {
    let mut ledger = DiffLedger::default();
    ledger.record_raw(ROUTE, &comparison(&["/total"]));
    ledger.record_raw(ROUTE, &comparison(&[]));
    let report = ledger.report();
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains(r#""verdict":"mismatch""#), "{json}");
    assert_eq!(serde_json::from_str::<LedgerReport>(&json).unwrap(), report);
    assert_eq!(
        report.to_string(),
        "2 compared, 0 noise-compared, 1 mismatched (50.00 %)\n\
         GET /invoices/{id}: 2 compared, 0 noise-compared, 1 mismatched (50.00 %)\n  \
         mismatch /total  raw 1 (50.00 %)  noise 0 (0.00 %)\n"
    );
}

#[test]
fn a_forgotten_field_leaves_the_report_and_the_mismatch_rate() {
    let mut ledger = DiffLedger::default();
    for i in 0..10 {
        let fields: &[&str] = if i % 2 == 0 { &["/total"] } else { &["/total", "/currency"] };
        ledger.record_raw(ROUTE, &comparison(fields));
    }
    assert_eq!(ledger.mismatch_rate(), Some(1.0));
    assert!(ledger.forget(ROUTE, "/total"));
    assert!(!ledger.forget(ROUTE, "/total"), "nothing left to forget");
    assert!(!ledger.forget("GET /nowhere", "/total"));
    assert_eq!(ledger.verdict(ROUTE, "/total"), FieldVerdict::Clean);
    assert_eq!(ledger.mismatch_rate(), Some(0.5), "only requests differing in /currency count");
    let fields: Vec<_> = ledger.report().routes[0].fields.iter().map(|f| f.field.clone()).collect();
    assert_eq!(fields, ["/currency"]);
}
