//! [`ChargeRecords`] over `stripe_payment_intents`: the PaymentIntents made for each charge
//! attempt of an order.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ports::{ChargeRecord, ChargeRecords, StoreError};
use uuid::Uuid;

use crate::errors::store_error;
use crate::pool::PgPool;
use crate::schema::{refunds, stripe_payment_intents as intents};

#[derive(Clone)]
pub struct PgChargeRecords {
    pool: PgPool,
}

impl PgChargeRecords {
    pub fn new(pool: PgPool) -> PgChargeRecords {
        PgChargeRecords { pool }
    }
}

type Row = (Uuid, i32, Option<String>);

/// `stripe_payment_intents` rows as [`ChargeRecord`]s, to be filtered.
type Records<'a> = intents::BoxedQuery<
    'a,
    diesel::pg::Pg,
    (
        diesel::sql_types::Uuid,
        diesel::sql_types::Integer,
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ),
>;

fn records<'a>() -> Records<'a> {
    intents::table
        .select((intents::order_id, intents::attempt, intents::intent_id))
        .into_boxed()
}

fn record((order_id, attempt, provider_id): Row) -> ChargeRecord {
    ChargeRecord {
        order_id,
        attempt: u32::try_from(attempt).unwrap_or(0),
        provider_id,
    }
}

fn attempt_of(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

impl PgChargeRecords {
    /// The first record `query` finds.
    async fn first(&self, query: Records<'_>) -> Result<Option<ChargeRecord>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        query
            .first::<Row>(&mut conn)
            .await
            .optional()
            .map(|row| row.map(record))
            .map_err(store_error)
    }
}

#[async_trait]
impl ChargeRecords for PgChargeRecords {
    async fn begin(
        &self,
        order_id: Uuid,
        attempt: u32,
    ) -> Result<Option<ChargeRecord>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let inserted = diesel::insert_into(intents::table)
            .values((
                intents::order_id.eq(order_id),
                intents::attempt.eq(attempt_of(attempt)),
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        drop(conn);
        if inserted == 1 {
            return Ok(None);
        }
        self.first(
            records()
                .filter(intents::order_id.eq(order_id))
                .filter(intents::attempt.eq(attempt_of(attempt))),
        )
        .await
    }

    async fn record(
        &self,
        order_id: Uuid,
        attempt: u32,
        provider_id: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        diesel::insert_into(intents::table)
            .values((
                intents::order_id.eq(order_id),
                intents::attempt.eq(attempt_of(attempt)),
                intents::intent_id.eq(provider_id),
            ))
            .on_conflict((intents::order_id, intents::attempt))
            .do_update()
            .set((
                intents::intent_id.eq(provider_id),
                intents::updated_at.eq(diesel::dsl::now),
            ))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn latest(&self, order_id: Uuid) -> Result<Option<ChargeRecord>, StoreError> {
        self.first(
            records()
                .filter(intents::order_id.eq(order_id))
                .order(intents::attempt.desc()),
        )
        .await
    }

    async fn find(&self, provider_id: &str) -> Result<Option<ChargeRecord>, StoreError> {
        self.first(records().filter(intents::intent_id.eq(provider_id.to_owned())))
            .await
    }

    async fn for_refund(&self, refund_id: Uuid) -> Result<Option<ChargeRecord>, StoreError> {
        let of_order = refunds::table
            .filter(refunds::id.eq(refund_id))
            .select(refunds::order_id);
        self.first(
            records()
                .filter(intents::order_id.eq_any(of_order))
                .filter(intents::intent_id.is_not_null())
                .order(intents::attempt.desc()),
        )
        .await
    }
}
