//! The event log: appending (inside a writer's transaction, with its `NOTIFY`) and reading.
//!
//! # Ids in commit order
//! Identity values are taken when a row is inserted, not when its transaction commits, so two
//! concurrent writers could commit id 8 before id 7, and a reader that saw 8 and asks for
//! "after 8" would miss 7 forever. Every writer therefore calls [`append_events`] as the last step
//! of its transaction; it takes the transaction-level advisory lock [`EVENT_LOCK_KEY`], inserts
//! the events (taking their ids) and sends the `NOTIFY`; the lock is held until the commit ends.
//! So ids are taken and committed one transaction at a time, in order: no event with a lower id
//! can commit after one with a higher id.
//!
//! What it costs: `NOTIFY` already serialises committing transactions on a cluster-wide lock (held
//! over the commit's WAL flush); the advisory lock widens that serial section by the event's
//! `INSERT` and the `NOTIFY` round trips. Measured with pgbench running the placement transaction
//! (16 clients, 2-core machine shared with builds, so only the ratios mean much): without the lock
//! and the `NOTIFY` about 2× the throughput of the full transaction; with the `NOTIFY` alone about
//! 1.4×; with the lock alone the same as with both. Folding lock, insert and `NOTIFY` into one
//! statement made no difference we could measure above the noise: the flush is the cost. So the
//! writers share transactions instead ([`crate::batch`]): one flush for many events.
//!
//! # Channels
//! - [`EVENTS_CHANNEL`] (`oms_events`): a JSON array of the transaction's events, each in the
//!   real-time shape of API.md ([`EventPayload`]). Arrays are split so each payload stays under
//!   PostgreSQL's 8000-byte limit.
//! - [`REVOCATIONS_CHANNEL`] (`oms_revocations`): a revoked token's `jti`, or `user:<id>:<generation>`
//!   (see [`crate::revocations`]).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::{EventType, OrderStatus, PaymentStatus};
use ports::{Actor, EventLog, EventQuery, StoreError, StoredEvent};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::store_error;
use crate::pool::PgPool;
use crate::rows::{EventRow, events_from_rows};
use crate::schema::order_events;

/// The channel that carries committed events.
pub const EVENTS_CHANNEL: &str = "oms_events";
/// The channel that carries revoked tokens' `jti`s.
pub const REVOCATIONS_CHANNEL: &str = "oms_revocations";
/// The advisory lock every event writer holds from id allocation to commit ("oms_evts").
pub const EVENT_LOCK_KEY: i64 = 0x6f6d_735f_6576_7473;

/// PostgreSQL refuses payloads of 8000 bytes or more; stay clear of it.
const MAX_PAYLOAD_BYTES: usize = 7_500;

/// An event to append.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub order_id: Uuid,
    pub user_id: i64,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub payment_status: String,
    pub total_amount: i64,
    pub fulfillment_status: String,
    pub refunded_amount: i64,
    pub shipment_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
    /// A refund's amount.
    pub amount: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_role: Option<String>,
    pub note: Option<String>,
}

