//! `GET /api/admin/audit`: the audit log, newest first.
//!
//! Filters (each given must match; an empty value counts as not given; unknown parameters are
//! ignored, as on every list; every bad value is named in one 422 `validation_failed`):
//! - `action`: e.g. `product.updated` (`<word>.<word>` of `a-z` and `_`);
//! - `actor_id`: a user id (an integer of 1 or more);
//! - `target_type`: `product`, `order`, `user`, ... (`a-z` and `_`);
//! - `target_id`: with `target_type` `product` or `user` an integer of 1 or more, with `order` a
//!   UUID (any case: compared in its canonical form); otherwise 1 to 100 characters;
//! - `created_from` (inclusive) and `created_to` (exclusive): RFC 3339 timestamps with an offset;
//! - `limit` (1 to 200, default 50) and `cursor` (the previous page's `next_cursor`).

use actix_web::{HttpResponse, web};
use ports::audit::target;
use ports::{AuditQuery, StoredAuditEntry};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::AdminUser;
use crate::error::{ApiError, FieldProblem, ProblemBody};
use crate::handlers::admin::query::{QueryPairs, read_pairs_into, timestamp, validated};
use crate::handlers::orders::order_json::ActorJson;
use crate::handlers::timestamps;
use crate::paging::parse_limit;
use crate::state::AppState;

/// The longest `action` filter.
pub const ACTION_MAX: usize = 64;
/// The longest `target_type` filter.
pub const TARGET_TYPE_MAX: usize = 32;
/// The longest `target_id` filter of a kind without a known id format.
pub const TARGET_ID_MAX: usize = 100;

/// One entry of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntryJson {
    pub id: i64,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    /// `<target>.<verb>`, e.g. `product.updated`, `order.status_changed`, `auth.login_failed`.
    #[schema(example = "product.updated")]
    pub action: String,
    /// `null` for someone not signed in (a failed sign-in).
    pub actor: Option<ActorJson>,
    /// What the entry is about; `null` when it is about nothing in particular.
    pub target: Option<AuditTargetJson>,
    /// `{"field": [old, new]}`: the fields the write changed (a created record's fields as
    /// `[null, value]`); `null` when nothing is compared.
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<serde_json::Value>>>)]
    pub changes: Option<Value>,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
    /// The client's address, as the rate limits see it (`TRUSTED_PROXIES` applied).
    pub client_ip: Option<String>,
}

/// `{"type", "id"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditTargetJson {
    /// `product`, `order`, `user`, ...
    #[serde(rename = "type")]
    #[schema(example = "product")]
    pub kind: String,
    pub id: AuditTargetId,
}

/// A number for products and users, a string (a UUID) for orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AuditTargetId {
    Number(i64),
    Text(String),
}

/// Whether targets of `kind` have integer ids.
fn numeric_ids(kind: &str) -> bool {
    matches!(kind, target::PRODUCT | target::USER)
}

impl From<&StoredAuditEntry> for AuditEntryJson {
    fn from(stored: &StoredAuditEntry) -> Self {
        let entry = &stored.entry;
        AuditEntryJson {
            id: stored.id,
            occurred_at: stored.occurred_at,
            action: entry.action.clone(),
            actor: entry.actor.map(ActorJson::from),
            target: entry.target.as_ref().map(|t| AuditTargetJson {
                kind: t.kind.clone(),
                id: match t.id.parse::<i64>() {
                    Ok(n) if numeric_ids(&t.kind) => AuditTargetId::Number(n),
                    _ => AuditTargetId::Text(t.id.clone()),
                },
            }),
            changes: entry.changes.as_ref().map(ports::Changes::to_json),
            request_id: entry.request_id.clone(),
            client_ip: entry.client_ip.clone(),
        }
    }
}

/// `{"items": [...], "next_cursor"}`, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryJson>,
    pub next_cursor: Option<String>,
}

/// The parsed query string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditListQuery {
    pub filter: AuditQuery,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Reads the filters and paging parameters of `pairs` (see the module docs).
