//! The HTTP API of the order management system and the composition root: configuration,
//! authentication, rate limits, errors as problem JSON, the handlers, and the start-up that wires
//! the PostgreSQL adapters and the use cases together.

pub mod auth;
pub mod config;
pub mod error;
pub mod panic_guard;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
pub mod telemetry;
