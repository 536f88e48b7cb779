//! Internal order notes: an admin writes one on an order; it shows in the order's history to
//! admins only and is never an event (see `ports::OrderRepository::add_note`).

use domain::{Role, ValidationErrors};
use ports::audit::action;
use ports::{AuditContext, NewNote, OrderNote, StoreError};
use uuid::Uuid;

use crate::{Actor, AdminOrderService};

/// The longest note, in characters (once trimmed).
pub const NOTE_MAX: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddNoteError {
    /// Only an admin writes notes (the API checks the role first; this is the use case's own
    /// guard).
    #[error("only admins add notes")]
    Forbidden,
    #[error("order not found")]
    NotFound,
    /// Field `note`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ports::AddNoteError> for AddNoteError {
    fn from(error: ports::AddNoteError) -> Self {
        match error {
            ports::AddNoteError::NotFound => AddNoteError::NotFound,
            ports::AddNoteError::Store(e) => AddNoteError::Store(e),
        }
    }
}

/// The note trimmed: 1 to 2,000 characters; line breaks (`\n`, `\r`) allowed, no other control
/// character (a tab included).
pub fn validate_note(text: &str) -> Result<String, ValidationErrors> {
    let note = text.trim();
    let count = note.chars().count();
    let mut errors = ValidationErrors::new();
    if note
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r'))
    {
        errors.add(
            "note",
            "must not contain control characters other than line breaks",
        );
    } else if count == 0 {
        errors.add("note", "must not be empty");
    } else if count > NOTE_MAX {
        errors.add("note", format!("must be at most {NOTE_MAX} characters"));
    }
    errors.into_result(note.to_owned())
}

impl AdminOrderService {
    /// Adds an internal note to the order, with its `order.note_added` audit entry, in one
    /// transaction. No event, no real-time message.
    #[tracing::instrument(skip(self, actor, text, audit), fields(user_id = actor.id, %order_id))]
    pub async fn add_note(
        &self,
        actor: Actor,
        order_id: Uuid,
        text: &str,
        audit: &AuditContext,
    ) -> Result<OrderNote, AddNoteError> {
        if actor.role != Role::Admin {
            return Err(AddNoteError::Forbidden);
        }
        let note = validate_note(text)?;
        let new = NewNote {
            order_id,
            note,
            actor,
            audit: Some(crate::admin_orders::order_entry(
                audit,
                actor,
                action::ORDER_NOTE_ADDED,
                order_id,
            )),
        };
        let added = self.deps.orders.add_note(&new).await?;
        tracing::info!(note_id = added.id, "note added");
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ADMIN, CUSTOMER, Mocks, NOW, audit_context, settings};
    use ports::{AuditEntry, AuditTarget};

    fn service(mocks: Mocks) -> AdminOrderService {
        AdminOrderService::new(mocks.into_deps(), settings())
    }

    fn stored(new: &NewNote) -> OrderNote {
        OrderNote {
            id: 42,
            order_id: new.order_id,
            note: new.note.clone(),
            actor: new.actor,
            occurred_at: NOW,
        }
    }

    #[tokio::test]
    async fn a_note_is_trimmed_and_stored_with_its_audit_entry() {
        let order_id = Uuid::now_v7();
        let expected = AuditEntry {
            action: "order.note_added".into(),
            actor: Some(ADMIN),
            target: Some(AuditTarget::new("order", order_id)),
            changes: None,
            request_id: Some("req-audit".into()),
            client_ip: Some("203.0.113.9".into()),
        };
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_add_note()
            .withf(move |n| {
                n.order_id == order_id
                    && n.note == "Called the customer.\nThey will be home on Friday."
                    && n.actor == ADMIN
                    && n.audit.as_ref() == Some(&expected)
            })
            .times(1)
            .returning(|n| Ok(stored(n)));
        let note = service(mocks)
            .add_note(
                ADMIN,
                order_id,
                "  Called the customer.\nThey will be home on Friday. \n",
                &audit_context(),
            )
            .await
            .expect("added");
        assert_eq!(note.id, 42);
        assert_eq!(note.actor, ADMIN);
    }

    #[tokio::test]
    async fn a_customer_cannot_add_a_note() {
        // No expectation on the store or the audit log: a call would panic.
        assert_eq!(
            service(Mocks::new())
                .add_note(CUSTOMER, Uuid::now_v7(), "hello", &audit_context())
                .await,
            Err(AddNoteError::Forbidden)
        );
    }

    #[tokio::test]
    async fn invalid_text_is_refused_before_the_store() {
        let too_long = "x".repeat(NOTE_MAX + 1);
        for bad in [
            "",
            "   \n ",
            "tab\there",
            "bell\u{7}",
            "nul\u{0}",
            too_long.as_str(),
        ] {
            match service(Mocks::new())
                .add_note(ADMIN, Uuid::now_v7(), bad, &audit_context())
                .await
            {
                Err(AddNoteError::Validation(e)) => assert_eq!(e.0[0].field, "note", "{bad:?}"),
                other => panic!("{bad:?}: expected a validation error, got {other:?}"),
            }
        }
        assert_eq!(
            validate_note(&"é".repeat(NOTE_MAX)).map(|n| n.chars().count()),
            Ok(NOTE_MAX)
        );
        assert!(validate_note("line one\r\nline two").is_ok());
    }

    #[tokio::test]
    async fn an_unknown_order_is_not_found() {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_add_note()
            .times(1)
            .returning(|_| Err(ports::AddNoteError::NotFound));
        assert_eq!(
            service(mocks)
                .add_note(ADMIN, Uuid::now_v7(), "hello", &audit_context())
                .await,
            Err(AddNoteError::NotFound)
        );
    }
}
