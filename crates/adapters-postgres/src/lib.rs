//! PostgreSQL adapters: the repositories behind the ports (diesel-async over a deadpool pool), the
//! embedded migrations, the `LISTEN` connection, and (feature `testing`) a database per test.
//!
//! Every database failure becomes a [`ports::StoreError`] in [`errors::store_error`].

pub mod audit;
mod batch;
pub mod bus_lease;
mod cached;
pub mod charge_records;
pub mod customers;
pub mod errors;
pub mod events;
pub mod export;
pub mod idempotency;
mod leased;
pub mod listener;
pub mod mail;
pub mod migrations;
pub mod orders;
pub mod payments_simulated;
pub mod pool;
pub mod products;
pub mod revocations;
mod rows;
pub mod schema;
pub mod seed;
pub mod settings;
pub mod stats;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;
pub mod webhooks;

pub use audit::PgAuditLog;
pub use bus_lease::PgPublisherLease;
pub use charge_records::PgChargeRecords;
pub use customers::{CUSTOMER_LOCK_KEY, PgCustomerRepository};
pub use errors::store_error;
pub use events::{EVENT_LOCK_KEY, EVENTS_CHANNEL, PgEventLog, REVOCATIONS_CHANNEL};
pub use export::{ExportSettings, PgOrderExport};
pub use idempotency::PgIdempotencyStore;
pub use mail::PgMailQueue;
pub use migrations::{MIGRATIONS, run_migrations};
pub use orders::PgOrderRepository;
pub use payments_simulated::SimulatedPaymentGateway;
pub use pool::{PgPool, build_pool, ping, pool_status};
pub use products::PgProductRepository;
pub use revocations::PgTokenRevocations;
pub use settings::PgSettings;
pub use stats::PgStatsRepository;
pub use users::PgUserRepository;
pub use webhooks::{PgDeliveryQueue, PgWebhookStore};
