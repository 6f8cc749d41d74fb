//! End-to-end tests of the legacy and new Chinook services over real SQLite copies (and a real
//! MariaDB for legacy): paging, CRUD, errors as problem+json, concurrency, and legacy/new parity.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::HashSet;

use ficus_example_chinook::legacy;
use serde_json::{Value, json};
use util::{Service, both};

fn customer(first: &str) -> Value {
    json!({
        "first_name": first,
        "last_name": "Tester",
        "company": null,
        "address": "1 Test Street",
        "city": "Lisbon",
        "country": "Portugal",
        "email": format!("{}@example.com", first.to_lowercase()),
        "support_rep_id": 3
    })
}

fn track(name: &str, price: f64) -> Value {
    json!({
        "name": name,
        "album_id": 1,
        "media_type_id": 1,
        "genre_id": 1,
        "composer": "Nobody",
        "milliseconds": 200000,
        "bytes": 4000000,
        "unit_price": price
    })
}

fn invoice(customer_id: i64, lines: &[(i64, i64)]) -> Value {
    let lines: Vec<Value> =
        lines.iter().map(|(t, q)| json!({"track_id": t, "quantity": q})).collect();
    json!({
        "customer_id": customer_id,
        "invoice_date": "2025-03-04T05:06:07Z",
        "billing_address": "1 Test Street",
        "billing_city": "Lisbon",
        "billing_state": null,
        "billing_country": "Portugal",
        "billing_postal_code": "1000-001",
        "lines": lines
    })
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

async fn check_paging(s: &Service) {
    let page = s.get("/customers").await.expect(200);
    assert_eq!(page["limit"], 20, "{}", s.name);
    assert_eq!(page["offset"], 0);
    assert_eq!(page["total"], 59);
    assert_eq!(ids(&page), (1..=20).collect::<Vec<_>>());

    let page = s.get("/customers?limit=5&offset=57").await.expect(200);
    assert_eq!(ids(&page), vec![58, 59]);
    assert_eq!(page["limit"], 5);
    assert_eq!(page["offset"], 57);

    let page = s.get("/customers?offset=1000").await.expect(200);
    assert_eq!(ids(&page), Vec::<i64>::new());

    let page = s.get("/invoices?limit=100&offset=400").await.expect(200);
    assert_eq!(page["total"], 412);
    assert_eq!(ids(&page), (401..=412).collect::<Vec<_>>());
    for item in page["items"].as_array().unwrap() {
        assert!(!item["lines"].as_array().unwrap().is_empty(), "{item}");
    }

    let page = s.get("/tracks?limit=100").await.expect(200);
    assert_eq!(page["total"], 3503);
    assert_eq!(ids(&page).len(), 100);

    for bad in ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=1.5", "limit="] {
        s.get(&format!("/tracks?{bad}")).await.expect_problem(400);
    }
}

#[tokio::test]
async fn list_paging() {
    for s in both().await {
        check_paging(&s).await;
    }
}

async fn check_get(s: &Service) {
    let c = s.get("/customers/1").await.expect(200);
    assert_eq!(c["first_name"], "Luís", "{}", s.name);
    assert_eq!(c["last_name"], "Gonçalves");
    assert_eq!(c["support_rep_id"], 3);
    assert_eq!(c["state"], "SP");
    let c = s.get("/customers/2").await.expect(200);
    assert_eq!(c["company"], Value::Null);
    assert_eq!(c.as_object().unwrap().len(), 13);

    let i = s.get("/invoices/1").await.expect(200);
    assert_eq!(i["invoice_date"], "2021-01-01T00:00:00Z");
    assert_eq!(i["total"], 1.98);
    assert_eq!(i["billing_state"], Value::Null);
    assert_eq!(
        i["lines"],
        json!([
            {"id": 1, "track_id": 2, "unit_price": 0.99, "quantity": 1},
            {"id": 2, "track_id": 4, "unit_price": 0.99, "quantity": 1}
        ])
    );

    let t = s.get("/tracks/1").await.expect(200);
    assert_eq!(t["name"], "For Those About To Rock (We Salute You)");
    assert_eq!(t["unit_price"], 0.99);
    assert_eq!(t["milliseconds"], 343719);
    let t = s.get("/tracks/3500").await.expect(200);
    assert_eq!(t.as_object().unwrap().len(), 9);

    for path in ["/customers/9999", "/invoices/0", "/tracks/-1", "/nothing", "/customers/1/x"] {
        s.get(path).await.expect_problem(404);
    }
    s.get("/tracks/abc").await.expect_problem(400);
    s.get("/invoices/99999999999999999999").await.expect_problem(400);
    s.send(reqwest::Method::PATCH, "/tracks/1", None, &[]).await.expect_problem(405);
    assert_eq!(s.get("/healthz").await.expect(200), json!({"status": "ok"}));
}

