//! `GET /api/events`: the Server-Sent Events fallback. `id:` is the event id, `event:` its type,
//! `data:` the JSON; `Last-Event-ID` resumes (it wins over `?since=`); a comment every 15 s keeps
//! proxies from closing an idle stream. The stream ends when the session is revoked, the client is
//! too slow, or the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::{HttpRequest, Responder, web};
use actix_web_lab::sse::{Data, Event, Sse};
use app::live_feed::FeedItem;
use futures_util::stream;
use ports::EventMessage;

use super::{RealtimeState, open_feed, parse_since};
use crate::auth::extractor::authenticate;
use crate::error::ApiError;
use crate::metrics::{Metrics, Transport};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(serde::Deserialize)]
pub struct SseQuery {
    since: Option<String>,
}

#[utoipa::path(get, path = "/api/events", tag = "real-time",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("since" = Option<i64>, Query, description = "Replay every stored event after this id first"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this id (wins over `since`)"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `id:` the event id, `event:` its type, `data:` the event JSON (see `EventDoc`); a comment every 15 s", content_type = "text/event-stream", body = String),
        (status = 401, description = "`unauthenticated`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `since`/`Last-Event-ID` is not an event id", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn events(
    req: HttpRequest,
    query: web::Query<SseQuery>,
    state: web::Data<RealtimeState>,
    metrics: Option<web::Data<Metrics>>,
) -> Result<impl Responder, ApiError> {
    let user = authenticate(&req)?;
    let since = match req.headers().get("Last-Event-ID") {
        Some(value) => parse_since(
            "Last-Event-ID",
            Some(value.to_str().map_err(|_| {
                ApiError::invalid_field("Last-Event-ID", "must be an event id (an integer)")
            })?),
        )?,
        None => parse_since("since", query.since.as_deref())?,
    };
    let feed = open_feed(&req, &state, &user, since).await?;
    // Lives in the stream's state: the gauge goes down when the stream is dropped.
    let guard = metrics.map(|m| m.into_inner().client_connected(Transport::Sse));
    let events = stream::unfold((feed, guard), |(mut feed, guard)| async move {
        let event = match feed.next().await {
            Ok(FeedItem::Event(message)) => Event::Data(
                Data::new(message.json.to_string())
                    .id(message.id.to_string())
                    .event(message.kind),
            ),
            Ok(FeedItem::Reset) => Event::Data(
                Data::new(EventMessage::stream_reset().to_string()).event("stream.reset"),
            ),
            Err(_) => return None,
        };
        Some((Ok::<_, Infallible>(event), (feed, guard)))
    });
    Ok(Sse::from_stream(events).with_keep_alive(KEEP_ALIVE))
}
