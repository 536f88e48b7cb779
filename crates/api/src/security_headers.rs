//! Headers on every answer: no MIME sniffing, no referrer, a Content-Security-Policy that lets a
//! JSON answer do nothing if a browser ever renders it, and how long an idle connection is kept.

use std::time::Duration;

use actix_web::middleware::DefaultHeaders;

/// The idle keep-alive, in whole seconds: `HTTP_KEEP_ALIVE`, at least 2 (so that the hint below
/// is at least 1).
pub fn keep_alive_secs(keep_alive: Duration) -> u64 {
    keep_alive.as_secs().max(2)
}

/// `Keep-Alive: timeout=N`, N a second below the idle keep-alive: a client that pools connections
/// and reads the hint (undici, i.e. Node's `fetch`; Node's `http.Agent` when it has an idle
/// timeout of its own) drops an idle one before the server closes it, instead of sending a request
/// on a socket being closed (`ECONNRESET`; seen as a 500 from Next.js's `/api` proxy about once in
/// 25 requests sent 5 s apart). Node 20's agent without a timeout ignores the hint: the web app's
/// test harness gives it one (`web/e2e/proxy-keepalive.mjs`). A load balancer in front reuses its
/// idle connections for its own idle timeout: set `HTTP_KEEP_ALIVE` above it (README).
fn keep_alive_hint(keep_alive: Duration) -> String {
    format!("timeout={}", keep_alive_secs(keep_alive) - 1)
}

pub fn security_headers(keep_alive: Duration) -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Keep-Alive", keep_alive_hint(keep_alive)))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add(("Cache-Control", "no-store"))
}
