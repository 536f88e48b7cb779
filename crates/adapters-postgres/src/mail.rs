//! The email queue ([`MailQueue`]): rows of `email_deliveries`, claimed with
//! `FOR UPDATE SKIP LOCKED` under a lease, like the webhook queue (`crate::webhooks::queue`).
//!
//! # Fan-out
//! [`PgMailQueue::fan_out`] turns the events after `email_fanout.last_event_id` into emails in one
//! transaction: lock the position row (one fan-out at a time), read the events after it (ids are
//! committed in order, so this is complete: see `crate::events`), read the owners' addresses,
//! insert one row per email (`domain::email::mails_for`; `ON CONFLICT DO NOTHING`: once per event
//! and recipient), move the position. Events that occurred more than
//! [`domain::email::STALE_AFTER`] before the fan-out are passed over: a server that ran without
//! email for a month and is given a mail server does not send a month of old news.
//!
//! A read before the transaction says whether the position is behind the newest event: most
//! wake-ups end there.
//!
//! # Claims
//! A pending email whose time has come and that no live lease holds; the claim counts the attempt
//! and writes the lease in the same statement, and a record is applied only while its lease token
//! still holds the row (at least once, never two attempts at once while the holder lives).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{ExpressionMethods, QueryDsl, QueryableByName, SelectableHelper, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::email::{MailKind, MailTrigger, Recipient, STALE_AFTER, mails_for};
use ports::{ClaimedMail, MailQueue, MailRecord, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::errors::{TxError, store_error};
use crate::leased::{self, Queue, micros};
use crate::pool::PgPool;
use crate::rows::{EventRow, events_from_rows};

/// The PostgreSQL email queue.
#[derive(Clone)]
pub struct PgMailQueue {
    pool: PgPool,
    /// `ADMIN_EMAIL`: the shop's address for every paid order.
    shop: Option<String>,
}

impl PgMailQueue {
    pub fn new(pool: PgPool, shop: Option<String>) -> PgMailQueue {
        PgMailQueue { pool, shop }
    }
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    last_event_id: i64,
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    behind: bool,
}

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = SqlUuid)]
    order_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    shipment_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    refund_id: Option<Uuid>,
    #[diesel(sql_type = Int4)]
    attempts: i32,
}

/// The rows of one fan-out batch, column by column (for one `unnest` insert).
#[derive(Default)]
struct NewMails {
    ids: Vec<Uuid>,
    event_ids: Vec<i64>,
    kinds: Vec<&'static str>,
    recipients: Vec<String>,
    order_ids: Vec<Uuid>,
    shipment_ids: Vec<Option<Uuid>>,
    refund_ids: Vec<Option<Uuid>>,
}

async fn fan_out_on(
    conn: &mut AsyncPgConnection,
    shop: Option<&str>,
    max_events: u32,
) -> Result<u32, TxError<StoreError>> {
    let position: Position =
        sql_query("SELECT last_event_id FROM email_fanout WHERE singleton FOR UPDATE")
            .get_result(conn)
            .await?;
    let rows: Vec<EventRow> = {
        use crate::schema::order_events;
        order_events::table
            .select(EventRow::as_select())
            .filter(order_events::id.gt(position.last_event_id))
            .order(order_events::id.asc())
            .limit(i64::from(max_events))
            .load(conn)
            .await?
    };
    let events = events_from_rows(rows).map_err(TxError::Op)?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(0);
    };
    let stale_before = OffsetDateTime::now_utc() - STALE_AFTER;
    let owners: Vec<i64> = events.iter().map(|e| e.user_id).collect();
    let addresses: HashMap<i64, String> = {
        use crate::schema::users;
        users::table
            .select((users::id, users::email))
            .filter(users::id.eq_any(&owners))
            .load::<(i64, String)>(conn)
            .await?
            .into_iter()
            .collect()
    };
    let mut new = NewMails::default();
    let mut stale = 0_usize;
    for event in &events {
        if event.occurred_at < stale_before {
            stale += 1;
            continue;
        }
        let trigger = MailTrigger {
            kind: event.kind,
            reports_shipment: event.shipment_id.is_some(),
            reports_refund: event.refund_id.is_some(),
        };
        for (kind, recipient) in mails_for(trigger, shop.is_some()) {
            let address = match recipient {
                Recipient::Customer => addresses.get(&event.user_id).map(String::as_str),
                Recipient::Shop => shop,
            };
            let Some(address) = address else {
                continue;
            };
            new.ids.push(Uuid::now_v7());
            new.event_ids.push(event.id);
            new.kinds.push(kind.as_str());
            new.recipients.push(address.to_owned());
            new.order_ids.push(event.order_id);
            new.shipment_ids.push(event.shipment_id);
            new.refund_ids.push(event.refund_id);
        }
    }
    if stale > 0 {
        tracing::info!(
            count = stale,
            "events older than a day passed over by email (the server ran without it)"
        );
    }
    if !new.ids.is_empty() {
        sql_query(
            "INSERT INTO email_deliveries \
                 (id, event_id, kind, recipient, order_id, shipment_id, refund_id, next_attempt_at) \
             SELECT n.id, n.event_id, n.kind, n.recipient, n.order_id, n.shipment_id, n.refund_id, \
                    now() \
             FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::uuid[], \
                         $6::uuid[], $7::uuid[]) \
                  AS n(id, event_id, kind, recipient, order_id, shipment_id, refund_id) \
             ORDER BY n.event_id \
             ON CONFLICT (event_id, recipient) DO NOTHING",
        )
        .bind::<Array<SqlUuid>, _>(&new.ids)
        .bind::<Array<BigInt>, _>(&new.event_ids)
        .bind::<Array<Text>, _>(&new.kinds)
        .bind::<Array<Text>, _>(&new.recipients)
        .bind::<Array<SqlUuid>, _>(&new.order_ids)
        .bind::<Array<Nullable<SqlUuid>>, _>(&new.shipment_ids)
        .bind::<Array<Nullable<SqlUuid>>, _>(&new.refund_ids)
        .execute(conn)
        .await?;
    }
    sql_query("UPDATE email_fanout SET last_event_id = $1 WHERE singleton")
        .bind::<BigInt, _>(last)
        .execute(conn)
        .await?;
    Ok(u32::try_from(events.len()).unwrap_or(u32::MAX))
}

