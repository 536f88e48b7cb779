//! [`OrderRepository`] over `orders`, `order_items` and `order_events`.
//!
//! - [`place`]: the placement transaction (stock taken without overselling).
//! - [`status`]: moves through the state machine and payment-status updates.
//!
//! Placements, and status changes, each go through a [`GroupCommit`]: those that arrive while one
//! of their kind is being written share the next transaction (and its commit).
//! - [`queries`]: reads (one order, lists with keyset pagination, history, reconciler); the CSV
//!   export is [`crate::export`].
//! - [`notes`]: internal notes (never an event).
//!
//! Every admin write (a status change, a shipment, a refund's reservation, a note) stores the
//! audit entry it is given in its own transaction, with the changes the store alone knows (read
//! under the order's row lock); a refused write stores none.

mod notes;
mod notice;
mod place;
mod queries;
mod refund;
mod ship;
mod status;

use async_trait::async_trait;
use domain::{OrderLine, OrderStatus, PaymentStatus, PricingRules};
use ports::{
    AddNoteError, ChangeStatusError, NewNote, NewOrder, NewRefund, NewShipment, Order, OrderCursor,
    OrderFilter, OrderNote, OrderRepository, PaymentNotice, PaymentUpdateError, PlaceOrderError,
    ProviderEventOutcome, Quote, ReconcileHorizon, Refund, RefundError, RefundSettlement,
    ShipError, Shipment, StatusChange, StoreError, StoredEvent,
};
use time::OffsetDateTime;
use uuid::Uuid;

use std::sync::Arc;

use crate::batch::GroupCommit;
use crate::pool::PgPool;
use place::PlaceJob;
use status::StatusJob;

#[derive(Clone)]
pub struct PgOrderRepository {
    pool: PgPool,
    placements: Arc<GroupCommit<PlaceJob>>,
    changes: Arc<GroupCommit<StatusJob>>,
}

impl PgOrderRepository {
    pub fn new(pool: PgPool) -> PgOrderRepository {
        PgOrderRepository {
            pool,
            placements: Arc::default(),
            changes: Arc::default(),
        }
    }

    /// Placements and status changes queued behind a transaction of their kind, not yet taken
    /// into one (for tests and metrics: a test sees its writes queue up instead of sleeping).
    pub fn queued_writes(&self) -> usize {
        self.placements.queued() + self.changes.queued()
    }
}

#[async_trait]
impl OrderRepository for PgOrderRepository {
    async fn place(&self, order: &NewOrder) -> Result<Order, PlaceOrderError> {
        self.placements
            .submit(&self.pool, PlaceJob(order.clone()))
            .await
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        queries::get(&self.pool, id).await
    }

    async fn quote(
        &self,
        lines: &[OrderLine],
        country: &str,
        rules: &PricingRules,
    ) -> Result<Quote, PlaceOrderError> {
        place::quote(&self.pool, lines, country, rules).await
    }

    async fn change_status(&self, change: &StatusChange) -> Result<Order, ChangeStatusError> {
        self.changes
            .submit(&self.pool, StatusJob(change.clone()))
            .await
    }

    async fn set_payment_status(
        &self,
        order_id: Uuid,
        from: Vec<PaymentStatus>,
        to: PaymentStatus,
    ) -> Result<Order, PaymentUpdateError> {
        status::set_payment_status(&self.pool, order_id, &from, to).await
    }

    async fn list_for_user(
        &self,
        user_id: i64,
        status: Option<OrderStatus>,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        let filter = OrderFilter {
            statuses: status.into_iter().collect(),
            user_id: Some(user_id),
            ..OrderFilter::default()
        };
        queries::list(&self.pool, &filter, after, limit).await
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        queries::list(&self.pool, filter, after, limit).await
    }

    async fn history(&self, order_id: Uuid) -> Result<Vec<StoredEvent>, StoreError> {
        queries::history(&self.pool, order_id).await
    }

    async fn pending_to_reconcile(
        &self,
        created_before: OffsetDateTime,
        attempted_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        queries::pending_to_reconcile(&self.pool, created_before, attempted_before, limit).await
    }

    async fn reconcile_horizon(&self) -> Result<ReconcileHorizon, StoreError> {
        queries::reconcile_horizon(&self.pool).await
    }

    async fn ship(&self, shipment: &NewShipment) -> Result<(Order, Shipment), ShipError> {
        ship::ship(&self.pool, shipment).await
    }

    async fn shipment(&self, order_id: Uuid, id: Uuid) -> Result<Option<Shipment>, StoreError> {
        ship::shipment(&self.pool, order_id, id).await
    }

    async fn reserve_refund(&self, refund: &NewRefund) -> Result<Refund, RefundError> {
        refund::reserve(&self.pool, refund).await
    }

    async fn settle_refund(
        &self,
        refund_id: Uuid,
        settlement: &RefundSettlement,
    ) -> Result<(Order, Refund), StoreError> {
        refund::settle(&self.pool, refund_id, settlement).await
    }

    async fn refund(&self, id: Uuid) -> Result<Option<Refund>, StoreError> {
        refund::one(&self.pool, id).await
    }

    async fn pending_refunds(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Refund>, StoreError> {
        refund::pending(&self.pool, before, limit).await
    }

    async fn apply_payment_notice(
        &self,
        event_id: &str,
        event_type: &str,
        notice: &PaymentNotice,
    ) -> Result<ProviderEventOutcome, StoreError> {
        notice::apply(&self.pool, event_id, event_type, notice).await
    }

    async fn add_note(&self, note: &NewNote) -> Result<OrderNote, AddNoteError> {
        notes::add(&self.pool, note).await
    }

    async fn notes(&self, order_id: Uuid) -> Result<Vec<OrderNote>, StoreError> {
        notes::list(&self.pool, order_id).await
    }
}
