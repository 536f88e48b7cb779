//! `POST /api/admin/orders/{id}/refunds`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use app::refunds::{RefundCommand, RefundResult, parse_restock};
use domain::{RefundItem, ValidationErrors};
use ports::{Claim, StoredResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::if_match::if_match;
use crate::handlers::orders::idempotency;
use crate::handlers::orders::order_json::RefundJson;
use crate::state::AppState;

/// Either `items` and/or `shipping`, or `amount` alone.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestJson {
    /// 1 to 100 lines.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub items: Option<Vec<RefundLineRequest>>,
    /// Refund the shipping amount too (once per order).
    #[serde(default)]
    pub shipping: Option<bool>,
    /// A goodwill amount in cents, alone: at least 1, at most what remains captured.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
    /// 1 to 500 characters; shown to admins only.
    #[schema(min_length = 1, max_length = 500, example = "arrived broken")]
    pub reason: String,
}

/// Units of one product to refund.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRequest {
    #[schema(minimum = 1)]
    pub product_id: i64,
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
    /// `cancel` (open units: they will not ship and go back to stock), `return` (shipped units
    /// that came back: back to stock) or `no_restock` (shipped units that did not come back).
    #[schema(pattern = "^(cancel|return|no_restock)$", example = "return")]
    pub restock: String,
}

/// Refunds lines, the shipping or a goodwill amount of an order whose payment is captured or
/// partially refunded. The refund is reserved (its units and money held against every other
/// refund, under the order's lock), made at the provider outside any transaction, and settled
/// once: its units, stock and money move in one transaction with its event.
#[utoipa::path(post, path = "/api/admin/orders/{id}/refunds", tag = "admin", operation_id = "admin_refund_order",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The order's `ETag`: refuse (412) if it changed since"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for placing an order: the same key and body answer as the first time and refund nothing twice"),
    ),
    request_body = RefundRequestJson,
    responses(
        (status = 201, description = "Refunded (`succeeded`)", body = RefundJson),
        (status = 202, description = "The provider did not answer in time: `pending`, settled later by the reconciler", body = RefundJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`not_refundable`, `exceeds_refundable_quantity` (each offending line in `errors` with `product_id` and `refundable`; `shipping` when it was refunded already), `exceeds_captured_amount` (with `remaining`), `refund_failed` (the provider refused; `refund_id`), or `idempotency_in_progress`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the order changed since the `If-Match` ETag", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (neither items nor shipping nor amount, an amount with them, bad lines or restock, bad reason, unknown fields) or `idempotency_key_reused`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn refund_order(
    admin: AdminUser,
    meta: RequestMeta,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: ApiJson<RefundRequestJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let order_id = id.into_inner();
    let key = idempotency::key_of(&req)?;
    let hash = idempotency::canonical_hash(&body.document);
    let request = body.value;
    let viewer = admin.0.actor();
    let command = command(order_id, request)?;
    let expected_version = if_match(&req)
        .expected_version(|| async { Ok(state.orders.get_order(viewer, order_id).await?.version) })
        .await?;
    let command = RefundCommand {
        expected_version,
        ..command
    };
    let store = state.idempotency.clone();
    let scope = format!("admin.orders.refund:{order_id}");
    let audit = meta.audit(Some(viewer));
    let work = move |claim: Claim| async move {
        let result = match claim.resumed {
            true => match state.refunds.resume(claim.resource).await? {
                Some(result) => result,
                None => {
                    state
                        .refunds
                        .refund(viewer, claim.resource, command, &audit)
                        .await?
                }
            },
            false => {
                state
                    .refunds
                    .refund(viewer, claim.resource, command, &audit)
                    .await?
            }
        };
        answer(&result)
    };
    // The refund's id, kept with the key's claim: a retry after a crash settles that refund
    // (the provider's key too) rather than making another.
    idempotency::run(store, viewer.id, scope, key, hash, Uuid::now_v7(), work).await
}

/// The command, with the restock kinds parsed (an unknown one is a 422 naming its line).
fn command(order_id: Uuid, request: RefundRequestJson) -> Result<RefundCommand, ApiError> {
    let mut errors = ValidationErrors::new();
    let items = request.items.map(|lines| {
        lines
            .iter()
            .enumerate()
            .filter_map(|(i, line)| match parse_restock(line.restock.trim()) {
                Some(restock) => Some(RefundItem {
                    product_id: line.product_id,
                    quantity: line.quantity,
                    restock,
                }),
                None => {
                    errors.add(
                        format!("items[{i}].restock"),
                        "must be cancel, return or no_restock",
                    );
                    None
                }
            })
            .collect()
    });
    errors.into_result(())?;
    Ok(RefundCommand {
        order_id,
        items,
        shipping: request.shipping.unwrap_or(false),
        amount: request.amount,
        reason: request.reason,
        expected_version: None,
    })
}

fn answer(result: &RefundResult) -> Result<StoredResponse, ApiError> {
    let (status, refund) = match result {
        RefundResult::Succeeded { refund, .. } => (StatusCode::CREATED, refund),
        RefundResult::Pending { refund } => (StatusCode::ACCEPTED, refund),
    };
    let body = serde_json::to_string(&RefundJson::new(refund, true))
        .map_err(|e| ApiError::Internal(format!("serialising a refund: {e}")))?;
    Ok(StoredResponse {
        status: status.as_u16(),
        body,
        location: None,
    })
}
