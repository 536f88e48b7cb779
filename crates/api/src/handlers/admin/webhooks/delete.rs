//! `DELETE /api/admin/webhooks/{id}`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Deletes the endpoint and its deliveries (an attempt in flight may still arrive). Audited as
/// `webhook.deleted`.
#[utoipa::path(delete, path = "/api/admin/webhooks/{id}", tag = "admin", operation_id = "admin_delete_webhook",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID, and an endpoint deleted already)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn delete_webhook(
    admin: AdminUser,
    id: web::Path<Uuid>,
    meta: RequestMeta,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let audit = meta.audit(Some(admin.0.actor()));
    state.webhooks.delete(id.into_inner(), &audit).await?;
    Ok(HttpResponse::NoContent().finish())
}
