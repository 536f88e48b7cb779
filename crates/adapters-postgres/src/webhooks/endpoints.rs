//! [`WebhookStore`] over `webhook_endpoints` and `webhook_deliveries`: the admin side of webhooks.
//! Every write stores its audit entry in its own transaction (`changes` never hold a secret); a
//! change that changes nothing writes nothing.
//!
//! - **Creation** takes the event lock ([`EVENT_LOCK_KEY`], as every event writer does before it
//!   takes event ids) and then reads the greatest event id as the endpoint's `after_event_id`.
//!   Event ids are taken and committed under that lock, so once this transaction holds it every
//!   event with an id up to that maximum has committed, and every event that commits after the
//!   endpoint (the lock is released at this commit) has a greater id: exactly the events the
//!   endpoint is owed.
//! - **The test event** takes its event id from the events' own sequence (so it never collides
//!   with a real event's delivery to the endpoint; the relay treats the unused id as the gap of a
//!   rolled-back transaction), and is queued due now.
//! - **Redelivery** makes a delivery pending and due now, its attempts kept; a lease held by an
//!   attempt in flight is left alone (no two attempts of one delivery at once).
//!
//! Both queue writes are followed (in `app`) by a wake of this instance's delivery loop; other
//! instances find the delivery at their next look (within a second).

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::webhook::{EventFilter, TEST_EVENT_TYPE, WebhookSecret};
use ports::audit::{action, target};
use ports::{
    AuditContext, AuditTarget, Changes, Delivery, DeliveryQuery, DeliveryStatus, EndpointQuery,
    NewWebhookEndpoint, StoreError, WebhookEndpoint, WebhookEndpointChange, WebhookStore,
};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::{TxError, store_error};
use crate::events::EVENT_LOCK_KEY;
use crate::pool::PgPool;
use crate::schema::{webhook_deliveries, webhook_endpoints};

/// An endpoint's columns as admins see them (never the secrets).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
struct EndpointRow {
    id: Uuid,
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl EndpointRow {
    fn endpoint(self) -> Result<WebhookEndpoint, StoreError> {
        let event_types = EventFilter::parse(&self.event_types).map_err(|e| {
            StoreError::Internal(format!(
                "webhook endpoint {}: bad event_types: {e}",
                self.id
            ))
        })?;
        Ok(WebhookEndpoint {
            id: self.id,
            url: self.url,
            event_types,
            description: self.description,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
struct DeliveryRow {
    id: Uuid,
    event_id: i64,
    event_type: String,
    status: String,
    attempts: i32,
    last_attempt_at: Option<OffsetDateTime>,
    next_attempt_at: Option<OffsetDateTime>,
    last_response_status: Option<i32>,
    last_error: Option<String>,
}

impl DeliveryRow {
    fn delivery(self) -> Result<Delivery, StoreError> {
        let status = DeliveryStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Internal(format!(
                "delivery {}: bad status {:?}",
                self.id, self.status
            ))
        })?;
        Ok(Delivery {
            id: self.id,
            event_id: self.event_id,
            event_type: self.event_type,
            status,
            attempts: self.attempts,
            last_attempt_at: self.last_attempt_at,
            next_attempt_at: super::shown_due(self.next_attempt_at),
            last_response_status: self.last_response_status,
            last_error: self.last_error,
        })
    }
}

#[derive(Debug, QueryableByName)]
struct NextEvent {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Timestamptz)]
    at: OffsetDateTime,
}

#[derive(Debug, QueryableByName)]
struct MaxEvent {
    #[diesel(sql_type = BigInt)]
    max_id: i64,
}

#[derive(Clone)]
pub struct PgWebhookStore {
    pool: PgPool,
}

impl PgWebhookStore {
    pub fn new(pool: PgPool) -> PgWebhookStore {
        PgWebhookStore { pool }
    }
}

fn names(filter: &EventFilter) -> Vec<String> {
    filter.names().into_iter().map(str::to_owned).collect()
}

fn webhook_target(id: Uuid) -> Option<AuditTarget> {
    Some(AuditTarget::new(target::WEBHOOK, id))
}

/// A failure inside a transaction that is no database error (bad stored data).
type Tx = TxError<StoreError>;

fn internal(e: StoreError) -> Tx {
    TxError::Op(e)
}

async fn create_on(
    conn: &mut AsyncPgConnection,
    new: &NewWebhookEndpoint,
    ctx: &AuditContext,
) -> Result<WebhookEndpoint, Tx> {
    // See the module docs: the lock first, then the greatest event id.
    Cached(diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(EVENT_LOCK_KEY))
        .execute(conn)
        .await?;
    let after: MaxEvent = Cached(diesel::sql_query(
        "SELECT COALESCE(max(id), 0)::bigint AS max_id FROM order_events",
    ))
    .get_result(conn)
    .await?;
    let event_types = names(&new.event_types);
    let row: EndpointRow = diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(new.id),
            webhook_endpoints::url.eq(&new.url),
            webhook_endpoints::event_types.eq(&event_types),
            webhook_endpoints::description.eq(new.description.as_deref()),
            webhook_endpoints::enabled.eq(new.enabled),
            webhook_endpoints::secret.eq(new.secret.expose()),
            webhook_endpoints::after_event_id.eq(after.max_id),
        ))
        .returning(EndpointRow::as_returning())
        .get_result(conn)
        .await?;
    let mut changes = Changes::new();
    changes
        .field("url", None::<String>, &row.url)
        .field("event_types", None::<Vec<String>>, &event_types)
        .field("description", None::<String>, &row.description)
        .field("enabled", None::<bool>, row.enabled);
    let entry = ctx
        .entry(action::WEBHOOK_CREATED, webhook_target(row.id))
        .with_changes(changes);
    crate::audit::insert(conn, &entry).await?;
    row.endpoint().map_err(internal)
}

