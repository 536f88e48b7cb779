//! What a payment provider's event changes, applied once: the event id is stored in the
//! transaction of the change (`stripe_events`), so a replay finds it and changes nothing.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use domain::{OrderStatus, PaymentStatus};
use ports::{PaymentNotice, ProviderEventOutcome, StatusChange, StoreError};

use crate::errors::store_error;
use crate::pool::PgPool;
use crate::schema::{orders, stripe_events};

use super::status::{StatusJob, change_all};

/// A failure inside the notice's transaction (it rolls back).
pub(super) enum NoticeFailure {
    Db(DieselError),
    Store(StoreError),
}

impl From<DieselError> for NoticeFailure {
    fn from(e: DieselError) -> NoticeFailure {
        NoticeFailure::Db(e)
    }
}

impl From<StoreError> for NoticeFailure {
    fn from(e: StoreError) -> NoticeFailure {
        NoticeFailure::Store(e)
    }
}

pub(super) async fn apply(
    pool: &PgPool,
    event_id: &str,
    event_type: &str,
    notice: &PaymentNotice,
) -> Result<ProviderEventOutcome, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let applied = conn
        .transaction(async |conn| apply_in(conn, event_id, event_type, notice).await)
        .await;
    match applied {
        Ok(outcome) => Ok(outcome),
        Err(NoticeFailure::Db(e)) => Err(store_error(e)),
        Err(NoticeFailure::Store(e)) => Err(e),
    }
}

async fn apply_in(
    conn: &mut AsyncPgConnection,
    event_id: &str,
    event_type: &str,
    notice: &PaymentNotice,
) -> Result<ProviderEventOutcome, NoticeFailure> {
    let first = diesel::insert_into(stripe_events::table)
        .values((
            stripe_events::event_id.eq(event_id),
            stripe_events::kind.eq(event_type),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if first == 0 {
        return Ok(ProviderEventOutcome::Replayed);
    }
    let changed = match notice {
        PaymentNotice::Captured {
            order_id,
            reference,
            ..
        } => {
            let mut change = StatusChange::new(*order_id, OrderStatus::Paid);
            change.payment_reference = Some(reference.clone());
            change.payment_status_in = vec![PaymentStatus::Processing, PaymentStatus::Failed];
            let mut outputs = change_all(conn, &[StatusJob(change)]).await?;
            match outputs.pop() {
                Some(Ok(_)) => true,
                Some(Err(ports::ChangeStatusError::Store(e))) => return Err(e.into()),
                Some(Err(_)) | None => false,
            }
        }
        PaymentNotice::Failed { order_id, attempt } => {
            let attempt = i32::try_from(*attempt).unwrap_or(i32::MAX);
            diesel::update(
                orders::table
                    .filter(orders::id.eq(order_id))
                    .filter(orders::status.eq(OrderStatus::Pending.as_str()))
                    .filter(orders::payment_status.eq(PaymentStatus::Processing.as_str()))
                    .filter(orders::payment_attempt.eq(attempt)),
            )
            .set((
                orders::payment_status.eq(PaymentStatus::Failed.as_str()),
                orders::version.eq(orders::version + 1),
                orders::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?
                == 1
        }
        PaymentNotice::RefundSettled {
            refund_id,
            settlement,
        } => super::refund::settle_pending_in(conn, *refund_id, settlement).await?,
    };
    Ok(if changed {
        ProviderEventOutcome::Applied
    } else {
        ProviderEventOutcome::Unchanged
    })
}
