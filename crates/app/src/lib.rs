//! The use cases of the order system, written against the ports only: no SQL, no HTTP.
//!
//! One service per area, each built from [`Deps`] (the ports, cheap to clone) and, where needed,
//! [`AppSettings`]; one error enum per operation, next to it.
//!
//! - [`auth`]: register, sign in, the current user, the first admin.
//! - [`catalogue`]: products, for everyone and for admins.
//! - [`customers`]: users with their order figures, and an admin's change of status or role.
//! - [`orders`]: a customer's orders: place (and pay), pay later, cancel, read.
//! - [`admin_orders`]: every order, status changes (with the refund of a paid order), export.
//! - [`notes`]: internal order notes (admins only, never an event).
//! - [`event_feed`]: the stored events after a position, for admins (`GET /api/admin/events`).
//! - [`live_feed`]: one real-time client's stream: replay after `since` from the event log, then
//!   live events from the [`ports::LiveEvents`] port (`GET /api/ws`, `GET /api/events`).
//! - [`audit`]: the audit log, for admins. Every admin write hands its store the audit entry of
//!   the request ([`ports::AuditContext`]: actor, request id, client address), which stores it in
//!   the write's own transaction.
//! - [`reconcile`]: resolves orders whose charge is unknown and cancels expired ones.
//! - [`bus`]: the publisher of committed events to the event bus (`EVENT_BUS=nats`), one
//!   instance at a time.
//! - [`relay`]: hands committed events, in id order and each once, from the event source to
//!   every sink (the real-time hub, webhooks).
//! - [`delivery`]: the durable delivery machinery webhooks and email share (fan-out, claims
//!   under a lease, attempts side by side, batched records, retries).
//! - [`mail`]: email to customers and the shop, a channel of [`delivery`].
//! - [`webhooks`]: webhook endpoints for admins, and the channel that delivers to them.
//! - [`payments`]: gateway calls with a timeout, shared by the above.
//! - [`payment_events`]: the payment provider's notifications (webhooks), checked and applied once.
//! - [`stats`]: admin statistics (the sales report and the summary) from the store's rollups.
//! - [`paging`]: keyset pages (`limit + 1` rows fetched to know whether a next page exists).
//!
//! # Where this differs from `app-spec.md`
//! - `AdminOrderService` holds [`AppSettings`] too (`AdminOrderService::new(deps, settings)`):
//!   the refund after `PAID → CANCELLED` runs under `settings.payment_timeout`.
//! - The orders in `PaymentDeclined` are boxed (`Box<Order>`): clippy refuses an error enum whose
//!   one variant is many times larger than the others.
//! - Every `InvalidTransition` variant wraps [`domain::InvalidTransition`] (`from`, `to`).
//! - `current_user` fails with [`auth::Internal`] (a message for logs).
//! - `PlaceOrderCommand::payment_token` and `pay_order`'s token are validated (field
//!   `payment.token` / `token`: 1 to 255 characters, no control characters).
//! - A customer may cancel a `PENDING` order only while no charge is in flight (payment `unpaid` or
//!   `failed`); while it is `processing` the answer is `InvalidTransition` (PENDING → CANCELLED),
//!   because a charge that lands after the cancel would take money for a cancelled order.
//! - A charge declined at placement first sets the payment `processing → failed`, then cancels
//!   (so the cancelled order says `failed`, not `processing`).
//! - An admin's cancel of a `PENDING` order whose charge is in flight (`processing`) also asks the
//!   provider for a refund (best effort), as does a capture that lands on an order cancelled
//!   meanwhile.
//! - Use cases clamp `limit` to `1..=MAX_LIMIT` (the API still refuses out-of-range values).
//! - Added: `Reconciler::run_every(interval)`, `ReconcileReport`, `PlacementOutcome::order()`,
//!   `orders::visible_to`, `orders::cursor_of`, `paging::rows_to_fetch`, `AppSettings::default()`.

use std::sync::Arc;

use ports::{
    AuditLog, Clock, CustomerRepository, EventLog, OrderExport, OrderRepository, PasswordHasher,
    PaymentGateway, ProductRepository, UserRepository,
};

pub mod admin_orders;
pub mod audit;
pub mod auth;
pub mod bus;
pub mod catalogue;
pub mod customers;
pub mod delivery;
pub mod event_feed;
pub mod live_feed;
pub mod mail;
pub mod notes;
pub mod orders;
pub mod paging;
pub mod payment_events;
pub mod payments;
pub mod reconcile;
pub mod refunds;
pub mod relay;
pub mod stats;
pub mod webhooks;

pub use admin_orders::AdminOrderService;
pub use auth::AuthService;
pub use catalogue::CatalogueService;
pub use customers::CustomerService;
pub use orders::OrderService;
pub use paging::Page;
pub use ports::Actor;
pub use reconcile::Reconciler;
pub use relay::{EventRelay, RelaySettings};

/// Everything the use cases need, cheap to clone.
#[derive(Clone)]
pub struct Deps {
    pub users: Arc<dyn UserRepository>,
    pub products: Arc<dyn ProductRepository>,
    pub orders: Arc<dyn OrderRepository>,
    /// The CSV export (a connection of its own per export).
    pub export: Arc<dyn OrderExport>,
    pub events: Arc<dyn EventLog>,
    pub payments: Arc<dyn PaymentGateway>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub audit: Arc<dyn AuditLog>,
    pub customers: Arc<dyn CustomerRepository>,
}

/// Settings the use cases need (no global config).
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// The one currency of every order (`CURRENCY`).
    pub currency: String,
    pub pricing: domain::PricingRules,
    /// How long one call to the payment provider may take (`PAYMENT_TIMEOUT_MS`).
    pub payment_timeout: std::time::Duration,
    /// How long an unpaid order holds its stock (`PENDING_ORDER_TTL`).
    pub pending_order_ttl: time::Duration,
}

impl Default for AppSettings {
    /// The documented defaults: `USD`, 500 shipping, free from 5000, no taxes, 5 s, 30 minutes.
    fn default() -> Self {
        AppSettings {
            currency: "USD".to_owned(),
            pricing: domain::PricingRules::default(),
            payment_timeout: std::time::Duration::from_secs(5),
            pending_order_ttl: time::Duration::minutes(30),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support;