#[tokio::test]
async fn get_one_and_not_found() {
    for s in both().await {
        check_get(&s).await;
    }
}

async fn check_customer_crud(s: &Service) {
    let created = s.post("/customers", &customer("Ada")).await;
    assert_eq!(created.location.as_deref(), Some("/customers/60"), "{}", s.name);
    let body = created.expect(201);
    assert_eq!(body["id"], 60);
    assert_eq!(body["state"], Value::Null);
    assert_eq!(s.get("/customers/60").await.expect(200), body);

    let mut changed = customer("Ada");
    changed["city"] = json!("Porto");
    changed["support_rep_id"] = Value::Null;
    let body = s.put("/customers/60", &changed).await.expect(200);
    assert_eq!(body["city"], "Porto");
    assert_eq!(body["support_rep_id"], Value::Null);
    assert_eq!(s.get("/customers/60").await.expect(200), body);
    s.put("/customers/999", &changed).await.expect_problem(404);

    s.delete("/customers/60").await.expect(204);
    s.get("/customers/60").await.expect_problem(404);
    s.delete("/customers/60").await.expect_problem(404);

    // Authoritative ids.
    let asked = s.post_as("/customers", &customer("Bob"), "500").await;
    assert_eq!(asked.location.as_deref(), Some("/customers/500"));
    assert_eq!(asked.expect(201)["id"], 500);
    s.post_as("/customers", &customer("Bob"), "500").await.expect_problem(409);
    s.post_as("/customers", &customer("Bob"), "1").await.expect_problem(409);
    for bad in ["0", "-3", "abc", "99999999999"] {
        s.post_as("/customers", &customer("Bob"), bad).await.expect_problem(400);
    }
    // The next id continues after the highest one.
    assert_eq!(s.post("/customers", &customer("Cy")).await.expect(201)["id"], 501);

    let detail = s.delete("/customers/1").await.expect_problem(409);
    assert!(detail.contains("invoices"), "{detail}");
}

#[tokio::test]
async fn customer_create_replace_delete() {
    for s in both().await {
        check_customer_crud(&s).await;
    }
}

async fn check_track_crud(s: &Service) {
    let created = s.post("/tracks", &track("New Song", 1.29)).await;
    assert_eq!(created.location.as_deref(), Some("/tracks/3504"), "{}", s.name);
    let body = created.expect(201);
    assert_eq!(body["unit_price"], 1.29);
    assert_eq!(s.get("/tracks/3504").await.expect(200), body);

    let mut changed = track("New Song (remix)", 2.0);
    changed["album_id"] = Value::Null;
    changed["bytes"] = Value::Null;
    let body = s.put("/tracks/3504", &changed).await.expect(200);
    assert_eq!(body["unit_price"], 2.0);
    assert_eq!(body["album_id"], Value::Null);
    assert_eq!(s.get("/tracks/3504").await.expect(200), body);

    s.delete("/tracks/3504").await.expect(204);
    s.get("/tracks/3504").await.expect_problem(404);
    // Track 1 is on invoice lines.
    s.delete("/tracks/1").await.expect_problem(409);
    // Track 7 is on no invoice line (but on playlists in legacy).
    s.delete("/tracks/7").await.expect(204);

    let mut bad = track("x", 0.999);
    s.post("/tracks", &bad).await.expect_problem(422);
    bad["unit_price"] = json!(-1);
    s.post("/tracks", &bad).await.expect_problem(422);
    bad["unit_price"] = json!("0.99");
    s.post("/tracks", &bad).await.expect_problem(422);

    let asked = s.post_as("/tracks", &track("Replayed", 0.99), "9000").await.expect(201);
    assert_eq!(asked["id"], 9000);
    s.post_as("/tracks", &track("Replayed", 0.99), "9000").await.expect_problem(409);
}

