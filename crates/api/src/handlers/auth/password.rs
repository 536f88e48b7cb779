//! `POST /api/auth/password`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use ports::UserGeneration;
use serde::Deserialize;

use super::session::session_cookies;
use crate::audit::RequestMeta;
use crate::auth::{AuthState, AuthUser, Credential};
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

/// `{"current_password", "new_password"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password the user signs in with now.
    #[schema(example = "correct horse battery staple")]
    pub current_password: String,
    /// 8 to 128 characters.
    #[schema(
        example = "another horse battery staple",
        min_length = 8,
        max_length = 128
    )]
    pub new_password: String,
}

/// Never prints a password.
impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .field("current_password", &"***")
            .field("new_password", &"***")
            .finish()
    }
}

/// Changes the signed-in user's password. Every token the user held before (this one included)
/// stops working at once, on every instance, and their real-time connections close (1008). A
/// cookie session gets fresh session cookies (`oms_session` and `oms_csrf`: read the new CSRF
/// token from the cookie); a Bearer caller signs in again. Audited: `auth.password_changed`,
/// or `auth.password_change_failed` for a wrong current password.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", request_body = ChangePasswordRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Changed. A cookie session gets new `oms_session` and `oms_csrf` cookies; every older token of the user is refused from now on"),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`invalid_credentials`: `current_password` is wrong; or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `new_password` not 8 to 128 characters, a missing or unknown field", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    user: AuthUser,
    state: web::Data<AppState>,
    auth: web::Data<AuthState>,
    meta: RequestMeta,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let changed = state
        .auth
        .change_password(
            &meta.audit(Some(user.actor())),
            &request.current_password,
            &request.new_password,
        )
        .await?;
    // This instance refuses the old tokens now; the others when the notice reaches them.
    auth.revoked.revoke_user(UserGeneration {
        user_id: changed.id,
        min_generation: changed.token_generation,
    });
    match user.credential {
        Credential::Cookie => {
            let (mut response, _csrf) =
                session_cookies(StatusCode::NO_CONTENT, &changed, &state, &auth)?;
            Ok(response.finish())
        }
        Credential::Bearer => Ok(HttpResponse::NoContent().finish()),
    }
}
