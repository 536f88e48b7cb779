//! The real-time hub: who is connected, who may see which event, and the per-client queues.
//!
//! Transport-agnostic: the API's WebSocket and SSE handlers open a [`Feed`] and write what it yields
//! in their own framing.
//!
//! Delivery order. Event ids are assigned in commit order (see `docs/architecture.md`), and the
//! hub is a sink of the event relay (`app::relay`), which hands it every committed event once and
//! in id order, so a client's stream is id-ascending. A feed that resumes from `since` subscribes
//! to live events first, then replays the stored events after `since`, then goes live skipping
//! what the replay already sent: nothing at the seam is missed or repeated.

pub mod event_json;
pub mod feed;
pub mod hub;

pub use event_json::EventMessage;
pub use feed::{Feed, FeedEnd, FeedItem};
pub use hub::{CloseReason, Hub, Subscription, Viewer};
