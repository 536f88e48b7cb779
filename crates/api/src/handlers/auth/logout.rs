//! `POST /api/auth/logout`.

use actix_web::{HttpResponse, web};

use ports::audit::{AuditTarget, action, target};

use crate::audit::RequestMeta;
use crate::auth::cookies::cleared;
use crate::auth::{AuthState, AuthUser};
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Revokes the session's token on every instance (a row in PostgreSQL, announced over
/// `NOTIFY`, with its `auth.logout` audit entry in the same transaction) and clears the cookies.
/// Cookie-authenticated calls need `X-CSRF-Token`.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; cookies cleared; the token is refused from now on"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    user: AuthUser,
    state: web::Data<AppState>,
    auth: web::Data<AuthState>,
    meta: RequestMeta,
) -> Result<HttpResponse, ApiError> {
    let entry = meta.audit(Some(user.actor())).entry(
        action::AUTH_LOGOUT,
        Some(AuditTarget::new(target::USER, user.id)),
    );
    state
        .revocations
        .sign_out(&user.jti, user.expires_at, &entry)
        .await?;
    auth.revoked.insert(user.jti.clone());
    tracing::info!(user_id = user.id, "signed out");
    let mut response = HttpResponse::NoContent();
    for cookie in cleared(auth.cookie_secure) {
        response.cookie(cookie);
    }
    Ok(response.finish())
}
