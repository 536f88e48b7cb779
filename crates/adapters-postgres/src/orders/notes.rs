//! Internal order notes: one `INSERT` with its audit entry, in one transaction. Never an event:
//! no `order_events` row, no `NOTIFY`.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use ports::{AddNoteError, AuditEntry, Changes, NewNote, OrderNote, StoreError};
use uuid::Uuid;

use crate::errors::{TxError, store_error};
use crate::pool::PgPool;
use crate::rows::parse_role;
use crate::schema::order_notes;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = order_notes, check_for_backend(diesel::pg::Pg))]
struct NoteRow {
    id: i64,
    order_id: Uuid,
    actor_id: i64,
    actor_role: String,
    note: String,
    occurred_at: time::OffsetDateTime,
}

impl NoteRow {
    fn into_note(self) -> Result<OrderNote, StoreError> {
        Ok(OrderNote {
            id: self.id,
            order_id: self.order_id,
            note: self.note,
            actor: ports::Actor {
                id: self.actor_id,
                role: parse_role(&self.actor_role)?,
            },
            occurred_at: self.occurred_at,
        })
    }
}

/// The note's entry: `note` `[null, text]` about the order.
fn note_entry(mut entry: AuditEntry, note: &NoteRow) -> AuditEntry {
    let mut changes = Changes::new();
    changes.field("note", serde_json::Value::Null, &note.note);
    entry.target = Some(ports::AuditTarget::new(
        ports::audit::target::ORDER,
        note.order_id,
    ));
    entry.changes = changes.into_option();
    entry
}

/// `INSERT … SELECT … FROM orders WHERE id = $1` (no row: the order does not exist), then the
/// audit entry, in one transaction.
pub(super) async fn add(pool: &PgPool, new: &NewNote) -> Result<OrderNote, AddNoteError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let row = conn
        .transaction(async |conn| -> Result<NoteRow, TxError<AddNoteError>> {
            let row: Option<NoteRow> = diesel::sql_query(
                "INSERT INTO order_notes (order_id, actor_id, actor_role, note) \
                 SELECT o.id, $2, $3, $4 FROM orders o WHERE o.id = $1 \
                 RETURNING id, order_id, actor_id, actor_role, note, occurred_at",
            )
            .bind::<diesel::sql_types::Uuid, _>(new.order_id)
            .bind::<BigInt, _>(new.actor.id)
            .bind::<Text, _>(new.actor.role.as_str())
            .bind::<Text, _>(&new.note)
            .get_result(conn)
            .await
            .optional()?;
            let row = row.ok_or(TxError::Op(AddNoteError::NotFound))?;
            if let Some(entry) = &new.audit {
                crate::audit::insert(conn, &note_entry(entry.clone(), &row)).await?;
            }
            Ok(row)
        })
        .await
        .map_err(TxError::into_op)?;
    Ok(row.into_note()?)
}

/// The order's notes, oldest first.
pub(super) async fn list(pool: &PgPool, order_id: Uuid) -> Result<Vec<OrderNote>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let rows: Vec<NoteRow> = order_notes::table
        .filter(order_notes::order_id.eq(order_id))
        .select(NoteRow::as_select())
        .order(order_notes::id.asc())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
    rows.into_iter().map(NoteRow::into_note).collect()
}
