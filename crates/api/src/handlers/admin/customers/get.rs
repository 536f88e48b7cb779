//! `GET /api/admin/customers/{id}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::CustomerJson;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::if_match::etag;
use crate::state::AppState;

/// One user with their order figures and an `ETag` (send it back in `If-Match` when changing
/// their status or role).
#[utoipa::path(get, path = "/api/admin/customers/{id}", tag = "admin", operation_id = "admin_get_customer",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = CustomerJson,
            headers(("ETag" = String, description = "Strong; changes with every change of the user (status, role, password)"))),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a number)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn get_customer(
    _admin: AdminUser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let customer = state.customers.get(id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(customer.version)))
        .json(CustomerJson::from(&customer)))
}
