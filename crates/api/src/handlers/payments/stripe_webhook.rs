//! `POST /api/payments/stripe/webhook`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use app::payment_events::{ReceiveError, Received};
use futures_util::StreamExt as _;
use ports::ProviderEventError;
use serde::Serialize;

use crate::error::{ApiError, Problem, ProblemBody};
use crate::state::AppState;

/// The largest event body read (Stripe's events are a few KiB).
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

/// The answer to a received event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// `applied`, `replayed` (seen before: nothing changed), `unchanged` (the order or refund is
    /// past what the event speaks of) or `ignored` (another type, or about something this server
    /// did not make).
    pub outcome: &'static str,
}

/// Receives a Stripe event: `Stripe-Signature` is checked over the raw body before anything is
/// read (HMAC-SHA256 keyed with `STRIPE_WEBHOOK_SECRET` over `{t}.{body}`, any `v1`, `t` at most
/// 300 s old); the PaymentIntent or refund it names is then retrieved from Stripe and trusted
/// only when it is one this server made for that order (status, amount, currency and
/// `metadata.order_id` agreeing). `payment_intent.succeeded` → `PAID`;
/// `payment_intent.payment_failed` → payment `failed` (the order stays `PENDING`);
/// `charge.refunded` / `refund.updated` → the refund's status. Each event id is applied once.
/// Without `PAYMENT_PROVIDER=stripe` every request is refused as unsigned.
#[utoipa::path(post, path = "/api/payments/stripe/webhook", tag = "payments",
    request_body(content = String, content_type = "application/json",
        description = "The event exactly as Stripe sent it (its raw bytes are what is signed)"),
    params(("Stripe-Signature" = Option<String>, Header,
        description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]`")),
    responses(
        (status = 200, description = "Received: applied, replayed, unchanged or ignored", body = WebhookAck),
        (status = 400, description = "`invalid_signature` (missing, not matching, or older than 300 s), or `malformed_json` (signed but not a readable event)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`payment_provider_unavailable`: Stripe could not be asked about the event now (it sends it again later)", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn stripe_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| invalid_signature())?;
        if body.len() + chunk.len() > WEBHOOK_BODY_LIMIT {
            return Err(ApiError::payload_too_large(WEBHOOK_BODY_LIMIT));
        }
        body.extend_from_slice(&chunk);
    }
    let Some(events) = state.payment_events.as_ref() else {
        return Err(invalid_signature());
    };
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let received = events
        .receive(signature, body)
        .await
        .map_err(|error| match error {
            ReceiveError::Event(ProviderEventError::InvalidSignature) => invalid_signature(),
            ReceiveError::Event(ProviderEventError::Malformed(_)) => {
                ApiError::malformed_json("a signed body that is not a Stripe event")
            }
            ReceiveError::Event(ProviderEventError::Unavailable(detail)) => {
                tracing::warn!(%detail, "stripe could not be asked about an event");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payment_provider_unavailable",
                    "Payment provider unavailable",
                )
                .detail("the event could not be checked with Stripe now; it is sent again later")
                .into()
            }
            ReceiveError::Store(e) => e.into(),
        })?;
    let outcome = match received {
        Received::Applied => "applied",
        Received::Replayed => "replayed",
        Received::Unchanged => "unchanged",
        Received::Ignored(_) => "ignored",
    };
    Ok(HttpResponse::Ok().json(WebhookAck {
        received: true,
        outcome,
    }))
}

fn invalid_signature() -> ApiError {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_signature",
        "Invalid signature",
    )
    .detail("the Stripe-Signature header is missing, does not match, or is older than 300 s")
    .into()
}
