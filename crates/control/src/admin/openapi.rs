//! The OpenAPI 3.1 document of the admin API, generated from the handlers (utoipa).

use super::{diffs, domains, health, verifications, views, writes};
use crate::store::AuditEntry;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ficus admin API", description = "Domains, phase changes, shadow findings and the audit log of a Ficus migration control plane."),
    paths(
        domains::list, domains::get_one, domains::patch, domains::advance, domains::rollback,
        domains::audit, diffs::report, diffs::examples, diffs::example, diffs::mark_known,
        diffs::unmark_known, writes::list, writes::retry, writes::discard, verifications::list,
        verifications::latest, health::livez, health::readyz, health::metrics,
    ),
    components(schemas(
        views::DomainView, views::ChangeView, views::AdvanceRequest, views::RollbackRequest,
        views::PatchRequest, AuditEntry, diffs::DiffsView, diffs::ExampleSummary,
        diffs::KnownRequest, diffs::KnownView, crate::findings::KnownEntry,
        crate::findings::StoredExample, writes::WritesView, writes::DeadLetterRequest,
        writes::DeadLetterView, crate::queue::QueueStats, crate::queue::DeadLetter,
        verifications::VerificationsView, crate::VerifyRun,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

pub async fn document() -> impl IntoResponse {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(json) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        ),
    }
}