const CLAIM: &str = "\
WITH due AS (
    SELECT id FROM email_deliveries
    WHERE status = 'pending' AND next_attempt_at <= now()
      AND (leased_until IS NULL OR leased_until <= now())
    ORDER BY next_attempt_at, event_id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE email_deliveries d
SET lease_token = $2, leased_until = now() + $3 * interval '1 microsecond',
    attempts = d.attempts + 1, last_attempt_at = now()
FROM due
WHERE d.id = due.id
RETURNING d.id, d.event_id, d.kind, d.recipient, d.order_id, d.shipment_id, d.refund_id,
          d.attempts";

fn claimed(row: ClaimRow) -> Result<ClaimedMail, StoreError> {
    let kind = MailKind::parse(&row.kind)
        .ok_or_else(|| StoreError::Internal(format!("email {}: unknown kind", row.id)))?;
    Ok(ClaimedMail {
        id: row.id,
        event_id: row.event_id,
        kind,
        recipient: row.recipient,
        order_id: row.order_id,
        shipment_id: row.shipment_id,
        refund_id: row.refund_id,
        attempts_before: row.attempts - 1,
    })
}

#[async_trait]
impl MailQueue for PgMailQueue {
    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        // A read first: every instance's relay wakes its fan-out for every batch, and most find
        // the position already moved; they end here, without a row lock to flush.
        let pending: Pending = sql_query(
            "SELECT (SELECT last_event_id FROM email_fanout WHERE singleton) \
                    < (SELECT COALESCE(max(id), 0) FROM order_events) AS behind",
        )
        .get_result(&mut conn)
        .await
        .map_err(store_error)?;
        if !pending.behind {
            return Ok(0);
        }
        let shop = self.shop.as_deref();
        conn.transaction(async |conn| fan_out_on(conn, shop, max_events).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn claim(
        &self,
        max: u32,
        lease_token: Uuid,
        lease: Duration,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<ClaimRow> = sql_query(CLAIM)
            .bind::<BigInt, _>(i64::from(max))
            .bind::<SqlUuid, _>(lease_token)
            .bind::<BigInt, _>(micros(lease))
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        let mut claims: Vec<ClaimedMail> =
            rows.into_iter().map(claimed).collect::<Result<_, _>>()?;
        claims.sort_by_key(|c| c.event_id);
        Ok(claims)
    }

    async fn record(&self, attempts: &[MailRecord]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = attempts.iter().map(|a| a.mail_id).collect();
        let tokens: Vec<Uuid> = attempts.iter().map(|a| a.lease_token).collect();
        let statuses: Vec<&str> = attempts
            .iter()
            .map(|a| match (a.sent, a.next_attempt_at) {
                (true, _) => "sent",
                (false, Some(_)) => "pending",
                (false, None) => "failed",
            })
            .collect();
        let next: Vec<Option<OffsetDateTime>> = attempts
            .iter()
            .map(|a| a.next_attempt_at.filter(|_| !a.sent))
            .collect();
        let errors: Vec<Option<String>> = attempts.iter().map(|a| a.error.clone()).collect();
        let mut conn = self.pool.get().await.map_err(store_error)?;
        sql_query(
            "UPDATE email_deliveries d \
             SET status = r.status, next_attempt_at = r.next_at, last_error = r.error, \
                 lease_token = NULL, leased_until = NULL \
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[]) \
                  AS r(id, token, status, next_at, error) \
             WHERE d.id = r.id AND d.lease_token = r.token",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<SqlUuid>, _>(&tokens)
        .bind::<Array<Text>, _>(&statuses)
        .bind::<Array<Nullable<Timestamptz>>, _>(&next)
        .bind::<Array<Nullable<Text>>, _>(&errors)
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        leased::next_due(&self.pool, Queue::Email).await
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        leased::purge_before(&self.pool, Queue::Email, cutoff).await
    }
}
