//! `GET /api/products/{id}`.

use actix_web::{HttpResponse, web};

use super::product_json::ProductJson;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// One active product.
#[utoipa::path(get, path = "/api/products/{id}", tag = "products",
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductJson),
        (status = 404, description = "`not_found` (also for archived products and ids that cannot exist)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn get_product(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let product = state.catalogue.get_product(id.into_inner(), false).await?;
    Ok(HttpResponse::Ok().json(ProductJson::public(&product)))
}
