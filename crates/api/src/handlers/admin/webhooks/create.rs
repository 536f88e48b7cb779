//! `POST /api/admin/webhooks`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use app::webhooks::endpoints::CreateWebhook;
use serde::Deserialize;

use super::{CreatedWebhookJson, location};
use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// A new endpoint.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Absolute `https://` URL (`http://` only with `WEBHOOK_ALLOW_HTTP=true`), at most 2,048
    /// characters, without user info; its host must not be, nor resolve to, a non-public
    /// address (unless `WEBHOOK_ALLOW_PRIVATE=true`).
    #[schema(max_length = 2048, example = "https://hooks.example.com/oms")]
    pub url: String,
    /// `["*"]` (every type), or one or more of `order.created`, `order.paid`,
    /// `order.status_changed`, `order.cancelled`, `order.shipped`, `order.refunded`.
    #[schema(example = json!(["order.paid", "order.cancelled"]))]
    pub event_types: Vec<String>,
    /// Up to 500 characters, one line; `null`, absent or `""`: none.
    #[serde(default)]
    #[schema(max_length = 500, example = "Warehouse")]
    pub description: Option<String>,
    /// Default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Registers an endpoint. Every event of a subscribed type that commits after this call is
/// delivered to it (at least once). The answer holds the signing `secret`, shown this once (and
/// again only by a rotation). A host name is resolved now: any non-public address among its
/// addresses refuses it; a name that does not resolve yet is accepted (every delivery checks the
/// address it connects to). Audited as `webhook.created` (never with the secret).
#[utoipa::path(post, path = "/api/admin/webhooks", tag = "admin", operation_id = "admin_create_webhook",
    security(("session_cookie" = []), ("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The endpoint, with its secret", body = CreatedWebhookJson,
            headers(("Location" = String, description = "`/api/admin/webhooks/{id}`"))),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `url` (not https, over 2,048 characters, user info), an unknown event type, a bad `description`, an unknown field; `webhook_url_not_allowed`: the host is, or resolves to, a loopback, private, link-local, shared, multicast, unspecified or other non-public address", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create_webhook(
    admin: AdminUser,
    meta: RequestMeta,
    body: ApiJson<CreateWebhookRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = CreateWebhook {
        url: body.url,
        event_types: body.event_types,
        description: body.description,
        enabled: body.enabled,
    };
    let audit = meta.audit(Some(admin.0.actor()));
    let created = state.webhooks.create(input, &audit).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location(created.endpoint.id)))
        .json(CreatedWebhookJson::from(&created)))
}
