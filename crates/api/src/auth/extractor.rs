//! Who is calling: [`AuthUser`] (any signed-in user) and [`AdminUser`] (role `ADMIN`).
//!
//! A request authenticates with `Authorization: Bearer <jwt>` or, without that header, the
//! `oms_session` cookie. The token must verify (see [`super::jwt`]) and not be revoked (its `jti`,
//! or its user's generation: see [`super::revocations`]), else 401 `unauthenticated`. A
//! cookie-authenticated `POST`/`PUT`/`PATCH`/`DELETE` must also send `X-CSRF-Token` equal to the
//! `oms_csrf` cookie and belonging to the session, else 403 `csrf_failed` (audited as
//! `auth.csrf_failed`, actor the token's user, in a short write of its own that the answer does
//! not wait for). Put the auth extractor first in a handler's arguments: it then answers before
//! the body is read or anything is looked up.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError as _, web};
use domain::Role;
use ports::Actor;
use ports::audit::{AuditTarget, action, target};
use time::OffsetDateTime;

use super::AuthState;
use super::cookies::{CSRF_COOKIE, SESSION_COOKIE};
use super::jwt::Session;
use crate::audit::RequestMeta;
use crate::error::ApiError;

/// The header a cookie-authenticated unsafe request carries its CSRF token in.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// How the request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Cookie,
    Bearer,
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: i64,
    pub role: Role,
    pub jti: String,
    /// The user's token generation when the token was issued (claim `gen`).
    pub generation: i64,
    pub expires_at: OffsetDateTime,
    pub credential: Credential,
}

impl AuthUser {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id,
            role: self.role,
        }
    }
}

/// A signed-in admin (a customer gets 403 `forbidden`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser(pub AuthUser);

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The token of the request and how it came: the `Authorization` header wins over the cookie.
/// `Err` when an `Authorization` header is there but is not `Bearer <token>`.
pub fn token_of(req: &HttpRequest) -> Result<Option<(String, Credential)>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::unauthenticated())?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(ApiError::unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::unauthenticated());
        }
        return Ok(Some((token.trim().to_owned(), Credential::Bearer)));
    }
    Ok(req
        .cookie(SESSION_COOKIE)
        .map(|c| (c.value().to_owned(), Credential::Cookie)))
}

/// Authenticates `req` as described in the module documentation.
pub fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AuthState>>()
        .ok_or_else(|| ApiError::Internal("AuthState is not registered".into()))?;
    let (token, credential) = token_of(req)?.ok_or_else(ApiError::unauthenticated)?;
    let session = state
        .keys
        .verify(&token)
        .ok_or_else(ApiError::unauthenticated)?;
    if state.revoked.is_revoked(&session) {
        return Err(ApiError::unauthenticated());
    }
    if credential == Credential::Cookie
        && is_unsafe(req.method())
        && let Err(error) = check_csrf(req, state, &session.jti)
    {
        audit_csrf_failure(req, state, &session);
        return Err(error);
    }
    Ok(AuthUser {
        id: session.user_id,
        role: session.role,
        jti: session.jti,
        generation: session.generation,
        expires_at: session.expires_at,
        credential,
    })
}

/// Stores `auth.csrf_failed` (actor and target: the token's user) in a short write of its own,
/// spawned: the 403 does not wait for it, and a failure to store it is logged.
fn audit_csrf_failure(req: &HttpRequest, state: &AuthState, session: &Session) {
    let Some(audit) = state.audit.clone() else {
        return;
    };
    let actor = Actor {
        id: session.user_id,
        role: session.role,
    };
    let entry = RequestMeta::of(req).audit(Some(actor)).entry(
        action::AUTH_CSRF_FAILED,
        Some(AuditTarget::new(target::USER, session.user_id)),
    );
    tracing::info!(user_id = session.user_id, "CSRF check failed");
    actix_web::rt::spawn(async move {
        if let Err(error) = audit.record(&entry).await {
            tracing::warn!(%error, "storing the audit entry of a failed CSRF check");
        }
    });
}

fn check_csrf(req: &HttpRequest, state: &AuthState, jti: &str) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::csrf_failed)?;
    let cookie = req.cookie(CSRF_COOKIE).ok_or_else(ApiError::csrf_failed)?;
    if cookie.value() != header || !state.csrf.verify(jti, header) {
        return Err(ApiError::csrf_failed());
    }
    Ok(())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthUser, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(user) = req.extensions().get::<AuthUser>() {
            return ready(Ok(user.clone()));
        }
        ready(authenticate(req))
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Ready<Result<AdminUser, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(match AuthUser::from_request(req, payload).into_inner() {
            Ok(user) if user.role == Role::Admin => Ok(AdminUser(user)),
            Ok(_) => Err(ApiError::forbidden()),
            Err(e) => Err(e),
        })
    }
}

