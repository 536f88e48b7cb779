//! `/api/admin/webhooks`: the endpoints other systems are called at, their secrets, the test
//! event, and each endpoint's deliveries log with redelivery (API.md, "Webhooks and the event
//! feed"). The delivery itself is the worker's (`app::webhooks::worker`).

pub mod create;
pub mod delete;
pub mod deliveries;
pub mod get;
pub mod list;
pub mod retry_delivery;
pub mod rotate_secret;
pub mod send_test;
pub mod update;

use actix_web::web;
use app::webhooks::endpoints::CreatedWebhook;
use ports::{Delivery, WebhookEndpoint};
use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::handlers::{resource, timestamps};

/// The webhook routes' part of the OpenAPI document (merged into `crate::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create::create_webhook,
        list::list_webhooks,
        get::get_webhook,
        update::update_webhook,
        delete::delete_webhook,
        rotate_secret::rotate_secret,
        send_test::send_test,
        deliveries::list_deliveries,
        retry_delivery::retry_delivery,
    ),
    components(schemas(
        WebhookJson,
        CreatedWebhookJson,
        WebhookPage,
        SecretJson,
        DeliveryJson,
        DeliveryPage,
        create::CreateWebhookRequest,
        update::WebhookPatchRequest,
    ))
)]
pub struct WebhooksApiDoc;

/// Mounts the routes inside the guarded `/api/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/webhooks")
            .get(list::list_webhooks)
            .post(create::create_webhook),
    )
    .service(
        resource("/webhooks/{id}")
            .get(get::get_webhook)
            .patch(update::update_webhook)
            .delete(delete::delete_webhook),
    )
    .service(resource("/webhooks/{id}/rotate-secret").post(rotate_secret::rotate_secret))
    .service(resource("/webhooks/{id}/test").post(send_test::send_test))
    .service(resource("/webhooks/{id}/deliveries").get(deliveries::list_deliveries))
    .service(
        resource("/webhooks/{id}/deliveries/{delivery_id}/retry")
            .post(retry_delivery::retry_delivery),
    );
}

/// The path of an endpoint (`Location` of a new one).
pub fn location(id: Uuid) -> String {
    format!("/api/admin/webhooks/{id}")
}

