//! `GET /healthz` (the process runs; no database call) and `GET /readyz` (the database answers,
//! else 503 problem).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::error::{ApiError, Problem, ProblemBody};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is running.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process runs", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database does not answer (`service_unavailable`)",
            body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.readiness.check().await {
        Ok(()) => Ok(HttpResponse::Ok().json(Health { status: "ok" })),
        Err(error) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
            )
            .detail("the database does not answer")
            .into())
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::handlers::resource("/healthz").get(healthz))
        .service(crate::handlers::resource("/readyz").get(readyz));
}
