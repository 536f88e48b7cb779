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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::{App, test};
    use async_trait::async_trait;
    use ports::StoreError;
    use secrecy::SecretString;

    use super::*;
    use crate::paging::CursorKey;
    use crate::state::Readiness;

    struct Down;

    #[async_trait]
    impl Readiness for Down {
        async fn check(&self) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
    }

    fn state(readiness: Arc<dyn Readiness>) -> AppState {
        let deps = app::Deps {
            users: Arc::new(ports::MockUserRepository::new()),
            products: Arc::new(ports::MockProductRepository::new()),
            orders: Arc::new(ports::MockOrderRepository::new()),
            export: Arc::new(ports::MockOrderExport::new()),
            events: Arc::new(ports::MockEventLog::new()),
            payments: Arc::new(ports::MockPaymentGateway::new()),
            hasher: Arc::new(ports::MockPasswordHasher::new()),
            clock: Arc::new(ports::SystemClock),
            audit: Arc::new(ports::MockAuditLog::new()),
            customers: Arc::new(ports::MockCustomerRepository::new()),
        };
        let settings = app::AppSettings::default();
        AppState {
            auth: app::AuthService::new(deps.clone()),
            catalogue: app::CatalogueService::new(deps.clone()),
            orders: app::OrderService::new(deps.clone(), settings.clone()),
            admin_orders: app::AdminOrderService::new(deps.clone(), settings.clone()),
            refunds: app::refunds::RefundService::new(deps.clone(), settings),
            audit: app::audit::AuditService::new(deps.clone()),
            event_feed: app::event_feed::EventFeed::new(deps.clone()),
            stats: app::stats::StatsService::new(
                Arc::new(ports::stats::MockStatsRepository::new()),
                deps.clock.clone(),
            ),
            customers: app::CustomerService::new(deps.clone()),
            webhooks: app::webhooks::WebhookService::new(
                Arc::new(ports::MockWebhookStore::new()),
                Arc::new(ports::MockHostResolver::new()),
                app::webhooks::WebhookSettings::default(),
            ),
            idempotency: Arc::new(ports::MockIdempotencyStore::new()),
            revocations: Arc::new(ports::MockTokenRevocations::new()),
            clock: deps.clock.clone(),
            cursors: CursorKey::new(&SecretString::from("k".repeat(32))),
            readiness,
            currency: "USD".into(),
            payment_events: None,
        }
    }

    #[actix_web::test]
    async fn readyz_is_503_problem_when_the_database_does_not_answer_and_healthz_stays_200() {
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(state(Arc::new(Down))))
                .configure(configure),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["code"], "service_unavailable");
        assert!(!body.to_string().contains("refused"), "no internal detail");
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}
