//! Orders: placing them (stock reserved atomically), moving them through the state machine,
//! finding them.

use async_trait::async_trait;
use domain::order::placement::{OrderLine, ShippingAddress};
use domain::{
    ExceedsOpen, ExceedsRefundable, FulfillmentStatus, InvalidTransition, OrderStatus,
    PaymentStatus, PricingError, PricingRules, RefundItem, Role,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::audit::AuditEntry;
use crate::events::StoredEvent;
use crate::notes::{AddNoteError, NewNote, OrderNote};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    /// Units shipped (returned ones included).
    pub quantity_shipped: i64,
    /// Units refunded before they shipped, or left when the order was cancelled.
    pub quantity_cancelled: i64,
    /// Shipped units refunded with `return` or `no_restock`.
    pub quantity_returned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub carrier: String,
    pub tracking_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub user_id: i64,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub payment_collected: bool,
    /// The provider's reference of the charge, once captured.
    pub payment_reference: Option<String>,
    /// The payment attempt, from 1; paying again after a failed attempt makes the next one.
    pub payment_attempt: u32,
    pub subtotal: i64,
    pub shipping_amount: i64,
    pub tax_amount: i64,
    pub total_amount: i64,
    pub currency: String,
    pub shipping_address: ShippingAddress,
    /// The latest shipment's tracking.
    pub tracking: Option<Tracking>,
    pub items: Vec<OrderItem>,
    pub fulfillment_status: FulfillmentStatus,
    /// What succeeded refunds gave back, in cents.
    pub refunded_amount: i64,
    /// Oldest first.
    pub shipments: Vec<Shipment>,
    /// Oldest first, every status.
    pub refunds: Vec<Refund>,
    /// Goes up by one on every change: the `ETag`.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Some of an order's units, shipped together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub id: Uuid,
    pub order_id: Uuid,
    /// `(product_id, quantity)`, in the order's line order.
    pub items: Vec<(i64, i64)>,
    pub tracking: Option<Tracking>,
    pub created_at: OffsetDateTime,
}

/// A shipment to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipment {
    /// A UUID v7, made by the caller.
    pub id: Uuid,
    pub order_id: Uuid,
    /// `(product_id, quantity)` as requested; `None` ships every open unit.
    pub items: Option<Vec<(i64, i64)>>,
    pub tracking: Option<Tracking>,
    pub note: Option<String>,
    pub actor: Option<Actor>,
    /// Refuse with `PreconditionFailed` unless the order's version is this one (`If-Match`).
    pub expected_version: Option<i64>,
    /// The admin's audit entry (`order.shipped`, target the order), stored in the shipment's
    /// transaction with its changes set by the store: `shipment` `[null, {"id", "items":
    /// [{"product_id", "quantity"}], "carrier", "tracking_number"}]`, `fulfillment_status`
    /// `[old, new]`, and `status` `[PAID, FULFILLED]` when it completes the order.
    pub audit: Option<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipError {
    #[error("order not found")]
    NotFound,
    /// Only a `PAID` order ships (`to` is `FULFILLED`).
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    /// Every requested line over its open units (or not in the order).
    #[error("more units than are open")]
    ExceedsOpen(Vec<ExceedsOpen>),
    /// No open unit is left to ship.
    #[error("nothing left to ship")]
    NothingToShip,
    #[error("the order changed since the given version")]
    PreconditionFailed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Reserved; the provider's answer is awaited (or was lost: the reconciler asks).
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RefundStatus> {
        [
            RefundStatus::Pending,
            RefundStatus::Succeeded,
            RefundStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// Money given back on an order, with the units it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: Uuid,
    pub order_id: Uuid,
    pub amount: i64,
    pub items: Vec<RefundItem>,
    pub shipping: bool,
    pub reason: String,
    pub status: RefundStatus,
    pub created_at: OffsetDateTime,
}

/// A refund to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    /// A UUID v7, made by the caller: also the provider's idempotency key.
    pub id: Uuid,
    pub order_id: Uuid,
    /// Units to refund (may be empty with `shipping`).
    pub items: Vec<RefundItem>,
    pub shipping: bool,
    /// A goodwill amount that touches no unit (then `items` is empty and `shipping` false).
    pub amount: Option<i64>,
    pub reason: String,
    pub actor: Option<Actor>,
    pub expected_version: Option<i64>,
    /// The admin's audit entry (`order.refunded`, target the order), stored in the reservation's
    /// transaction with its changes set by the store: `refund` `[null, {"id", "amount", "items":
    /// [{"product_id", "quantity", "restock"}], "shipping", "reason"}]` (the amount reserved).
    pub audit: Option<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("order not found")]
    NotFound,
    /// The payment is neither `captured` nor `partially_refunded`.
    #[error("the order's payment is not refundable")]
    NotRefundable,
    /// Every requested line over what it has in that state (pending refunds count as taken).
    #[error("more units than are refundable")]
    ExceedsRefundable(Vec<ExceedsRefundable>),
    /// The shipping amount was refunded already (or is in a pending refund).
    #[error("the shipping was refunded already")]
    ShippingRefunded,
    /// A goodwill amount over what remains captured (pending refunds count as given back).
    #[error("more than remains captured ({remaining})")]
    ExceedsCaptured { remaining: i64 },
    #[error("the order changed since the given version")]
    PreconditionFailed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The provider's answer to a reserved refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundSettlement {
    Succeeded { reference: String },
    Failed,
}

