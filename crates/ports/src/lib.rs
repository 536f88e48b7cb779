//! The traits the core needs from the world, and the types that cross them.
//!
//! Every trait is `Send + Sync` and dyn-compatible (`Arc<dyn UserRepository>`), written with
//! `async_trait`; with the `mock` feature (dev-dependencies only) each also has a `mockall` mock
//! (`MockUserRepository`, ...).
//!
//! Errors: each operation has its own error enum; the "something outside broke" case of every one of
//! them is [`StoreError`], which adapters build from their driver's errors in one place.

pub mod audit;
pub mod bus;
pub mod clock;
pub mod customers;
pub mod error;
pub mod events;
pub mod export;
pub mod idempotency;
pub mod live;
pub mod mail;
pub mod notes;
pub mod orders;
pub mod passwords;
pub mod payments;
pub mod products;
pub mod revocations;
pub mod stats;
pub mod users;
pub mod webhooks;

pub use audit::{
    AuditContext, AuditEntry, AuditLog, AuditQuery, AuditTarget, Changes, StoredAuditEntry,
};
pub use bus::{BusError, EventBus, PublisherLease};
pub use clock::{Clock, SystemClock};
pub use customers::{
    Customer, CustomerCursor, CustomerQuery, CustomerRepository, CustomerUpdate,
    UpdateCustomerError,
};
pub use error::StoreError;
pub use events::{
    EventLog, EventQuery, EventSink, EventSource, EventWire, SinkError, SourceNotice, StoredEvent,
};
pub use export::{CsvChunks, OrderExport};
pub use idempotency::{Claim, IdempotencyBegin, IdempotencyStore, StoredResponse};
pub use live::{CloseReason, EventMessage, LiveEvents, LiveSubscription, Viewer};
pub use mail::{ClaimedMail, MailQueue, MailRecord, MailTelemetry, Mailer, OutgoingMail};
pub use notes::{AddNoteError, NewNote, OrderNote};
pub use orders::{
    Actor, ChangeStatusError, NewOrder, NewRefund, NewShipment, Order, OrderCursor, OrderFilter,
    OrderItem, OrderRepository, PaymentNotice, PaymentUpdateError, PlaceOrderError,
    ProviderEventOutcome, Quote, QuoteLine, ReconcileHorizon, Refund, RefundError,
    RefundSettlement, RefundStatus, ShipError, Shipment, Shortage, StatusChange, Tracking,
    UnknownProduct,
};
pub use passwords::{HashError, PasswordHasher};
pub use payments::{
    ChargeOutcome, ChargeRecord, ChargeRecords, ChargeRequest, ChargeState, PaymentError,
    PaymentEvents, PaymentGateway, ProviderEvent, ProviderEventError, ProviderFact, ProviderRefund,
    RefundOutcome, RefundRequest, RefundState,
};
pub use products::{Product, ProductQuery, ProductRepository, ProductWriteError};
pub use revocations::{
    LoggedRevocation, Revocation, RevocationLog, RevocationNotice, RevocationSource,
    TokenRevocations, UserGeneration,
};
pub use stats::{BoundariesError, StatsRepository, StatsSummary};
pub use users::{CreateUserError, User, UserCredentials, UserRepository};
pub use webhooks::{
    AttemptRecord, ClaimedDelivery, Delivery, DeliveryQuery, DeliveryQueue, DeliveryStatus,
    EndpointCursor, EndpointQuery, HostResolver, NewWebhookEndpoint, OutgoingWebhook, QueueStats,
    WebhookEndpoint, WebhookEndpointChange, WebhookSender, WebhookStore, WebhookTelemetry,
};

#[cfg(feature = "mock")]
pub use bus::{MockEventBus, MockPublisherLease};
#[cfg(feature = "mock")]
pub use live::{MockLiveEvents, MockLiveSubscription};
#[cfg(feature = "mock")]
pub use mail::{MockMailQueue, MockMailTelemetry, MockMailer};
#[cfg(feature = "mock")]
pub use {
    audit::MockAuditLog, clock::MockClock, customers::MockCustomerRepository, events::MockEventLog,
    events::MockEventSink, events::MockEventSource, export::MockOrderExport,
    idempotency::MockIdempotencyStore, orders::MockOrderRepository, passwords::MockPasswordHasher,
    payments::MockChargeRecords, payments::MockPaymentEvents, payments::MockPaymentGateway,
    products::MockProductRepository, revocations::MockRevocationLog,
    revocations::MockTokenRevocations, users::MockUserRepository, webhooks::MockDeliveryQueue,
    webhooks::MockHostResolver, webhooks::MockWebhookSender, webhooks::MockWebhookStore,
    webhooks::MockWebhookTelemetry,
};
