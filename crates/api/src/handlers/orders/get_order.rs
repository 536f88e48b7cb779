//! `GET /api/orders/{id}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::order_json::{OrderJson, etag};
use crate::auth::AuthUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// The order, for its owner or an admin, with a strong `ETag`. Anyone else: 404.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderJson,
            headers(("ETag" = String, description = "Strong; changes with every change of the order"))),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also another user's order)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn get_order(
    user: AuthUser,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let order = state
        .orders
        .get_order(user.actor(), id.into_inner())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&order)))
        .json(OrderJson::new(&order, user.actor())))
}
