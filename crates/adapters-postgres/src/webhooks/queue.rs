//! The webhook delivery queue ([`DeliveryQueue`]): rows of `webhook_deliveries`, claimed with
//! `FOR UPDATE SKIP LOCKED` under a lease.
//!
//! # Fan-out
//! [`PgDeliveryQueue::fan_out`] turns the events after `webhook_fanout.last_event_id` into
//! deliveries, in one `READ COMMITTED` transaction whose statements run in this order:
//! 1. lock the position row (`FOR UPDATE`: one fan-out at a time, the others wait and then find
//!    the position moved), and start after it or after the oldest starting point of the enabled
//!    endpoints, whichever is later (events no endpoint wants are skipped, not read);
//! 2. read the events after the start (ids are committed in order, so this is complete: see
//!    `crate::events`);
//! 3. read the enabled endpoints;
//! 4. insert one delivery per (event, endpoint created before the event, type subscribed), and
//!    move the position.
//!
//! Before the transaction, one read says whether there is anything to do (an enabled endpoint,
//! an event past the start): most wake-ups end there, with no transaction to flush.
//!
//! Reading the endpoints after the events is what makes "every event committed after the
//! endpoint's creation" hold: an endpoint takes the event lock while it reads its starting id, so
//! an event past that id commits after the endpoint, hence after step 2 saw it only if the
//! endpoint committed before step 2, so before step 3. (The other order could read the endpoints,
//! then see an event of an endpoint created in between, and skip it for good.)
//!
//! # Claims
//! A delivery is due when it is pending, its time has come, no lease holds it (or the lease ran
//! out: its holder died), its endpoint is enabled, and no earlier event of the same order is
//! pending for the same endpoint (per-order order). [`PgDeliveryQueue::claim`] takes up to `max`
//! due rows with `FOR UPDATE SKIP LOCKED` (concurrent claimers skip each other's rows instead of
//! waiting), and in the same statement counts the attempt and writes the lease. So no two attempts
//! of one delivery run at once while the holder lives, and a dead holder's rows come back after the
//! lease. A record is applied only while its lease token still holds the row.
//!
//! A disabled endpoint's pending deliveries are parked (`super::park`): their due time moves past
//! any real one, so claims never walk them; enabling the endpoint makes them due now.
//!
//! A failed attempt's new time is also given to the later pending deliveries of that order to that
//! endpoint (they would wait for it anyway): the claim's index scan then finds no due-looking rows
//! that are blocked, and the worker does not wake for them.

use std::time::Duration;

use async_trait::async_trait;
use diesel::sql_types::{
    Array, BigInt, Double, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use domain::webhook::{EventFilter, WebhookSecret};
use ports::audit::{action, target};
use ports::{
    AttemptRecord, AuditEntry, AuditTarget, Changes, ClaimedDelivery, DeliveryQueue, QueueStats,
    StoreError,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::errors::{TxError, store_error};
use crate::leased::{self, Queue, micros};
use crate::pool::PgPool;
use crate::rows::{EventRow, events_from_rows};

/// The PostgreSQL delivery queue.
#[derive(Clone)]
pub struct PgDeliveryQueue {
    pool: PgPool,
}

impl PgDeliveryQueue {
    pub fn new(pool: PgPool) -> PgDeliveryQueue {
        PgDeliveryQueue { pool }
    }
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    last_event_id: i64,
}

#[derive(QueryableByName)]
struct FirstWanted {
    #[diesel(sql_type = Nullable<BigInt>)]
    after: Option<i64>,
}

#[derive(QueryableByName)]
struct EndpointRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Array<Text>)]
    event_types: Vec<String>,
    #[diesel(sql_type = BigInt)]
    after_event_id: i64,
}

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failing_since: Option<OffsetDateTime>,
}

#[derive(QueryableByName)]
struct StatsRow {
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = Double)]
    oldest_seconds: f64,
}

#[derive(QueryableByName)]
struct Disabled {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct FanOutCheck {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = BigInt)]
    latest: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    first_wanted: Option<i64>,
}

/// Where the fan-out reads from, or `None` when it has nothing to do: no enabled endpoint (the
/// position stays; a new endpoint starts after the newest event anyway), or no event past both
/// the position and the oldest starting point of the enabled endpoints. A read, no lock: most
/// relay wake-ups (every instance gets every event) end here without a transaction to flush.
async fn fan_out_start(conn: &mut AsyncPgConnection) -> Result<Option<i64>, StoreError> {
    let check: FanOutCheck = sql_query(
        "SELECT (SELECT last_event_id FROM webhook_fanout WHERE singleton) AS position, \
                (SELECT COALESCE(max(id), 0) FROM order_events) AS latest, \
                (SELECT min(after_event_id) FROM webhook_endpoints WHERE enabled) AS first_wanted",
    )
    .get_result(conn)
    .await
    .map_err(store_error)?;
    let Some(first_wanted) = check.first_wanted else {
        return Ok(None);
    };
    let start = check.position.max(first_wanted);
    Ok((check.latest > start).then_some(start))
}

