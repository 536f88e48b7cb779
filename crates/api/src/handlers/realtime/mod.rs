//! Real-time order events: `GET /api/ws` (WebSocket) and `GET /api/events` (Server-Sent Events).
//!
//! Both authenticate like every route (session cookie or Bearer), open an
//! [`adapters_ws::Feed`] (replay after `since`, then live) and write what it yields in their own
//! framing. Who sees what (admins everything, customers their own orders) is the hub's rule.

pub mod sse;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use adapters_ws::{Feed, Hub, Viewer};
use ports::EventLog;

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
    /// `order.created`, `order.paid`, `order.status_changed`, `order.cancelled` (or
    /// `stream.reset`, which carries no other field).
    #[schema(rename = "type")]
    kind: String,
    #[schema(format = Uuid)]
    order_id: String,
    user_id: i64,
    from_status: Option<String>,
    to_status: String,
    payment_status: String,
    total_amount: i64,
    #[schema(format = DateTime)]
    occurred_at: String,
}

/// What the real-time routes share.
pub struct RealtimeState {
    pub hub: Hub,
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
/// authentication and the subscription would close nothing (the client was not in the hub yet),
/// so the token is checked once more after subscribing: the revocation set is updated before the
/// hub is told, so one of the two always sees it.
async fn open_feed(
    req: &HttpRequest,
    state: &RealtimeState,
    user: &AuthUser,
    since: Option<i64>,
) -> Result<Feed, ApiError> {
    let viewer = Viewer {
        user_id: user.id,
        role: user.role,
    };
    let feed = Feed::open(
        &state.hub,
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

/// Hands the listener's notices to the hub, one at a time and in order: events (each once, in id
/// order), revocations (the token's streams close; for a user's generation, the streams of their
/// older tokens), and after every (re)connection of the
/// listener, a replay of the event log after the last event this instance delivered —
/// notifications sent while it was not listening are lost, the log is not.
pub fn spawn_notice_pump(
    hub: Hub,
    log: Arc<dyn EventLog>,
) -> tokio::sync::mpsc::UnboundedSender<adapters_postgres::listener::Notice> {
    use adapters_postgres::listener::Notice;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Notice>();
    tokio::spawn(async move {
        // Where delivery starts: the newest stored event. The listener's first `Reconnected` (its
        // first LISTEN) then replays whatever committed between this read and that LISTEN, and a
        // lost connection before any event was delivered is still followed by a replay.
        let mut last: Option<i64> = match log.latest_id().await {
            Ok(id) => Some(id),
            Err(error) => {
                tracing::warn!(%error, "reading the newest event id at start-up");
                None
            }
        };
        while let Some(notice) = rx.recv().await {
            match notice {
                Notice::Events(events) => {
                    for event in events {
                        if last.is_none_or(|l| event.id > l) {
                            hub_publish(&hub, &event);
                            last = Some(event.id);
                        }
                    }
                }
                Notice::Revoked(jti) => {
                    hub.revoke(&jti);
                }
                Notice::UserRevoked(generation) => {
                    hub.revoke_user(generation.user_id, generation.min_generation);
                }
                Notice::Reconnected => {
                    if let Some(after) = last {
                        last = Some(replay(&hub, &*log, after).await);
                    }
                }
            }
        }
    });
    tx
}

fn hub_publish(hub: &Hub, event: &ports::StoredEvent) {
    hub.publish(event);
}

/// Publishes every stored event after `after`; returns the last id published. A failing read is
/// retried with backoff (the database may be what broke the listener's connection).
async fn replay(hub: &Hub, log: &dyn EventLog, mut after: i64) -> i64 {
    const BATCH: u32 = 500;
    const ATTEMPTS: u32 = 8;
    let mut failures = 0;
    loop {
        match log.events_after(after, None, BATCH).await {
            Ok(events) => {
                failures = 0;
                for event in &events {
                    hub_publish(hub, event);
                    after = event.id;
                }
                if events.len() < BATCH as usize {
                    return after;
                }
            }
            Err(error) if failures + 1 < ATTEMPTS => {
                failures += 1;
                tracing::warn!(%error, failures, "replaying events after a listener reconnect");
                tokio::time::sleep(Duration::from_millis(100 << failures.min(5))).await;
            }
            Err(error) => {
                // Clients that missed these resume with `since` after their own reconnect.
                tracing::error!(%error, "giving up replaying events after a listener reconnect");
                return after;
            }
        }
    }
}