/// An endpoint as admins see it (never its secret): `{"id", "url", "event_types", "description",
/// "enabled", "disabled_reason", "created_at", "updated_at"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookJson {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// The URL as normalised and called (lower-case host, punycode, percent-encoding).
    #[schema(example = "https://hooks.example.com/oms")]
    pub url: String,
    /// `["*"]` (every type) or the types, sorted.
    #[schema(example = json!(["order.paid", "order.cancelled"]))]
    pub event_types: Vec<&'static str>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the server disabled it (a `410 Gone`, or failing for `WEBHOOK_DISABLE_AFTER`); `null`
    /// when enabled or disabled by an admin.
    pub disabled_reason: Option<String>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<&WebhookEndpoint> for WebhookJson {
    fn from(e: &WebhookEndpoint) -> WebhookJson {
        WebhookJson {
            id: e.id,
            url: e.url.clone(),
            event_types: e.event_types.names(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new endpoint: [`WebhookJson`]'s fields and its `secret`, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhookJson {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<&'static str>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// `whsec_` + base64 of 24 random bytes: the signing key (Standard Webhooks). Shown only
    /// here and in `rotate-secret`'s answer.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

impl From<&CreatedWebhook> for CreatedWebhookJson {
    fn from(created: &CreatedWebhook) -> CreatedWebhookJson {
        let e = WebhookJson::from(&created.endpoint);
        CreatedWebhookJson {
            id: e.id,
            url: e.url,
            event_types: e.event_types,
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: created.secret.expose(),
        }
    }
}

/// A page of endpoints, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookPage {
    pub items: Vec<WebhookJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `{"secret"}`: the new secret after a rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretJson {
    /// `whsec_` + base64 of 24 random bytes.
    pub secret: String,
}

/// One event's delivery to one endpoint, all its attempts: `{"id", "event_id", "event_type",
/// "status", "attempts", "last_attempt_at", "next_attempt_at", "last_response_status",
/// "last_error"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryJson {
    /// The same for every attempt (it is the `webhook-id` header).
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// The event's id (as in the real-time events and the event feed).
    pub event_id: i64,
    #[schema(example = "order.paid")]
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    #[schema(example = "pending")]
    pub status: &'static str,
    /// Attempts made so far.
    pub attempts: i32,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// When the next attempt is due (`pending` only).
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The HTTP status of the last answer (`null` without one: not tried, or no answer).
    pub last_response_status: Option<i32>,
    /// What went wrong at the last attempt.
    pub last_error: Option<String>,
}

fn optional_timestamp<S: Serializer>(
    value: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(t) => timestamps::serialize(t, s),
        None => s.serialize_none(),
    }
}

impl From<&Delivery> for DeliveryJson {
    fn from(d: &Delivery) -> DeliveryJson {
        DeliveryJson {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type.clone(),
            status: d.status.as_str(),
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            last_response_status: d.last_response_status,
            last_error: d.last_error.clone(),
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use domain::webhook::{EventFilter, WebhookSecret};
    use ports::DeliveryStatus;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn every_webhook_route_is_documented_with_its_refusals() {
        let doc = serde_json::to_value(crate::openapi::document()).expect("json");
        let body = &["400", "401", "403", "404", "413", "415", "422", "429"][..];
        let routes = [
            (
                "/api/admin/webhooks",
                "post",
                &["201", "400", "401", "403", "413", "415", "422", "429"][..],
            ),
            (
                "/api/admin/webhooks",
                "get",
                &["200", "401", "403", "422", "429"],
            ),
            (
                "/api/admin/webhooks/{id}",
                "get",
                &["200", "401", "403", "404", "429"],
            ),
            ("/api/admin/webhooks/{id}", "patch", body),
            (
                "/api/admin/webhooks/{id}",
                "delete",
                &["204", "401", "403", "404", "429"],
            ),
            (
                "/api/admin/webhooks/{id}/rotate-secret",
                "post",
                &["200", "401", "403", "404", "429"],
            ),
            (
                "/api/admin/webhooks/{id}/test",
                "post",
                &["202", "401", "403", "404", "429"],
            ),
            (
                "/api/admin/webhooks/{id}/deliveries",
                "get",
                &["200", "401", "403", "404", "422", "429"],
            ),
            (
                "/api/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
                "post",
                &["202", "401", "403", "404", "429"],
            ),
        ];
        for (path, method, statuses) in routes {
            let responses = &doc["paths"][path][method]["responses"];
            assert!(responses.is_object(), "{method} {path} is not documented");
            for status in statuses {
                assert!(
                    responses.get(*status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
        for (path, method) in [
            ("/api/admin/webhooks", "post"),
            ("/api/admin/webhooks/{id}", "patch"),
        ] {
            let text = doc["paths"][path][method].to_string();
            assert!(text.contains("webhook_url_not_allowed"), "{method} {path}");
        }
        for schema in [
            "WebhookJson",
            "CreatedWebhookJson",
            "WebhookPage",
            "SecretJson",
            "DeliveryJson",
            "DeliveryPage",
            "CreateWebhookRequest",
            "WebhookPatchRequest",
        ] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
        let shown = doc["components"]["schemas"]["WebhookJson"]["properties"]
            .as_object()
            .expect("properties");
        assert!(!shown.contains_key("secret"));
    }

    fn endpoint() -> WebhookEndpoint {
        WebhookEndpoint {
            id: Uuid::nil(),
            url: "https://hooks.example.com/oms".into(),
            event_types: EventFilter::parse(&["order.paid"]).expect("types"),
            description: None,
            enabled: false,
            disabled_reason: Some("the endpoint answered 410 Gone".into()),
            created_at: datetime!(2026-12-01 09:00 UTC),
            updated_at: datetime!(2026-12-02 09:00:00.5 UTC),
        }
    }

    #[test]
    fn the_json_has_exactly_the_contracts_fields() {
        let json = serde_json::to_value(WebhookJson::from(&endpoint())).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000000",
                "url": "https://hooks.example.com/oms",
                "event_types": ["order.paid"],
                "description": null,
                "enabled": false,
                "disabled_reason": "the endpoint answered 410 Gone",
                "created_at": "2026-12-01T09:00:00Z",
                "updated_at": "2026-12-02T09:00:00.5Z",
            })
        );
        let created = CreatedWebhook {
            endpoint: endpoint(),
            secret: WebhookSecret::from_random([7; 24]),
        };
        let json = serde_json::to_value(CreatedWebhookJson::from(&created)).expect("json");
        let mut expected = serde_json::to_value(WebhookJson::from(&endpoint())).expect("json");
        expected["secret"] = WebhookSecret::from_random([7; 24]).expose().into();
        assert_eq!(json, expected);

        let delivery = Delivery {
            id: Uuid::nil(),
            event_id: 42,
            event_type: "webhook.test".into(),
            status: DeliveryStatus::Failed,
            attempts: 8,
            last_attempt_at: Some(datetime!(2026-12-02 10:00 UTC)),
            next_attempt_at: None,
            last_response_status: Some(500),
            last_error: Some("HTTP 500".into()),
        };
        assert_eq!(
            serde_json::to_value(DeliveryJson::from(&delivery)).expect("json"),
            serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000000",
                "event_id": 42, "event_type": "webhook.test", "status": "failed", "attempts": 8,
                "last_attempt_at": "2026-12-02T10:00:00Z", "next_attempt_at": null,
                "last_response_status": 500, "last_error": "HTTP 500",
            })
        );
    }
}
