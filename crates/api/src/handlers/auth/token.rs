//! `POST /api/auth/token`: a Bearer token for non-browser clients.

use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::session::Credentials;
use crate::audit::RequestMeta;
use crate::auth::AuthState;
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenJson {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Exchanges credentials for a Bearer token (no cookies, no CSRF needed with it). Refused and
/// audited as the login is.
#[utoipa::path(post, path = "/api/auth/token", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "A Bearer token", body = TokenJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: unknown email or wrong password (the same answer)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the right password of a disabled account", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn token(
    state: web::Data<AppState>,
    auth: web::Data<AuthState>,
    meta: RequestMeta,
    body: ApiJson<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let credentials = body.into_inner();
    let user = state
        .auth
        .sign_in(
            credentials.lookup_email(),
            &credentials.password,
            &meta.audit(None),
        )
        .await?;
    let issued = auth
        .keys
        .issue(user.id, user.role, user.token_generation, state.clock.now())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(TokenJson {
        access_token: issued.token.expose_secret().to_owned(),
        token_type: "Bearer",
        expires_in: auth.keys.ttl().as_secs(),
    }))
}
