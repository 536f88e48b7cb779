//! `POST /api/admin/webhooks/{id}/rotate-secret`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::SecretJson;
use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Gives the endpoint a new signing secret, shown this once. The old one keeps signing beside it
/// for 24 hours (two signatures in `webhook-signature`), so the receiver can switch without
/// losing a delivery; a second rotation within that time drops the oldest. Audited as
/// `webhook.secret_rotated` (without either secret). No body.
#[utoipa::path(post, path = "/api/admin/webhooks/{id}/rotate-secret", tag = "admin", operation_id = "admin_rotate_webhook_secret",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Endpoint id")),
    responses(
        (status = 200, description = "The new secret", body = SecretJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    admin: AdminUser,
    id: web::Path<Uuid>,
    meta: RequestMeta,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let audit = meta.audit(Some(admin.0.actor()));
    let secret = state
        .webhooks
        .rotate_secret(id.into_inner(), &audit)
        .await?;
    Ok(HttpResponse::Ok().json(SecretJson {
        secret: secret.expose(),
    }))
}
