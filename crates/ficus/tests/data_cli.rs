//! `ficus backfill` and `ficus verify` as real processes against the real MariaDB (source) and
//! PostgreSQL (target) of this machine (`FICUS_TEST_MYSQL_URL`, `FICUS_TEST_POSTGRES_URL`):
//! a backfill SIGKILLed at random points resumes to an exactly equal copy; verify's exit codes
//! and stored results; repair from a JSON report; capture start, status, run (once and until
//! SIGTERM) and stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::Rng;
use sqlx::{AssertSqlSafe, Connection, Executor};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod util;

const PG_VAR: &str = "FICUS_TEST_POSTGRES_URL";
const MY_VAR: &str = "FICUS_TEST_MYSQL_URL";

fn pg_url() -> String {
    std::env::var(PG_VAR).unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn mysql_url() -> String {
    std::env::var(MY_VAR).unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// The URL with its database path replaced.
fn with_database(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let base = match url[scheme_end..].find(['/', '?']) {
        Some(i) => &url[..scheme_end + i],
        None => url,
    };
    format!("{base}/{db}")
}

async fn pg() -> sqlx::PgConnection {
    let url = pg_url();
    sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {url} (set {PG_VAR}): {e}"))
}

async fn my() -> sqlx::MySqlConnection {
    let url = mysql_url();
    sqlx::MySqlConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("MariaDB unreachable at {url} (set {MY_VAR}): {e}"))
}

async fn exec<C>(conn: &mut C, sql: String)
where
    for<'c> &'c mut C: Executor<'c>,
{
    conn.execute(AssertSqlSafe(sql.clone())).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn ficus(plan: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ficus")).args(args).arg("-c").arg(plan).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_sigkilled_at_random_points_resumes_to_an_exact_copy() {
    let name = format!("ficus_k_{:010x}", rand::rng().random::<u64>() & 0xff_ffff_ffff);
    let mut m = my().await;
    exec(&mut m, format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).await;
    exec(&mut m, format!(
        "CREATE TABLE {name}.orders (id BIGINT NOT NULL PRIMARY KEY, customer VARCHAR(60) NULL, \
         total DECIMAL(12,2) NULL, placed DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL) CHARACTER SET utf8mb4"
    ))
    .await;
    const ROWS: u64 = 20_000;
    for start in (1..=ROWS).step_by(2000) {
        let values: Vec<String> = (start..start + 2000)
            .map(|i| {
                let customer = match i % 9 { 0 => "NULL".to_owned(), 1 => "''".to_owned(), 2 => format!("'🌳 {i}'"), _ => format!("'c{i}'") };
                format!("({i}, {customer}, {}.{:02}, TIMESTAMP'2020-01-01 00:00:00' + INTERVAL {i} MINUTE, NOW(6))", i % 500, i % 100)
            })
            .collect();
        exec(&mut m, format!("INSERT INTO {name}.orders VALUES {}", values.join(","))).await;
    }
    let mut p = pg().await;
    exec(&mut p, format!("CREATE SCHEMA {name}")).await;
    exec(&mut p, format!(
        "CREATE TABLE {name}.orders (id bigint PRIMARY KEY, customer_name text, total_cents bigint, \
         placed_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
    ))
    .await;

    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("ficus.toml");
    let ports = util::Ports { gateway: util::free_port(), admin: util::free_port() };
    std::fs::write(
        &plan,
        format!(
            "[listener]\naddress = \"127.0.0.1:{}\"\n[admin]\naddress = \"127.0.0.1:{}\"\ntoken_env = \"TEST_FICUS_TOKEN\"\n\
             [upstreams]\nlegacy = {{ url = \"http://127.0.0.1:1\" }}\nnew = {{ url = \"http://127.0.0.1:2\" }}\n\
             [domains.orders]\nroutes = [{{ path = \"/orders/{{id}}\" }}]\n\
             [domains.orders.data]\nsource = \"{}\"\ntarget_env = \"FICUS_KILL_TEST_TARGET\"\nchunk_rows = 250\nworkers = 2\nrecheck_delay = \"100ms\"\n\
             [[domains.orders.data.tables]]\nsource = \"orders\"\ntarget = \"{name}.orders\"\nkey = [\"id\"]\nversion = \"updated_at\"\n\
             [domains.orders.data.tables.columns]\ncustomer_name = \"customer\"\n\
             total_cents = {{ from = \"total\", transform = \"money_to_cents\" }}\nplaced_at = \"placed\"\n",
            ports.gateway,
            ports.admin,
            with_database(&mysql_url(), &name)
        ),
    )
    .unwrap();
    // SAFETY of the env var: the child reads it; set before any child starts.
    let target_url = pg_url();
    let run = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ficus"));
        c.args(["backfill", "orders", "-c"])
            .arg(&plan)
            .args(extra)
            .env("FICUS_KILL_TEST_TARGET", &target_url);
        c
    };

    let out = run(&["--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("20000 row(s) to copy (dry run"));

    let count = format!("SELECT COUNT(*) FROM {name}.orders");
    let mut kills = 0;
    let mut seen = Vec::new();
    let mut rng = rand::rng();
    while kills < 12 {
        let mut child =
            run(&["--rate", "1500"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..900))).await;
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            break; // finished before the kill: nothing left to interrupt
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let n: i64 =
            sqlx::query_scalar(AssertSqlSafe(count.clone())).fetch_one(&mut p).await.unwrap();
        seen.push(n);
    }
    assert!(kills >= 10, "only {kills} kills landed mid-run (rows after each: {seen:?})");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "copied rows never go back: {seen:?}");

    let out = run(&[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(count.clone())).fetch_one(&mut p).await.unwrap();
    assert_eq!(n, ROWS as i64);
    // Each chunk was committed with its checkpoint exactly once.
    let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT CAST(SUM(rows_copied) AS bigint) FROM {name}.ficus_checkpoint WHERE domain = 'orders'"
    )))
    .fetch_one(&mut p)
    .await
    .unwrap();
    assert_eq!(total, ROWS as i64, "rows counted by the checkpoints after {kills} SIGKILLs");

    let verify = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ficus"));
        c.args(["verify", "orders", "-c"])
            .arg(&plan)
            .args(args)
            .env("FICUS_KILL_TEST_TARGET", &target_url);
        c.output().unwrap()
    };
    let out = verify(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A difference: exit 3 and a JSON report naming the row and column.
    exec(&mut p, format!("UPDATE {name}.orders SET customer_name = NULL WHERE id = 10")).await;
    let out = verify(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &report["tables"][0]["differences"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{report}");
    assert_eq!(d[0]["key"][0], "10");
    assert_eq!(d[0]["columns"][0]["column"], "customer_name");

    // Repair from that report: the row is re-copied, exit 0, and verify is clean again.
    let report_file = dir.path().join("report.json");
    std::fs::write(&report_file, &out.stdout).unwrap();
    let with_target = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ficus"));
        c.args(args).arg("-c").arg(&plan).env("FICUS_KILL_TEST_TARGET", &target_url);
        c.output().unwrap()
    };
    let out = with_target(&["repair", "orders", "--report", report_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 row(s) re-copied"));
    assert_eq!(verify(&[]).status.code(), Some(0));
    // Every verify run was stored with its time and scope.
    let out = with_target(&["verify", "orders", "--history", "10", "-o", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diffs: Vec<i64> =
        runs.as_array().unwrap().iter().map(|r| r["differences"].as_i64().unwrap()).collect();
    assert_eq!(diffs, vec![0, 1, 0], "newest first");
    // The same runs in the state store, through the admin API of `ficus serve`.
    let serve = util::Serve::start(&plan, &ports).await;
    let http = util::client();
    let list =
        util::get_json(&http, &format!("{}/v1/domains/orders/verifications", serve.admin)).await;
    let runs = list["runs"].as_array().unwrap();
    let summary: Vec<(i64, bool)> = runs
        .iter()
        .map(|r| (r["differences"].as_i64().unwrap(), r["equal"].as_bool().unwrap()))
        .collect();
    assert_eq!(summary, vec![(0, true), (1, false), (0, true)], "newest first: {list}");
    assert!(runs.iter().all(|r| r.get("report").is_none()), "lists leave reports out");
    assert_eq!(runs[0]["scope"], format!("{name}.orders"));
    assert_eq!(runs[1]["source_rows"], 20_000);
    let latest =
        util::get_json(&http, &format!("{}/v1/domains/orders/verifications/latest", serve.admin))
            .await;
    assert_eq!(
        (latest["id"].clone(), latest["equal"].clone()),
        (runs[0]["id"].clone(), true.into())
    );
    assert!(
        latest["report"]["tables"].is_array(),
        "the latest run comes with its report: {latest}"
    );
    let r =
        http.get(format!("{}/v1/domains/nope/verifications", serve.admin)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(serve.terminate(), Some(0));

    // Capture: start, three changes, status shows them pending, one pass applies them.
    let out = with_target(&["capture", "start", "orders"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    exec(&mut m, format!("DELETE FROM {name}.orders WHERE id = 5")).await;
    exec(
        &mut m,
        format!("UPDATE {name}.orders SET customer = 'changed', updated_at = NOW(6) WHERE id = 6"),
    )
    .await;
    exec(&mut m, format!("INSERT INTO {name}.orders VALUES (99999, 'new', 1.00, NOW(6), NOW(6))"))
        .await;
    let out = with_target(&["capture", "status", "orders", "-o", "json"]);
    let lag: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(lag["pending_changes"], 3, "{lag}");
    let out = with_target(&["capture", "run", "orders", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 change(s) applied: 2 upserted, 1 deleted")
    );
    assert_eq!(verify(&[]).status.code(), Some(0));

    // The applier in the foreground stops on SIGTERM after applying what came in.
    let child = Command::new(env!("CARGO_BIN_EXE_ficus"))
        .args(["capture", "run", "orders", "--poll", "50ms", "-c"])
        .arg(&plan)
        .env("FICUS_KILL_TEST_TARGET", &target_url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    exec(&mut m, format!("DELETE FROM {name}.orders WHERE id = 7")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 change(s) applied"));
    assert_eq!(verify(&[]).status.code(), Some(0));
    let out = with_target(&["capture", "stop", "orders", "--purge"]);
    assert_eq!(out.status.code(), Some(0));

    // An unknown domain is refused (3); a missing URL variable is an error (1).
    assert_eq!(ficus(&plan, &["verify", "nope"]).status.code(), Some(3));
    let out = Command::new(env!("CARGO_BIN_EXE_ficus"))
        .args(["verify", "orders", "-c"])
        .arg(&plan)
        .env_remove("FICUS_KILL_TEST_TARGET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FICUS_KILL_TEST_TARGET"));

    exec(&mut p, format!("DROP SCHEMA {name} CASCADE")).await;
    exec(&mut m, format!("DROP DATABASE {name}")).await;
}
