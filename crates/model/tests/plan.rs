//! Plan parsing and checking: the sample plan loads, and every kind of mistake is rejected with
//! the key path and line named (snapshots of the exact messages a user reads).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ficus_model::{Phase, Plan, Side, StickyKey, TokenSource, Unmatched};
use std::path::Path;

const MINIMAL: &str = r#"
[upstreams.legacy]
url = "http://127.0.0.1:8001"
[upstreams.new]
url = "http://127.0.0.1:8002/api/"
"#;

fn err(src: &str) -> String {
    Plan::parse(src, "ficus.toml", Path::new("/etc/ficus")).unwrap_err().to_string()
}

fn with_domain(domain: &str) -> String {
    format!("{MINIMAL}\n[domains.invoices]\n{domain}")
}

#[test]
fn the_sample_plan_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plans/chinook.toml");
    let plan = Plan::load(&path).unwrap();
    assert_eq!(plan.domains.len(), 3);
    let inv = plan.domain("invoices").unwrap();
    assert_eq!(inv.initial_phase, Phase::Legacy);
    assert_eq!(inv.sticky, Some(StickyKey::Header("x-customer-id".into())));
    assert_eq!(plan.upstream(Side::New).authority, "127.0.0.1:8002");
    assert_eq!(plan.listener.max_body_bytes, 1_048_576);
    assert_eq!(plan.admin.token, TokenSource::Env("FICUS_ADMIN_TOKEN".into()));
    let m = plan.routes.lookup("GET", "/invoices/7").unwrap();
    assert_eq!((plan.domains[m.domain].name.as_str(), m.template), ("invoices", "/invoices/{id}"));
    assert_eq!(m.params, vec![("id", "7")]);
    assert!(
        plan.routes.lookup("PATCH", "/invoices/7").is_none(),
        "PATCH is not in the route's set"
    );
    assert!(plan.routes.lookup("PATCH", "/tracks/7").is_some(), "* takes every method");
}

#[test]
fn defaults_fill_what_is_left_out() {
    let plan = Plan::parse(MINIMAL, "ficus.toml", Path::new("/etc/ficus")).unwrap();
    assert_eq!(plan.listener.address.to_string(), "127.0.0.1:8080");
    assert_eq!(plan.admin.address.to_string(), "127.0.0.1:9900");
    assert_eq!(plan.state_path, Path::new("/etc/ficus/ficus-state.db"));
    assert_eq!(plan.upstream(Side::New).path_prefix, "/api");
    assert_eq!(plan.unmatched, Unmatched::Forward(Side::Legacy));
    assert!(plan.domains.is_empty());
}

#[test]
fn unknown_key_is_rejected_with_the_valid_ones() {
    insta::assert_snapshot!(err(&format!("{MINIMAL}\n[listener]\nadress = \"127.0.0.1:1\"\n")));
}

#[test]
fn unknown_phase_names_the_five() {
    insta::assert_snapshot!(err(&with_domain(
        "phase = \"dual_write\"\nroutes = [{ path = \"/invoices\" }]\n"
    )));
}

#[test]
fn percent_out_of_range() {
    insta::assert_snapshot!(err(&with_domain(
        "read_new_percent = 120\nshadow_percent = -1\nroutes = [{ path = \"/invoices\" }]\n"
    )));
}

#[test]
fn upstream_url_must_be_http() {
    insta::assert_snapshot!(err(
        "[upstreams.legacy]\nurl = \"https://legacy:443\"\n[upstreams.new]\nurl = \"http://\"\nrequest_timeout = \"0s\"\n"
    ));
}

#[test]
fn bad_duration() {
    insta::assert_snapshot!(err(
        "[upstreams.legacy]\nurl = \"http://a:1\"\nconnect_timeout = \"soon\"\n[upstreams.new]\nurl = \"http://b:1\"\n"
    ));
}

#[test]
fn missing_upstream() {
    insta::assert_snapshot!(err("[upstreams.legacy]\nurl = \"http://a:1\"\n"));
}

#[test]
fn overlapping_routes_across_domains() {
    insta::assert_snapshot!(err(&format!(
        "{MINIMAL}\n[domains.a]\nroutes = [{{ methods = [\"GET\"], path = \"/x/{{id}}\" }}]\n\
         [domains.b]\nroutes = [{{ methods = [\"GET\", \"POST\"], path = \"/x/{{id}}\" }}]\n"
    )));
}

#[test]
fn conflicting_parameter_names() {
    insta::assert_snapshot!(err(&format!(
        "{MINIMAL}\n[domains.a]\nroutes = [{{ path = \"/x/{{id}}\" }}, {{ path = \"/x/{{key}}\" }}]\n"
    )));
}

#[test]
fn sticky_needs_exactly_one_source_and_a_real_parameter() {
    insta::assert_snapshot!(err(&format!(
        "{MINIMAL}\n[domains.a]\nsticky = {{ header = \"x\", cookie = \"y\" }}\nroutes = [{{ path = \"/a\" }}]\n\
         [domains.b]\nsticky = {{ path = \"customer\" }}\nroutes = [{{ path = \"/b/{{id}}\" }}]\n"
    )));
}

