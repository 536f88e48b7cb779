//! A customer's orders: place (and pay), pay later, cancel, read.
//!
//! Visibility: a customer sees only their own orders; anyone else's order is `NotFound`, never
//! "forbidden", so an order's existence is not revealed. An admin may read every order here (the
//! admin's changes go through [`crate::admin_orders`]).
//!
//! Payment: the charge is made after the order is stored (`PENDING`, payment `processing`) and
//! never inside a store transaction, under `settings.payment_timeout`. A timeout or provider
//! failure leaves the order `processing` for the reconciler, which asks the provider later.
//!
//! Resuming: a request whose instance died before it answered left its work half done. The retry
//! that takes its `Idempotency-Key` over ([`OrderService::resume_placement`],
//! [`OrderService::resume_payment`]) finds the order that request created, charges it at most once
//! (the provider's idempotency by order and attempt), and answers as a first request would, with
//! the order as it now stands.

use domain::Role;
use domain::validation::{self, Lines};
use domain::{
    InvalidTransition, OrderStatus, PaymentStatus, PricingError, ValidationErrors, validate_order,
};
use ports::{
    ChangeStatusError, ChargeRequest, NewOrder, Order, OrderCursor, OrderNote, PaymentUpdateError,
    Quote, Shortage, StatusChange, StoreError, StoredEvent, UnknownProduct,
};
use uuid::Uuid;

pub use domain::{AddressInput, LineInput};

use crate::paging::{self, Page};
use crate::payments::{self, ChargeResult};
use crate::{Actor, AppSettings, Deps};

/// The longest payment token accepted.
pub const TOKEN_MAX: usize = 255;

/// The note on an order cancelled because its charge was declined.
pub const DECLINED_NOTE: &str = "payment declined";

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEntry {
    Event(StoredEvent),
    /// An internal note (admins only).
    Note(OrderNote),
}

impl HistoryEntry {
    /// Events and notes share one id space, in the order they happened.
    pub fn id(&self) -> i64 {
        match self {
            HistoryEntry::Event(event) => event.id,
            HistoryEntry::Note(note) => note.id,
        }
    }
}

/// A new order as the customer sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrderCommand {
    pub items: Vec<LineInput>,
    pub address: AddressInput,
    /// Charge this token right away; `None` leaves the order unpaid.
    pub payment_token: Option<String>,
}

/// How placing or paying an order ended (the errors aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementOutcome {
    /// The charge was captured: the order is `PAID` (201, or 200 for `pay_order`).
    Paid(Order),
    /// The provider did not answer in time or failed: `PENDING`, payment `processing` (202).
    Processing(Order),
    /// The customer must still authenticate the charge (3-D Secure) with the client secret in the
    /// provider's page script: `PENDING`, payment `processing` (202); the provider's notification
    /// or the reconciler settles it.
    AwaitingAction(Order, String),
    /// No payment was sent: `PENDING`, payment `unpaid` (201).
    Unpaid(Order),
    /// A resumed request found the order settled otherwise meanwhile (cancelled at expiry or by
    /// an admin, shipped): the order as it now stands (201, or 200 for `pay_order`).
    AsItStands(Order),
}

impl PlacementOutcome {
    pub fn order(&self) -> &Order {
        match self {
            PlacementOutcome::Paid(o)
            | PlacementOutcome::Processing(o)
            | PlacementOutcome::AwaitingAction(o, _)
            | PlacementOutcome::Unpaid(o)
            | PlacementOutcome::AsItStands(o) => o,
        }
    }

