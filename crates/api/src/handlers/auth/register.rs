//! `POST /api/auth/register`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::session::{Credentials, SessionJson, start_session};
use crate::auth::AuthState;
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

/// Creates a `CUSTOMER` account and signs it in (session cookies set).
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Registered and signed in; `oms_session` and `oms_csrf` cookies set", body = SessionJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (email, password 8 to 128 characters)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn register(
    state: web::Data<AppState>,
    auth: web::Data<AuthState>,
    body: ApiJson<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let credentials = body.into_inner();
    let user = state
        .auth
        .register(&credentials.email, &credentials.password)
        .await?;
    start_session(StatusCode::CREATED, &user, &state, &auth)
}
