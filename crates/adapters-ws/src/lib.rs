//! The real-time hub: who is connected, who may see which event, and the per-client queues.
//!
//! The [`Hub`] is the implementation of the [`ports::LiveEvents`] port, and a sink of the event
//! relay (`app::relay`, [`ports::EventSink`]), which hands it every committed event once and in id
//! order, so a client's stream is id-ascending. Replay after `since` and the seam between replay
//! and live events are `app::live_feed`'s job, over the ports; the API's WebSocket and SSE handlers
//! see only that feed and the port types ([`ports::Viewer`], [`ports::EventMessage`],
//! [`ports::CloseReason`]).

pub mod hub;

pub use hub::{Hub, Subscription};