/// What a change reads of the endpoint, locked.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
struct CurrentRow {
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<OffsetDateTime>,
}

async fn update_on(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    change: &WebhookEndpointChange,
    ctx: &AuditContext,
) -> Result<Option<WebhookEndpoint>, Tx> {
    if change.enabled.is_some() {
        // A disable parks (or an enable unparks) the pending deliveries: locked first, in the
        // delivery recorder's order.
        super::lock_deliveries(conn, id, true).await?;
    }
    let Some(current) = webhook_endpoints::table
        .find(id)
        .select(CurrentRow::as_select())
        .for_no_key_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let url = change.url.clone().unwrap_or_else(|| current.url.clone());
    let event_types = change
        .event_types
        .as_ref()
        .map(names)
        .unwrap_or_else(|| current.event_types.clone());
    let description = change
        .description
        .clone()
        .unwrap_or_else(|| current.description.clone());
    let enabled = change.enabled.unwrap_or(current.enabled);
    // Sending `enabled` (either way) makes it the admin's choice: no server reason stays.
    let disabled_reason = match change.enabled {
        Some(_) => None,
        None => current.disabled_reason.clone(),
    };
    // Re-enabling starts the failure history afresh.
    let failing_since = if enabled && !current.enabled {
        None
    } else {
        current.failing_since
    };
    let mut changes = Changes::new();
    changes
        .field("url", &current.url, &url)
        .field("event_types", &current.event_types, &event_types)
        .field("description", &current.description, &description)
        .field("enabled", current.enabled, enabled)
        .field(
            "disabled_reason",
            &current.disabled_reason,
            &disabled_reason,
        );
    if changes.is_empty() {
        let row = webhook_endpoints::table
            .find(id)
            .select(EndpointRow::as_select())
            .first(conn)
            .await?;
        return row.endpoint().map(Some).map_err(internal);
    }
    let row: EndpointRow = diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(&url),
            webhook_endpoints::event_types.eq(&event_types),
            webhook_endpoints::description.eq(description.as_deref()),
            webhook_endpoints::enabled.eq(enabled),
            webhook_endpoints::disabled_reason.eq(disabled_reason.as_deref()),
            webhook_endpoints::failing_since.eq(failing_since),
            webhook_endpoints::updated_at.eq(diesel::dsl::now),
        ))
        .returning(EndpointRow::as_returning())
        .get_result(conn)
        .await?;
    match (current.enabled, enabled) {
        (true, false) => {
            super::park(conn, id).await?;
        }
        (false, true) => {
            super::unpark(conn, id).await?;
        }
        _ => {}
    }
    let entry = ctx
        .entry(action::WEBHOOK_UPDATED, webhook_target(id))
        .with_changes(changes);
    crate::audit::insert(conn, &entry).await?;
    row.endpoint().map(Some).map_err(internal)
}

