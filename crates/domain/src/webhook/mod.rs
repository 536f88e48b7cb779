//! Webhooks: the rules of the contract (API.md, "Webhooks and the event feed") that need no I/O.
//!
//! - [`address`]: endpoint URLs and the addresses a delivery must never connect to (SSRF).
//! - [`signing`]: secrets and the Standard Webhooks signature.
//! - [`delivery`]: which events an endpoint takes, what an attempt's outcome means (retry after
//!   the schedule with jitter, give up, disable the endpoint).

pub mod address;
pub mod delivery;
pub mod signing;

pub use address::{URL_FIELD, URL_MAX, WebhookHost, WebhookUrl, forbidden_reason, parse_url};
pub use delivery::{
    AttemptOutcome, DEFAULT_RETRY_SCHEDULE, EVENT_TYPES_FIELD, EventFilter, NextStep,
    TEST_EVENT_TYPE, disable_reason, next_step, retry_wait,
};
pub use signing::{SecretError, WebhookSecret, signature_header};
