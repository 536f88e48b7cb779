//! `GET /api/admin/webhooks/{id}/deliveries`.

use actix_web::{HttpResponse, web};
use ports::DeliveryStatus;
use serde::Deserialize;
use uuid::Uuid;

use super::{DeliveryJson, DeliveryPage};
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::paging::parse_limit;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `succeeded` or `failed` (empty: every status).
    #[param(value_type = Option<String>, example = "failed")]
    pub status: Option<String>,
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `status`: absent or empty → every status; else one of the three.
fn status(value: Option<&str>) -> Result<Option<DeliveryStatus>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DeliveryStatus::parse(&v.to_ascii_lowercase())
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_field("status", "must be pending, succeeded or failed")
            }),
    }
}

/// The endpoint's deliveries, newest first (by event id, descending; keyset pages), kept
/// `WEBHOOK_DELIVERY_RETENTION`.
#[utoipa::path(get, path = "/api/admin/webhooks/{id}/deliveries", tag = "admin", operation_id = "admin_list_webhook_deliveries",
    params(("id" = String, Path, format = Uuid, description = "Endpoint id"), DeliveriesQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = DeliveryPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `status`, `limit` or `cursor`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_deliveries(
    _admin: AdminUser,
    id: web::Path<Uuid>,
    query: web::Query<DeliveriesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let status = status(query.status.as_deref())?;
    let limit = parse_limit(query.limit.as_deref())?;
    let before = state
        .cursors
        .parse_webhook_delivery(query.cursor.as_deref())?;
    let page = state
        .webhooks
        .deliveries(id.into_inner(), status, before, limit)
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryPage {
        items: page.items.iter().map(DeliveryJson::from).collect(),
        next_cursor: page.next.map(|c| state.cursors.webhook_delivery(c)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status(None).expect("none"), None);
        assert_eq!(status(Some(" ")).expect("empty"), None);
        assert_eq!(
            status(Some("Failed")).expect("any case"),
            Some(DeliveryStatus::Failed)
        );
        assert!(status(Some("lost")).is_err());
    }
}
