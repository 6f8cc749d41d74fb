//! Shadow findings in the store: fields marked as known differences (audited) and the bounded
//! sample of full examples of differences, with their retention.

use crate::store::{Store, StoreError, insert_audit, now};
use ficus_gateway::shadow::Example;
use ficus_model::diff::KnownDifference;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Examples kept per domain, route and set of differing fields: a field that differs on every
/// request (noise) cannot crowd out the examples of a rarer, real difference.
pub const EXAMPLES_PER_KIND: i64 = 20;

/// A field marked as a known difference, with who marked it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KnownEntry {
    pub route: String,
    pub field: String,
    pub actor: String,
    pub reason: String,
    /// RFC 3339 UTC time it was marked.
    pub at: String,
}

/// A stored example of a difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredExample {
    pub id: i64,
    pub domain: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub example: Example,
}

/// Which examples to list.
#[derive(Debug, Clone, Default)]
pub struct ExampleFilter<'a> {
    pub route: Option<&'a str>,
    /// Only examples in which this field differed.
    pub field: Option<&'a str>,
    pub limit: u32,
}

impl Store {
    /// The known differences of `domain` (all domains if `None`), by domain, route and field.
    pub async fn known_differences(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<(String, KnownEntry)>, StoreError> {
        let rows = sqlx::query(
            "SELECT domain, route, field, actor, reason, at FROM known_difference
             WHERE (?1 IS NULL OR domain = ?1) ORDER BY domain, route, field",
        )
        .bind(domain)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("domain")?,
                    KnownEntry {
                        route: r.try_get("route")?,
                        field: r.try_get("field")?,
                        actor: r.try_get("actor")?,
                        reason: r.try_get("reason")?,
                        at: r.try_get("at")?,
                    },
                ))
            })
            .collect()
    }

    /// Mark `known` as a known difference of `domain`, with an audit entry
    /// (`known-difference`) in the same transaction. Returns `false` if it already was.
    pub async fn add_known_difference(
        &self,
        domain: &str,
        known: &KnownDifference,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let insert = "INSERT INTO known_difference (domain, route, field, actor, reason, at)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
        self.change_known(insert, "known-difference", domain, known, actor, reason).await
    }

    /// Unmark a known difference (audited as `unknown-difference`); the field is compared
    /// again. Returns `false` if it was not marked.
    pub async fn remove_known_difference(
        &self,
        domain: &str,
        known: &KnownDifference,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let delete = "DELETE FROM known_difference WHERE domain = ?1 AND route = ?2 AND field = ?3";
        self.change_known(delete, "unknown-difference", domain, known, actor, reason).await
    }

    /// Run `sql` (binding domain, route, field, actor, reason, time as ?1..?6) and, if it
    /// changed a row, audit it as `action` in the same transaction.
    async fn change_known(
        &self,
        sql: &'static str,
        action: &str,
        domain: &str,
        known: &KnownDifference,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(sql)
            .bind(domain)
            .bind(&known.route)
            .bind(&known.field)
            .bind(actor)
            .bind(reason)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        let detail = serde_json::json!({ "route": known.route, "field": known.field });
        insert_audit(&mut tx, actor, domain, action, None, None, reason, &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Store `examples` of `domain` in one transaction, then apply retention: at most
    /// [`EXAMPLES_PER_KIND`] per route and set of differing fields, and at most `keep` for the
    /// domain (oldest go first).
    pub async fn store_examples(
        &self,
        domain: &str,
        examples: &[Example],
        keep: usize,
    ) -> Result<(), StoreError> {
        if examples.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        let mut kinds = std::collections::BTreeSet::new();
        for e in examples {
            let mut fields = e.fields.clone();
            fields.sort();
            let signature = fields.join("\n");
            let json = serde_json::to_string(e).map_err(|err| StoreError::Corrupt {
                domain: domain.into(),
                detail: err.to_string(),
            })?;
            let fields_json = serde_json::to_string(&fields).map_err(|err| {
                StoreError::Corrupt { domain: domain.into(), detail: err.to_string() }
            })?;
            sqlx::query(
                "INSERT INTO diff_example (domain, at_ms, route, signature, fields, example)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(domain)
            .bind(i64::try_from(e.at_ms).unwrap_or(i64::MAX))
            .bind(&e.route)
            .bind(&signature)
            .bind(fields_json)
            .bind(json)
            .execute(&mut *tx)
            .await?;
            kinds.insert((e.route.clone(), signature));
        }
        for (route, signature) in kinds {
            sqlx::query(
                "DELETE FROM diff_example WHERE domain = ?1 AND route = ?2 AND signature = ?3
                 AND id NOT IN (SELECT id FROM diff_example WHERE domain = ?1 AND route = ?2
                                AND signature = ?3 ORDER BY id DESC LIMIT ?4)",
            )
            .bind(domain)
            .bind(route)
            .bind(signature)
            .bind(EXAMPLES_PER_KIND)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM diff_example WHERE domain = ?1 AND id NOT IN
             (SELECT id FROM diff_example WHERE domain = ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(domain)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stored examples of `domain`, newest first.
    pub async fn examples(
        &self,
        domain: &str,
        filter: &ExampleFilter<'_>,
    ) -> Result<Vec<StoredExample>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, example FROM diff_example e
             WHERE domain = ?1 AND (?2 IS NULL OR route = ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(e.fields) WHERE value = ?3))
             ORDER BY id DESC LIMIT ?4",
        )
        .bind(domain)
        .bind(filter.route)
        .bind(filter.field)
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|r| stored(domain, &r)).collect()
    }

    /// One stored example of `domain`.
    pub async fn example(
        &self,
        domain: &str,
        id: i64,
    ) -> Result<Option<StoredExample>, StoreError> {
        let row = sqlx::query("SELECT id, example FROM diff_example WHERE domain = ? AND id = ?")
            .bind(domain)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| stored(domain, &r)).transpose()
    }
}

fn stored(domain: &str, r: &sqlx::sqlite::SqliteRow) -> Result<StoredExample, StoreError> {
    let json: String = r.try_get("example")?;
    let example = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
        domain: domain.to_owned(),
        detail: format!("stored example: {e}"),
    })?;
    Ok(StoredExample { id: r.try_get("id")?, domain: domain.to_owned(), example })
}