async fn delete_on(conn: &mut AsyncPgConnection, id: Uuid, ctx: &AuditContext) -> Result<bool, Tx> {
    // The cascade deletes them: locked first, in the delivery recorder's order.
    super::lock_deliveries(conn, id, false).await?;
    let Some(row) = diesel::delete(webhook_endpoints::table.find(id))
        .returning(EndpointRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
    else {
        return Ok(false);
    };
    let mut changes = Changes::new();
    changes
        .field("url", &row.url, None::<String>)
        .field("event_types", &row.event_types, None::<Vec<String>>)
        .field("description", &row.description, None::<String>)
        .field("enabled", row.enabled, None::<bool>);
    let entry = ctx
        .entry(action::WEBHOOK_DELETED, webhook_target(id))
        .with_changes(changes);
    crate::audit::insert(conn, &entry).await?;
    Ok(true)
}

async fn rotate_on(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    secret: &WebhookSecret,
    previous_valid_for: Duration,
    ctx: &AuditContext,
) -> Result<bool, Tx> {
    let updated = Cached(
        diesel::sql_query(
            "UPDATE webhook_endpoints \
                SET previous_secret = secret, \
                    previous_expires_at = now() + make_interval(secs => $2), \
                    secret = $3, \
                    updated_at = now() \
              WHERE id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<Double, _>(previous_valid_for.as_secs_f64())
        .bind::<diesel::sql_types::Text, _>(secret.expose()),
    )
    .execute(conn)
    .await?;
    if updated == 0 {
        return Ok(false);
    }
    // No `changes`: the only change is the secret, which never enters the log.
    let entry = ctx.entry(action::WEBHOOK_SECRET_ROTATED, webhook_target(id));
    crate::audit::insert(conn, &entry).await?;
    Ok(true)
}

async fn send_test_on(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    ctx: &AuditContext,
) -> Result<Option<Delivery>, Tx> {
    // KEY SHARE: the endpoint cannot be deleted until the delivery is in (as its foreign key
    // would hold it anyway), and changes of it are not blocked.
    let exists = webhook_endpoints::table
        .find(id)
        .select(webhook_endpoints::id)
        .for_key_share()
        .first::<Uuid>(conn)
        .await
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let next: NextEvent = Cached(diesel::sql_query(
        "SELECT nextval(pg_get_serial_sequence('order_events', 'id')) AS event_id, now() AS at",
    ))
    .get_result(conn)
    .await?;
    let occurred_at = next
        .at
        .format(&Rfc3339)
        .map_err(|e| internal(StoreError::Internal(format!("timestamp: {e}"))))?;
    let payload = json!({
        "id": next.event_id,
        "type": TEST_EVENT_TYPE,
        "webhook_id": id,
        "occurred_at": occurred_at,
    })
    .to_string();
    let row: DeliveryRow = diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(Uuid::now_v7()),
            webhook_deliveries::endpoint_id.eq(id),
            webhook_deliveries::event_id.eq(next.event_id),
            webhook_deliveries::event_type.eq(TEST_EVENT_TYPE),
            webhook_deliveries::order_id.eq(None::<Uuid>),
            webhook_deliveries::payload.eq(&payload),
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
        ))
        .returning(DeliveryRow::as_returning())
        .get_result(conn)
        .await?;
    let mut changes = Changes::new();
    changes
        .field("delivery_id", None::<Uuid>, row.id)
        .field("event_id", None::<i64>, row.event_id);
    let entry = ctx
        .entry(action::WEBHOOK_TEST_SENT, webhook_target(id))
        .with_changes(changes);
    crate::audit::insert(conn, &entry).await?;
    row.delivery().map(Some).map_err(internal)
}

