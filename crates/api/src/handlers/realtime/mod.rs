//! Real-time order events: `GET /api/ws` (WebSocket) and `GET /api/events` (Server-Sent Events).
//!
//! Both authenticate like every route (session cookie or Bearer), open an
//! [`app::live_feed::LiveFeed`] (replay after `since` from the [`EventLog`] port, then live from
//! the [`LiveEvents`] port) and write what it yields in their own framing. Who sees what (admins
//! everything, customers their own orders) is [`ports::Viewer`]'s rule. The live events are fed by
//! the event relay (`app::relay`, wired in `startup.rs`), not from here.

pub mod sse;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use app::live_feed::LiveFeed;
use ports::{EventLog, LiveEvents, Viewer};

use actix_web::HttpRequest;

use crate::auth::AuthUser;
use crate::auth::extractor::authenticate;
use crate::error::ApiError;

/// The real-time routes' part of the OpenAPI document (merged into `crate::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(ws::upgrade, sse::events),
    components(schemas(EventDoc)),
    tags((name = "real-time", description = "Order events over WebSocket, with Server-Sent Events as the fallback"))
)]
pub struct RealtimeApiDoc;

/// One order event as sent (a WebSocket text message, or an SSE `data:` line). Delivery order:
/// event ids are assigned in commit order, so a client that has seen event `N` receives every
/// later event it may see with `id > N`; resume with `?since=N` (WebSocket, SSE) or
/// `Last-Event-ID: N` (SSE). When `since` is older than the retention, `{"type": "stream.reset"}`
/// comes first: refetch.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EventDoc {
    id: i64,
    /// `order.created`, `order.paid`, `order.status_changed`, `order.cancelled`,
    /// `order.shipped`, `order.refunded` (or `stream.reset`, which carries no other field).
    #[schema(rename = "type")]
    kind: String,
    #[schema(format = Uuid)]
    order_id: String,
    user_id: i64,
    from_status: Option<String>,
    to_status: String,
    payment_status: String,
    /// `unfulfilled`, `partially_fulfilled` or `fulfilled`.
    fulfillment_status: String,
    total_amount: i64,
    /// Everything refunded of the order so far, in cents.
    refunded_amount: i64,
    /// `order.shipped`, and an `order.status_changed` that a shipment completed: the shipment.
    #[schema(format = Uuid)]
    shipment_id: Option<String>,
    /// `order.refunded`, and an `order.status_changed` that a refund completed: the refund.
    #[schema(format = Uuid)]
    refund_id: Option<String>,
    /// With `refund_id`: this refund's amount, in cents.
    amount: Option<i64>,
    #[schema(format = DateTime)]
    occurred_at: String,
}

/// What the real-time routes share.
pub struct RealtimeState {
    /// The live fan-out the feeds subscribe to (the hub, wired in `startup.rs`).
    pub live: Arc<dyn LiveEvents>,
    pub log: Arc<dyn EventLog>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// `PUBLIC_ORIGIN` and `CORS_ALLOWED_ORIGINS`: the browser origins allowed to open a WebSocket.
    pub allowed_origins: Vec<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/ws").get(ws::upgrade))
        .service(super::resource("/api/events").get(sse::events));
}

/// Parses a `since` value: an event id.
fn parse_since(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid_field(field, "must be an event id (an integer)")),
    }
}

/// Opens the feed of `user`, authenticated from `req`. A revocation that lands between that
/// authentication and the subscription would close nothing (the client was not subscribed yet),
/// so the token is checked once more after subscribing: the revocation set is updated before the
/// live subscriptions are closed, so one of the two always sees it.
async fn open_feed(
    req: &HttpRequest,
    state: &RealtimeState,
    user: &AuthUser,
    since: Option<i64>,
) -> Result<LiveFeed, ApiError> {
    let viewer = Viewer {
        user_id: user.id,
        role: user.role,
    };
    let feed = LiveFeed::open(
        state.live.as_ref(),
        Arc::clone(&state.log),
        viewer,
        &user.jti,
        user.generation,
        since,
    )
    .await
    .map_err(ApiError::from)?;
    authenticate(req)?;
    Ok(feed)
}
