//! `GET /api/admin/webhooks`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{WebhookJson, WebhookPage};
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::paging::parse_limit;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListWebhooksQuery {
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The endpoints, newest first (`created_at`, then id, descending; keyset pages), without their
/// secrets.
#[utoipa::path(get, path = "/api/admin/webhooks", tag = "admin", operation_id = "admin_list_webhooks",
    params(ListWebhooksQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of endpoints, newest first", body = WebhookPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `limit` or `cursor`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_webhooks(
    _admin: AdminUser,
    query: web::Query<ListWebhooksQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(query.limit.as_deref())?;
    let after = state.cursors.parse_webhook(query.cursor.as_deref())?;
    let page = state.webhooks.list(after, limit).await?;
    Ok(HttpResponse::Ok().json(WebhookPage {
        items: page.items.iter().map(WebhookJson::from).collect(),
        next_cursor: page.next.map(|c| state.cursors.webhook(&c)),
    }))
}
