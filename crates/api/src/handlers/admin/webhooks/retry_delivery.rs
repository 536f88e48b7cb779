//! `POST /api/admin/webhooks/{id}/deliveries/{delivery_id}/retry`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::DeliveryJson;
use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Attempts the delivery again now: it becomes `pending`, due now (a `failed` or `succeeded` one
/// too), its attempts counted on; an attempt already in flight is not doubled. Audited as
/// `webhook.redelivered` (target: the delivery). No body; the answer is the delivery.
#[utoipa::path(post, path = "/api/admin/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "admin", operation_id = "admin_retry_webhook_delivery",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "Endpoint id"),
        ("delivery_id" = String, Path, format = Uuid, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Due now; the delivery, `pending`", body = DeliveryJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint, or no such delivery of it (also ids that are not UUIDs)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn retry_delivery(
    admin: AdminUser,
    path: web::Path<(Uuid, Uuid)>,
    meta: RequestMeta,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    let audit = meta.audit(Some(admin.0.actor()));
    let delivery = state
        .webhooks
        .retry_delivery(id, delivery_id, &audit)
        .await?;
    Ok(HttpResponse::Accepted().json(DeliveryJson::from(&delivery)))
}