#[tokio::test]
async fn track_create_replace_delete() {
    for s in both().await {
        check_track_crud(&s).await;
    }
}

async fn check_invoice_crud(s: &Service) {
    let created = s.post("/invoices", &invoice(1, &[(1, 3), (2, 1), (3500, 2)])).await;
    assert_eq!(created.location.as_deref(), Some("/invoices/413"), "{}", s.name);
    let body = created.expect(201);
    assert_eq!(body["id"], 413);
    assert_eq!(body["invoice_date"], "2025-03-04T05:06:07Z");
    // 3 × 0.99 + 0.99 + 2 × 0.99
    assert_eq!(body["total"], 5.94);
    assert_eq!(
        body["lines"],
        json!([
            {"id": 2241, "track_id": 1, "unit_price": 0.99, "quantity": 3},
            {"id": 2242, "track_id": 2, "unit_price": 0.99, "quantity": 1},
            {"id": 2243, "track_id": 3500, "unit_price": 0.99, "quantity": 2}
        ])
    );
    assert_eq!(s.get("/invoices/413").await.expect(200), body);

    // A track priced 1.99 changes the total; prices are taken from the track now.
    let t = s.post("/tracks", &track("Pricey", 1.99)).await.expect(201);
    let t_id = t["id"].as_i64().unwrap();
    let mut changed = invoice(2, &[(t_id, 2)]);
    changed["invoice_date"] = json!("2025-03-04T08:06:07+03:00");
    let body = s.put("/invoices/413", &changed).await.expect(200);
    assert_eq!(body["customer_id"], 2);
    assert_eq!(body["invoice_date"], "2025-03-04T05:06:07Z");
    assert_eq!(body["total"], 3.98);
    assert_eq!(body["lines"].as_array().unwrap().len(), 1);
    assert_eq!(body["lines"][0]["unit_price"], 1.99);
    assert_eq!(s.get("/invoices/413").await.expect(200), body);
    s.put("/invoices/9999", &changed).await.expect_problem(404);

    let empty = s.post("/invoices", &invoice(1, &[])).await.expect(201);
    assert_eq!(empty["total"], 0.0);
    assert_eq!(empty["lines"], json!([]));

    s.delete("/invoices/413").await.expect(204);
    s.get("/invoices/413").await.expect_problem(404);
    s.delete("/invoices/413").await.expect_problem(404);
    // Its lines went with it: the track can now be deleted.
    s.delete(&format!("/tracks/{t_id}")).await.expect(204);

    let asked = s.post_as("/invoices", &invoice(3, &[(5, 1)]), "7777").await;
    assert_eq!(asked.location.as_deref(), Some("/invoices/7777"));
    assert_eq!(asked.expect(201)["total"], 0.99);
    s.post_as("/invoices", &invoice(3, &[(5, 1)]), "7777").await.expect_problem(409);
}

#[tokio::test]
async fn invoice_create_replace_delete() {
    for s in both().await {
        check_invoice_crud(&s).await;
    }
}

