//! The `ficus` binary end to end: real `ficus serve` processes in front of real loopback
//! backends, driven by the real CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::process::Command;
use std::time::{Duration, Instant};
use util::{Serve, TOKEN, backend, client, ficus, side_of, write_plan};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_survive_a_restart_and_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (legacy, new) = (backend("legacy").await, backend("new").await);
    let (plan, ports) = write_plan(dir.path(), legacy, new, "legacy");

    let serve = Serve::start(&plan, &ports).await;
    let out = ficus(&serve.admin, Some(TOKEN), &["advance", "invoices", "-m", "dual writes on"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ficus(&serve.admin, Some(TOKEN), &["advance", "invoices"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serve.terminate(), Some(0), "SIGTERM drains and exits 0");

    let serve = Serve::start(&plan, &ports).await;
    let out = ficus(&serve.admin, None, &["status", "invoices", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["phase"], "backfill", "phase kept across a clean restart");
    let out = ficus(&serve.admin, Some(TOKEN), &["advance", "invoices", "-m", "reads to new"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serve.kill();

    let serve = Serve::start(&plan, &ports).await;
    let out = ficus(&serve.admin, None, &["status", "invoices", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["phase"], "read-new", "phase kept across SIGKILL");
    // The restarted gateway routes by the stored phase: writes are authoritative on new.
    let http = client();
    let r: serde_json::Value = http
        .post(format!("{}/invoices", serve.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["side"], "new");

    let out = ficus(&serve.admin, None, &["audit", "--domain", "invoices", "-o", "json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let actions: Vec<&str> = audit.iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["init", "advance", "advance", "advance"]);
    assert_eq!(audit[0]["reason"], "reads to new");
    assert_eq!(audit[0]["to_phase"], "read-new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_the_gateway_before_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let (legacy, new) = (backend("legacy").await, backend("new").await);
    let (plan, ports) = write_plan(dir.path(), legacy, new, "backfill");
    let serve = Serve::start(&plan, &ports).await;
    let http = client();
    assert_eq!(side_of(&http, &serve.gateway, "/invoices/1", "c1").await, "legacy");

    // A change through the admin API: the very next request follows it, and the first request
    // served by new comes well within 100 ms of asking.
    let asked = Instant::now();
    let r = http
        .post(format!("{}/v1/domains/invoices/advance", serve.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .patch(format!("{}/v1/domains/invoices", serve.admin))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "read_new_percent": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(side_of(&http, &serve.gateway, "/invoices/1", "c1").await, "new");
    let seen = asked.elapsed();
    assert!(seen < Duration::from_millis(100), "change seen after {seen:?}");

    // The same through the CLI.
    let out = ficus(&serve.admin, Some(TOKEN), &["rollback", "invoices", "--to", "dual-write"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(side_of(&http, &serve.gateway, "/invoices/1", "c1").await, "legacy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (legacy, new) = (backend("legacy").await, backend("new").await);
    let (plan, ports) = write_plan(dir.path(), legacy, new, "legacy");
    let serve = Serve::start(&plan, &ports).await;
    let http = client();
    let url = format!("{}/v1/domains/invoices/advance", serve.admin);

    let r = http.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"ficus\"");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = http.post(&url).bearer_auth("wrong-token").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http.post(&url).bearer_auth(&TOKEN[..TOKEN.len() - 1]).send().await.unwrap();
    assert_eq!(r.status(), 403, "a prefix of the token is not the token");
    let r = http
        .patch(format!("{}/v1/domains/invoices", serve.admin))
        .json(&serde_json::json!({"shadow_percent": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(format!("{}/v1/domains/invoices", serve.admin)).send().await.unwrap();
    assert_eq!(r.status(), 200, "reads need no token");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["phase"], "legacy", "refused changes changed nothing");

    // The CLI maps them to exit code 4.
    assert_eq!(ficus(&serve.admin, None, &["advance", "invoices"]).status.code(), Some(4));
    assert_eq!(ficus(&serve.admin, Some("nope"), &["advance", "invoices"]).status.code(), Some(4));
    // Refusals by the phase rules give 3.
    assert_eq!(ficus(&serve.admin, Some(TOKEN), &["rollback", "invoices"]).status.code(), Some(3));
    assert_eq!(ficus(&serve.admin, Some(TOKEN), &["advance", "payments"]).status.code(), Some(3));
    let out = ficus(&serve.admin, Some(TOKEN), &["set", "invoices", "--read-new-percent", "150"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_serves_openapi_metrics_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let (legacy, new) = (backend("legacy").await, backend("new").await);
    let (plan, ports) = write_plan(dir.path(), legacy, new, "new");
    let serve = Serve::start(&plan, &ports).await;
    let http = client();
    side_of(&http, &serve.gateway, "/invoices/7", "c").await;

    let doc: serde_json::Value = http
        .get(format!("{}/v1/openapi.json", serve.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/domains",
        "/v1/domains/{name}",
        "/v1/domains/{name}/advance",
        "/v1/domains/{name}/rollback",
        "/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["paths"]["/v1/domains/{name}"]["patch"].is_object());

    let metrics =
        http.get(format!("{}/metrics", serve.admin)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ficus_build_info{version=\""), "{metrics}");
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("ficus_requests_total{")
                && l.contains("domain=\"invoices\"")
                && l.contains("upstream=\"new\"")
                && l.contains("outcome=\"success\"")
        })
        .unwrap();
    assert!(line.contains("phase=\"new\"") && line.ends_with(" 1"), "{line}");
    assert!(metrics.contains("ficus_request_duration_seconds_bucket{"), "histogram, not summary");

    for path in ["/livez", "/healthz", "/readyz"] {
        assert_eq!(
            http.get(format!("{}{path}", serve.admin)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
}

#[test]
fn validate_names_the_key_and_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("ficus.toml");
    // The listener port is taken and the state directory does not exist: validate must not care.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        &plan,
        format!(
            "[listener]\naddress = \"{}\"\n[state]\npath = \"/nonexistent/dir/state.db\"\n\
             [upstreams.legacy]\nurl = \"http://127.0.0.1:1\"\n[upstreams.new]\nurl = \"http://127.0.0.1:2\"\n\
             [domains.invoices]\nroutes = [{{ path = \"/invoices\" }}]\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(util::bin()).args(["validate", "-c"]).arg(&plan).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.path().join("state.db").exists());

    std::fs::write(&plan, "[upstreams.legacy]\nurl = \"http://a:1\"\n[upstreams.new]\nurl = \"http://b:1\"\npool = 3\n").unwrap();
    let out = Command::new(util::bin()).args(["validate", "-c"]).arg(&plan).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let msg = stderr(&out).replace(&plan.display().to_string(), "ficus.toml");
    insta::assert_snapshot!(msg);
}

#[test]
fn help_lists_the_exit_codes() {
    let out = Command::new(util::bin()).arg("--help").output().unwrap();
    let text = stdout(&out);
    for line in
        ["0  success", "2  usage error", "3  refused", "4  not authorised", "5  invalid plan"]
    {
        assert!(text.contains(line), "missing {line:?} in --help");
    }
}

#[test]
fn the_demo_walks_all_five_phases_with_no_client_errors() {
    let out = Command::new(util::bin())
        .args(["demo", "--step", "400ms", "--clients", "4", "-o", "json"])
        .env("FICUS_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "demo failed: {}\n{}", stderr(&out), stdout(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["client_visible_errors"], 0);
    let phases: Vec<&str> = report["by_phase"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["legacy", "dual-write", "backfill", "read-new", "new"]);
    let by = |phase: &str, side: &str| {
        report["by_phase"].as_array().unwrap().iter().find(|p| p["phase"] == phase).unwrap()[side]
            .as_u64()
            .unwrap()
    };
    assert!(by("legacy", "legacy") > 0 && by("legacy", "new") == 0);
    assert!(by("new", "new") > 0 && by("new", "legacy") == 0);
    assert!(by("read-new", "new") > 0 && by("read-new", "legacy") > 0, "the ramp split reads");
    let rollbacks =
        report["audit"].as_array().unwrap().iter().filter(|e| e["action"] == "rollback").count();
    assert_eq!(rollbacks, 1);
    // The parallel run of `tracks` names new's price rendering a mismatch and filters the
    // generated timestamp out as noise.
    let fields = report["shadow"]["fields"].as_array().unwrap();
    let verdict = |field: &str| {
        fields.iter().find(|f| f["route"] == "/tracks/{id}" && f["field"] == field).map_or_else(
            || panic!("{field} not in {fields:?}"),
            |f| f["verdict"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(verdict("/unit_price"), "mismatch");
    assert_eq!(verdict("/served_at"), "noise");
    assert!(
        fields.iter().all(|f| f["field"] == "/unit_price" || f["field"] == "/served_at"),
        "{fields:?}"
    );
}

#[test]
fn ctrl_c_stops_the_demo_cleanly() {
    let mut child = Command::new(util::bin())
        .args(["demo", "--step", "10s", "--clients", "2"])
        .env("FICUS_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "demo did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    // Everything ran in the demo's own process; its temp dir is gone with it.
    let dir = err.lines().find_map(|l| l.split(" in ").nth(1)).map(str::trim).unwrap();
    assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diffs_shows_what_shadow_reads_found() {
    let dir = tempfile::tempdir().unwrap();
    let (legacy, new) = (backend("legacy").await, backend("new").await);
    let (plan, ports) = write_plan(dir.path(), legacy, new, "dual-write");
    let mut text = std::fs::read_to_string(&plan).unwrap();
    text = text.replace("sticky = { header", "shadow_percent = 100\nsticky = { header");
    std::fs::write(&plan, text).unwrap();
    let serve = Serve::start(&plan, &ports).await;
    let http = client();
    for i in 0..20 {
        assert_eq!(side_of(&http, &serve.gateway, &format!("/invoices/{i}"), "c").await, "legacy");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = loop {
        let out = ficus(&serve.admin, None, &["diffs", "invoices", "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        if v["report"]["compared"].as_u64() >= Some(20) {
            break v;
        }
        assert!(Instant::now() < deadline, "no comparisons: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The two backends name themselves: `/side` differs on every request and no noise explains it.
    let fields = report["report"]["routes"][0]["fields"].as_array().unwrap();
    let side = fields.iter().find(|f| f["field"] == "/side").unwrap();
    assert_eq!(side["verdict"], "mismatch");
    assert!(report["mismatch_rate"].as_f64().unwrap() > 0.9);
    let text = ficus(&serve.admin, None, &["diffs", "invoices"]);
    assert!(stdout(&text).contains("/side"), "{}", stdout(&text));
    let metrics =
        http.get(format!("{}/metrics", serve.admin)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("ficus_shadow_requests_total{domain=\"invoices\",outcome=\"sent\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ficus_diff_comparisons_total{domain=\"invoices\",result=\"mismatch\"}")
    );
    assert!(
        metrics
            .contains("ficus_shadow_duration_seconds_count{domain=\"invoices\",upstream=\"new\"}")
    );

    // Triage: the stored examples, filtered by field, and one shown whole.
    let out = ficus(
        &serve.admin,
        None,
        &["diffs", "invoices", "examples", "--field", "/side", "-o", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        !list.is_empty() && list.len() <= 20,
        "at most 20 examples of one kind: {}",
        list.len()
    );
    assert!(list.iter().all(|e| e["fields"].as_array().unwrap().contains(&"/side".into())));
    let id = list[0]["id"].to_string();
    let shown = ficus(&serve.admin, None, &["diffs", "invoices", "show", &id]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(stdout(&shown).contains("legacy answered:"), "{}", stdout(&shown));
    let missing = ficus(&serve.admin, None, &["diffs", "invoices", "show", "999999"]);
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));

    // Marking /side a known difference needs the token, refuses what cannot be ignored, and is
    // audited; the field leaves the report and is no longer compared.
    let mark =
        ["diffs", "invoices", "known", "/invoices/{id}", "/side", "-m", "each side names itself"];
    assert_eq!(ficus(&serve.admin, None, &mark).status.code(), Some(4));
    let bad = ["diffs", "invoices", "known", "/invoices/{id}", "status"];
    let out = ficus(&serve.admin, Some(TOKEN), &bad);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let bad_route = ["diffs", "invoices", "known", "/nope", "/side"];
    assert_eq!(ficus(&serve.admin, Some(TOKEN), &bad_route).status.code(), Some(3));
    let out = ficus(&serve.admin, Some(TOKEN), &mark);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("no longer compared"), "{}", stdout(&out));
    let again = ficus(&serve.admin, Some(TOKEN), &mark);
    assert!(stdout(&again).contains("already"), "{}", stdout(&again));
    let audit = ficus(&serve.admin, None, &["audit", "--domain", "invoices", "-o", "json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_str(&stdout(&audit)).unwrap();
    let entry = audit.iter().find(|e| e["action"] == "known-difference").expect("audited");
    assert_eq!(entry["reason"], "each side names itself");
    assert_eq!(entry["detail"]["field"], "/side");
    let report = |serve: &Serve| {
        let out = ficus(&serve.admin, None, &["diffs", "invoices", "-o", "json"]);
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let v = report(&serve);
    assert_eq!(v["known"][0]["field"], "/side");
    let item = v["report"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "/invoices/{id}")
        .unwrap();
    assert!(item["fields"].as_array().unwrap().iter().all(|f| f["field"] != "/side"), "{item}");

    // A restart keeps the known difference and the examples.
    assert_eq!(serve.terminate(), Some(0));
    let serve = Serve::start(&plan, &ports).await;
    let v = report(&serve);
    assert_eq!(v["known"][0]["field"], "/side");
    assert!(!v["examples"].as_array().unwrap().is_empty(), "examples survive a restart: {v}");
    for i in 0..5 {
        side_of(&http, &serve.gateway, &format!("/invoices/{i}"), "c").await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = report(&serve);
        if v["comparisons"]["match"].as_u64() >= Some(5) {
            assert_eq!(v["comparisons"]["mismatch"], 0, "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "no matching comparisons after the restart: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `ficus writes`: a write new cannot take becomes a dead letter after `max_attempts`, is
/// listed with its request and error, retried (token needed; it fails again and comes back)
/// and discarded; both actions are audited with their reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_lists_retries_and_discards_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = backend("legacy").await;
    // Nothing listens on new's port: every replay is refused.
    let new = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (plan, ports) = write_plan(dir.path(), legacy, new, "dual-write");
    let mut text = std::fs::read_to_string(&plan).unwrap();
    text.push_str(
        "[write_queue]\nmax_attempts = 2\nbackoff_initial = \"10ms\"\nbackoff_max = \"20ms\"\n",
    );
    std::fs::write(&plan, text).unwrap();
    let serve = Serve::start(&plan, &ports).await;
    let http = client();
    let r = http.put(format!("{}/invoices/7", serve.gateway)).body(r#"{"total":7}"#).send().await;
    assert_eq!(r.unwrap().status(), 200, "the client never sees the secondary's trouble");

    let dead_letters = |want_dead: u64| {
        let admin = serve.admin.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let out = ficus(&admin, None, &["writes", "invoices", "-o", "json"]);
                let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
                if v["stats"]["dead"] == want_dead {
                    return v;
                }
                assert!(Instant::now() < deadline, "waiting for {want_dead} dead letter(s): {v}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let v = dead_letters(1).await;
    let letter = &v["dead_letters"][0];
    let id = letter["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (letter["method"].as_str(), letter["target"].as_str()),
        (Some("PUT"), Some("/invoices/7"))
    );
    assert_eq!((letter["to"].as_str(), letter["attempts"].as_u64()), (Some("new"), Some(2)));
    assert!(letter["last_error"].as_str().unwrap().starts_with("new"), "{letter}");
    let out = ficus(&serve.admin, None, &["writes", "invoices"]);
    assert!(
        stdout(&out).contains(&id) && stdout(&out).contains("PUT /invoices/7"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("1 dead letters"), "{}", stdout(&out));

    // Acting on it needs the token; an unknown id is refused.
    let retry = ["writes", "retry", id.as_str(), "-m", "new is back"];
    assert_eq!(ficus(&serve.admin, None, &retry).status.code(), Some(4));
    let out = ficus(&serve.admin, Some(TOKEN), &["writes", "retry", "w-nope", "-m", "x"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = ficus(&serve.admin, Some(TOKEN), &retry);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("retried"), "{}", stdout(&out));
    // New still refuses: two more attempts, a dead letter again.
    let v = dead_letters(1).await;
    assert!(v["stats"]["replayed"].as_u64().unwrap() >= 4, "{v}");
    let out =
        ficus(&serve.admin, Some(TOKEN), &["writes", "discard", &id, "-m", "covered by backfill"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = dead_letters(0).await;
    assert_eq!(
        (v["stats"]["discarded"].as_u64(), v["stats"]["depth"].as_u64()),
        (Some(1), Some(0))
    );

    let out = ficus(&serve.admin, None, &["audit", "--domain", "invoices", "-o", "json"]);
    let audit: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let acts: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("write-"))
        .map(|e| (e["action"].as_str().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(acts.len(), 2, "{audit}");
    assert!(acts.contains(&("write-retry", "new is back")), "{acts:?}");
    assert!(acts.contains(&("write-discard", "covered by backfill")), "{acts:?}");
    assert_eq!(serve.terminate(), Some(0));
}
