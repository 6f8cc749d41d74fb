//! End-to-end tests of `Idempotency-Key` on the writes of both services (legacy on SQLite and on
//! MariaDB, new on SQLite): a repeated write is answered from the stored answer and writes
//! nothing; a key reused for another request is a 422; racing duplicates write once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use ficus_example_chinook::legacy;
use reqwest::Method;
use serde_json::{Value, json};
use util::{Reply, Service, both};

const KEY: &str = "Idempotency-Key";
const REUSED: &str = "Idempotency-Key reused for a different request";

fn customer(first: &str) -> Value {
    json!({
        "first_name": first,
        "last_name": "Replayed",
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

async fn keyed(s: &Service, method: Method, path: &str, body: Option<&Value>, key: &str) -> Reply {
    s.send(method, path, body, &[(KEY, key), ("Ficus-Replay", "1")]).await
}

async fn total(s: &Service, collection: &str) -> i64 {
    s.get(&format!("{collection}?limit=1")).await.expect(200)["total"].as_i64().unwrap()
}

/// Sends the same keyed request twice; both answers must be identical (status, `Location`,
/// content type, body). Returns the answer.
async fn twice(s: &Service, method: Method, path: &str, body: Option<&Value>, key: &str) -> Reply {
    let first = keyed(s, method.clone(), path, body, key).await;
    let second = keyed(s, method, path, body, key).await;
    assert_eq!(
        first.status, second.status,
        "{}: {path}: {} vs {}",
        s.name, first.body, second.body
    );
    assert_eq!(first.location, second.location, "{}: {path}", s.name);
    assert_eq!(first.content_type, second.content_type, "{}: {path}", s.name);
    assert_eq!(first.body, second.body, "{}: {path}", s.name);
    first
}

/// A unique key per service and case (the services keep keys forever).
fn key(s: &Service, case: &str) -> String {
    format!("{}-{case}-{}", s.name, std::process::id())
}

async fn check_creates_once(s: &Service) {
    for (collection, input, other) in [
        ("/customers", customer("Once"), customer("Between")),
        ("/tracks", track("Once", 0.99), track("Between", 0.99)),
        ("/invoices", invoice(2, &[(1, 1), (2, 3)]), invoice(3, &[(4, 1)])),
    ] {
        let before = total(s, collection).await;
        let k = key(s, &format!("create{collection}"));
        let reply = twice(s, Method::POST, collection, Some(&input), &k).await;
        assert_eq!(reply.content_type.as_deref(), Some("application/json"));
        let body = reply.expect(201);
        let id = body["id"].as_i64().unwrap();
        assert_eq!(total(s, collection).await, before + 1, "{}: {collection}", s.name);
        assert_eq!(s.get(&format!("{collection}/{id}")).await.expect(200), body);
        // A third time, after another (unkeyed) create, still the first answer and no write.
        s.post(collection, &other).await.expect(201);
        let again = keyed(s, Method::POST, collection, Some(&input), &k).await;
        assert_eq!(again.location, Some(format!("{collection}/{id}")));
        assert_eq!(again.expect(201), body);
        assert_eq!(total(s, collection).await, before + 2, "{}: {collection}", s.name);
    }
    // With an authoritative id: the replay is answered 201, not 409.
    let k = key(s, "create-as");
    let headers = [(KEY, k.as_str()), ("Ficus-Authoritative-Id", "7000")];
    let first = s.send(Method::POST, "/customers", Some(&customer("Asked")), &headers).await;
    let second = s.send(Method::POST, "/customers", Some(&customer("Asked")), &headers).await;
    assert_eq!(first.location.as_deref(), Some("/customers/7000"));
    assert_eq!(first.expect(201), second.expect(201));
    // Without a key the same create is a conflict, as before.
    s.post_as("/customers", &customer("Asked"), "7000").await.expect_problem(409);
}

async fn check_replace_once(s: &Service) {
    // PUT A with a key, then an unkeyed PUT B: the replay of A answers A and leaves B in place.
    let a = customer("Alpha");
    let b = customer("Beta");
    let k = key(s, "replace-customer");
    let first = twice(s, Method::PUT, "/customers/5", Some(&a), &k).await.expect(200);
    assert_eq!(first["first_name"], "Alpha");
    s.put("/customers/5", &b).await.expect(200);
    let replay = keyed(s, Method::PUT, "/customers/5", Some(&a), &k).await.expect(200);
    assert_eq!(replay, first);
    assert_eq!(s.get("/customers/5").await.expect(200)["first_name"], "Beta", "{}", s.name);

    let k = key(s, "replace-track");
    let first = twice(s, Method::PUT, "/tracks/30", Some(&track("Alpha", 1.5)), &k).await;
    assert_eq!(first.expect(200)["unit_price"], 1.5);
    s.put("/tracks/30", &track("Beta", 2.5)).await.expect(200);
    keyed(s, Method::PUT, "/tracks/30", Some(&track("Alpha", 1.5)), &k).await.expect(200);
    assert_eq!(s.get("/tracks/30").await.expect(200)["name"], "Beta");

    // Replacing an invoice gives its lines new ids: a second write would show.
    let k = key(s, "replace-invoice");
    let body = invoice(3, &[(5, 2)]);
    let first = twice(s, Method::PUT, "/invoices/8", Some(&body), &k).await.expect(200);
    assert_eq!(s.get("/invoices/8").await.expect(200), first, "{}", s.name);
    keyed(s, Method::PUT, "/invoices/8", Some(&body), &k).await.expect(200);
    assert_eq!(s.get("/invoices/8").await.expect(200), first);
}

async fn check_delete_once(s: &Service) {
    let id = s.post("/customers", &customer("Doomed")).await.expect(201)["id"].as_i64().unwrap();
    let path = format!("/customers/{id}");
    let k = key(s, "delete-customer");
    let reply = twice(s, Method::DELETE, &path, None, &k).await;
    assert_eq!(reply.status, 204, "{}: {}", s.name, reply.body);
    assert_eq!(reply.body, Value::Null);
    s.get(&path).await.expect_problem(404);
    // Without the key, a second delete is a 404 as before.
    s.delete(&path).await.expect_problem(404);

    for path in ["/tracks/11", "/invoices/9"] {
        let k = key(s, &format!("delete{path}"));
        assert_eq!(twice(s, Method::DELETE, path, None, &k).await.status, 204, "{path}");
        s.get(path).await.expect_problem(404);
    }
}

async fn check_key_misuse(s: &Service) {
    let k = key(s, "misuse");
    keyed(s, Method::POST, "/customers", Some(&customer("First")), &k).await.expect(201);
    let detail = keyed(s, Method::PUT, "/customers/6", Some(&customer("Other")), &k)
        .await
        .expect_problem(422);
    assert_eq!(detail, REUSED, "{}", s.name);
    let detail = keyed(s, Method::POST, "/tracks", Some(&track("Other", 0.99)), &k)
        .await
        .expect_problem(422);
    assert_eq!(detail, REUSED);
    keyed(s, Method::DELETE, "/customers/6", None, &k).await.expect_problem(422);
    assert_ne!(s.get("/customers/6").await.expect(200)["first_name"], "Other");

    // Key syntax: at most 255 bytes, not empty; a quoted (RFC 8941 string) key is the bare key.
    let long = "k".repeat(256);
    let detail = keyed(s, Method::POST, "/customers", Some(&customer("Long")), &long)
        .await
        .expect_problem(400);
    assert!(detail.contains("255"), "{detail}");
    keyed(s, Method::POST, "/customers", Some(&customer("Empty")), "").await.expect_problem(400);
    keyed(s, Method::DELETE, "/customers/6", None, "\"unterminated").await.expect_problem(400);
    let max = format!("{}{}", key(s, "max"), "m".repeat(255)).split_at(255).0.to_owned();
    let reply = twice(s, Method::POST, "/tracks", Some(&track("Max", 0.99)), &max).await;
    let quoted =
        keyed(s, Method::POST, "/tracks", Some(&track("Max", 0.99)), &format!("\"{max}\"")).await;
    assert_eq!(quoted.body, reply.expect(201));
    // Keys are case-sensitive.
    let upper = max.to_uppercase();
    let other = keyed(s, Method::POST, "/tracks", Some(&track("Max", 0.99)), &upper).await;
    assert_ne!(other.expect(201)["id"], quoted.body["id"], "{}", s.name);
}

async fn check_failures_are_not_stored(s: &Service) {
    // A replayed update that arrives before the create it depends on fails and stores nothing;
    // once the row exists, the same replay succeeds.
    let k = key(s, "early");
    let body = customer("Early");
    keyed(s, Method::PUT, "/customers/8000", Some(&body), &k).await.expect_problem(404);
    s.post_as("/customers", &customer("Late"), "8000").await.expect(201);
    let reply = keyed(s, Method::PUT, "/customers/8000", Some(&body), &k).await.expect(200);
    assert_eq!(reply["first_name"], "Early");
    assert_eq!(keyed(s, Method::PUT, "/customers/8000", Some(&body), &k).await.expect(200), reply);
    // Validation failures are not stored either.
    let k = key(s, "invalid");
    keyed(s, Method::POST, "/tracks", Some(&track("Bad", -1.0)), &k).await.expect_problem(422);
    keyed(s, Method::POST, "/tracks", Some(&track("Good", 1.0)), &k).await.expect(201);
}

/// 12 identical keyed requests at once: one write, 12 identical answers.
async fn check_racing_duplicates(s: &Service) {
    async fn race(
        s: &Service,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Vec<(u16, Value)> {
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let request = s.client.request(method.clone(), format!("{}{path}", s.base));
            let request = headers.iter().fold(request, |r, (n, v)| r.header(*n, *v));
            let request = match &body {
                Some(body) => request.json(body),
                None => request,
            };
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }

    for (collection, body) in [
        ("/customers", customer("Racer")),
        ("/tracks", track("Racer", 0.99)),
        ("/invoices", invoice(4, &[(7, 1)])),
    ] {
        let before = total(s, collection).await;
        let k = key(s, &format!("race{collection}"));
        let answers = race(s, Method::POST, collection, Some(body), &[(KEY, &k)]).await;
        let first = &answers[0];
        assert_eq!(first.0, 201, "{}: {collection}: {}", s.name, first.1);
        for answer in &answers {
            assert_eq!(answer, first, "{}: {collection}", s.name);
        }
        assert_eq!(total(s, collection).await, before + 1, "{}: {collection}", s.name);
    }

    // With an authoritative id, the losers must not see 409.
    let k = key(s, "race-as");
    let headers = [(KEY, k.as_str()), ("Ficus-Authoritative-Id", "9100")];
    let answers = race(s, Method::POST, "/tracks", Some(track("Asked", 0.99)), &headers).await;
    for answer in &answers {
        assert_eq!(answer.0, 201, "{}: {}", s.name, answer.1);
        assert_eq!(answer.1["id"], 9100);
    }

    let k = key(s, "race-delete");
    let answers = race(s, Method::DELETE, "/tracks/9100", None, &[(KEY, &k)]).await;
    assert!(answers.iter().all(|a| a.0 == 204), "{}: {answers:?}", s.name);

    let k = key(s, "race-put");
    let body = invoice(5, &[(8, 2)]);
    let answers = race(s, Method::PUT, "/invoices/20", Some(body), &[(KEY, &k)]).await;
    assert_eq!(answers[0].0, 200, "{}: {}", s.name, answers[0].1);
    assert!(answers.iter().all(|a| a == &answers[0]), "{}", s.name);
    assert_eq!(s.get("/invoices/20").await.expect(200), answers[0].1);
}

async fn check_all(s: &Service) {
    check_creates_once(s).await;
    check_replace_once(s).await;
    check_delete_once(s).await;
    check_key_misuse(s).await;
    check_failures_are_not_stored(s).await;
    check_racing_duplicates(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_writes_are_harmless_on_sqlite() {
    for s in both().await {
        check_all(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn legacy_on_mariadb_repeated_writes_are_harmless() {
    use sqlx::Connection;
    let server = std::env::var("FICUS_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let server = server.trim_end_matches('/').to_owned();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("chinook_idem_{}_{nanos}", std::process::id());
    legacy::load_mysql(&server, &name).await.unwrap_or_else(|e| {
        panic!(
            "cannot load Chinook into MariaDB/MySQL at {server} (set FICUS_TEST_MYSQL_URL to a \
             reachable server URL without database, e.g. mysql://root@127.0.0.1:3306): {e:#}"
        )
    });
    let outcome = {
        let url = format!("{server}/{name}");
        tokio::spawn(async move {
            let db = legacy::open_mysql(&url).await.unwrap();
            check_all(&util::legacy_on(db, "legacy-mariadb").await).await;
            // Opening again keeps the table and its keys.
            let legacy::LegacyDb::MySql(pool) = legacy::open_mysql(&url).await.unwrap() else {
                unreachable!("a mysql:// URL opens MariaDB");
            };
            let (keys,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM idempotency_keys")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert!(keys > 10, "{keys} keys");
        })
        .await
    };
    let mut conn = sqlx::MySqlConnection::connect(&server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
