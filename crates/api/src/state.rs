//! What handlers share: the use cases and the few ports the API calls itself.

use std::sync::Arc;

use app::{AdminOrderService, AuthService, CatalogueService, CustomerService, OrderService};
use async_trait::async_trait;
use ports::{Clock, IdempotencyStore, StoreError, TokenRevocations};

use crate::paging::CursorKey;

/// Whether the instance can serve (`/readyz`): the database answers.
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Result<(), StoreError>;
}

/// The handlers' state, one per process, shared through `web::Data`.
pub struct AppState {
    pub auth: AuthService,
    pub catalogue: CatalogueService,
    pub orders: OrderService,
    pub admin_orders: AdminOrderService,
    pub refunds: app::refunds::RefundService,
    pub audit: app::audit::AuditService,
    pub event_feed: app::event_feed::EventFeed,
    pub stats: app::stats::StatsService,
    pub customers: CustomerService,
    pub webhooks: app::webhooks::WebhookService,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub revocations: Arc<dyn TokenRevocations>,
    pub clock: Arc<dyn Clock>,
    pub cursors: CursorKey,
    pub readiness: Arc<dyn Readiness>,
    /// `CURRENCY`.
    pub currency: String,
    /// The payment provider's webhooks (`None`: the provider sends none, every call is refused).
    pub payment_events: Option<app::payment_events::PaymentEventService>,
}
