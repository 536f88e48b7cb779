//! Error reporting to Sentry, on only when `SENTRY_DSN` is set.
//!
//! - [`init`] runs before the runtime starts; its guard flushes queued events when dropped (at
//!   exit). Panics are reported by the panic integration (with a backtrace), 5xx answers by the
//!   actix middleware ([`middleware`]); each event carries the request id as the tag
//!   `request_id` ([`tag_request`]).
//! - No personal data: `send_default_pii` is off (no client address, no request body, sensitive
//!   headers dropped by the middleware), and [`scrub`] runs before anything is sent: it removes
//!   cookies, `Authorization`, `X-CSRF-Token`, the query string and any request body, and the
//!   same from breadcrumbs.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, Next};
use secrecy::ExposeSecret as _;
use sentry::protocol::Event;

use crate::config::{AppEnv, Settings};
use crate::request_id::RequestId;

/// Headers never sent, whatever the middleware decides (lower case).
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "cookie",
    "set-cookie",
    "x-csrf-token",
    "proxy-authorization",
];

/// Starts the Sentry client when `SENTRY_DSN` is set; `Ok(None)` when it is not. Keep the guard
/// alive for the life of the process.
pub fn init(settings: &Settings) -> anyhow::Result<Option<sentry::ClientInitGuard>> {
    let Some(dsn) = &settings.sentry_dsn else {
        return Ok(None);
    };
    let dsn: sentry::types::Dsn = dsn
        .expose_secret()
        .parse()
        .map_err(|_| anyhow::anyhow!("SENTRY_DSN: not a valid Sentry DSN"))?;
    let environment = match settings.app_env {
        AppEnv::Production => "production",
        AppEnv::Development => "development",
    };
    let mut options = sentry::ClientOptions::new()
        .release(concat!("oms@", env!("CARGO_PKG_VERSION")))
        .environment(environment)
        .send_default_pii(false)
        .attach_stacktrace(false)
        .before_send(|event| Some(scrub(event)))
        .before_breadcrumb(|mut crumb| {
            for header in SECRET_HEADERS {
                crumb.data.remove(header);
            }
            Some(crumb)
        });
    options.dsn = Some(dsn);
    Ok(Some(sentry::init(options)))
}

/// Removes what could identify a person or open their account from an event.
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    if let Some(request) = event.request.as_mut() {
        request.cookies = None;
        request.data = None;
        request.query_string = None;
        request.env.clear();
        request
            .headers
            .retain(|name, _| !SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
            let _ = url.set_password(None);
            let _ = url.set_username("");
        }
    }
    event.user = None;
    event
}

/// The actix middleware reporting 5xx answers; does nothing when Sentry is off.
pub fn middleware(enabled: bool) -> Condition<sentry::integrations::actix::Sentry> {
    Condition::new(
        enabled,
        sentry::integrations::actix::Sentry::builder()
            .capture_server_errors(true)
            .emit_header(false)
            .finish(),
    )
}

/// Middleware inside [`middleware`]: tags the request's Sentry scope with its request id (the
/// scope is per request, so events and panics of the request carry it).
pub async fn tag_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(id) = req.extensions().get::<RequestId>() {
        let id = id.0.clone();
        sentry::configure_scope(|scope| scope.set_tag("request_id", id));
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use sentry::protocol::{Map, Request};

    use super::*;

    #[test]
    fn scrubbing_removes_credentials_bodies_and_queries() {
        let mut headers = Map::new();
        headers.insert("Authorization".to_owned(), "Bearer abc".to_owned());
        headers.insert("Cookie".to_owned(), "oms_session=abc".to_owned());
        headers.insert("x-csrf-token".to_owned(), "t".to_owned());
        headers.insert("Accept".to_owned(), "application/json".to_owned());
        let event = Event {
            request: Some(Request {
                url: "https://u:p@shop.example/api/orders?token=abc".parse().ok(),
                method: Some("POST".into()),
                data: Some(r#"{"password":"hunter2"}"#.into()),
                query_string: Some("token=abc".into()),
                cookies: Some("oms_session=abc".into()),
                headers,
                ..Request::default()
            }),
            ..Event::default()
        };
        let scrubbed = scrub(event);
        let text = serde_json::to_string(&scrubbed).unwrap();
        for secret in ["abc", "hunter2", "oms_session", "u:p"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        let request = scrubbed.request.unwrap();
        assert_eq!(request.headers.len(), 1, "Accept stays");
        assert_eq!(request.method.as_deref(), Some("POST"));
    }

    #[test]
    fn off_without_a_dsn_and_refuses_a_bad_one() {
        let mut settings = Settings::for_tests("postgres://x/y", &"k".repeat(32)).unwrap();
        assert!(init(&settings).unwrap().is_none());
        settings.sentry_dsn = Some("not a dsn".to_owned().into());
        let error = init(&settings).err().unwrap().to_string();
        assert!(error.contains("SENTRY_DSN") && !error.contains("not a dsn"));
    }
}
