//! Headers on every answer: no MIME sniffing, no referrer, a Content-Security-Policy that lets a
//! JSON answer do nothing if a browser ever renders it, and how long an idle connection is kept.

use std::time::Duration;

use actix_web::middleware::DefaultHeaders;

/// An idle keep-alive connection is closed after this long (actix-web's default, made explicit).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// `Keep-Alive: timeout=N`, N a second below [`KEEP_ALIVE`]: a client that pools connections and
/// reads the hint (undici, i.e. Node's `fetch`; Node's `http.Agent` when it has an idle timeout of
/// its own) drops an idle one before the server closes it, instead of sending a request on a
/// socket being closed (`ECONNRESET`; seen as a 500 from Next.js's `/api` proxy about once in 25
/// requests sent 5 s apart). Node 20's agent without a timeout ignores the hint: the web app's test
/// harness gives it one (`web/e2e/proxy-keepalive.mjs`).
fn keep_alive_hint() -> String {
    format!("timeout={}", KEEP_ALIVE.as_secs().saturating_sub(1).max(1))
}

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Keep-Alive", keep_alive_hint()))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add(("Cache-Control", "no-store"))
}
