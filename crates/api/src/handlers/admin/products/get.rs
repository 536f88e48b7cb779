//! `GET /api/admin/products/{id}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::if_match::etag;
use crate::handlers::products::product_json::ProductJson;
use crate::state::AppState;

/// One product, archived or not, with its `ETag` (send it back in `If-Match` when updating).
#[utoipa::path(get, path = "/api/admin/products/{id}", tag = "admin", operation_id = "admin_get_product",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product, with `archived`", body = ProductJson,
            headers(("ETag" = String, description = "Strong; changes with every change of the product, stock included"))),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a number)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn get_product(
    _admin: AdminUser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let product = state.catalogue.get_product(id.into_inner(), true).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(product.version)))
        .json(ProductJson::admin(&product)))
}
