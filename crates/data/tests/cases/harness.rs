//! The harness itself: a test that fails before it drops its schema and database leaves
//! neither behind on the shared servers.

use crate::util::{MyDatabase, PgSchema, scalar};

#[tokio::test]
async fn a_failed_test_leaves_no_schema_or_database_behind() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failed = tokio::spawn(async move {
        let pg = PgSchema::new().await;
        let my = MyDatabase::new().await;
        let _ = tx.send((pg.name.clone(), my.name.clone()));
        panic!("a test failing on purpose, before it drops {} and {}", pg.name, my.name);
    })
    .await;
    assert!(failed.is_err(), "the task failed");
    let (schema, database) = rx.await.unwrap();
    let pg = PgSchema::new().await;
    let schemas = scalar(
        &pg.db,
        &format!("SELECT CAST(count(*) AS text) FROM pg_namespace WHERE nspname = '{schema}'"),
    )
    .await;
    assert_eq!(schemas.as_deref(), Some("0"), "schema {schema} dropped");
    let my = MyDatabase::new().await;
    let databases = scalar(
        &my.db,
        &format!(
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.schemata WHERE schema_name = '{database}'"
        ),
    )
    .await;
    assert_eq!(databases.as_deref(), Some("0"), "database {database} dropped");
    my.drop().await;
    pg.drop().await;
}