async fn retry_on(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    delivery_id: Uuid,
    ctx: &AuditContext,
) -> Result<Option<Delivery>, Tx> {
    let scope = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(delivery_id))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id));
    let Some(before) = scope
        .select(webhook_deliveries::status)
        .for_no_key_update()
        .first::<String>(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let row: DeliveryRow = diesel::update(scope)
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
        ))
        .returning(DeliveryRow::as_returning())
        .get_result(conn)
        .await?;
    let mut changes = Changes::new();
    changes.field("status", &before, DeliveryStatus::Pending.as_str());
    // The endpoint, for the log's reader (the target is the delivery).
    changes.0.insert(
        "endpoint_id".to_owned(),
        [json!(endpoint_id), json!(endpoint_id)],
    );
    let entry = ctx
        .entry(
            action::WEBHOOK_REDELIVERED,
            Some(AuditTarget::new(target::WEBHOOK_DELIVERY, delivery_id)),
        )
        .with_changes(changes);
    crate::audit::insert(conn, &entry).await?;
    row.delivery().map(Some).map_err(internal)
}

#[async_trait]
impl WebhookStore for PgWebhookStore {
    async fn create(
        &self,
        endpoint: NewWebhookEndpoint,
        audit: &AuditContext,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| create_on(conn, &endpoint, audit).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn list(&self, query: &EndpointQuery) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let mut statement = webhook_endpoints::table
            .select(EndpointRow::as_select())
            .order((
                webhook_endpoints::created_at.desc(),
                webhook_endpoints::id.desc(),
            ))
            .limit(i64::from(query.limit))
            .into_boxed();
        if let Some(after) = query.after {
            statement = statement.filter(
                webhook_endpoints::created_at.lt(after.created_at).or(
                    webhook_endpoints::created_at
                        .eq(after.created_at)
                        .and(webhook_endpoints::id.lt(after.id)),
                ),
            );
        }
        let rows: Vec<EndpointRow> = statement.load(&mut conn).await.map_err(store_error)?;
        rows.into_iter().map(EndpointRow::endpoint).collect()
    }

    async fn get(&self, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        webhook_endpoints::table
            .find(id)
            .select(EndpointRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?
            .map(EndpointRow::endpoint)
            .transpose()
    }

    async fn update(
        &self,
        id: Uuid,
        change: WebhookEndpointChange,
        audit: &AuditContext,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| update_on(conn, id, &change, audit).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn delete(&self, id: Uuid, audit: &AuditContext) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| delete_on(conn, id, audit).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: WebhookSecret,
        previous_valid_for: Duration,
        audit: &AuditContext,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| rotate_on(conn, id, &secret, previous_valid_for, audit).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn send_test(
        &self,
        id: Uuid,
        audit: &AuditContext,
    ) -> Result<Option<Delivery>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| send_test_on(conn, id, audit).await)
            .await
            .map_err(TxError::into_op)
    }

    async fn deliveries(&self, query: &DeliveryQuery) -> Result<Option<Vec<Delivery>>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let exists = webhook_endpoints::table
            .find(query.endpoint_id)
            .select(webhook_endpoints::id)
            .first::<Uuid>(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut statement = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(query.endpoint_id))
            .select(DeliveryRow::as_select())
            .order(webhook_deliveries::event_id.desc())
            .limit(i64::from(query.limit))
            .into_boxed();
        if let Some(status) = query.status {
            statement = statement.filter(webhook_deliveries::status.eq(status.as_str()));
        }
        if let Some(before) = query.before_event_id {
            statement = statement.filter(webhook_deliveries::event_id.lt(before));
        }
        let rows: Vec<DeliveryRow> = statement.load(&mut conn).await.map_err(store_error)?;
        rows.into_iter()
            .map(DeliveryRow::delivery)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn retry_delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        audit: &AuditContext,
    ) -> Result<Option<Delivery>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| retry_on(conn, endpoint_id, delivery_id, audit).await)
            .await
            .map_err(TxError::into_op)
    }
}