pub fn parse(pairs: &[(String, String)]) -> Result<AuditListQuery, ApiError> {
    let read =
        |(query, target_id): &mut (AuditListQuery, Option<String>), name: &str, value: &str| {
            let filter = &mut query.filter;
            match name {
                "action" => action(value).map(|v| filter.action = Some(v)),
                "actor_id" => positive(name, value).map(|v| filter.actor_id = Some(v)),
                "target_type" => target_type(value).map(|v| filter.target_type = Some(v)),
                "target_id" => {
                    *target_id = Some(value.to_owned());
                    Ok(())
                }
                "created_from" => timestamp(name, value).map(|v| filter.created_from = Some(v)),
                "created_to" => timestamp(name, value).map(|v| filter.created_to = Some(v)),
                "limit" => {
                    query.limit = Some(value.to_owned());
                    Ok(())
                }
                "cursor" => {
                    query.cursor = Some(value.to_owned());
                    Ok(())
                }
                _ => Ok(()),
            }
        };
    let ((mut query, target_id), mut errors) =
        read_pairs_into(pairs, (AuditListQuery::default(), None), read);
    if let Some(id) = target_id {
        // Read once the type is known, wherever it stood in the query string.
        match target_id_of(query.filter.target_type.as_deref(), &id) {
            Ok(id) => query.filter.target_id = Some(id),
            Err(problem) => errors.push(problem),
        }
    }
    validated(query, errors)
}

fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

fn action(value: &str) -> Result<String, FieldProblem> {
    let well_formed = value.len() <= ACTION_MAX
        && value
            .split_once('.')
            .is_some_and(|(kind, verb)| is_word(kind) && is_word(verb));
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err(FieldProblem::new(
            "action",
            "must be an action such as product.updated",
        ))
    }
}

fn target_type(value: &str) -> Result<String, FieldProblem> {
    if value.len() <= TARGET_TYPE_MAX && is_word(value) {
        Ok(value.to_owned())
    } else {
        Err(FieldProblem::new(
            "target_type",
            "must be a kind of target such as product, order or user",
        ))
    }
}

fn positive(name: &str, value: &str) -> Result<i64, FieldProblem> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| FieldProblem::new(name, "must be an integer of 1 or more"))
}

/// The id as stored for targets of `kind` (integers and UUIDs in canonical form).
fn target_id_of(kind: Option<&str>, value: &str) -> Result<String, FieldProblem> {
    match kind {
        Some(kind) if numeric_ids(kind) => positive("target_id", value).map(|id| id.to_string()),
        Some(target::ORDER) => Uuid::parse_str(value)
            .map(|id| id.to_string())
            .map_err(|_| FieldProblem::new("target_id", "must be an order id (a UUID)")),
        _ => {
            if let Ok(id) = Uuid::parse_str(value) {
                return Ok(id.to_string());
            }
            if value.chars().count() > TARGET_ID_MAX || value.chars().any(char::is_control) {
                return Err(FieldProblem::new(
                    "target_id",
                    format!(
                        "must be at most {TARGET_ID_MAX} characters without control characters"
                    ),
                ));
            }
            Ok(value.to_owned())
        }
    }
}

/// The audit log, newest first (by id, a keyset: entries never repeat or go missing between
/// pages). Nothing in the API changes or deletes an entry; the database refuses to, except the
/// retention purge (`AUDIT_RETENTION`).
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", operation_id = "admin_list_audit",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("action" = Option<String>, Query, pattern = "^[a-z_]+\\.[a-z_]+$", description = "Entries of this action, e.g. `product.updated`"),
        ("actor_id" = Option<i64>, Query, minimum = 1, description = "Entries of this user's doing"),
        ("target_type" = Option<String>, Query, pattern = "^[a-z_]+$", description = "`product`, `order`, `user`, ..."),
        ("target_id" = Option<String>, Query, description = "The target's id: an integer for `product` and `user`, a UUID for `order`"),
        ("created_from" = Option<String>, Query, format = DateTime, description = "RFC 3339; at or after (inclusive)"),
        ("created_to" = Option<String>, Query, format = DateTime, description = "RFC 3339; before (exclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of entries, newest first; an empty value of a parameter counts as not given", body = AuditPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad filter, `limit` or `cursor` (a cursor this list did not give out), named in `errors`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_audit(
    admin: AdminUser,
    query: web::Query<QueryPairs>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = parse(&query)?;
    let limit = parse_limit(query.limit.as_deref())?;
    let before = state.cursors.parse_audit(query.cursor.as_deref())?;
    let page = state
        .audit
        .list(admin.0.actor(), &query.filter, before, limit)
        .await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        items: page.items.iter().map(AuditEntryJson::from).collect(),
        next_cursor: page.next.map(|id| state.cursors.audit(id)),
    }))
}

#[cfg(test)]
mod tests {
    use domain::Role;
    use ports::{Actor, AuditContext, AuditTarget, Changes};
    use time::macros::datetime;

    use super::*;
    use crate::handlers::admin::query::pairs;

