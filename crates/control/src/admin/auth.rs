//! Bearer-token check for changes: 401 without a token, 403 with a wrong one. The comparison
//! takes the same time whatever the token's content (subtle's constant-time equality).

use super::AdminState;
use super::error::ApiError;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// Check the `Authorization: Bearer …` header against the configured token.
pub fn require_token(state: &AdminState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Err(ApiError::Unauthorized);
    };
    // ct_eq on slices of different lengths returns false without comparing contents; the
    // length of the configured token is not a secret worth hiding.
    if bool::from(given.as_bytes().ct_eq(state.token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}
