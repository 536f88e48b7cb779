//! Logs: JSON lines in production, compact text lines in development (colours only on a terminal
//! and without `NO_COLOR`); the filter from `RUST_LOG` (default `info`). Every request has a root
//! span carrying its `request_id`, method, route and client address, so every line logged while
//! serving it names the request; when the answer is ready, one INFO line `request finished` adds
//! its status and latency. Spans log nothing of their own (no open/close lines): at INFO a request
//! is that one line, plus the business events it caused (an order placed, paid, cancelled).
//! Nothing here logs headers, cookies or bodies.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::time::Instant;

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::config::AppEnv;
use crate::rate_limit::ClientAddress;
use crate::request_id::RequestId;

/// Installs the global subscriber (writing to standard output) and a panic hook that logs panics
/// through it. Call once, at start-up; a second call does nothing.
pub fn init(env: AppEnv) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = match env {
        AppEnv::Production => tracing_subscriber::fmt()
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(true)
            .with_env_filter(filter)
            .try_init(),
        AppEnv::Development => tracing_subscriber::fmt()
            .compact()
            .with_ansi(colours(
                std::env::var_os("NO_COLOR"),
                std::io::stdout().is_terminal(),
            ))
            .with_env_filter(filter)
            .try_init(),
    };
    if installed.is_ok() {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(%location, "panic: {}", panic_message(info));
        }));
    }
}

/// Whether the text logs may use ANSI colours: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (<https://no-color.org>).
fn colours(no_color: Option<OsString>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// When the request reached the logger, for the latency on its line.
struct RequestStarted(Instant);

/// The root span of every request, with our request id and the client address as the rate
/// limiter sees it (not a spoofable `X-Forwarded-For`), and the one line that logs the request.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request
            .extensions_mut()
            .insert(RequestStarted(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let client_ip = request
            .app_data::<actix_web::web::Data<ClientAddress>>()
            .and_then(|a| a.of(request.request()))
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        tracing::info_span!(
            "HTTP request",
            request_id = %request_id,
            http.method = %request.method(),
            http.route = %route,
            http.client_ip = %client_ip,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    /// Records the status (and the error, if any) on the span, then logs the request's line in
    /// it: its fields are the span's, plus the latency until the answer's head was ready (a
    /// streamed body, SSE or WebSocket, may go on afterwards).
    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        // A middleware's `Err` carries no request, hence no start: no latency then (ours answer
        // their refusals as responses).
        let latency_ms = outcome.as_ref().ok().and_then(|response| {
            let started = response.request().extensions().get::<RequestStarted>()?.0;
            // Microseconds as milliseconds: `12.345`, not `12.345678901`.
            Some(started.elapsed().as_micros() as f64 / 1000.0)
        });
        tracing::info!(parent: &span, latency_ms, "request finished");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colours(None, true));
        assert!(
            colours(Some(OsString::new()), true),
            "an empty NO_COLOR is unset"
        );
        assert!(!colours(Some("1".into()), true));
        assert!(!colours(None, false));
        assert!(!colours(Some("1".into()), false));
    }
}
