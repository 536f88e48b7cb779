//! `POST /api/admin/orders/{id}/notes`.

use actix_web::{HttpResponse, web};
use ports::OrderNote;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::orders::order_json::ActorJson;
use crate::handlers::timestamps;
use crate::state::AppState;

/// An internal note.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// 1 to 2,000 characters once trimmed; line breaks allowed, no other control character.
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "Customer called: leave it with the neighbour."
    )]
    pub note: String,
}

/// A stored note.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoteJson {
    /// From the order history's id space (its entry there has this id).
    pub id: i64,
    pub note: String,
    pub actor: ActorJson,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
}

impl From<&OrderNote> for NoteJson {
    fn from(note: &OrderNote) -> Self {
        NoteJson {
            id: note.id,
            note: note.note.clone(),
            actor: ActorJson::from(note.actor),
            occurred_at: note.occurred_at,
        }
    }
}

/// Adds an internal note to an order. Notes show in the order's history (`type` `note`) to
/// admins only; they are never shown to the customer and never sent over the real-time
/// channel. Recorded in the audit log (`order.note_added`) in the same transaction.
#[utoipa::path(post, path = "/api/admin/orders/{id}/notes", tag = "admin", operation_id = "admin_add_order_note",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")),
    request_body = NoteRequest,
    responses(
        (status = 201, description = "The note", body = NoteJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such order (also an id that is not a UUID)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `note` empty, over 2,000 characters or with control characters other than line breaks; an unknown field", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn add_note(
    admin: AdminUser,
    meta: RequestMeta,
    id: web::Path<Uuid>,
    body: ApiJson<NoteRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = admin.0.actor();
    let note = state
        .admin_orders
        .add_note(
            actor,
            id.into_inner(),
            &body.into_inner().note,
            &meta.audit(Some(actor)),
        )
        .await?;
    Ok(HttpResponse::Created().json(NoteJson::from(&note)))
}