async fn fan_out_on(
    conn: &mut AsyncPgConnection,
    max_events: u32,
) -> Result<u32, TxError<StoreError>> {
    let position: Position =
        sql_query("SELECT last_event_id FROM webhook_fanout WHERE singleton FOR UPDATE")
            .get_result(conn)
            .await?;
    // Events at or before every enabled endpoint's starting point are wanted by none of them
    // (starting points only grow with creation time, so an endpoint created after this read starts
    // later still).
    let first_wanted: FirstWanted =
        sql_query("SELECT min(after_event_id) AS after FROM webhook_endpoints WHERE enabled")
            .get_result(conn)
            .await?;
    let start = position
        .last_event_id
        .max(first_wanted.after.unwrap_or(position.last_event_id));
    let rows: Vec<EventRow> = {
        use crate::schema::order_events;
        use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
        order_events::table
            .select(EventRow::as_select())
            .filter(order_events::id.gt(start))
            .order(order_events::id.asc())
            .limit(i64::from(max_events))
            .load(conn)
            .await?
    };
    let events = events_from_rows(rows).map_err(TxError::Op)?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(0);
    };
    let endpoints: Vec<EndpointRow> = sql_query(
        "SELECT id, event_types, after_event_id FROM webhook_endpoints \
         WHERE enabled AND after_event_id < $1",
    )
    .bind::<BigInt, _>(last)
    .load(conn)
    .await?;
    let endpoints: Vec<(Uuid, EventFilter, i64)> = endpoints
        .into_iter()
        .filter_map(|row| match EventFilter::parse(&row.event_types) {
            Ok(filter) => Some((row.id, filter, row.after_event_id)),
            Err(error) => {
                tracing::warn!(endpoint = %row.id, %error, "stored event_types unreadable; endpoint skipped");
                None
            }
        })
        .collect();
    let mut ids = Vec::new();
    let mut endpoint_ids = Vec::new();
    let mut event_ids = Vec::new();
    let mut types = Vec::new();
    let mut order_ids = Vec::new();
    let mut payloads = Vec::new();
    for event in &events {
        let mut payload: Option<String> = None;
        for (endpoint, filter, after) in &endpoints {
            if event.id <= *after || !filter.matches(event.kind) {
                continue;
            }
            let body = payload.get_or_insert_with(|| event.to_json()).clone();
            ids.push(Uuid::now_v7());
            endpoint_ids.push(*endpoint);
            event_ids.push(event.id);
            types.push(event.kind.as_str());
            order_ids.push(event.order_id);
            payloads.push(body);
        }
    }
    if !ids.is_empty() {
        // A new delivery waits as long as an earlier pending one of its order to its endpoint.
        sql_query(
            "INSERT INTO webhook_deliveries \
                 (id, endpoint_id, event_id, event_type, order_id, payload, next_attempt_at) \
             SELECT n.id, n.endpoint_id, n.event_id, n.event_type, n.order_id, n.payload, \
                    GREATEST(now(), (SELECT max(p.next_attempt_at) FROM webhook_deliveries p \
                                     WHERE p.endpoint_id = n.endpoint_id \
                                       AND p.order_id = n.order_id AND p.status = 'pending')) \
             FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::uuid[], $6::text[]) \
                  AS n(id, endpoint_id, event_id, event_type, order_id, payload) \
             ORDER BY n.event_id \
             ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<SqlUuid>, _>(&endpoint_ids)
        .bind::<Array<BigInt>, _>(&event_ids)
        .bind::<Array<Text>, _>(&types)
        .bind::<Array<SqlUuid>, _>(&order_ids)
        .bind::<Array<Text>, _>(&payloads)
        .execute(conn)
        .await?;
    }
    sql_query("UPDATE webhook_fanout SET last_event_id = $1 WHERE singleton")
        .bind::<BigInt, _>(last)
        .execute(conn)
        .await?;
    Ok(u32::try_from(events.len()).unwrap_or(u32::MAX))
}

