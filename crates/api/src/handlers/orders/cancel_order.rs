//! `POST /api/orders/{id}/cancel`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::order_json::{OrderJson, etag};
use crate::auth::AuthUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// The owner cancels their `PENDING` order (no charge in flight); its stock goes back.
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")),
    responses(
        (status = 200, description = "Cancelled", body = OrderJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition` with `from` and `to`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn cancel_order(
    user: AuthUser,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let order = state
        .orders
        .cancel_own_order(user.actor(), id.into_inner())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&order)))
        .json(OrderJson::new(&order, user.actor())))
}