async fn check_validation(s: &Service) {
    use reqwest::Method;
    let name = s.name;
    let totals = [
        s.get("/customers").await.expect(200)["total"].clone(),
        s.get("/invoices").await.expect(200)["total"].clone(),
        s.get("/tracks").await.expect(200)["total"].clone(),
    ];
    // Malformed JSON → 400; wrong content type → 415.
    for path in ["/customers", "/invoices", "/tracks"] {
        s.send_raw(Method::POST, path, "{not json", "application/json").await.expect_problem(400);
        s.send_raw(Method::POST, path, "", "application/json").await.expect_problem(400);
        s.send_raw(Method::POST, path, "{}", "text/plain").await.expect_problem(415);
        s.send_raw(Method::PUT, &format!("{path}/1"), "{\"name\" 1}", "application/json")
            .await
            .expect_problem(400);
    }
    // Missing field, wrong type, out of range → 422.
    let mut c = customer("Eve");
    c.as_object_mut().unwrap().remove("email");
    let detail = s.post("/customers", &c).await.expect_problem(422);
    assert!(detail.contains("email"), "{name}: {detail}");
    let mut c = customer("Eve");
    c["support_rep_id"] = json!("three");
    s.post("/customers", &c).await.expect_problem(422);
    c["support_rep_id"] = json!(1.5);
    s.post("/customers", &c).await.expect_problem(422);
    let mut c = customer("Eve");
    c["first_name"] = json!("  ");
    s.post("/customers", &c).await.expect_problem(422);
    c["first_name"] = json!("x".repeat(41));
    s.post("/customers", &c).await.expect_problem(422);
    s.post("/customers", &json!([1, 2])).await.expect_problem(422);
    s.put("/customers/1", &json!({"first_name": "x"})).await.expect_problem(422);

    // Unknown customer or track → 422.
    let detail = s.post("/invoices", &invoice(4242, &[(1, 1)])).await.expect_problem(422);
    assert!(detail.contains("customer"), "{name}: {detail}");
    let detail = s.post("/invoices", &invoice(1, &[(1, 1), (99999, 1)])).await.expect_problem(422);
    assert!(detail.contains("track"), "{name}: {detail}");
    s.put("/invoices/1", &invoice(1, &[(99999, 1)])).await.expect_problem(422);
    s.post("/invoices", &invoice(1, &[(1, 0)])).await.expect_problem(422);
    let mut i = invoice(1, &[(1, 1)]);
    i["invoice_date"] = json!("yesterday");
    s.post("/invoices", &i).await.expect_problem(422);
    i["invoice_date"] = json!("2021-01-01 00:00:00");
    s.post("/invoices", &i).await.expect_problem(422);
    i.as_object_mut().unwrap().remove("lines");
    s.post("/invoices", &i).await.expect_problem(422);
    // A total above NUMERIC(10,2).
    s.post("/invoices", &invoice(1, &[(1, 2_000_000_000), (2, 2_000_000_000)]))
        .await
        .expect_problem(422);

    // Nothing above was written.
    let after = [
        s.get("/customers").await.expect(200)["total"].clone(),
        s.get("/invoices").await.expect(200)["total"].clone(),
        s.get("/tracks").await.expect(200)["total"].clone(),
    ];
    assert_eq!(totals, after, "{name}");
}

#[tokio::test]
async fn validation_errors_are_problems() {
    for s in both().await {
        check_validation(&s).await;
    }
}

/// Reads `paths` from both services and asserts equal JSON.
async fn assert_same(legacy: &Service, new: &Service, paths: &[String]) {
    for path in paths {
        let (l, n) = tokio::join!(legacy.get(path), new.get(path));
        assert_eq!(l.status, n.status, "{path}: status differs");
        assert_eq!(l.body, n.body, "{path}: body differs");
    }
}

#[tokio::test]
async fn legacy_and_new_agree_on_every_read() {
    let [legacy, new] = both().await;
    let mut paths: Vec<String> = Vec::new();
    paths.extend((1..=59).map(|id| format!("/customers/{id}")));
    paths.extend((1..=412).map(|id| format!("/invoices/{id}")));
    paths.extend((1..=3503).step_by(11).map(|id| format!("/tracks/{id}")));
    paths.extend(["/tracks/3503".to_owned(), "/tracks/3504".to_owned()]);
    paths.extend((0..5).map(|p| format!("/invoices?limit=100&offset={}", p * 100)));
    paths.extend((0..3).map(|p| format!("/customers?limit=20&offset={}", p * 20)));
    paths.extend((0..36).map(|p| format!("/tracks?limit=100&offset={}", p * 100)));
    assert_same(&legacy, &new, &paths).await;
}

