//! `GET /api/orders/{id}/history`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::order_json::{HistoryEntryJson, HistoryJson};
use crate::auth::AuthUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// The order's events, oldest first (not paginated). An admin also sees the order's internal
/// notes (`type` `note`, `from_status` and `to_status` `null`), merged in by id; a customer never
/// does.
#[utoipa::path(get, path = "/api/orders/{id}/history", tag = "orders",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")),
    responses(
        (status = 200, description = "The order's events (and, for an admin, its notes), oldest first", body = HistoryJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn order_history(
    user: AuthUser,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entries = state
        .orders
        .order_history(user.actor(), id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(HistoryJson {
        items: entries.iter().map(HistoryEntryJson::from).collect(),
    }))
}
