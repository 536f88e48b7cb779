//! `/api/payments`: the payment provider's calls to us (no session, no CSRF: the provider signs
//! them; rate-limited like every route).

pub mod stripe_webhook;

use actix_web::web;
use utoipa::OpenApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::handlers::resource("/api/payments/stripe/webhook")
            .post(stripe_webhook::stripe_webhook),
    );
}

#[derive(OpenApi)]
#[openapi(
    paths(stripe_webhook::stripe_webhook),
    components(schemas(stripe_webhook::WebhookAck)),
    tags((name = "payments", description = "The payment provider's notifications")),
)]
pub struct PaymentsApiDoc;
