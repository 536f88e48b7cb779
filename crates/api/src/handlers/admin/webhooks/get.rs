//! `GET /api/admin/webhooks/{id}`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::WebhookJson;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// One endpoint (never its secret).
#[utoipa::path(get, path = "/api/admin/webhooks/{id}", tag = "admin", operation_id = "admin_get_webhook",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn get_webhook(
    _admin: AdminUser,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = state.webhooks.get(id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(WebhookJson::from(&endpoint)))
}
