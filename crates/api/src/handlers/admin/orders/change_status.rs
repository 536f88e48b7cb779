//! `PATCH /api/admin/orders/{id}/status`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use app::admin_orders::ChangeStatusCommand;
use domain::OrderStatus;
use ports::Tracking;
use serde::Deserialize;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::if_match::if_match;
use crate::handlers::orders::order_json::{OrderJson, etag};
use crate::state::AppState;

/// The move to make.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatusRequest {
    /// `PAID` (payment collected offline), `FULFILLED` or `CANCELLED`.
    #[schema(
        pattern = "^(PENDING|PAID|FULFILLED|CANCELLED)$",
        example = "FULFILLED"
    )]
    pub status: String,
    /// Kept in the order's history; up to 1000 characters on one line.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// Only when the status becomes `FULFILLED`.
    #[serde(default)]
    pub tracking: Option<TrackingRequest>,
}

/// The shipment of a fulfilled order.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingRequest {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, example = "DHL")]
    pub carrier: String,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, example = "JD014600003828")]
    pub tracking_number: String,
}

/// Moves an order: `PENDING→PAID` (collected offline), `PENDING→CANCELLED`, `PAID→FULFILLED`,
/// `PAID→CANCELLED` (the charge is refunded). One conditional update: of two admins racing, one
/// wins and the other gets 409. Cancelling releases the stock once.
#[utoipa::path(patch, path = "/api/admin/orders/{id}/status", tag = "admin", operation_id = "admin_change_order_status",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The order's `ETag`: refuse (412) if it changed since"),
    ),
    request_body = ChangeStatusRequest,
    responses(
        (status = 200, description = "The order after the move", body = OrderJson,
            headers(("ETag" = String, description = "The order's new strong ETag"))),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`, with `from` and `to` members", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the order changed since the `If-Match` ETag", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: unknown status, bad note or tracking, tracking on a move other than to `FULFILLED`, unknown fields", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn change_status(
    admin: AdminUser,
    meta: RequestMeta,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: ApiJson<ChangeStatusRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let to = OrderStatus::parse(body.status.trim()).ok_or_else(|| {
        ApiError::invalid_field("status", "must be PENDING, PAID, FULFILLED or CANCELLED")
    })?;
    let viewer = admin.0.actor();
    let expected_version = if_match(&req)
        .expected_version(|| async { Ok(state.orders.get_order(viewer, id).await?.version) })
        .await?;
    let command = ChangeStatusCommand {
        order_id: id,
        to,
        note: body.note,
        tracking: body.tracking.map(|t| Tracking {
            carrier: t.carrier,
            tracking_number: t.tracking_number,
        }),
        expected_version,
    };
    let audit = meta.audit(Some(viewer));
    let order = state
        .admin_orders
        .change_status(viewer, command, &audit)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&order)))
        .json(OrderJson::new(&order, viewer)))
}