    pub fn into_order(self) -> Order {
        match self {
            PlacementOutcome::Paid(o)
            | PlacementOutcome::Processing(o)
            | PlacementOutcome::AwaitingAction(o, _)
            | PlacementOutcome::Unpaid(o)
            | PlacementOutcome::AsItStands(o) => o,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceOrderError {
    /// Fields `items`, `items[i].product_id`, `items[i].quantity`, `shipping_address.*`,
    /// `payment.token`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// Missing or archived products. Nothing was created.
    #[error("unknown products")]
    UnknownProducts(Vec<UnknownProduct>),
    /// Every short line. Nothing was reserved or created.
    #[error("insufficient stock")]
    InsufficientStock(Vec<Shortage>),
    /// An amount would not fit (422).
    #[error("the order's amounts are too large")]
    PricingOverflow,
    /// The provider declined the charge: the order is `CANCELLED` (its stock back) (402);
    /// `reason` is the provider's decline code.
    #[error("payment declined")]
    PaymentDeclined {
        order_id: Uuid,
        order: Box<Order>,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ports::PlaceOrderError> for PlaceOrderError {
    fn from(error: ports::PlaceOrderError) -> Self {
        match error {
            ports::PlaceOrderError::UnknownProducts(p) => PlaceOrderError::UnknownProducts(p),
            ports::PlaceOrderError::InsufficientStock(s) => PlaceOrderError::InsufficientStock(s),
            ports::PlaceOrderError::Pricing(PricingError::Overflow) => {
                PlaceOrderError::PricingOverflow
            }
            // The store holds only non-negative prices (CHECK constraints): a broken invariant.
            ports::PlaceOrderError::Pricing(PricingError::Negative) => {
                PlaceOrderError::Store(StoreError::Internal("a stored price is negative".into()))
            }
            ports::PlaceOrderError::Store(e) => PlaceOrderError::Store(e),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayOrderError {
    /// No such order, or not the caller's.
    #[error("order not found")]
    NotFound,
    /// Field `token`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// The order is not payable: not `PENDING`, or its payment is neither `unpaid` nor `failed`
    /// (`to` is `PAID`) (409).
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    /// Declined: the order stays `PENDING` with payment `failed`, and may be paid again (402);
    /// `reason` is the provider's decline code.
    #[error("payment declined")]
    PaymentDeclined { order: Box<Order>, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelOrderError {
    /// No such order, or not the caller's.
    #[error("order not found")]
    NotFound,
    /// The order is past `PENDING` (or a charge is in flight) (409).
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeStatusError> for CancelOrderError {
    fn from(error: ChangeStatusError) -> Self {
        match error {
            ChangeStatusError::NotFound => CancelOrderError::NotFound,
            ChangeStatusError::InvalidTransition(t) => CancelOrderError::InvalidTransition(t),
            ChangeStatusError::PreconditionFailed => CancelOrderError::Store(StoreError::Internal(
                "precondition failed without an expected version".into(),
            )),
            ChangeStatusError::Store(e) => CancelOrderError::Store(e),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetOrderError {
    /// No such order, or neither the caller's nor is the caller an admin.
    #[error("order not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The position of `order` in a newest-first list.
pub fn cursor_of(order: &Order) -> OrderCursor {
    OrderCursor {
        created_at: order.created_at,
        id: order.id,
    }
}

/// A customer's orders.
#[derive(Clone)]
pub struct OrderService {
    pub deps: Deps,
    pub settings: AppSettings,
}

impl OrderService {
    pub fn new(deps: Deps, settings: AppSettings) -> OrderService {
        OrderService { deps, settings }
    }

    /// Validates, reserves the stock and creates the order `PENDING` (one store transaction),
    /// then, with a token, charges it: captured → `PAID`; declined → `CANCELLED` (stock back) and
    /// `PaymentDeclined`; no answer in time or a provider failure → `Processing`.
    pub async fn place_order(
        &self,
        actor: Actor,
        cmd: PlaceOrderCommand,
    ) -> Result<PlacementOutcome, PlaceOrderError> {
        self.place_order_as(actor, Uuid::now_v7(), cmd).await
    }

    /// Prices an order as [`OrderService::place_order`] would place it now, and writes nothing:
    /// the same validation (the payment token aside: a quote charges nothing), the same store
    /// checks (unknown or archived products, then short lines) and the same pricing.
    #[tracing::instrument(skip(self, actor, items, address), fields(user_id = actor.id))]
    pub async fn quote(
        &self,
        actor: Actor,
        items: &[LineInput],
        address: &AddressInput,
    ) -> Result<Quote, PlaceOrderError> {
        let valid = validate_order(items, address)?;
        Ok(self
            .deps
            .orders
            .quote(&valid.lines, &valid.address.country, &self.settings.pricing)
            .await?)
    }

    /// [`OrderService::place_order`] with the new order's id (a UUID v7) chosen by the caller:
    /// the one its `Idempotency-Key` claim reserved.
    #[tracing::instrument(skip(self, actor, cmd), fields(user_id = actor.id, order_id = %id))]
    pub async fn place_order_as(
        &self,
        actor: Actor,
        id: Uuid,
        cmd: PlaceOrderCommand,
    ) -> Result<PlacementOutcome, PlaceOrderError> {
        let (valid, token) = validate_placement(&cmd)?;
        let new_order = NewOrder {
            id,
            user_id: actor.id,
            lines: valid.lines,
            address: valid.address,
            currency: self.settings.currency.clone(),
            rules: self.settings.pricing.clone(),
            payment_status: if token.is_some() {
                PaymentStatus::Processing
            } else {
                PaymentStatus::Unpaid
            },
        };
        let order = self.deps.orders.place(&new_order).await?;
        tracing::info!(total = order.total_amount, "order placed");
        let Some(token) = token else {
            return Ok(PlacementOutcome::Unpaid(order));
        };
        self.charge_placed(order, token).await
    }

    /// Finishes the placement of order `id` that a request which never answered started (its
    /// `Idempotency-Key` was taken over after the lease), with that request's command: the order
    /// is placed if it never was; a charge in flight or failed is made (at most once: the
    /// provider's idempotency by order and attempt); a settled order is answered as it stands.
    #[tracing::instrument(skip(self, actor, cmd), fields(user_id = actor.id, order_id = %id))]
    pub async fn resume_placement(
        &self,
        actor: Actor,
        id: Uuid,
        cmd: PlaceOrderCommand,
    ) -> Result<PlacementOutcome, PlaceOrderError> {
        let (_, token) = validate_placement(&cmd)?;
        let Some(order) = self.deps.orders.get(id).await? else {
            tracing::info!("resumed placement: the order was never stored, placing it");
            return self.place_order_as(actor, id, cmd).await;
        };
        if order.user_id != actor.id {
            return Err(PlaceOrderError::Store(StoreError::Internal(
                "a resumed idempotency key names another user's order".into(),
            )));
        }
        tracing::info!(status = %order.status, payment_status = %order.payment_status,
            "resumed placement: finishing the order");
        match (order.status, order.payment_status, token) {
            (OrderStatus::Pending, PaymentStatus::Processing, Some(token)) => {
                self.charge_placed(order, token).await
            }
            (OrderStatus::Pending, PaymentStatus::Failed, Some(token)) => {
                // The reconciler found no charge (the request died before making it) or a
                // decline: the next attempt.
                let order = match self.start_attempt(order.id).await {
                    Ok(order) => order,
                    Err(PaymentUpdateError::Store(e)) => return Err(e.into()),
                    // Changed meanwhile (cancelled at expiry, paid): answer it as it stands.
                    Err(_) => return self.placement_as_it_stands(id).await,
                };
                self.charge_placed(order, token).await
            }
            (OrderStatus::Pending, PaymentStatus::Processing, None) => {
                Ok(PlacementOutcome::Processing(order))
            }
            (OrderStatus::Pending, _, _) => Ok(PlacementOutcome::Unpaid(order)),
            _ => self.placement_as_it_stands(id).await,
        }
    }

    /// A settled order as a placement's answer: paid; declined (`CANCELLED` with payment
    /// `failed`, as a decline at placement leaves it); else as it stands.
    async fn placement_as_it_stands(&self, id: Uuid) -> Result<PlacementOutcome, PlaceOrderError> {
        let order = self
            .deps
            .orders
            .get(id)
            .await?
            .ok_or_else(|| StoreError::Internal("a resumed order vanished".into()))?;
        Ok(match (order.status, order.payment_status) {
            (OrderStatus::Paid, _) => PlacementOutcome::Paid(order),
            (OrderStatus::Pending, PaymentStatus::Processing) => {
                PlacementOutcome::Processing(order)
            }
            (OrderStatus::Pending, _) => PlacementOutcome::Unpaid(order),
            (OrderStatus::Cancelled, PaymentStatus::Failed) => {
                return Err(PlaceOrderError::PaymentDeclined {
                    order_id: order.id,
                    order: Box::new(order),
                    reason: "declined".into(),
                });
            }
            _ => PlacementOutcome::AsItStands(order),
        })
    }

    /// Charges a placed order (payment `processing`) and settles it: captured → `PAID`; declined
    /// → `CANCELLED` (stock back) and `PaymentDeclined`; unknown → `Processing`.
    async fn charge_placed(
        &self,
        order: Order,
        token: String,
    ) -> Result<PlacementOutcome, PlaceOrderError> {
        match self.charge(&order, token).await {
            ChargeResult::Captured { reference } => Ok(self.mark_paid(order, reference).await),
            ChargeResult::Declined { reason } => {
                tracing::info!(%reason, "charge declined: cancelling the order");
                let order = self.cancel_declined(order).await;
                Err(PlaceOrderError::PaymentDeclined {
                    order_id: order.id,
                    order: Box::new(order),
                    reason,
                })
            }
            ChargeResult::RequiresAction { client_secret } => {
                tracing::info!("charge awaits the customer's authentication");
                Ok(PlacementOutcome::AwaitingAction(order, client_secret))
            }
            ChargeResult::Unknown(error) => {
                tracing::warn!(%error, "charge outcome unknown: left to the reconciler");
                Ok(PlacementOutcome::Processing(order))
            }
        }
    }

    /// Pays the caller's `PENDING` order whose payment is `unpaid` or `failed`: captured →
    /// `PAID`; declined → payment `failed` and `PaymentDeclined`; unknown → `Processing`.
    #[tracing::instrument(skip(self, actor, token), fields(user_id = actor.id))]
    pub async fn pay_order(
        &self,
        actor: Actor,
        order_id: Uuid,
        token: &str,
    ) -> Result<PlacementOutcome, PayOrderError> {
        let token = validate_token("token", token)?;
        let order = self.owned_order(actor, order_id).await?;
        self.pay(order, token).await
    }

    /// Finishes the payment of the caller's order that a request which never answered started
    /// (its `Idempotency-Key` was taken over after the lease): a charge still in flight is made
    /// again with the same attempt (charged at most once); a paid order is answered as paid;
    /// anything else is paid as a first request would.
    #[tracing::instrument(skip(self, actor, token), fields(user_id = actor.id))]
    pub async fn resume_payment(
        &self,
        actor: Actor,
        order_id: Uuid,
        token: &str,
    ) -> Result<PlacementOutcome, PayOrderError> {
        let token = validate_token("token", token)?;
        let order = self.owned_order(actor, order_id).await?;
        tracing::info!(status = %order.status, payment_status = %order.payment_status,
            "resumed payment: finishing it");
        match (order.status, order.payment_status) {
            (OrderStatus::Pending, PaymentStatus::Processing) => {
                self.charge_payment(order, token).await
            }
            (OrderStatus::Paid | OrderStatus::Fulfilled, _) => Ok(PlacementOutcome::Paid(order)),
            _ => self.pay(order, token).await,
        }
    }

    /// Starts a payment attempt of `order` (`PENDING`, payment `unpaid` or `failed`) and charges it.
    async fn pay(&self, order: Order, token: String) -> Result<PlacementOutcome, PayOrderError> {
        let payable = [PaymentStatus::Unpaid, PaymentStatus::Failed];
        if order.status != OrderStatus::Pending || !payable.contains(&order.payment_status) {
            return Err(not_payable(order.status));
        }
        let order = self.start_attempt(order.id).await.map_err(|e| match e {
            PaymentUpdateError::NotFound => PayOrderError::NotFound,
            PaymentUpdateError::NotPayable { status, .. } => not_payable(status),
            PaymentUpdateError::Store(e) => PayOrderError::Store(e),
        })?;
        self.charge_payment(order, token).await
    }

    /// Payment `unpaid` or `failed` → `processing`: a charge attempt starts (after `failed`, the
    /// next attempt).
    async fn start_attempt(&self, order_id: Uuid) -> Result<Order, PaymentUpdateError> {
        self.deps
            .orders
            .set_payment_status(
                order_id,
                vec![PaymentStatus::Unpaid, PaymentStatus::Failed],
                PaymentStatus::Processing,
            )
            .await
    }

    /// Charges an order whose payment is `processing` and settles it: captured → `PAID`;
    /// declined → payment `failed` and `PaymentDeclined`; unknown → `Processing`.
    async fn charge_payment(
        &self,
        order: Order,
        token: String,
    ) -> Result<PlacementOutcome, PayOrderError> {
        match self.charge(&order, token).await {
            ChargeResult::Captured { reference } => Ok(self.mark_paid(order, reference).await),
            ChargeResult::Declined { reason } => {
                tracing::info!(%reason, "charge declined: the order may be paid again");
                let order = self.mark_failed(order).await;
                Err(PayOrderError::PaymentDeclined {
                    order: Box::new(order),
                    reason,
                })
            }
            ChargeResult::RequiresAction { client_secret } => {
                tracing::info!("charge awaits the customer's authentication");
                Ok(PlacementOutcome::AwaitingAction(order, client_secret))
            }
            ChargeResult::Unknown(error) => {
                tracing::warn!(%error, "charge outcome unknown: left to the reconciler");
                Ok(PlacementOutcome::Processing(order))
            }
        }
    }

    /// Cancels the caller's own order while it is `PENDING` and no charge is in flight; its stock
    /// goes back. Anyone else's order is `NotFound`.
    #[tracing::instrument(skip(self, actor), fields(user_id = actor.id))]
    pub async fn cancel_own_order(
        &self,
        actor: Actor,
        order_id: Uuid,
    ) -> Result<Order, CancelOrderError> {
        let mut change = StatusChange::new(order_id, OrderStatus::Cancelled);
        change.owner = Some(actor.id);
        change.actor = Some(actor);
        change.payment_status_in = vec![PaymentStatus::Unpaid, PaymentStatus::Failed];
        let order = self.deps.orders.change_status(&change).await?;
        tracing::info!("order cancelled by its owner");
        Ok(order)
    }

    /// The order, for its owner or an admin; `NotFound` for anyone else.
    #[tracing::instrument(skip(self, actor), fields(user_id = actor.id, role = %actor.role))]
    pub async fn get_order(&self, actor: Actor, id: Uuid) -> Result<Order, GetOrderError> {
        match self.deps.orders.get(id).await? {
            Some(order) if visible_to(&order, actor) => Ok(order),
            _ => Err(GetOrderError::NotFound),
        }
    }

    /// The caller's own orders, newest first, optionally of one status.
    #[tracing::instrument(skip(self, actor), fields(user_id = actor.id))]
    pub async fn list_my_orders(
        &self,
        actor: Actor,
        status: Option<OrderStatus>,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Page<Order, OrderCursor>, StoreError> {
        let rows = self
            .deps
            .orders
            .list_for_user(actor.id, status, after, paging::rows_to_fetch(limit))
            .await?;
        Ok(Page::from_rows(rows, limit, cursor_of))
    }

    /// The order's events, oldest first, for its owner or an admin; `NotFound` for anyone else.
    /// An admin also sees the order's internal notes, merged by id (one id space: events and
    /// notes share a sequence); a customer never does, not even of their own order.
    #[tracing::instrument(skip(self, actor), fields(user_id = actor.id, role = %actor.role))]
    pub async fn order_history(
        &self,
        actor: Actor,
        id: Uuid,
    ) -> Result<Vec<HistoryEntry>, GetOrderError> {
        self.get_order(actor, id).await?;
        let events = self.deps.orders.history(id).await?;
        let mut entries: Vec<HistoryEntry> = events.into_iter().map(HistoryEntry::Event).collect();
        if actor.role == Role::Admin {
            let notes = self.deps.orders.notes(id).await?;
            entries.extend(notes.into_iter().map(HistoryEntry::Note));
            entries.sort_by_key(HistoryEntry::id);
        }
        Ok(entries)
    }

    /// The caller's own order (an admin's included only if they own it).
    async fn owned_order(&self, actor: Actor, id: Uuid) -> Result<Order, PayOrderError> {
        match self.deps.orders.get(id).await? {
            Some(order) if order.user_id == actor.id => Ok(order),
            _ => Err(PayOrderError::NotFound),
        }
    }

    async fn charge(&self, order: &Order, token: String) -> ChargeResult {
        let request = ChargeRequest {
            order_id: order.id,
            attempt: order.payment_attempt,
            token,
            amount: order.total_amount,
            currency: order.currency.clone(),
        };
        payments::charge(
            self.deps.payments.as_ref(),
            &request,
            self.settings.payment_timeout,
        )
        .await
    }

    /// `PENDING → PAID` after a captured charge. If that fails, the money is still collected:
    /// the reconciler finds the charge captured and finishes the job, so the answer is
    /// `Processing` unless the order turns out `PAID` already.
    async fn mark_paid(&self, order: Order, reference: String) -> PlacementOutcome {
        let mut change = StatusChange::new(order.id, OrderStatus::Paid);
        change.payment_reference = Some(reference);
        change.payment_status_in = vec![PaymentStatus::Processing];
        match self.deps.orders.change_status(&change).await {
            Ok(paid) => {
                tracing::info!("order paid");
                PlacementOutcome::Paid(paid)
            }
            Err(error) => {
                tracing::warn!(%error, "charge captured but the order could not be marked paid");
                self.after_failed_capture(order).await
            }
        }
    }

    async fn after_failed_capture(&self, order: Order) -> PlacementOutcome {
        match self.deps.orders.get(order.id).await {
            Ok(Some(current)) if current.status == OrderStatus::Paid => {
                PlacementOutcome::Paid(current)
            }
            Ok(Some(current)) if current.status == OrderStatus::Cancelled => {
                // Cancelled while the charge was in flight: give the money back.
                tracing::warn!("order cancelled during its charge: refunding");
                self.refund_quietly(order.id).await;
                PlacementOutcome::Processing(current)
            }
            Ok(Some(current)) => PlacementOutcome::Processing(current),
            Ok(None) | Err(_) => PlacementOutcome::Processing(order),
        }
    }

    /// After a declined charge at placement: payment `failed`, then `CANCELLED` with its stock
    /// back. Each step that fails is logged; the order is then left for expiry.
    async fn cancel_declined(&self, order: Order) -> Order {
        let failed = self.mark_failed(order).await;
        let mut change = StatusChange::new(failed.id, OrderStatus::Cancelled);
        change.note = Some(DECLINED_NOTE.to_owned());
        match self.deps.orders.change_status(&change).await {
            Ok(cancelled) => cancelled,
            Err(error) => {
                tracing::warn!(%error, "declined order could not be cancelled: left to expiry");
                failed
            }
        }
    }

    /// Payment `processing → failed` after a decline.
    async fn mark_failed(&self, order: Order) -> Order {
        match self
            .deps
            .orders
            .set_payment_status(
                order.id,
                vec![PaymentStatus::Processing],
                PaymentStatus::Failed,
            )
            .await
        {
            Ok(failed) => failed,
            Err(error) => {
                tracing::warn!(%error, "could not mark the payment failed: left to the reconciler");
                order
            }
        }
    }

    async fn refund_quietly(&self, order_id: Uuid) {
        let gateway = self.deps.payments.as_ref();
        if let Err(error) = payments::refund(gateway, order_id, self.settings.payment_timeout).await
        {
            tracing::error!(%order_id, %error, "refund failed: needs attention");
        }
    }
}

/// Whether `actor` may see `order`: its owner or an admin.
pub fn visible_to(order: &Order, actor: Actor) -> bool {
    actor.role == domain::Role::Admin || order.user_id == actor.id
}

fn not_payable(from: OrderStatus) -> PayOrderError {
    PayOrderError::InvalidTransition(InvalidTransition {
        from,
        to: OrderStatus::Paid,
    })
}

fn validate_placement(
    cmd: &PlaceOrderCommand,
) -> Result<(domain::ValidOrder, Option<String>), ValidationErrors> {
    let (valid, mut errors) = match validate_order(&cmd.items, &cmd.address) {
        Ok(valid) => (Some(valid), ValidationErrors::new()),
        Err(errors) => (None, errors),
    };
    let token = cmd
        .payment_token
        .as_deref()
        .map(|t| token_text(&mut errors, "payment.token", t));
    match valid {
        Some(valid) => errors.into_result((valid, token)),
        None => Err(errors),
    }
}

fn validate_token(field: &str, token: &str) -> Result<String, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let token = token_text(&mut errors, field, token);
    errors.into_result(token)
}

fn token_text(errors: &mut ValidationErrors, field: &str, token: &str) -> String {
    validation::text(errors, field, token, 1, TOKEN_MAX, Lines::Single)
}

#[cfg(test)]
mod tests;
