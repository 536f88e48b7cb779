//! `POST /api/admin/webhooks/{id}/test`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::DeliveryJson;
use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Queues one `webhook.test` event (`{"id", "type": "webhook.test", "webhook_id",
/// "occurred_at"}`, its `id` taken from the event ids) to this endpoint only, whatever its
/// `event_types`; it is listed in the endpoint's deliveries. A disabled endpoint gets it once it is
/// enabled again. Audited as `webhook.test_sent`. No body; the answer is the queued delivery.
#[utoipa::path(post, path = "/api/admin/webhooks/{id}/test", tag = "admin", operation_id = "admin_test_webhook",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Endpoint id")),
    responses(
        (status = 202, description = "Queued; the delivery, `pending`", body = DeliveryJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn send_test(
    admin: AdminUser,
    id: web::Path<Uuid>,
    meta: RequestMeta,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let audit = meta.audit(Some(admin.0.actor()));
    let delivery = state.webhooks.send_test(id.into_inner(), &audit).await?;
    Ok(HttpResponse::Accepted().json(DeliveryJson::from(&delivery)))
}