/// Middleware for the `/api/admin` scope: 401 without a valid session, 403 for a non-admin,
/// before any route of the scope runs (and before an unknown admin path answers 404).
pub async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refusal = match authenticate(req.request()) {
        Ok(user) if user.role == Role::Admin => {
            req.extensions_mut().insert(user);
            None
        }
        Ok(_) => Some(ApiError::forbidden()),
        Err(error) => Some(error),
    };
    match refusal {
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Some(error) => Ok(req
            .into_response(error.error_response())
            .map_into_right_body()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix_web::cookie::Cookie;
    use actix_web::test::TestRequest;
    use secrecy::{ExposeSecret, SecretString};

    use super::*;
    use crate::auth::RevokedTokens;
    use crate::auth::jwt::IssuedToken;
    use crate::config::AuthSettings;

    fn state() -> web::Data<AuthState> {
        web::Data::new(AuthState::new(
            &AuthSettings {
                jwt_secret: SecretString::from("s".repeat(32)),
                jwt_ttl: Duration::from_secs(600),
                cookie_secure: false,
            },
            Arc::new(RevokedTokens::default()),
        ))
    }

    fn code(result: Result<AuthUser, ApiError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(ApiError::Problem(p)) => p.code,
            Err(_) => "internal",
        }
    }

    #[actix_web::test]
    async fn bearer_cookie_csrf_and_revocation() {
        let state = state();
        let issued = state
            .keys
            .issue(7, Role::Customer, 0, OffsetDateTime::now_utc())
            .expect("issue");
        let token = issued.token.expose_secret().to_owned();
        let csrf = state.csrf.token_for(&issued.session.jti);

        let req = TestRequest::post()
            .app_data(state.clone())
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_http_request();
        let user = authenticate(&req).expect("bearer needs no csrf");
        assert_eq!((user.id, user.credential), (7, Credential::Bearer));

        let cookie_get = TestRequest::get()
            .app_data(state.clone())
            .cookie(Cookie::new(SESSION_COOKIE, token.clone()))
            .to_http_request();
        assert_eq!(code(authenticate(&cookie_get)), "ok");

        let no_csrf = TestRequest::post()
            .app_data(state.clone())
            .cookie(Cookie::new(SESSION_COOKIE, token.clone()))
            .to_http_request();
        assert_eq!(code(authenticate(&no_csrf)), "csrf_failed");

        let wrong = TestRequest::post()
            .app_data(state.clone())
            .cookie(Cookie::new(SESSION_COOKIE, token.clone()))
            .cookie(Cookie::new(CSRF_COOKIE, "forged"))
            .insert_header((CSRF_HEADER, "forged"))
            .to_http_request();
        assert_eq!(code(authenticate(&wrong)), "csrf_failed");

        let mismatch = TestRequest::post()
            .app_data(state.clone())
            .cookie(Cookie::new(SESSION_COOKIE, token.clone()))
            .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
            .insert_header((CSRF_HEADER, "other"))
            .to_http_request();
        assert_eq!(code(authenticate(&mismatch)), "csrf_failed");

        let good = TestRequest::post()
            .app_data(state.clone())
            .cookie(Cookie::new(SESSION_COOKIE, token.clone()))
            .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
            .insert_header((CSRF_HEADER, csrf.clone()))
            .to_http_request();
        assert_eq!(code(authenticate(&good)), "ok");

        state.revoked.insert(issued.session.jti.clone());
        assert_eq!(code(authenticate(&good)), "unauthenticated");
    }

    #[actix_web::test]
    async fn a_raised_generation_revokes_older_tokens_of_that_user_only() {
        let state = state();
        let now = OffsetDateTime::now_utc();
        let old = state.keys.issue(7, Role::Customer, 0, now).expect("issue");
        let other = state.keys.issue(8, Role::Customer, 0, now).expect("issue");
        let bearer = |token: &IssuedToken| {
            TestRequest::get()
                .app_data(state.clone())
                .insert_header((
                    header::AUTHORIZATION,
                    format!("Bearer {}", token.token.expose_secret()),
                ))
                .to_http_request()
        };
        assert_eq!(code(authenticate(&bearer(&old))), "ok");
        state.revoked.revoke_user(ports::UserGeneration {
            user_id: 7,
            min_generation: 1,
        });
        assert_eq!(code(authenticate(&bearer(&old))), "unauthenticated");
        assert_eq!(code(authenticate(&bearer(&other))), "ok");
        let fresh = state.keys.issue(7, Role::Customer, 1, now).expect("issue");
        let user = authenticate(&bearer(&fresh)).expect("the new generation is valid");
        assert_eq!(user.generation, 1);
    }

    #[actix_web::test]
    async fn a_failed_csrf_check_is_audited_as_the_tokens_user() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut audit = ports::MockAuditLog::new();
        audit.expect_record().times(1).returning(move |entry| {
            let _ = tx.send(entry.clone());
            Ok(())
        });
        let settings = AuthSettings {
            jwt_secret: SecretString::from("s".repeat(32)),
            jwt_ttl: Duration::from_secs(600),
            cookie_secure: false,
        };
        let state = web::Data::new(
            AuthState::new(&settings, Arc::new(RevokedTokens::default()))
                .with_audit(Arc::new(audit)),
        );
        let issued = state
            .keys
            .issue(7, Role::Customer, 0, OffsetDateTime::now_utc())
            .expect("issue");
        let token = issued.token.expose_secret().to_owned();
        let req = TestRequest::post()
            .app_data(state.clone())
            .cookie(Cookie::new(SESSION_COOKIE, token.clone()))
            .cookie(Cookie::new(CSRF_COOKIE, "forged"))
            .insert_header((CSRF_HEADER, "forged"))
            .to_http_request();
        assert_eq!(code(authenticate(&req)), "csrf_failed");
        let entry = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("recorded in time")
            .expect("an entry");
        assert_eq!(entry.action, "auth.csrf_failed");
        assert_eq!(entry.actor.map(|a| a.id), Some(7));
        assert_eq!(entry.target, Some(AuditTarget::new("user", 7)));
        assert_eq!(entry.changes, None);
        let text = format!("{entry:?}");
        assert!(!text.contains(&token) && !text.contains("forged"), "{text}");
    }

    #[actix_web::test]
    async fn missing_or_malformed_credentials_are_401() {
        let state = state();
        let none = TestRequest::get().app_data(state.clone()).to_http_request();
        assert_eq!(code(authenticate(&none)), "unauthenticated");
        for value in ["Basic abc", "Bearer", "Bearer ", "token"] {
            let req = TestRequest::get()
                .app_data(state.clone())
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            assert_eq!(code(authenticate(&req)), "unauthenticated", "{value}");
        }
    }
}
