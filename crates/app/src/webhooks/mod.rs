//! Webhooks (API.md, "Webhooks and the event feed").
//!
//! - [`endpoints`]: the admin use cases: endpoints, secrets, the deliveries log, redelivery, the
//!   test event.
//! - [`worker`]: the delivery machinery: the relay sink that asks for the fan-out, and the worker
//!   that claims due deliveries, signs, sends, and records each attempt.
//!
//! How a delivery travels, and why it holds the contract's guarantees, is told in
//! `docs/architecture.md` ("Webhooks").

use std::time::Duration;

use domain::webhook::DEFAULT_RETRY_SCHEDULE;

pub mod endpoints;
pub mod worker;

pub use endpoints::WebhookService;
pub use worker::{DeliveryWorker, WebhookSink};

/// How long the previous secret keeps signing after a rotation.
pub const SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// A claim's lease outlasts the attempt's `timeout` by this much (the time to record it): an
/// instance that has not recorded an attempt by then is taken for dead and its delivery is tried
/// again elsewhere.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The webhook settings (`WEBHOOK_*`, see the README).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// `WEBHOOK_TIMEOUT`: the whole attempt, connect to the end of the answer.
    pub timeout: Duration,
    /// `WEBHOOK_RETRY_SCHEDULE`: the waits after each failed attempt (each ±10%).
    pub retry_schedule: Vec<Duration>,
    /// `WEBHOOK_DISABLE_AFTER`: an endpoint with no successful delivery for this long is disabled.
    pub disable_after: Duration,
    /// `WEBHOOK_CONCURRENCY`: attempts in flight per instance.
    pub concurrency: usize,
    /// `WEBHOOK_DELIVERY_RETENTION`: how long deliveries are kept.
    pub delivery_retention: Duration,
    /// `WEBHOOK_ALLOW_HTTP`: `http://` URLs too.
    pub allow_http: bool,
    /// `WEBHOOK_ALLOW_PRIVATE`: loopback, private and the other forbidden addresses too.
    pub allow_private: bool,
}

impl WebhookSettings {
    /// How long a claimed delivery is held: the attempt's timeout plus [`LEASE_MARGIN`].
    pub fn lease(&self) -> Duration {
        self.timeout + LEASE_MARGIN
    }
}

impl Default for WebhookSettings {
    /// The documented defaults.
    fn default() -> Self {
        WebhookSettings {
            timeout: Duration::from_secs(10),
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            disable_after: Duration::from_secs(5 * 86_400),
            concurrency: 16,
            delivery_retention: Duration::from_secs(30 * 86_400),
            allow_http: false,
            allow_private: false,
        }
    }
}
