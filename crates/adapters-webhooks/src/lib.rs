//! Webhooks over HTTP: the [`WebhookSender`] that makes one attempt, and the [`HostResolver`] of
//! the address check at creation.
//!
//! # The address check (SSRF)
//! Unless `allow_private` (`WEBHOOK_ALLOW_PRIVATE`), an attempt never connects to an address
//! `domain::webhook::forbidden_reason` refuses, whatever the URL says and whatever DNS answers:
//! - A host written as an address (`https://10.0.0.1/`) is checked here before any request:
//!   `reqwest` does not ask a resolver about those.
//! - A host name is resolved by [`CheckedResolver`], the client's only resolver: it resolves, and
//!   refuses the connection when **any** of the addresses is forbidden (a name that mixes public
//!   and private answers is not trusted), else hands the client exactly the addresses it checked.
//!   So the address connected to is one that was checked, at every attempt (a name re-resolved to
//!   `127.0.0.1` after the endpoint was created is refused: DNS rebinding). Pooled keep-alive
//!   connections were checked when they were opened.
//! - No proxy (proxy environment variables are ignored: a proxy would connect for us), no redirects
//!   (a `3xx` is a failed attempt, never followed), at most [`MAX_BODY`] bytes of the answer read,
//!   and the whole attempt (resolve, connect, TLS, request, answer) within the timeout.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::webhook::{AttemptOutcome, forbidden_reason, parse_url};
use ports::{HostResolver, OutgoingWebhook, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

/// The most of an answer's body read (then the connection is dropped).
pub const MAX_BODY: usize = 64 * 1024;

/// The `User-Agent` of every attempt.
const USER_AGENT: &str = concat!("oms-webhooks/", env!("CARGO_PKG_VERSION"));

/// A connection refused because of the address it would reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForbiddenAddress {
    pub ip: IpAddr,
    pub reason: &'static str,
}

impl std::fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is a {} address", self.ip, self.reason)
    }
}

impl StdError for ForbiddenAddress {}

/// Resolves with the system resolver (`getaddrinfo`, on tokio's blocking pool).
async fn lookup(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

/// The first forbidden address among `addrs`, unless private addresses are allowed.
fn first_forbidden(addrs: &[SocketAddr], allow_private: bool) -> Option<ForbiddenAddress> {
    if allow_private {
        return None;
    }
    addrs.iter().find_map(|addr| {
        forbidden_reason(addr.ip()).map(|reason| ForbiddenAddress {
            ip: addr.ip(),
            reason,
        })
    })
}

/// The client's resolver: refuses names with a forbidden address (see the crate docs).
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs = lookup(name.as_str(), 0).await?;
            if let Some(forbidden) = first_forbidden(&addrs, allow_private) {
                return Err(Box::new(forbidden) as Box<dyn StdError + Send + Sync>);
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends webhook attempts with one pooled `reqwest` client.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

impl HttpWebhookSender {
    /// A sender whose attempts take at most `timeout`; `allow_private` lifts the address check.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<HttpWebhookSender, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(Policy::none())
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| format!("webhook HTTP client: {e}"))?;
        Ok(HttpWebhookSender {
            client,
            timeout,
            allow_private,
        })
    }

    async fn attempt(&self, request: &OutgoingWebhook) -> AttemptOutcome {
        // The URL was checked at creation; checked again, as the client will read it.
        let url = match parse_url(&request.url, true) {
            Ok(url) => url,
            Err(error) => {
                return AttemptOutcome::Failed {
                    error: format!("invalid URL: {error}"),
                };
            }
        };
        if !self.allow_private
            && let Some(reason) = url.forbidden_literal()
        {
            return AttemptOutcome::Blocked {
                reason: reason.to_owned(),
            };
        }
        let sent = self
            .client
            .post(url.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &request.message_id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.payload.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return failure(&error),
        };
        let status = response.status().as_u16();
        // Read (and drop) a bounded part of the answer, so the connection can be reused.
        let mut read = 0usize;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    if read > MAX_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                // The status is what counts; a broken body after it changes nothing.
                Err(_) => break,
            }
        }
        match status {
            200..=299 => AttemptOutcome::Delivered { status },
            410 => AttemptOutcome::Gone,
            _ => AttemptOutcome::Refused { status },
        }
    }
}

/// The outcome of a request that got no answer.
fn failure(error: &reqwest::Error) -> AttemptOutcome {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(forbidden) = current.downcast_ref::<ForbiddenAddress>() {
            return AttemptOutcome::Blocked {
                reason: forbidden.reason.to_owned(),
            };
        }
        source = current.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // The innermost cause says most ("Connection refused", "invalid peer certificate").
    let mut cause: &dyn StdError = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    AttemptOutcome::Failed {
        error: format!("{kind}: {cause}"),
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: &OutgoingWebhook) -> AttemptOutcome {
        match tokio::time::timeout(self.timeout, self.attempt(request)).await {
            Ok(outcome) => outcome,
            Err(_) => AttemptOutcome::Failed {
                error: format!("timed out after {} ms", self.timeout.as_millis()),
            },
        }
    }
}

/// How long the resolution of the creation-time check may take: longer counts as "does not
/// resolve" (accepted, and checked again at every attempt; see `app::webhooks::endpoints`).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The system resolver, for the address check at creation (bounded by [`RESOLVE_TIMEOUT`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        match tokio::time::timeout(RESOLVE_TIMEOUT, lookup(host, port)).await {
            Ok(Ok(addrs)) => {
                let mut ips: Vec<IpAddr> = addrs.into_iter().map(|a| a.ip()).collect();
                ips.sort();
                ips.dedup();
                Ok(ips)
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {RESOLVE_TIMEOUT:?}")),
        }
    }
}
