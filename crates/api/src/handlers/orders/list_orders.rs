//! `GET /api/orders`.

use actix_web::{HttpResponse, web};
use domain::OrderStatus;
use serde::Deserialize;

use super::order_json::{OrderJson, OrderPage};
use crate::auth::AuthUser;
use crate::error::{ApiError, ProblemBody};
use crate::paging::parse_limit;
use crate::state::AppState;

/// The cursor kind of this list.
const CURSOR_KIND: &str = "my_orders";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `PENDING`, `PAID`, `FULFILLED` or `CANCELLED`.
    pub status: Option<String>,
}

/// Parses a `status` filter.
pub fn parse_status(value: Option<&str>) -> Result<Option<OrderStatus>, ApiError> {
    value
        .map(|s| {
            OrderStatus::parse(s.trim()).ok_or_else(|| {
                ApiError::invalid_field("status", "must be PENDING, PAID, FULFILLED or CANCELLED")
            })
        })
        .transpose()
}

/// The caller's own orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(ListOrdersQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of the caller's orders, newest first", body = OrderPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `limit`, `cursor` or `status`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_orders(
    user: AuthUser,
    query: web::Query<ListOrdersQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(query.limit.as_deref())?;
    let after = state
        .cursors
        .parse_order(CURSOR_KIND, query.cursor.as_deref())?;
    let status = parse_status(query.status.as_deref())?;
    let actor = user.actor();
    let page = state
        .orders
        .list_my_orders(actor, status, after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(OrderPage {
        items: page
            .items
            .iter()
            .map(|o| OrderJson::new(o, actor))
            .collect(),
        next_cursor: page.next.map(|c| state.cursors.order(CURSOR_KIND, &c)),
    }))
}
