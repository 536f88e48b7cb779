//! `POST /api/admin/orders/{id}/shipments` and `GET /api/admin/orders/{id}/shipments/{shipment_id}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use app::admin_orders::ShipCommand;
use ports::{Actor, AuditContext, Claim, StoredResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::if_match::if_match;
use crate::handlers::orders::idempotency;
use crate::handlers::orders::order_json::ShipmentJson;
use crate::state::AppState;

/// Units to ship; without `items`, every open unit.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    /// 1 to 100 lines; leave it out to ship every open unit.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub items: Option<Vec<ShipLineRequest>>,
    /// With `tracking_number`; 1 to 100 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, example = "DHL")]
    pub carrier: Option<String>,
    /// With `carrier`; 1 to 100 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, example = "JD014600003828")]
    pub tracking_number: Option<String>,
    /// Kept in the order's history; up to 1000 characters on one line.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Units of one product to ship.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipLineRequest {
    #[schema(minimum = 1)]
    pub product_id: i64,
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// Ships units of a `PAID` order: the order becomes `FULFILLED` (event `order.status_changed`)
/// when no open unit is left, else it stays `PAID` (event `order.shipped`). One transaction
/// under the order's row lock: two admins shipping the same units never ship more than is open.
#[utoipa::path(post, path = "/api/admin/orders/{id}/shipments", tag = "admin", operation_id = "admin_ship_order",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The order's `ETag`: refuse (412) if it changed since"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for placing an order: the same key and body answer as the first time and ship nothing twice"),
    ),
    request_body = ShipRequest,
    responses(
        (status = 201, description = "The shipment; `Location` names it", body = ShipmentJson,
            headers(("Location" = String, description = "/api/admin/orders/{id}/shipments/{shipment_id}"))),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition` (the order is not `PAID`; `from`, and `to` = `FULFILLED`), `exceeds_open_quantity` (each offending line in `errors` with `product_id` and `open`, 0 for a product not in the order), or `idempotency_in_progress`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the order changed since the `If-Match` ETag", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (bad lines, `carrier` without `tracking_number` or the reverse, bad note, unknown fields) or `idempotency_key_reused`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn ship_order(
    admin: AdminUser,
    meta: RequestMeta,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: ApiJson<ShipRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let order_id = id.into_inner();
    let key = idempotency::key_of(&req)?;
    let hash = idempotency::canonical_hash(&body.document);
    let request = body.value;
    let viewer = admin.0.actor();
    let expected_version = if_match(&req)
        .expected_version(|| async { Ok(state.orders.get_order(viewer, order_id).await?.version) })
        .await?;
    let command = ShipCommand {
        order_id,
        items: request
            .items
            .map(|lines| lines.iter().map(|l| (l.product_id, l.quantity)).collect()),
        carrier: request.carrier,
        tracking_number: request.tracking_number,
        note: request.note,
        expected_version,
    };
    let store = state.idempotency.clone();
    let scope = format!("admin.orders.ship:{order_id}");
    let audit = meta.audit(Some(viewer));
    let work =
        move |claim: Claim| async move { ship(&state, viewer, claim, command, &audit).await };
    // The new shipment's id, kept with the key's claim: a retry that takes the key over after a
    // crash finds that shipment rather than making another.
    idempotency::run(store, viewer.id, scope, key, hash, Uuid::now_v7(), work).await
}

async fn ship(
    state: &AppState,
    viewer: Actor,
    claim: Claim,
    command: ShipCommand,
    audit: &AuditContext,
) -> Result<StoredResponse, ApiError> {
    let order_id = command.order_id;
    if claim.resumed
        && let Some(made) = state
            .admin_orders
            .shipment(order_id, claim.resource)
            .await?
    {
        return shipment_answer(&made);
    }
    let (_, made) = state
        .admin_orders
        .ship(viewer, claim.resource, command, audit)
        .await?;
    shipment_answer(&made)
}

fn shipment_answer(shipment: &ports::Shipment) -> Result<StoredResponse, ApiError> {
    let body = serde_json::to_string(&ShipmentJson::new(shipment))
        .map_err(|e| ApiError::Internal(format!("serialising a shipment: {e}")))?;
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body,
        location: Some(format!(
            "/api/admin/orders/{}/shipments/{}",
            shipment.order_id, shipment.id
        )),
    })
}

/// One shipment of an order.
#[utoipa::path(get, path = "/api/admin/orders/{id}/shipments/{shipment_id}", tag = "admin", operation_id = "admin_get_shipment",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "Order id"),
        ("shipment_id" = String, Path, format = Uuid, description = "Shipment id"),
    ),
    responses(
        (status = 200, description = "The shipment", body = ShipmentJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such shipment of this order (also ids that are not UUIDs)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn get_shipment(
    _admin: AdminUser,
    path: web::Path<(Uuid, Uuid)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (order_id, shipment_id) = path.into_inner();
    match state.admin_orders.shipment(order_id, shipment_id).await? {
        Some(shipment) => Ok(HttpResponse::Ok().json(ShipmentJson::new(&shipment))),
        None => Err(ApiError::not_found()),
    }
}