/// Who made a change; `None` in an event means the system (payment, expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub role: Role,
}

/// An order to place. The repository prices it with `rules` from the prices it reads under lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// A UUID v7, made by the caller.
    pub id: Uuid,
    pub user_id: i64,
    pub lines: Vec<OrderLine>,
    pub address: ShippingAddress,
    pub currency: String,
    pub rules: PricingRules,
    /// `Unpaid`, or `Processing` when a charge is attempted right after placement (so that a crash
    /// between the charge and `PAID` leaves an order the reconciler asks the provider about).
    pub payment_status: PaymentStatus,
}

/// One line of a quote: the product as it is now, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteLine {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    /// The product's stock now.
    pub available: i64,
}

/// What an order would cost now, priced as placement prices it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// In the order's line order (lines of one product merged).
    pub lines: Vec<QuoteLine>,
    pub subtotal: i64,
    pub shipping_amount: i64,
    pub tax_amount: i64,
    pub total_amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    pub product_id: i64,
    /// The index of the first line sent for this product.
    pub first_index: usize,
    pub requested: u32,
    pub available: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownProduct {
    pub product_id: i64,
    pub first_index: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceOrderError {
    /// Products that do not exist or are archived. Nothing was written.
    #[error("unknown products")]
    UnknownProducts(Vec<UnknownProduct>),
    /// Every line that lacks stock, with what is available. Nothing was written.
    #[error("insufficient stock")]
    InsufficientStock(Vec<Shortage>),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A move of an order through the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub order_id: Uuid,
    pub to: OrderStatus,
    /// Only the order of this user (a customer cancelling their own order); another user's order
    /// is `NotFound`.
    pub owner: Option<i64>,
    /// `None` for the system (payment, expiry).
    pub actor: Option<Actor>,
    pub note: Option<String>,
    pub tracking: Option<Tracking>,
    /// `If-Match`: refuse with `PreconditionFailed` unless the order has this version.
    pub expected_version: Option<i64>,
    /// The provider's charge reference, for `PENDING` → `PAID` by payment.
    pub payment_reference: Option<String>,
    /// Refuse with `InvalidTransition` unless the current payment status is one of these (e.g. the
    /// reconciler cancels only orders whose charge is not in flight). Empty: any.
    pub payment_status_in: Vec<PaymentStatus>,
    /// An admin's audit entry (`order.status_changed`, target the order), stored in the change's
    /// transaction only if the change is made, with its changes set by the store from the order
    /// before and after: `status` `[from, to]`, and `payment_status`, `fulfillment_status` and
    /// `tracking` (`{"carrier", "tracking_number"}`) when they differ.
    pub audit: Option<AuditEntry>,
}

impl StatusChange {
    pub fn new(order_id: Uuid, to: OrderStatus) -> StatusChange {
        StatusChange {
            order_id,
            to,
            owner: None,
            actor: None,
            note: None,
            tracking: None,
            expected_version: None,
            payment_reference: None,
            payment_status_in: Vec::new(),
            audit: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeStatusError {
    #[error("order not found")]
    NotFound,
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    #[error("the order changed meanwhile")]
    PreconditionFailed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentUpdateError {
    #[error("order not found")]
    NotFound,
    /// The order is not `PENDING` or its payment status is not one of those expected.
    #[error("the order is {status} with payment {payment_status}")]
    NotPayable {
        status: OrderStatus,
        payment_status: PaymentStatus,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The admin's order filters; every one given must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderFilter {
    /// Any of these (empty: any status).
    pub statuses: Vec<OrderStatus>,
    pub user_id: Option<i64>,
    /// Exact, case-insensitive.
    pub email: Option<String>,
    /// Inclusive.
    pub created_from: Option<OffsetDateTime>,
    /// Exclusive.
    pub created_to: Option<OffsetDateTime>,
    /// Inclusive.
    pub min_total: Option<i64>,
    /// Inclusive.
    pub max_total: Option<i64>,
}

/// Keyset position in a newest-first list: the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// In one transaction: locks the products in id order, checks and takes the stock, prices the
    /// order from the locked prices, inserts the order, its items and its `order.created` event.
    /// On any error nothing is written.
    async fn place(&self, order: &NewOrder) -> Result<Order, PlaceOrderError>;

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError>;

    /// Prices `lines` shipped to `country` with `rules` from the products as they are now, with
    /// the very checks and pricing of [`OrderRepository::place`] (unknown or archived products,
    /// then every short line, then the domain's pricing), in one read: nothing is locked,
    /// reserved or written.
    async fn quote(
        &self,
        lines: &[OrderLine],
        country: &str,
        rules: &PricingRules,
    ) -> Result<Quote, PlaceOrderError>;

    /// Locks the order, checks the move with the domain, releases stock on cancel (exactly once),
    /// applies the payment effect, appends the event; all in one transaction.
    async fn change_status(&self, change: &StatusChange) -> Result<Order, ChangeStatusError>;

    /// Sets the payment status of a `PENDING` order whose payment status is one of `from`, without
    /// moving the order (no event). Used when a charge starts, fails or times out. `Failed` →
    /// `Processing` starts the order's next payment attempt (`payment_attempt` + 1).
    async fn set_payment_status(
        &self,
        order_id: Uuid,
        from: Vec<PaymentStatus>,
        to: PaymentStatus,
    ) -> Result<Order, PaymentUpdateError>;

    /// A user's own orders, newest first (`created_at`, then id, descending).
    async fn list_for_user(
        &self,
        user_id: i64,
        status: Option<OrderStatus>,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError>;

    /// Every order matching `filter`, newest first.
    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError>;

    /// The order's events, oldest first.
    async fn history(&self, order_id: Uuid) -> Result<Vec<StoredEvent>, StoreError>;

    /// `PENDING` orders due for the reconciler, oldest first, up to `limit`: unpaid or failed ones
    /// created before `created_before` (expiry), and `processing` ones whose charge was attempted
    /// before `attempted_before` (to ask the provider).
    async fn pending_to_reconcile(
        &self,
        created_before: OffsetDateTime,
        attempted_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError>;

    /// When the reconciler next has work, from two index lookups.
    async fn reconcile_horizon(&self) -> Result<ReconcileHorizon, StoreError>;

    /// Ships units of a `PAID` order in one transaction: the plan checked by the domain against
    /// the lines as they are under the order's row lock, the shipment and its items stored, the
    /// lines' shipped counts raised (a CHECK refuses more than ordered), the order `FULFILLED`
    /// when no open unit is left, its event appended. Two shipments of one order serialise on the
    /// lock, so they never ship more than is open.
    async fn ship(&self, shipment: &NewShipment) -> Result<(Order, Shipment), ShipError>;

    /// One shipment of an order.
    async fn shipment(&self, order_id: Uuid, id: Uuid) -> Result<Option<Shipment>, StoreError>;

    /// Reserves a refund `pending` in one transaction under the order's row lock: the units are
    /// checked against the lines less every pending refund's units, the amount computed by the
    /// domain and capped at what remains captured less pending amounts. Nothing else moves.
    async fn reserve_refund(&self, refund: &NewRefund) -> Result<Refund, RefundError>;

    /// Settles a `pending` refund, exactly once: succeeded → its units, stock (cancel and
    /// return), `refunded_amount`, `payment_status` and fulfilment move in one transaction with
    /// its event; failed → it is released. A refund already settled is returned as it stands.
    /// Returns the order and the refund after it.
    async fn settle_refund(
        &self,
        refund_id: Uuid,
        settlement: &RefundSettlement,
    ) -> Result<(Order, Refund), StoreError>;

    /// One refund.
    async fn refund(&self, id: Uuid) -> Result<Option<Refund>, StoreError>;

    /// Adds an internal note to an order, with its audit entry (if any, its changes set to
    /// `note` `[null, text]`), in one transaction. No event: notes are never published.
    /// `NotFound` when the order does not exist.
    async fn add_note(&self, note: &NewNote) -> Result<OrderNote, AddNoteError>;

    /// The order's notes, oldest (lowest id) first.
    async fn notes(&self, order_id: Uuid) -> Result<Vec<OrderNote>, StoreError>;

    /// `pending` refunds reserved before `before`, oldest first (for the reconciler).
    async fn pending_refunds(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Refund>, StoreError>;

    /// Applies what the payment provider's event `event_id` (of type `event_type`) told, once: the event id is stored in
    /// the transaction of the change it makes (a replay is `Replayed` and changes nothing); a
    /// change the order is past (paid already, cancelled, a later attempt) is `Unchanged`.
    async fn apply_payment_notice(
        &self,
        event_id: &str,
        event_type: &str,
        notice: &PaymentNotice,
    ) -> Result<ProviderEventOutcome, StoreError>;
}

/// What a payment provider's event, checked against the provider, changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentNotice {
    /// Attempt `attempt`'s charge was captured: `PENDING` (payment `processing` or `failed`) →
    /// `PAID`.
    Captured {
        order_id: Uuid,
        attempt: u32,
        reference: String,
    },
    /// Attempt `attempt` failed: payment `processing → failed` while it is the order's latest
    /// attempt (the order stays `PENDING`, payable again).
    Failed { order_id: Uuid, attempt: u32 },
    /// A `pending` refund ended.
    RefundSettled {
        refund_id: Uuid,
        settlement: RefundSettlement,
    },
}

/// What applying a provider's event came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderEventOutcome {
    Applied,
    /// Seen before: nothing changed.
    Replayed,
    /// The order or refund is past what the event speaks of: nothing changed.
    Unchanged,
}

/// The oldest `PENDING` orders the reconciler will have to look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileHorizon {
    /// The creation time of the oldest unpaid or failed one (it expires first).
    pub oldest_unpaid: Option<OffsetDateTime>,
    /// The attempt time of the oldest charge in flight (`processing`).
    pub oldest_processing: Option<OffsetDateTime>,
    /// When the oldest `pending` refund was reserved.
    pub oldest_pending_refund: Option<OffsetDateTime>,
}
