//! `DELETE /api/admin/products/{id}`.

use actix_web::{HttpResponse, web};

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Archives the product: customers no longer see or order it, orders keep pointing at it.
/// Archiving an archived product is fine (204 again); `PATCH` with `"archived": false` undoes it.
#[utoipa::path(delete, path = "/api/admin/products/{id}", tag = "admin", operation_id = "admin_archive_product",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 204, description = "Archived (or already archived)"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a number)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn archive_product(
    admin: AdminUser,
    meta: RequestMeta,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let audit = meta.audit(Some(admin.0.actor()));
    state
        .catalogue
        .archive_product(id.into_inner(), &audit)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
