//! The session cookies: `oms_session` (the JWT; `HttpOnly`, `SameSite=Lax`) and `oms_csrf` (the
//! CSRF token, readable by scripts, `SameSite=Strict`); both `Path=/`, `Secure` unless
//! `COOKIE_SECURE=false`, and as long-lived as the token.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time as cookie_time};

pub const SESSION_COOKIE: &str = "oms_session";
pub const CSRF_COOKIE: &str = "oms_csrf";

fn max_age(ttl: Duration) -> cookie_time::Duration {
    cookie_time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// The cookie that carries the session token.
pub fn session_cookie(token: &str, ttl: Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age(ttl))
        .finish()
}

/// The cookie that carries the CSRF token (scripts read it to send `X-CSRF-Token`).
pub fn csrf_cookie(token: &str, ttl: Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token.to_owned())
        .path("/")
        .http_only(false)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age(ttl))
        .finish()
}

/// Both cookies, expired (logout).
pub fn cleared(secure: bool) -> [Cookie<'static>; 2] {
    let mut session = session_cookie("", Duration::ZERO, secure);
    session.make_removal();
    let mut csrf = csrf_cookie("", Duration::ZERO, secure);
    csrf.make_removal();
    [session, csrf]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        let session = session_cookie("jwt", Duration::from_secs(60), true).to_string();
        for part in [
            "oms_session=jwt",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(session.contains(part), "{session} lacks {part}");
        }
        let csrf = csrf_cookie("tok", Duration::from_secs(60), false).to_string();
        assert!(csrf.contains("SameSite=Strict"));
        assert!(!csrf.contains("HttpOnly"));
        assert!(!csrf.contains("Secure"));
        let [session, csrf] = cleared(true);
        assert!(session.to_string().contains("Max-Age=0"));
        assert_eq!(csrf.value(), "");
    }
}