#[tokio::test]
async fn legacy_and_new_agree_after_the_same_writes() {
    let [legacy, new] = both().await;
    for s in [&legacy, &new] {
        s.post("/customers", &customer("Dora")).await.expect(201);
        s.post("/tracks", &track("Tune", 0.49)).await.expect(201);
        s.post("/invoices", &invoice(60, &[(3504, 3), (10, 1)])).await.expect(201);
        s.put("/invoices/5", &invoice(60, &[(3504, 1)])).await.expect(200);
        s.put("/customers/7", &customer("Renamed")).await.expect(200);
        s.put("/tracks/20", &track("Retitled", 1.0)).await.expect(200);
        s.delete("/invoices/6").await.expect(204);
    }
    // A write replayed with the id the authoritative side assigned.
    let on_legacy = legacy.post("/customers", &customer("Eli")).await.expect(201);
    let id = on_legacy["id"].to_string();
    let on_new = new.post_as("/customers", &customer("Eli"), &id).await.expect(201);
    assert_eq!(on_legacy, on_new);

    let paths: Vec<String> = [
        "/customers/60",
        "/customers/61",
        "/customers/7",
        "/tracks/3504",
        "/tracks/20",
        "/invoices/413",
        "/invoices/5",
        "/invoices/6",
        "/invoices?limit=100&offset=400",
        "/customers?limit=10&offset=55",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_same(&legacy, &new, &paths).await;
}

/// Requests per client in [`check_concurrency`].
const ROUNDS: i64 = 30;

/// 16 clients doing mixed reads and writes at once: every request must succeed.
async fn check_concurrency(s: &Service) {
    let mut tasks = Vec::new();
    for client in 0..16_i64 {
        let base = s.base.clone();
        let http = s.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut created = Vec::new();
            for round in 0..ROUNDS {
                let url = |p: &str| format!("{base}{p}");
                let r = match round % 6 {
                    0 => http.post(url("/invoices")).json(&invoice(1 + client, &[(1 + round, 2)])),
                    1 => http.get(url(&format!("/invoices?limit=50&offset={}", client * 10))),
                    2 => {
                        http.put(url(&format!("/customers/{}", 1 + client))).json(&customer("Conc"))
                    }
                    3 => http.post(url("/customers")).json(&customer("Many")),
                    4 => http.get(url(&format!("/tracks/{}", 1 + client * 100))),
                    _ => {
                        http.put(url(&format!("/tracks/{}", 3000 + client))).json(&track("T", 0.99))
                    }
                };
                let response = r.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                if status == 201 && round % 6 == 0 {
                    created.push(body["id"].as_i64().unwrap());
                }
                statuses.push((status, body));
            }
            (statuses, created)
        }));
    }
    let mut invoice_ids = HashSet::new();
    for task in tasks {
        let (statuses, created) = task.await.unwrap();
        for (status, body) in statuses {
            assert!(status < 300, "{}: status {status}: {body}", s.name);
        }
        for id in created {
            assert!(invoice_ids.insert(id), "invoice id {id} given twice");
        }
    }
    let created = 16 * ((ROUNDS + 5) / 6);
    assert_eq!(invoice_ids.len() as i64, created);
    assert_eq!(s.get("/invoices").await.expect(200)["total"], 412 + created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mixed_load_has_no_errors() {
    for s in both().await {
        check_concurrency(&s).await;
    }
}

#[tokio::test]
async fn new_init_is_idempotent() {
    let dir = tempfile::TempDir::new().unwrap();
    let chinook = ficus_example_chinook::write_chinook_sqlite(dir.path()).unwrap();
    let path = dir.path().join("new.sqlite");
    let pool = ficus_example_chinook::new::open(&path, &chinook).await.unwrap();
    let (base, _server) = util::serve(ficus_example_chinook::new::router(pool.clone())).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = http.post(format!("{base}/customers")).json(&customer("Once")).send().await.unwrap();
    assert_eq!(post.status().as_u16(), 201);
    // Running init again (and reopening) neither re-imports nor loses the new row.
    ficus_example_chinook::new::init(&pool, &chinook).await.unwrap();
    pool.close().await;
    let pool = ficus_example_chinook::new::open(&path, &chinook).await.unwrap();
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM customers").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 60);
    let (lines,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM invoice_lines").fetch_one(&pool).await.unwrap();
    assert_eq!(lines, 2240);
    // The import converted money and dates.
    let (date, total): (String, i64) =
        sqlx::query_as("SELECT invoice_date, total_cents FROM invoices WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((date.as_str(), total), ("2021-01-01T00:00:00Z", 198));
    // The source file was opened read-only and left as shipped.
    assert_eq!(std::fs::read(&chinook).unwrap(), ficus_example_chinook::data::CHINOOK_SQLITE);
}

#[tokio::test]
async fn embedded_chinook_is_written_fresh() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = ficus_example_chinook::write_chinook_sqlite(dir.path()).unwrap();
    std::fs::write(&path, b"scribbled").unwrap();
    let again = ficus_example_chinook::write_chinook_sqlite(dir.path()).unwrap();
    assert_eq!(path, again);
    assert_eq!(std::fs::read(&again).unwrap(), ficus_example_chinook::data::CHINOOK_SQLITE);
    assert!(legacy::open_sqlite(&dir.path().join("missing.sqlite")).await.is_err());
}

/// Drops the test database when the MariaDB test ends, even if it failed.
async fn drop_database(server: &str, name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::MySqlConnection::connect(server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
}

async fn check_mariadb(s: Service, reference: Service) {
    // Same answers as the SQLite legacy service on the shipped data.
    let mut paths: Vec<String> = Vec::new();
    paths.extend((1..=59).step_by(4).map(|id| format!("/customers/{id}")));
    paths.extend((1..=412).step_by(7).map(|id| format!("/invoices/{id}")));
    paths.extend((1..=3503).step_by(97).map(|id| format!("/tracks/{id}")));
    paths.extend(["/invoices?limit=100&offset=300".to_owned(), "/tracks?limit=30".to_owned()]);
    assert_same(&s, &reference, &paths).await;

    check_paging(&s).await;
    check_get(&s).await;
    check_customer_crud(&s).await;
    check_track_crud(&s).await;
    check_invoice_crud(&s).await;
    check_validation(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn legacy_on_mariadb() {
    let server = std::env::var("FICUS_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let server = server.trim_end_matches('/').to_owned();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("chinook_test_{}_{nanos}", std::process::id());
    let name_concurrent = format!("{name}_c");

    legacy::load_mysql(&server, &name).await.unwrap_or_else(|e| {
        panic!(
            "cannot load Chinook into MariaDB/MySQL at {server} (set FICUS_TEST_MYSQL_URL to a \
             reachable server URL without database, e.g. mysql://root@127.0.0.1:3306): {e:#}"
        )
    });
    let outcome = {
        let server = server.clone();
        let name = name.clone();
        let name_concurrent = name_concurrent.clone();
        tokio::spawn(async move {
            let db = legacy::open_mysql(&format!("{server}/{name}")).await.unwrap();
            let s = util::legacy_on(db, "legacy-mariadb").await;
            check_mariadb(s, util::legacy_sqlite().await).await;

            legacy::load_mysql(&server, &name_concurrent).await.unwrap();
            let db = legacy::open_mysql(&format!("{server}/{name_concurrent}")).await.unwrap();
            check_concurrency(&util::legacy_on(db, "legacy-mariadb").await).await;
        })
        .await
    };
    drop_database(&server, &name).await;
    drop_database(&server, &name_concurrent).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
