//! Internal order notes: written by admins, shown in an order's history to admins only, never
//! published as an event.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::audit::AuditEntry;
use crate::orders::Actor;

/// A stored note. Its id comes from the order events' sequence, so an order's history (events
/// and notes) sorts by id in the order things happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNote {
    pub id: i64,
    pub order_id: Uuid,
    pub note: String,
    pub actor: Actor,
    pub occurred_at: OffsetDateTime,
}

/// A note to add (its text validated by the use case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    pub order_id: Uuid,
    pub note: String,
    pub actor: Actor,
    /// The `order.note_added` entry, stored in the note's transaction.
    pub audit: Option<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddNoteError {
    #[error("order not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}
