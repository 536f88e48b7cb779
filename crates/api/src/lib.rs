//! The HTTP API of the order management system and the composition root: configuration,
//! authentication, rate limits, errors as problem JSON, the handlers, and the start-up that wires
//! the PostgreSQL adapters and the use cases together.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod error_reporting;
pub mod handlers;
pub mod metrics;
pub mod openapi;
pub mod order_metrics;
pub mod paging;
pub mod panic_guard;
pub mod payments;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod webhook_resolver;

pub use config::Settings;
pub use startup::Application;