#[test]
fn several_problems_are_reported_together() {
    insta::assert_snapshot!(err(&format!(
        "[listener]\naddress = \"localhost\"\nmax_body_bytes = 0\n{MINIMAL}\n[unmatched]\nupstream = \"old\"\n\
         [domains.Bad]\nroutes = [{{ methods = [\"FETCH\"], path = \"nope\" }}]\n"
    )));
}

#[test]
fn syntax_error_names_the_line() {
    insta::assert_snapshot!(err("[upstreams.legacy\nurl = 1\n"));
}

#[test]
fn wrong_type_names_the_key() {
    insta::assert_snapshot!(err(&with_domain("routes = [{ methods = \"GET\", path = \"/i\" }]\n")));
}

#[test]
fn shadow_table_is_checked() {
    use ficus_model::diff::{Answer, compare};
    let plan = Plan::parse(
        &with_domain(
            "shadow_percent = 50\nroutes = [{ path = \"/invoices\", repeatable = true }]\n\
             [domains.invoices.shadow]\nin_legacy = true\ntimeout = \"750ms\"\nqueue = 8\n\
             noise_percent = 25\nignore = [\"/generated_at\"]\nunordered = [{ path = \"/lines\", key = \"id\" }]\n",
        ),
        "ficus.toml",
        Path::new("."),
    )
    .unwrap();
    let d = plan.domain("invoices").unwrap();
    assert!(d.shadow.in_legacy && d.routes[0].repeatable);
    assert_eq!((d.shadow.timeout.as_millis(), d.shadow.queue), (750, 8));
    assert_eq!(d.shadow.noise_percent.basis_points(), 2500);
    let a = br#"{"generated_at":"1","lines":[{"id":1,"q":1},{"id":2,"q":2}]}"#;
    let b = br#"{"generated_at":"2","lines":[{"id":2,"q":2},{"id":1,"q":1}]}"#;
    let ans = |body: &'static [u8]| Answer { status: 200, headers: &[], body };
    assert!(
        compare(d.shadow.rules.for_route("/invoices"), &ans(a), &ans(b)).is_match(),
        "the plan's rules are applied"
    );
}

#[test]
fn a_route_adds_its_own_shadow_rules() {
    use ficus_model::diff::{Answer, compare};
    let plan = Plan::parse(
        &with_domain(
            "routes = [\n  { path = \"/invoices/{id}\", shadow = { ignore = [\"/total\"], tolerance = 0.01 } },\n  \
             { path = \"/invoices\" },\n]\n[domains.invoices.shadow]\nignore = [\"/generated_at\"]\n",
        ),
        "ficus.toml",
        Path::new("."),
    )
    .unwrap();
    let rules = &plan.domain("invoices").unwrap().shadow.rules;
    let ans = |body: &'static [u8]| Answer { status: 200, headers: &[], body };
    let (a, b) =
        (br#"{"generated_at":1,"total":1,"n":1.0}"#, br#"{"generated_at":2,"total":2,"n":1.005}"#);
    let one = compare(rules.for_route("/invoices/{id}"), &ans(a), &ans(b));
    assert!(one.is_match(), "route rules extend the domain's: {one:?}");
    let list = compare(rules.for_route("/invoices"), &ans(a), &ans(b));
    let fields: Vec<_> = list.fields().into_iter().collect();
    assert_eq!(fields, ["/n", "/total"], "other routes keep the domain's rules only");
}

#[test]
fn bad_route_shadow_rules_name_the_route() {
    insta::assert_snapshot!(err(&with_domain(
        "routes = [\n  { path = \"/i/{id}\", shadow = { ignore = [\"total\"] } },\n  \
         { methods = [\"PUT\"], path = \"/i/{id}\", shadow = { max_compared_bytes = 0, colour = 1 } },\n]\n"
    )));
    insta::assert_snapshot!(err(&with_domain(
        "routes = [\n  { methods = [\"GET\"], path = \"/i/{id}\", shadow = { ignore = [\"a\"] } },\n  \
         { methods = [\"PUT\"], path = \"/i/{id}\", shadow = { max_compared_bytes = 0 } },\n]\n"
    )));
}

#[test]
fn bad_shadow_settings_name_the_key() {
    insta::assert_snapshot!(err(&with_domain(
        "routes = [{ path = \"/invoices\" }]\n[domains.invoices.shadow]\nignore = [\"items/*\"]\n\
         queue = 0\ntolerance = -1\nrelative_threshold = 2\n"
    )));
}

#[test]
fn workers_are_pinned_unless_the_plan_says_not() {
    let parse = |src: &str| Plan::parse(src, "ficus.toml", Path::new("/etc/ficus")).unwrap();
    assert!(parse(MINIMAL).listener.pin_workers);
    let off = parse(&format!("[listener]\npin_workers = false\n{MINIMAL}"));
    assert!(!off.listener.pin_workers);
    assert!(
        err(&format!("[listener]\npin_workers = \"no\"\n{MINIMAL}"))
            .contains("listener.pin_workers")
    );
}
