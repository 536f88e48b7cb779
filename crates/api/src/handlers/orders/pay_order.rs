//! `POST /api/orders/{id}/payment`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use ports::Claim;
use serde::Deserialize;
use uuid::Uuid;

use super::idempotency;
use super::order_json::OrderJson;
use super::place_order::order_answer;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

/// `{"token"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    #[schema(min_length = 1, max_length = 255, example = "tok_visa")]
    pub token: String,
}

/// Pays the caller's `PENDING` order (payment `unpaid` or `failed`).
#[utoipa::path(post, path = "/api/orders/{id}/payment", tag = "orders", request_body = PayRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for placing an order")),
    responses(
        (status = 200, description = "Paid: `PAID`", body = OrderJson),
        (status = 202, description = "The provider did not answer in time, or (Stripe) the customer must still authenticate the charge: payment `processing`; in the latter case only, `payment.client_secret` for Stripe.js", body = OrderJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 402, description = "`payment_declined`: the order stays `PENDING`, payment `failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition` (not payable, with `from` and `to`), or `idempotency_in_progress`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `idempotency_key_reused`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn pay_order(
    user: AuthUser,
    id: web::Path<Uuid>,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PayRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&req)?;
    let hash = idempotency::canonical_hash(&body.document);
    let order_id = id.into_inner();
    let token = body.value.token;
    let actor = user.actor();
    let store = state.idempotency.clone();
    let work = move |claim: Claim| async move {
        let outcome = if claim.resumed {
            state.orders.resume_payment(actor, order_id, &token).await?
        } else {
            state.orders.pay_order(actor, order_id, &token).await?
        };
        let mut answer = order_answer(&outcome, StatusCode::OK, actor)?;
        answer.location = None;
        Ok(answer)
    };
    let scope = format!("orders.pay:{order_id}");
    idempotency::run(store, user.id, scope, key, hash, order_id, work).await
}