impl NewEvent {
    /// The event of a change of `order` (as it stands after the change).
    pub(crate) fn of(
        order: &crate::rows::OrderRow,
        kind: EventType,
        from_status: Option<OrderStatus>,
        actor: Option<Actor>,
        note: Option<String>,
    ) -> NewEvent {
        NewEvent {
            order_id: order.id,
            user_id: order.user_id,
            kind: kind.as_str().to_owned(),
            from_status: from_status.map(|s| s.as_str().to_owned()),
            to_status: order.status.clone(),
            payment_status: order.payment_status.clone(),
            total_amount: order.total_amount,
            fulfillment_status: order.fulfillment_status.clone(),
            refunded_amount: order.refunded_amount,
            shipment_id: None,
            refund_id: None,
            amount: None,
            actor_id: actor.map(|a| a.id),
            actor_role: actor.map(|a| a.role.as_str().to_owned()),
            note,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        order_id: Uuid,
        user_id: i64,
        kind: EventType,
        from_status: Option<OrderStatus>,
        to_status: OrderStatus,
        payment_status: PaymentStatus,
        total_amount: i64,
        actor: Option<Actor>,
        note: Option<String>,
    ) -> NewEvent {
        NewEvent {
            order_id,
            user_id,
            kind: kind.as_str().to_owned(),
            from_status: from_status.map(|s| s.as_str().to_owned()),
            to_status: to_status.as_str().to_owned(),
            payment_status: payment_status.as_str().to_owned(),
            total_amount,
            fulfillment_status: domain::FulfillmentStatus::Unfulfilled.as_str().to_owned(),
            refunded_amount: 0,
            shipment_id: None,
            refund_id: None,
            amount: None,
            actor_id: actor.map(|a| a.id),
            actor_role: actor.map(|a| a.role.as_str().to_owned()),
            note,
        }
    }
}

/// An event as the real-time channel and the `NOTIFY` payload show it (API.md, "Real-time");
/// read back as [`ports::EventWire`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventPayload {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: Uuid,
    pub user_id: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub payment_status: String,
    pub fulfillment_status: String,
    pub total_amount: i64,
    pub refunded_amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl EventPayload {
    fn from_row(row: &EventRow) -> EventPayload {
        EventPayload {
            id: row.id,
            kind: row.kind.clone(),
            order_id: row.order_id,
            user_id: row.user_id,
            from_status: row.from_status.clone(),
            to_status: row.to_status.clone(),
            payment_status: row.payment_status.clone(),
            fulfillment_status: row.fulfillment_status.clone(),
            total_amount: row.total_amount,
            refunded_amount: row.refunded_amount,
            shipment_id: row.shipment_id,
            refund_id: row.refund_id,
            amount: row.amount,
            occurred_at: row.occurred_at,
        }
    }
}

/// Appends `events` as the last step of the caller's transaction: takes the event lock, inserts
/// them (one statement, ids in `events` order) and notifies [`EVENTS_CHANNEL`]. Must run inside a
/// transaction, after every other write of it. Three round trips (more `NOTIFY`s when the payloads
/// of many events pass PostgreSQL's size limit). Returns the rows in id order.
pub(crate) async fn append_events(
    conn: &mut AsyncPgConnection,
    events: &[NewEvent],
) -> Result<Vec<EventRow>, DieselError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    Cached(diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(EVENT_LOCK_KEY))
        .execute(conn)
        .await?;
    let mut rows = insert_events(conn, events).await?;
    rows.sort_by_key(|row| row.id);
    for payload in notify_payloads(&rows)? {
        notify(conn, EVENTS_CHANNEL, &payload).await?;
    }
    Ok(rows)
}

/// One `INSERT … SELECT FROM unnest(…)` (one SQL text whatever the number of events, so it stays
/// prepared), ids taken in `events` order.
async fn insert_events(
    conn: &mut AsyncPgConnection,
    events: &[NewEvent],
) -> Result<Vec<EventRow>, DieselError> {
    let column =
        |f: fn(&NewEvent) -> Option<&str>| -> Vec<Option<&str>> { events.iter().map(f).collect() };
    let order_ids: Vec<Uuid> = events.iter().map(|e| e.order_id).collect();
    let user_ids: Vec<i64> = events.iter().map(|e| e.user_id).collect();
    let totals: Vec<i64> = events.iter().map(|e| e.total_amount).collect();
    let actor_ids: Vec<Option<i64>> = events.iter().map(|e| e.actor_id).collect();
    let refunded: Vec<i64> = events.iter().map(|e| e.refunded_amount).collect();
    let shipment_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.shipment_id).collect();
    let refund_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.refund_id).collect();
    let amounts: Vec<Option<i64>> = events.iter().map(|e| e.amount).collect();
    let query = diesel::sql_query(
        "INSERT INTO order_events (order_id, user_id, type, from_status, to_status, \
                                   payment_status, total_amount, actor_id, actor_role, note, \
                                   fulfillment_status, refunded_amount, shipment_id, refund_id, \
                                   amount) \
         SELECT v.order_id, v.user_id, v.type, v.from_status, v.to_status, v.payment_status, \
                v.total_amount, v.actor_id, v.actor_role, v.note, v.fulfillment_status, \
                v.refunded_amount, v.shipment_id, v.refund_id, v.amount \
           FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                       $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], \
                       $12::bigint[], $13::uuid[], $14::uuid[], $15::bigint[]) \
                WITH ORDINALITY AS v(order_id, user_id, type, from_status, to_status, \
                                     payment_status, total_amount, actor_id, actor_role, note, \
                                     fulfillment_status, refunded_amount, shipment_id, refund_id, \
                                     amount, n) \
          ORDER BY v.n \
         RETURNING id, order_id, user_id, type AS kind, from_status, to_status, payment_status, \
                   total_amount, fulfillment_status, refunded_amount, shipment_id, refund_id, \
                   amount, actor_id, actor_role, note, occurred_at",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&order_ids)
    .bind::<Array<BigInt>, _>(&user_ids)
    .bind::<Array<Nullable<Text>>, _>(column(|e| Some(e.kind.as_str())))
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.from_status.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(|e| Some(e.to_status.as_str())))
    .bind::<Array<Nullable<Text>>, _>(column(|e| Some(e.payment_status.as_str())))
    .bind::<Array<BigInt>, _>(&totals)
    .bind::<Array<Nullable<BigInt>>, _>(&actor_ids)
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.actor_role.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.note.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(|e| Some(e.fulfillment_status.as_str())))
    .bind::<Array<BigInt>, _>(&refunded)
    .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(&shipment_ids)
    .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(&refund_ids)
    .bind::<Array<Nullable<BigInt>>, _>(&amounts);
    Cached(query).load(conn).await
}