/// The claim's plan: walk `webhook_deliveries_due_idx` in order and stop after `$1` rows. Left to
/// its estimates (no statistics yet, or an `ANALYZE` of an empty queue) the planner may read every
/// due row and sort them instead (40 ms a claim with 20,000 pending, against 1 ms), so within the
/// claim's transaction sorting and bitmap scans are off.
const CLAIM_PLAN: &str = "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off";

/// The claim (see the module docs). "No earlier pending event of the order" is written as "the
/// first pending event of the order is this one", a scalar subquery the planner cannot turn into a
/// join: it stays one probe of `webhook_deliveries_order_idx` per candidate whatever the table's
/// statistics say. (`NOT EXISTS` was planned, after an `ANALYZE` of an empty queue, as a nested
/// loop over the whole index: seconds per claim with 20,000 pending.) The outer `UPDATE` joins the
/// endpoint again for its URL and secrets as they are now.
const CLAIM: &str = "\
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.leased_until IS NULL OR d.leased_until <= now())
      AND e.enabled
      AND (d.order_id IS NULL OR d.event_id = (
          SELECT min(p.event_id) FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id
            AND p.status = 'pending'))
    ORDER BY d.next_attempt_at, d.event_id
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET lease_token = $2, leased_until = now() + $3 * interval '1 microsecond',
    attempts = d.attempts + 1, last_attempt_at = now()
FROM due, webhook_endpoints e
WHERE d.id = due.id AND e.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, d.event_id, d.payload, d.attempts, d.created_at, e.url, e.secret,
          CASE WHEN e.previous_expires_at > now() THEN e.previous_secret END AS previous_secret,
          e.failing_since";

fn claimed(row: ClaimRow) -> Result<ClaimedDelivery, StoreError> {
    let bad = |_| StoreError::Internal(format!("endpoint {}: unreadable secret", row.endpoint_id));
    let mut secrets = vec![WebhookSecret::parse(&row.secret).map_err(bad)?];
    if let Some(previous) = &row.previous_secret {
        secrets.push(WebhookSecret::parse(previous).map_err(bad)?);
    }
    Ok(ClaimedDelivery {
        id: row.id,
        endpoint_id: row.endpoint_id,
        message_id: format!("msg_{}", row.id.simple()),
        url: row.url,
        secrets,
        payload: row.payload,
        attempts_before: row.attempts - 1,
        event_id: row.event_id,
        queued_at: row.created_at,
        failing_since: row.failing_since,
    })
}

