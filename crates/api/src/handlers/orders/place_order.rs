//! `POST /api/orders`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use app::orders::{AddressInput, LineInput, PlaceOrderCommand, PlacementOutcome};
use ports::{Actor, Claim, StoredResponse};
use uuid::Uuid;

use super::idempotency;
use super::order_json::{OrderJson, PaymentActionJson, PlaceOrderRequest};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

/// Places an order: validates, reserves the stock and creates it `PENDING` (one transaction),
/// then, with `payment`, charges it (never inside a transaction).
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = PlaceOrderRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 characters of ASCII 0x21-0x7E; the same key and body replay the first answer")),
    responses(
        (status = 201, description = "Placed (`PAID`, or `PENDING` `unpaid` without payment); `Location` names it", body = OrderJson,
            headers(("Location" = String, description = "/api/orders/{id}"))),
        (status = 202, description = "Placed; the provider did not answer in time, or (Stripe) the customer must still authenticate the charge: `PENDING`, payment `processing`; in the latter case only, `payment.client_secret` for Stripe.js", body = OrderJson,
            headers(("Location" = String, description = "/api/orders/{id}"))),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 402, description = "`payment_declined`: the order is `CANCELLED`, its stock back; `order_id` names it", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`insufficient_stock` (each short line in `errors` with `product_id` and `available`), or `idempotency_in_progress`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `unknown_product` or `idempotency_key_reused`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn place_order(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PlaceOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&req)?;
    let hash = idempotency::canonical_hash(&body.document);
    let request = body.value;
    let actor = user.actor();
    let store = state.idempotency.clone();
    // The id of the order to create, kept with the key's claim: a retry that takes the key over
    // after its lease finishes this order rather than placing another.
    let order_id = Uuid::now_v7();
    let work = move |claim: Claim| async move { place(&state, actor, claim, request).await };
    idempotency::run(
        store,
        user.id,
        "orders.place".into(),
        key,
        hash,
        order_id,
        work,
    )
    .await
}

async fn place(
    state: &AppState,
    actor: Actor,
    claim: Claim,
    request: PlaceOrderRequest,
) -> Result<StoredResponse, ApiError> {
    let address = request.shipping_address;
    let command = PlaceOrderCommand {
        items: request
            .items
            .iter()
            .map(|line| LineInput {
                product_id: line.product_id,
                quantity: line.quantity,
            })
            .collect(),
        address: AddressInput {
            name: address.name,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            region: address.region,
            postal_code: address.postal_code,
            country: address.country,
        },
        payment_token: request.payment.map(|p| p.token),
    };
    let outcome = if claim.resumed {
        state
            .orders
            .resume_placement(actor, claim.resource, command)
            .await?
    } else {
        state
            .orders
            .place_order_as(actor, claim.resource, command)
            .await?
    };
    order_answer(&outcome, StatusCode::CREATED, actor)
}

/// The answer of a placement or payment to keep and send, with its `Location`: 202 while the
/// charge is `processing` (with the client secret when the customer must still authenticate it),
/// else `settled` (201 for a placement, 200 for a payment).
pub fn order_answer(
    outcome: &PlacementOutcome,
    settled: StatusCode,
    viewer: Actor,
) -> Result<StoredResponse, ApiError> {
    let order = outcome.order();
    let mut json = OrderJson::new(order, viewer);
    let status = match outcome {
        PlacementOutcome::Processing(_) => StatusCode::ACCEPTED,
        PlacementOutcome::AwaitingAction(_, client_secret) => {
            json.payment = Some(PaymentActionJson {
                client_secret: client_secret.clone(),
            });
            StatusCode::ACCEPTED
        }
        PlacementOutcome::Paid(_)
        | PlacementOutcome::Unpaid(_)
        | PlacementOutcome::AsItStands(_) => settled,
    };
    let body = serde_json::to_string(&json)
        .map_err(|e| ApiError::Internal(format!("serialising an order: {e}")))?;
    Ok(StoredResponse {
        status: status.as_u16(),
        body,
        location: Some(format!("/api/orders/{}", order.id)),
    })
}
