//! `GET /api/admin/orders`.

use actix_web::{HttpResponse, web};

use super::filters;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::query::QueryPairs;
use crate::handlers::orders::order_json::{OrderJson, OrderPage};
use crate::paging::parse_limit;
use crate::state::AppState;

/// The cursor kind of this list (its cursors are refused by other lists).
pub const CURSOR_KIND: &str = "admin_orders";

/// Every order matching all the filters given, newest first (`created_at`, then id, descending);
/// keyset-paginated, so equal timestamps neither repeat nor skip an order.
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", operation_id = "admin_list_orders",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("status" = Option<Vec<String>>, Query, explode = true,
            description = "`PENDING`, `PAID`, `FULFILLED` or `CANCELLED`; repeat for any of several"),
        ("user_id" = Option<i64>, Query, description = "The orders of this user"),
        ("email" = Option<String>, Query, description = "The orders of the user with this email (exact, case-insensitive)"),
        ("created_from" = Option<String>, Query, format = DateTime, description = "RFC 3339; created at or after (inclusive)"),
        ("created_to" = Option<String>, Query, format = DateTime, description = "RFC 3339; created before (exclusive)"),
        ("min_total" = Option<i64>, Query, minimum = 0, description = "`total_amount` at least this (cents, inclusive)"),
        ("max_total" = Option<i64>, Query, minimum = 0, description = "`total_amount` at most this (cents, inclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of orders, newest first; an empty value of a parameter counts as not given", body = OrderPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad filter, `limit` or `cursor`, named in `errors`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_orders(
    admin: AdminUser,
    query: web::Query<QueryPairs>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = filters::parse(&query)?;
    let limit = parse_limit(query.limit.as_deref())?;
    let after = state
        .cursors
        .parse_order(CURSOR_KIND, query.cursor.as_deref())?;
    let page = state
        .admin_orders
        .list_orders(&query.filter, after, limit)
        .await?;
    let viewer = admin.0.actor();
    Ok(HttpResponse::Ok().json(OrderPage {
        items: page
            .items
            .iter()
            .map(|o| OrderJson::new(o, viewer))
            .collect(),
        next_cursor: page.next.map(|c| state.cursors.order(CURSOR_KIND, &c)),
    }))
}
