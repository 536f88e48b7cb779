//! `GET /api/admin/products`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::products::list_products::parse_q;
use crate::handlers::products::product_json::{ProductJson, ProductPage};
use crate::paging::parse_limit;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminListProductsQuery {
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Case-insensitive substring of the name or sku (`%` and `_` match themselves).
    pub q: Option<String>,
    /// `true` lists archived products too (default `false`).
    #[param(value_type = Option<bool>)]
    pub include_archived: Option<String>,
}

/// `include_archived`: `true` or `false` (absent or empty: `false`).
fn parse_include_archived(value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::trim) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid_field(
            "include_archived",
            "must be true or false",
        )),
    }
}

/// Products by id ascending, with `archived`; archived ones only with `include_archived=true`.
#[utoipa::path(get, path = "/api/admin/products", tag = "admin", operation_id = "admin_list_products", params(AdminListProductsQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of products, by id ascending", body = ProductPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `limit`, `cursor`, `q` or `include_archived`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_products(
    _admin: AdminUser,
    query: web::Query<AdminListProductsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = parse_limit(query.limit.as_deref())?;
    let after = state.cursors.parse_product(query.cursor.as_deref())?;
    let q = parse_q(query.q)?;
    let include_archived = parse_include_archived(query.include_archived.as_deref())?;
    let page = state
        .catalogue
        .list_products(q, include_archived, after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(ProductPage {
        items: page.items.iter().map(ProductJson::admin).collect(),
        next_cursor: page.next.map(|id| state.cursors.product(id)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_archived_is_a_boolean() {
        assert!(!parse_include_archived(None).expect("absent"));
        assert!(!parse_include_archived(Some("")).expect("empty"));
        assert!(!parse_include_archived(Some("false")).expect("false"));
        assert!(parse_include_archived(Some("true")).expect("true"));
        for bad in ["1", "yes", "TRUE!", "x"] {
            assert!(parse_include_archived(Some(bad)).is_err(), "{bad}");
        }
    }
}