    fn fields_of(list: &[(&str, &str)]) -> Vec<String> {
        match parse(&pairs(list)) {
            Err(ApiError::Problem(p)) => {
                assert_eq!(p.code, "validation_failed");
                p.errors.iter().map(|e| e.field.clone()).collect()
            }
            other => panic!("expected a validation problem for {list:?}, got {other:?}"),
        }
    }

    #[test]
    fn every_filter_is_read_and_ids_are_made_canonical() {
        let order = "0193A4B2-0000-7000-8000-00000000000A";
        let query = parse(&pairs(&[
            ("target_id", order),
            ("action", "order.status_changed"),
            ("actor_id", "7"),
            ("target_type", "order"),
            ("created_from", "2026-11-01T00:00:00Z"),
            ("created_to", "2026-11-25T11:00:00+01:00"),
            ("limit", "10"),
            ("cursor", "abc"),
            ("unknown", "ignored"),
            ("action", ""),
        ]))
        .expect("valid");
        assert_eq!(
            query.filter,
            AuditQuery {
                action: Some("order.status_changed".into()),
                actor_id: Some(7),
                target_type: Some("order".into()),
                target_id: Some(order.to_lowercase()),
                created_from: Some(datetime!(2026-11-01 0:00 UTC)),
                created_to: Some(datetime!(2026-11-25 10:00 UTC)),
                before_id: None,
                limit: 0,
            }
        );
        assert_eq!(query.limit.as_deref(), Some("10"));
        assert_eq!(query.cursor.as_deref(), Some("abc"));
        let product =
            parse(&pairs(&[("target_type", "product"), ("target_id", "007")])).expect("valid");
        assert_eq!(product.filter.target_id.as_deref(), Some("7"));
        assert_eq!(parse(&[]).expect("none"), AuditListQuery::default());
    }

    #[test]
    fn every_bad_value_is_named() {
        assert_eq!(fields_of(&[("action", "product")]), ["action"]);
        assert_eq!(fields_of(&[("action", "Product.Updated")]), ["action"]);
        assert_eq!(fields_of(&[("action", "a.b.c")]), ["action"]);
        assert_eq!(fields_of(&[("actor_id", "0")]), ["actor_id"]);
        assert_eq!(fields_of(&[("actor_id", "x")]), ["actor_id"]);
        assert_eq!(fields_of(&[("target_type", "Order")]), ["target_type"]);
        assert_eq!(
            fields_of(&[("target_type", "product"), ("target_id", "abc")]),
            ["target_id"]
        );
        assert_eq!(
            fields_of(&[("target_type", "order"), ("target_id", "12")]),
            ["target_id"]
        );
        assert_eq!(fields_of(&[("target_id", &"x".repeat(101))]), ["target_id"]);
        assert_eq!(
            fields_of(&[("created_from", "yesterday"), ("created_to", "2026-11-01")]),
            ["created_from", "created_to"]
        );
    }

    #[test]
    fn target_ids_are_numbers_for_products_and_users_and_strings_for_orders() {
        let ctx = AuditContext {
            actor: Some(Actor {
                id: 1,
                role: Role::Admin,
            }),
            request_id: Some("r".into()),
            client_ip: Some("127.0.0.1".into()),
        };
        let order = Uuid::now_v7();
        let mut changes = Changes::new();
        changes.field("price", 100, 120);
        let json = |entry| {
            serde_json::to_value(AuditEntryJson::from(&StoredAuditEntry {
                id: 5,
                occurred_at: datetime!(2026-11-25 10:00 UTC),
                entry,
            }))
            .expect("json")
        };
        let product = json(
            ctx.entry("product.updated", Some(AuditTarget::new("product", 12)))
                .with_changes(changes),
        );
        assert_eq!(
            product,
            serde_json::json!({
                "id": 5, "occurred_at": "2026-11-25T10:00:00Z", "action": "product.updated",
                "actor": {"id": 1, "role": "ADMIN"}, "target": {"type": "product", "id": 12},
                "changes": {"price": [100, 120]}, "request_id": "r", "client_ip": "127.0.0.1"
            })
        );
        let on_order = json(ctx.entry("order.note_added", Some(AuditTarget::new("order", order))));
        assert_eq!(on_order["target"]["id"], order.to_string());
        assert_eq!(on_order["changes"], Value::Null);
        let nobody = json(AuditContext::default().entry("auth.login_failed", None));
        assert_eq!(nobody["actor"], Value::Null);
        assert_eq!(nobody["target"], Value::Null);
    }
}