/// `pg_notify(channel, payload)`; delivered to listeners when the transaction commits.
pub(crate) async fn notify(
    conn: &mut AsyncPgConnection,
    channel: &str,
    payload: &str,
) -> Result<(), DieselError> {
    Cached(
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(channel)
            .bind::<Text, _>(payload),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// JSON arrays of the events' payloads, each under the size limit.
fn notify_payloads(rows: &[EventRow]) -> Result<Vec<String>, DieselError> {
    let mut payloads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for row in rows {
        let json = serde_json::to_string(&EventPayload::from_row(row))
            .map_err(|e| DieselError::SerializationError(Box::new(e)))?;
        if !current.is_empty() && size + json.len() + 1 > MAX_PAYLOAD_BYTES {
            payloads.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += json.len() + 1;
        current.push(json);
    }
    if !current.is_empty() {
        payloads.push(format!("[{}]", current.join(",")));
    }
    Ok(payloads)
}

/// Parses an [`EVENTS_CHANNEL`] payload.
pub fn parse_events_payload(payload: &str) -> Result<Vec<StoredEvent>, StoreError> {
    let bad = |e: String| StoreError::Internal(format!("bad {EVENTS_CHANNEL} payload: {e}"));
    let payloads: Vec<ports::EventWire> =
        serde_json::from_str(payload).map_err(|e| bad(e.to_string()))?;
    payloads
        .into_iter()
        .map(|wire| wire.into_event().map_err(bad))
        .collect()
}

/// [`EventLog`] over `order_events`.
#[derive(Clone)]
pub struct PgEventLog {
    pool: PgPool,
}

impl PgEventLog {
    pub fn new(pool: PgPool) -> PgEventLog {
        PgEventLog { pool }
    }
}

#[async_trait]
impl EventLog for PgEventLog {
    async fn events_after(
        &self,
        after_id: i64,
        user_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_matching(&EventQuery {
            after_id,
            user_id,
            limit,
            ..EventQuery::default()
        })
        .await
    }

    /// A plain `WHERE id > $after … ORDER BY id LIMIT $n` (plus the filters): no upper bound is
    /// needed, because ids are taken and committed one transaction at a time under
    /// [`EVENT_LOCK_KEY`] (see the module docs), so no event below one this read sees can commit
    /// after it. The order filter walks `order_events_order_idx`, a customer's walks
    /// `order_events_user_idx`, the others the primary key.
    async fn events_matching(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let mut sql = order_events::table
            .select(EventRow::as_select())
            .filter(order_events::id.gt(query.after_id))
            .order(order_events::id.asc())
            .limit(i64::from(query.limit))
            .into_boxed();
        if let Some(user_id) = query.user_id {
            sql = sql.filter(order_events::user_id.eq(user_id));
        }
        if let Some(order_id) = query.order_id {
            sql = sql.filter(order_events::order_id.eq(order_id));
        }
        if !query.types.is_empty() {
            let types: Vec<&'static str> = query.types.iter().map(|t| t.as_str()).collect();
            sql = sql.filter(order_events::kind.eq_any(types));
        }
        let rows = sql.load(&mut conn).await.map_err(store_error)?;
        events_from_rows(rows)
    }

    async fn oldest_id(&self) -> Result<Option<i64>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        order_events::table
            .select(diesel::dsl::min(order_events::id))
            .get_result(&mut conn)
            .await
            .map_err(store_error)
    }

    async fn latest_id(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let max: Option<i64> = order_events::table
            .select(diesel::dsl::max(order_events::id))
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(max.unwrap_or(0))
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let deleted =
            diesel::delete(order_events::table.filter(order_events::occurred_at.lt(cutoff)))
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
        Ok(deleted as u64)
    }
}
