//! The routes, one file per handler, grouped by resource; each resource has a `configure`.

pub mod admin;
pub mod auth;
pub mod health;
pub mod orders;
pub mod payments;
pub mod products;
pub mod realtime;

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
    payments::configure(cfg);
    admin::configure(cfg);
    cfg.service(resource("/api/openapi.json").get(crate::openapi::serve));
}

/// A resource whose other methods answer 405 problem (without this, actix's resources fall back
/// to the app's default service: 404).
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> HttpResponse {
    ApiError::method_not_allowed().error_response()
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

#[cfg(test)]
mod tests {
    use actix_web::{App, test};

    use super::*;

    #[actix_web::test]
    async fn another_method_on_a_known_path_is_405_problem() {
        let app = test::init_service(
            App::new()
                .service(resource("/things").get(HttpResponse::Ok))
                .configure(products::configure)
                .default_service(web::to(not_found)),
        )
        .await;
        let response = test::call_service(
            &app,
            test::TestRequest::delete().uri("/things").to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/nothing").to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = test::call_service(
            &app,
            test::TestRequest::delete()
                .uri("/api/products")
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
