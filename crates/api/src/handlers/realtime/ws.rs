//! `GET /api/ws`: the WebSocket. Each event is one text message. Pings are control frames every
//! `WS_PING_INTERVAL`; a peer that does not answer within `WS_PING_TIMEOUT` is dropped.
//!
//! Close codes: 1008 when the session is revoked (logout), 1013 when the client could not keep up
//! (its queue filled), 1001 when the server shuts down, 1011 when the event log cannot be read.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason as WsCloseReason, Message, MessageStream, Session};
use app::live_feed::{FeedEnd, FeedItem, LiveFeed};
use ports::{CloseReason, EventMessage};
use tokio::time::{Instant, interval_at, sleep_until};

use super::{RealtimeState, open_feed, parse_since};
use crate::auth::extractor::authenticate;
use crate::error::ApiError;
use crate::metrics::{Metrics, Transport};

#[derive(serde::Deserialize)]
pub struct WsQuery {
    since: Option<String>,
}

/// Authenticates (401), checks the browser `Origin` (403), then upgrades.
#[utoipa::path(get, path = "/api/ws", tag = "real-time",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("since" = Option<i64>, Query, description = "Replay every stored event after this id first")),
    responses(
        (status = 101, description = "Upgraded: each event is one text message (see `EventDoc`); pings are control frames; close 1008 when the session is revoked, 1013 for a client too slow to keep up, 1001 at server shutdown"),
        (status = 401, description = "`unauthenticated`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: a browser `Origin` that is neither `PUBLIC_ORIGIN` nor allowed", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `since` is not an event id, or not a WebSocket upgrade", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
    state: web::Data<RealtimeState>,
    metrics: Option<web::Data<Metrics>>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req)?;
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| state.allowed_origins.iter().any(|a| a == o));
        if !allowed {
            return Err(ApiError::forbidden());
        }
    }
    let since = parse_since("since", query.since.as_deref())?;
    let feed = open_feed(&req, &state, &user, since).await?;
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|_| ApiError::invalid_field("upgrade", "not a WebSocket upgrade request"))?;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let _guard = metrics.map(|m| m.into_inner().client_connected(Transport::WebSocket));
        run(session, stream, feed, &state).await;
    });
    Ok(response)
}

fn close_reason(code: CloseCode, text: &str) -> Option<WsCloseReason> {
    Some(WsCloseReason {
        code,
        description: Some(text.to_owned()),
    })
}

async fn send_event(session: &mut Session, message: &EventMessage) -> bool {
    session.text(message.json.to_string()).await.is_ok()
}

/// Pumps the feed to the socket until either side ends.
async fn run(
    mut session: Session,
    mut stream: MessageStream,
    mut feed: LiveFeed,
    state: &RealtimeState,
) {
    let mut pings = interval_at(Instant::now() + state.ping_interval, state.ping_interval);
    let mut pong_deadline: Option<Instant> = None;
    let reason = loop {
        tokio::select! {
            item = feed.next() => match item {
                Ok(FeedItem::Event(message)) => {
                    if !send_event(&mut session, &message).await {
                        return;
                    }
                }
                Ok(FeedItem::Reset) => {
                    if session.text(EventMessage::stream_reset().to_string()).await.is_err() {
                        return;
                    }
                }
                Err(FeedEnd::Closed(CloseReason::Revoked)) => {
                    break close_reason(CloseCode::Policy, CloseReason::Revoked.description());
                }
                Err(FeedEnd::Closed(CloseReason::SlowConsumer)) => {
                    break close_reason(CloseCode::Again, CloseReason::SlowConsumer.description());
                }
                Err(FeedEnd::Closed(CloseReason::Shutdown)) => {
                    break close_reason(CloseCode::Away, CloseReason::Shutdown.description());
                }
                Err(FeedEnd::Store(error)) => {
                    tracing::warn!(%error, "real-time replay failed");
                    break close_reason(CloseCode::Error, "event log unavailable");
                }
            },
            message = stream.recv() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Pong(_))) => pong_deadline = None,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                // The stream is server-to-client; anything else the client sends is ignored.
                Some(Ok(_)) => {}
            },
            _ = pings.tick() => {
                if pong_deadline.is_none() {
                    pong_deadline = Some(Instant::now() + state.ping_timeout);
                }
                if session.ping(b"").await.is_err() {
                    return;
                }
            },
            () = async {
                match pong_deadline {
                    Some(deadline) => sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            } => {
                tracing::debug!("real-time peer missed its pong; dropping it");
                break close_reason(CloseCode::Policy, "ping timeout");
            },
        }
    };
    let _ = session.close(reason).await;
}