async fn record_on(
    conn: &mut AsyncPgConnection,
    attempts: &[AttemptRecord],
) -> Result<(), TxError<StoreError>> {
    // A record lost in a database crash only means the delivery is sent again after its lease
    // (at least once, same `webhook-id`): not worth a WAL flush per batch.
    sql_query("SET LOCAL synchronous_commit TO off")
        .execute(conn)
        .await?;
    let ids: Vec<Uuid> = attempts.iter().map(|a| a.delivery_id).collect();
    let tokens: Vec<Uuid> = attempts.iter().map(|a| a.lease_token).collect();
    let statuses: Vec<&str> = attempts
        .iter()
        .map(|a| match (a.outcome.succeeded(), a.next_attempt_at) {
            (true, _) => "succeeded",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        })
        .collect();
    let next: Vec<Option<OffsetDateTime>> = attempts
        .iter()
        .map(|a| a.next_attempt_at.filter(|_| !a.outcome.succeeded()))
        .collect();
    let http: Vec<Option<i32>> = attempts
        .iter()
        .map(|a| a.outcome.status().map(i32::from))
        .collect();
    let errors: Vec<Option<String>> = attempts.iter().map(|a| a.outcome.error()).collect();
    sql_query(
        "WITH r AS ( \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], \
                                  $5::int4[], $6::text[]) \
                 AS r(id, token, status, next_at, http, error)), \
         done AS ( \
             UPDATE webhook_deliveries d \
             SET status = r.status, next_attempt_at = r.next_at, last_response_status = r.http, \
                 last_error = r.error, lease_token = NULL, leased_until = NULL \
             FROM r WHERE d.id = r.id AND d.lease_token = r.token \
             RETURNING d.endpoint_id, d.order_id, d.event_id, d.next_attempt_at) \
         UPDATE webhook_deliveries l SET next_attempt_at = done.next_attempt_at \
         FROM done \
         WHERE done.next_attempt_at IS NOT NULL AND l.endpoint_id = done.endpoint_id \
           AND l.order_id = done.order_id AND l.status = 'pending' \
           AND l.event_id > done.event_id AND l.next_attempt_at < done.next_attempt_at",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<SqlUuid>, _>(&tokens)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Nullable<Timestamptz>>, _>(&next)
    .bind::<Array<Nullable<Int4>>, _>(&http)
    .bind::<Array<Nullable<Text>>, _>(&errors)
    .execute(conn)
    .await?;

    // The endpoints' failure history: failures first, then successes (a success clears it).
    let mut failed: Vec<(Uuid, OffsetDateTime)> = Vec::new();
    let mut succeeded: Vec<Uuid> = Vec::new();
    for attempt in attempts {
        if attempt.outcome.succeeded() {
            succeeded.push(attempt.endpoint_id);
        } else {
            failed.push((attempt.endpoint_id, attempt.finished_at));
        }
    }
    if !failed.is_empty() {
        let (endpoints, times): (Vec<Uuid>, Vec<OffsetDateTime>) = failed.into_iter().unzip();
        sql_query(
            "UPDATE webhook_endpoints e SET failing_since = f.at \
             FROM (SELECT id, min(at) AS at FROM unnest($1::uuid[], $2::timestamptz[]) AS f(id, at) \
                   GROUP BY id) f \
             WHERE e.id = f.id AND e.failing_since IS NULL",
        )
        .bind::<Array<SqlUuid>, _>(&endpoints)
        .bind::<Array<Timestamptz>, _>(&times)
        .execute(conn)
        .await
        ?;
    }
    if !succeeded.is_empty() {
        succeeded.sort_unstable();
        succeeded.dedup();
        sql_query(
            "UPDATE webhook_endpoints SET failing_since = NULL \
             WHERE id = ANY($1) AND failing_since IS NOT NULL",
        )
        .bind::<Array<SqlUuid>, _>(&succeeded)
        .execute(conn)
        .await?;
    }
    for attempt in attempts {
        let Some(reason) = &attempt.disable else {
            continue;
        };
        let disabled: Vec<Disabled> = sql_query(
            "UPDATE webhook_endpoints \
             SET enabled = FALSE, disabled_reason = $2, updated_at = now() \
             WHERE id = $1 AND enabled RETURNING id",
        )
        .bind::<SqlUuid, _>(attempt.endpoint_id)
        .bind::<Text, _>(reason)
        .load(conn)
        .await?;
        for endpoint in disabled {
            tracing::warn!(endpoint = %endpoint.id, %reason, "webhook endpoint disabled");
            super::park(conn, endpoint.id).await?;
            let mut changes = Changes::new();
            changes.field("enabled", true, false).field(
                "disabled_reason",
                None::<&str>,
                Some(reason.as_str()),
            );
            let entry = AuditEntry {
                action: action::WEBHOOK_DISABLED.to_owned(),
                actor: None,
                target: Some(AuditTarget::new(target::WEBHOOK, endpoint.id)),
                changes: Some(changes),
                request_id: None,
                client_ip: None,
            };
            crate::audit::insert(conn, &entry).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl DeliveryQueue for PgDeliveryQueue {
    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        if fan_out_start(&mut conn).await?.is_none() {
            return Ok(0);
        }
        conn.transaction(async |conn| fan_out_on(conn, max_events).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn claim(
        &self,
        max: u32,
        lease_token: Uuid,
        lease: Duration,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<ClaimRow> = conn
            .transaction(async |conn| {
                conn.batch_execute(CLAIM_PLAN).await?;
                sql_query(CLAIM)
                    .bind::<BigInt, _>(i64::from(max))
                    .bind::<SqlUuid, _>(lease_token)
                    .bind::<BigInt, _>(micros(lease))
                    .load(conn)
                    .await
            })
            .await
            .map_err(store_error)?;
        let mut claims: Vec<ClaimedDelivery> =
            rows.into_iter().map(claimed).collect::<Result<_, _>>()?;
        claims.sort_by_key(|c| c.event_id);
        Ok(claims)
    }

    async fn record(&self, attempts: &[AttemptRecord]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| record_on(conn, attempts).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        leased::next_due(&self.pool, Queue::Webhooks).await
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        leased::purge_before(&self.pool, Queue::Webhooks, cutoff).await
    }

    async fn stats(&self) -> Result<Vec<QueueStats>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<StatsRow> = sql_query(
            "SELECT e.id AS endpoint_id, count(d.id) AS pending, \
                    COALESCE(EXTRACT(EPOCH FROM now() - min(d.created_at))::float8, 0) \
                        AS oldest_seconds \
             FROM webhook_endpoints e \
             LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status = 'pending' \
             GROUP BY e.id",
        )
        .load(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|row| QueueStats {
                endpoint_id: row.endpoint_id,
                pending: row.pending,
                oldest_pending_seconds: row.oldest_seconds,
            })
            .collect())
    }
}
