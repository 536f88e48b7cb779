//! `GET /api/auth/me`.

use actix_web::{HttpResponse, web};

use super::session::SessionJson;
use crate::auth::{AuthState, AuthUser};
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// The signed-in user and the session's CSRF token (so a reloaded page can find it).
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = SessionJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn me(
    user: AuthUser,
    state: web::Data<AppState>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .auth
        .current_user(user.id)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    Ok(HttpResponse::Ok().json(SessionJson {
        user: (&found).into(),
        csrf_token: auth.csrf.token_for(&user.jti),
    }))
}
