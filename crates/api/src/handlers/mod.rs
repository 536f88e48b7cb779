//! The routes, one file per handler, grouped by resource; each resource has a `configure`.

pub mod admin;
pub mod auth;
pub mod health;
pub mod orders;
pub mod products;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError as _, web};

use crate::error::{ApiError, PROBLEM_JSON};
use crate::rate_limit::RateLimiters;

/// Mounts every route of the API (the real-time routes are mounted by the start-up next to
/// these, see `startup::realtime`).
pub fn configure(cfg: &mut web::ServiceConfig, limits: &RateLimiters) {
    health::configure(cfg);
    auth::configure(cfg, limits);
    products::configure(cfg);
    orders::configure(cfg, limits);
    admin::configure(cfg);
    cfg.route("/api/openapi.json", web::get().to(crate::openapi::serve));
}

/// Any path that names nothing: 404 `not_found`.
pub async fn not_found() -> HttpResponse {
    ApiError::not_found().error_response()
}

/// Turns actix's bare 405 (a known path, another method) into a problem.
pub fn problem_fallbacks<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, |res: ServiceResponse<B>| {
        let is_problem = res
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
        if is_problem {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let (req, _) = res.into_parts();
        let response = ApiError::method_not_allowed().error_response();
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, response).map_into_right_body(),
        ))
    })
}

/// RFC 3339 timestamps in UTC (`2026-11-25T10:00:00.123456Z`).
pub mod timestamps {
    use serde::Serializer;
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    pub fn serialize<S: Serializer>(value: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = value
            .to_offset(UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}
