//! `PATCH /api/admin/webhooks/{id}`.

use actix_web::{HttpResponse, web};
use app::webhooks::endpoints::WebhookPatch;
use serde::Deserialize;
use uuid::Uuid;

use super::WebhookJson;
use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, FieldProblem, ProblemBody};
use crate::handlers::admin::products::update::present;
use crate::state::AppState;

/// A partial change: only the fields sent change. `null` is refused (422), except for
/// `description`, which `null` (or `""`) clears.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchRequest {
    /// As at creation (checked again, the address too).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub url: Option<Option<String>>,
    /// `["*"]` or the types.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    /// Up to 500 characters; `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = true, max_length = 500)]
    pub description: Option<Option<String>>,
    /// `true` enables (and clears `disabled_reason`), `false` disables.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub enabled: Option<Option<bool>>,
}

impl WebhookPatchRequest {
    /// The patch; a `null` where it means nothing → 422 naming each field.
    pub fn into_patch(self) -> Result<WebhookPatch, ApiError> {
        let mut errors = Vec::new();
        fn not_null<T>(
            field: &str,
            value: Option<Option<T>>,
            errors: &mut Vec<FieldProblem>,
        ) -> Option<T> {
            match value {
                Some(None) => {
                    errors.push(FieldProblem::new(field, "must not be null"));
                    None
                }
                Some(Some(v)) => Some(v),
                None => None,
            }
        }
        let patch = WebhookPatch {
            url: not_null("url", self.url, &mut errors),
            event_types: not_null("event_types", self.event_types, &mut errors),
            description: self.description,
            enabled: not_null("enabled", self.enabled, &mut errors),
        };
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Changes the endpoint. Audited as `webhook.updated` with the fields that changed; sending the
/// values it has changes nothing (no audit entry, same `updated_at`). Enabling clears
/// `disabled_reason` and the failure history; the deliveries that failed meanwhile stay `failed`
/// (retry them one by one).
#[utoipa::path(patch, path = "/api/admin/webhooks/{id}", tag = "admin", operation_id = "admin_update_webhook",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Endpoint id")),
    request_body = WebhookPatchRequest,
    responses(
        (status = 200, description = "The endpoint after the change", body = WebhookJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad field, `null`, an unknown field; `webhook_url_not_allowed`: the new URL's host is, or resolves to, a non-public address", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update_webhook(
    admin: AdminUser,
    id: web::Path<Uuid>,
    meta: RequestMeta,
    body: ApiJson<WebhookPatchRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner().into_patch()?;
    let audit = meta.audit(Some(admin.0.actor()));
    let endpoint = state
        .webhooks
        .update(id.into_inner(), patch, &audit)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookJson::from(&endpoint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<WebhookPatch, ApiError> {
        serde_json::from_str::<WebhookPatchRequest>(json)
            .map_err(|e| ApiError::invalid_field("body", e.to_string()))?
            .into_patch()
    }

    fn fields(result: Result<WebhookPatch, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Problem(p)) => p.errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn fields_absent_null_and_unknown() {
        assert_eq!(parse("{}").expect("empty"), WebhookPatch::default());
        assert_eq!(
            parse(r#"{"description": null, "enabled": true, "event_types": ["*"]}"#)
                .expect("valid"),
            WebhookPatch {
                url: None,
                event_types: Some(vec!["*".into()]),
                description: Some(None),
                enabled: Some(true),
            }
        );
        assert_eq!(
            fields(parse(
                r#"{"url": null, "event_types": null, "enabled": null}"#
            )),
            ["url", "event_types", "enabled"]
        );
        assert_eq!(fields(parse(r#"{"secret": "whsec_x"}"#)), ["body"]);
    }
}
