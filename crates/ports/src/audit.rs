//! The audit log: one entry per admin write and per security event, stored in the transaction of
//! the change it records (a store write that changes something takes its entry along and inserts
//! it in its own transaction; [`AuditLog::record`] is for events that change nothing else, such
//! as a failed sign-in, in a short transaction of their own).
//!
//! No password, token, hash, cookie or webhook secret ever goes into an entry: [`Changes`] takes
//! only the fields a use case names, and none of them is a secret.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::StoreError;
use crate::orders::Actor;

/// The actions the audit log records (`"<target>.<verb>"`).
pub mod action {
    pub const PRODUCT_CREATED: &str = "product.created";
    pub const PRODUCT_UPDATED: &str = "product.updated";
    pub const PRODUCT_ARCHIVED: &str = "product.archived";
    pub const ORDER_STATUS_CHANGED: &str = "order.status_changed";
    pub const ORDER_SHIPPED: &str = "order.shipped";
    pub const ORDER_REFUNDED: &str = "order.refunded";
    pub const ORDER_NOTE_ADDED: &str = "order.note_added";
    pub const CUSTOMER_UPDATED: &str = "customer.updated";
    pub const AUTH_LOGIN: &str = "auth.login";
    pub const AUTH_LOGIN_FAILED: &str = "auth.login_failed";
    pub const AUTH_ACCOUNT_DISABLED: &str = "auth.account_disabled";
    pub const AUTH_LOGOUT: &str = "auth.logout";
    pub const AUTH_PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const AUTH_PASSWORD_CHANGE_FAILED: &str = "auth.password_change_failed";
    pub const AUTH_CSRF_FAILED: &str = "auth.csrf_failed";
    pub const WEBHOOK_CREATED: &str = "webhook.created";
    pub const WEBHOOK_UPDATED: &str = "webhook.updated";
    pub const WEBHOOK_DELETED: &str = "webhook.deleted";
    pub const WEBHOOK_SECRET_ROTATED: &str = "webhook.secret_rotated";
    pub const WEBHOOK_TEST_SENT: &str = "webhook.test_sent";
    pub const WEBHOOK_REDELIVERED: &str = "webhook.redelivered";
    /// The server disabled an endpoint (a `410`, or failing for `WEBHOOK_DISABLE_AFTER`): no actor.
    pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
}

/// The kinds of target.
pub mod target {
    pub const PRODUCT: &str = "product";
    pub const ORDER: &str = "order";
    pub const USER: &str = "user";
    pub const WEBHOOK: &str = "webhook";
    /// A webhook delivery (its id; the endpoint is in `changes`).
    pub const WEBHOOK_DELIVERY: &str = "webhook_delivery";
}

/// What an entry is about: `{"type": "order", "id": "…"}`. Ids are kept as text (orders have UUIDs,
/// users and products integers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: String,
    pub id: String,
}

impl AuditTarget {
    pub fn new(kind: &str, id: impl ToString) -> AuditTarget {
        AuditTarget {
            kind: kind.to_owned(),
            id: id.to_string(),
        }
    }
}

/// The fields an update changed: `{"field": [old, new]}`, only those whose value differs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes(pub BTreeMap<String, [Value; 2]>);

impl Changes {
    pub fn new() -> Changes {
        Changes::default()
    }

    /// Records `field` if `old` and `new` differ (compared as JSON).
    pub fn field(&mut self, field: &str, old: impl Serialize, new: impl Serialize) -> &mut Self {
        let old = serde_json::to_value(old).unwrap_or(Value::Null);
        let new = serde_json::to_value(new).unwrap_or(Value::Null);
        if old != new {
            self.0.insert(field.to_owned(), [old, new]);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `None` when nothing changed.
    pub fn into_option(self) -> Option<Changes> {
        (!self.is_empty()).then_some(self)
    }

    /// `{"field": [old, new], ...}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, [old, new])| (k.clone(), Value::Array(vec![old.clone(), new.clone()])))
                .collect(),
        )
    }
}

/// Who asked and from where: taken from the request, handed to every audited use case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditContext {
    /// `None` for someone not signed in (a failed sign-in).
    pub actor: Option<Actor>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
}

impl AuditContext {
    /// An entry of this context (the actor, request id and address) without changes.
    pub fn entry(&self, action: &str, target: Option<AuditTarget>) -> AuditEntry {
        AuditEntry {
            action: action.to_owned(),
            actor: self.actor,
            target,
            changes: None,
            request_id: self.request_id.clone(),
            client_ip: self.client_ip.clone(),
        }
    }

    /// The same context acting as `actor` (e.g. after a sign-in succeeded).
    pub fn with_actor(&self, actor: Actor) -> AuditContext {
        AuditContext {
            actor: Some(actor),
            ..self.clone()
        }
    }
}

/// One entry to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub action: String,
    pub actor: Option<Actor>,
    pub target: Option<AuditTarget>,
    pub changes: Option<Changes>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
}

impl AuditEntry {
    pub fn with_changes(mut self, changes: Changes) -> AuditEntry {
        self.changes = changes.into_option();
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    pub id: i64,
    pub occurred_at: OffsetDateTime,
    pub entry: AuditEntry,
}

/// `GET /api/admin/audit`: every filter given must match; newest (highest id) first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Inclusive.
    pub created_from: Option<OffsetDateTime>,
    /// Exclusive.
    pub created_to: Option<OffsetDateTime>,
    /// Only ids below this (the keyset cursor).
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Stores an entry in a transaction of its own: for security events that change nothing else.
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    async fn list(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError>;

    /// Deletes the entries that occurred before `cutoff` (at least a day ago: the database refuses
    /// a later one), through the database's purge (the only way past its append-only trigger).
    /// Returns how many were deleted.
    async fn purge(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Role;

    #[test]
    fn changes_keep_only_what_differs() {
        let mut changes = Changes::new();
        changes
            .field("price", 100, 120)
            .field("name", "Mug", "Mug")
            .field("description", None::<String>, Some("Blue"));
        assert_eq!(
            changes.to_json(),
            serde_json::json!({"price": [100, 120], "description": [null, "Blue"]})
        );
        assert_eq!(Changes::new().into_option(), None);
    }

    #[test]
    fn context_entries_carry_actor_request_and_address() {
        let ctx = AuditContext {
            actor: None,
            request_id: Some("req-1".into()),
            client_ip: Some("127.0.0.1".into()),
        };
        let actor = Actor {
            id: 1,
            role: Role::Admin,
        };
        let entry = ctx
            .with_actor(actor)
            .entry(action::AUTH_LOGIN, Some(AuditTarget::new(target::USER, 1)));
        assert_eq!(entry.actor, Some(actor));
        assert_eq!(entry.request_id.as_deref(), Some("req-1"));
        assert_eq!(entry.target, Some(AuditTarget::new("user", "1")));
        assert_eq!(entry.changes, None);
    }
}
