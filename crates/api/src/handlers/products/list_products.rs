//! `GET /api/products`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::product_json::{ProductJson, ProductPage};
use crate::error::{ApiError, ProblemBody};
use crate::paging::parse_limit;
use crate::state::AppState;

/// The longest search text accepted.
pub const Q_MAX: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListProductsQuery {
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Case-insensitive substring of the name or sku (`%` and `_` match themselves).
    pub q: Option<String>,
}

/// Active products, by id ascending.
#[utoipa::path(get, path = "/api/products", tag = "products", params(ListProductsQuery),
    responses(
        (status = 200, description = "A page of active products, by id ascending", body = ProductPage),
        (status = 422, description = "`validation_failed`: bad `limit`, `cursor` or `q`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_products(
    state: web::Data<AppState>,
    query: web::Query<ListProductsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = parse_limit(query.limit.as_deref())?;
    let after = state.cursors.parse_product(query.cursor.as_deref())?;
    let q = parse_q(query.q)?;
    let page = state
        .catalogue
        .list_products(q, false, after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(ProductPage {
        items: page.items.iter().map(ProductJson::public).collect(),
        next_cursor: page.next.map(|id| state.cursors.product(id)),
    }))
}

/// The search text: at most 200 characters, no control characters.
pub fn parse_q(q: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(q) = q else { return Ok(None) };
    if q.chars().count() > Q_MAX || q.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "q",
            format!("must be at most {Q_MAX} characters without control characters"),
        ));
    }
    Ok(Some(q))
}
