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
    let mut options = client_options(settings.app_env);
    options.dsn = Some(dsn);
    Ok(Some(sentry::init(options)))
}

/// The client's options, without the DSN: no personal data, [`scrub`] before sending.
pub fn client_options(env: AppEnv) -> sentry::ClientOptions {
    let environment = match env {
        AppEnv::Production => "production",
        AppEnv::Development => "development",
    };
    sentry::ClientOptions::new()
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
        })
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

    #[actix_web::test]
    async fn a_5xx_is_reported_with_its_request_id_and_without_credentials() {
        use std::sync::Arc;

        use actix_web::middleware::from_fn;
        use actix_web::{App, HttpResponse, test, web};

        use crate::error::ApiError;

        let transport = sentry::test::TestTransport::new();
        let mut options = client_options(AppEnv::Production);
        options.dsn = "https://public@sentry.invalid/1".parse().ok();
        options.transport = Some(Arc::new(transport.clone()));
        let hub = Arc::new(sentry::Hub::new(
            Some(Arc::new(options.into())),
            Arc::new(sentry::Scope::default()),
        ));
        let app = test::init_service(
            App::new()
                .route(
                    "/boom",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(ApiError::Internal("the store broke".into()))
                    }),
                )
                .route(
                    "/missing",
                    web::get().to(|| async { Err::<HttpResponse, _>(ApiError::not_found()) }),
                )
                .wrap(from_fn(tag_request))
                .wrap(
                    sentry::integrations::actix::Sentry::builder()
                        .with_hub(hub)
                        .finish(),
                )
                .wrap(from_fn(crate::request_id::request_id)),
        )
        .await;
        let request = |uri: &str| {
            test::TestRequest::get()
                .uri(uri)
                .insert_header(("Authorization", "Bearer secret-token"))
                .insert_header(("Cookie", "oms_session=secret-cookie"))
                .insert_header(("X-Request-Id", "req-123"))
                .to_request()
        };
        let response = test::call_service(&app, request("/boom?token=secret-query")).await;
        assert_eq!(response.status(), 500);
        let response = test::call_service(&app, request("/missing")).await;
        assert_eq!(response.status(), 404);

        let events = transport.fetch_and_clear_events();
        assert_eq!(events.len(), 1, "the 5xx only: {events:?}");
        let event = &events[0];
        assert_eq!(
            event.tags.get("request_id").map(String::as_str),
            Some("req-123")
        );
        let text = serde_json::to_string(event).unwrap();
        for secret in ["secret-token", "secret-cookie", "secret-query"] {
            assert!(!text.contains(secret), "{secret} reached Sentry: {text}");
        }
        assert!(text.contains("/boom"), "{text}");
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
