//! `POST /api/auth/login`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::session::{Credentials, SessionJson, start_session};
use crate::audit::RequestMeta;
use crate::auth::AuthState;
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

/// Signs in (session cookies set). A wrong email and a wrong password answer the same; a disabled
/// account is told so only with the right password. Audited: `auth.login`, `auth.login_failed`,
/// `auth.account_disabled`.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; `oms_session` and `oms_csrf` cookies set", body = SessionJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: unknown email or wrong password (the same answer)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the right password of a disabled account", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (wrong types, unknown fields)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn login(
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
    start_session(StatusCode::OK, &user, &state, &auth)
}
