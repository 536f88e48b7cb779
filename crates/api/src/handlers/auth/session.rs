//! What register, login and me answer: the user and the session's CSRF token; and the start of a
//! session (token, cookies).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use domain::Role;
use ports::User;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::auth::AuthState;
use crate::auth::cookies::{csrf_cookie, session_cookie};
use crate::error::ApiError;
use crate::state::AppState;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserJson {
    pub id: i64,
    pub email: String,
    #[schema(value_type = String, example = "CUSTOMER")]
    pub role: Role,
}

impl From<&User> for UserJson {
    fn from(user: &User) -> Self {
        UserJson {
            id: user.id,
            email: user.email.clone(),
            role: user.role,
        }
    }
}

/// `{"user", "csrf_token"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionJson {
    pub user: UserJson,
    /// The `oms_csrf` cookie's value: send it as `X-CSRF-Token` on cookie-authenticated writes.
    pub csrf_token: String,
}

/// `{"email", "password"}` (register, login, token).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(example = "ada@example.com", format = "email", max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 128
    )]
    pub password: String,
}

/// Never prints the password.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

impl Credentials {
    /// The email to look up. One with control characters can never have been registered (and
    /// PostgreSQL refuses a NUL in text), so it is looked up as the empty email, which matches
    /// nobody: the answer, and the one password verification it costs, stay the same as for any
    /// unknown email.
    pub fn lookup_email(&self) -> &str {
        if self.email.contains(char::is_control) {
            ""
        } else {
            &self.email
        }
    }
}

/// Signs a session for `user` and answers `status` with the session JSON and both cookies.
pub fn start_session(
    status: StatusCode,
    user: &User,
    state: &AppState,
    auth: &AuthState,
) -> Result<HttpResponse, ApiError> {
    let (mut response, csrf_token) = session_cookies(status, user, state, auth)?;
    Ok(response.json(SessionJson {
        user: user.into(),
        csrf_token,
    }))
}

/// Signs a token for `user` (of their current token generation) and answers `status` with both
/// session cookies set; also returns the new CSRF token.
pub fn session_cookies(
    status: StatusCode,
    user: &User,
    state: &AppState,
    auth: &AuthState,
) -> Result<(HttpResponseBuilder, String), ApiError> {
    let issued = auth
        .keys
        .issue(user.id, user.role, user.token_generation, state.clock.now())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let csrf_token = auth.csrf.token_for(&issued.session.jti);
    let ttl = auth.keys.ttl();
    let mut response = HttpResponseBuilder::new(status);
    response
        .cookie(session_cookie(
            issued.token.expose_secret(),
            ttl,
            auth.cookie_secure,
        ))
        .cookie(csrf_cookie(&csrf_token, ttl, auth.cookie_secure));
    Ok((response, csrf_token))
}
