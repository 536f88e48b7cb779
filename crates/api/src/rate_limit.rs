//! Rate limits (actix-governor, GPL-3.0-or-later: kept inside this module so that it can be
//! swapped for another limiter in one change).
//!
//! - auth routes (register, login, token): per client address per minute;
//! - every other route: per client address per second, burst twice that;
//! - order placement: also per signed-in user per minute.
//!
//! Past a limit: 429 `rate_limited` with `Retry-After`. A limit of 0 is off. The client address
//! is the peer's, unless the peer is a trusted proxy: then the right-most `X-Forwarded-For`
//! address that is not a trusted proxy.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor};
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::middleware::Condition;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError as _, web};
use ipnet::IpNet;

use crate::auth::AuthState;
use crate::auth::extractor::token_of;
use crate::error::ApiError;

/// Finds the client address of a request.
#[derive(Debug, Clone, Default)]
pub struct ClientAddress {
    trusted_proxies: Arc<Vec<IpNet>>,
}

impl ClientAddress {
    pub fn new(trusted_proxies: Vec<IpNet>) -> ClientAddress {
        ClientAddress {
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }

    fn trusted(&self, ip: &IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(ip))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
    /// `X-Forwarded-For` address that is not a trusted proxy.
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !self.trusted(ip))
                .unwrap_or(peer),
        )
    }
}

/// Keys a limit by client address. Health checks are never limited (key `None` is whitelisted).
#[derive(Debug, Clone)]
pub struct AddressKey {
    address: ClientAddress,
}

impl KeyExtractor for AddressKey {
    type Key = Option<IpAddr>;
    type KeyExtractionError = ApiError;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        if matches!(req.path(), "/healthz" | "/readyz") {
            return Ok(None);
        }
        Ok(Some(
            self.address
                .of(req.request())
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
        ))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        response: HttpResponseBuilder,
    ) -> HttpResponse {
        too_many(negative, response)
    }

    fn whitelisted_keys(&self) -> Vec<Self::Key> {
        vec![None]
    }
}

/// Keys a limit by signed-in user; a request without a valid token is not limited here (it is
/// answered 401 anyway).
#[derive(Clone)]
pub struct UserKey {
    auth: web::Data<AuthState>,
}

impl KeyExtractor for UserKey {
    type Key = Option<i64>;
    type KeyExtractionError = ApiError;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        Ok(token_of(req.request())
            .ok()
            .flatten()
            .and_then(|(token, _)| self.auth.keys.verify(&token))
            .map(|session| session.user_id))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        response: HttpResponseBuilder,
    ) -> HttpResponse {
        too_many(negative, response)
    }

    fn whitelisted_keys(&self) -> Vec<Self::Key> {
        vec![None]
    }
}

/// The 429 problem, with `Retry-After` in whole seconds, at least 1.
fn too_many(negative: &NotUntil<QuantaInstant>, _response: HttpResponseBuilder) -> HttpResponse {
    let wait = negative.wait_time_from(DefaultClock::default().now());
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::rate_limited().error_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// One limit: its limiter, and whether it is on.
#[derive(Clone)]
pub struct Limit<K: KeyExtractor> {
    enabled: bool,
    config: GovernorConfig<K, NoOpMiddleware>,
}

impl<K: KeyExtractor> Limit<K> {
    /// `per_period` requests replenished over `period`, up to `burst` at once; 0 is off.
    fn new(
        key: K,
        per_period: u32,
        period: Duration,
        burst: u32,
        methods: Option<Vec<Method>>,
    ) -> anyhow::Result<Limit<K>> {
        let mut builder = GovernorConfigBuilder::default();
        builder
            .period((period / per_period.max(1)).max(Duration::from_nanos(1)))
            .burst_size(burst.max(1));
        if let Some(methods) = methods {
            builder.methods(methods);
        }
        let config = builder
            .key_extractor(key)
            .finish()
            .ok_or_else(|| anyhow::anyhow!("invalid rate limit"))?;
        Ok(Limit {
            enabled: per_period > 0,
            config,
        })
    }

    /// The middleware (a pass-through when the limit is off).
    pub fn middleware(&self) -> Condition<Governor<K, NoOpMiddleware>> {
        Condition::new(self.enabled, Governor::new(&self.config))
    }

    fn forget_idle(&self) {
        self.config.limiter().retain_recent();
    }
}

/// The limits of one server instance.
#[derive(Clone)]
pub struct RateLimiters {
    pub auth: Limit<AddressKey>,
    pub api: Limit<AddressKey>,
    pub orders: Limit<UserKey>,
}

impl RateLimiters {
    pub fn new(
        limits: &crate::config::RateLimits,
        trusted_proxies: Vec<IpNet>,
        auth: web::Data<AuthState>,
    ) -> anyhow::Result<RateLimiters> {
        let address = AddressKey {
            address: ClientAddress::new(trusted_proxies),
        };
        let minute = Duration::from_secs(60);
        Ok(RateLimiters {
            auth: Limit::new(
                address.clone(),
                limits.auth_per_minute,
                minute,
                limits.auth_per_minute,
                None,
            )?,
            api: Limit::new(
                address,
                limits.api_per_second,
                Duration::from_secs(1),
                limits.api_per_second.saturating_mul(2),
                None,
            )?,
            orders: Limit::new(
                UserKey { auth },
                limits.orders_per_minute,
                minute,
                limits.orders_per_minute,
                Some(vec![Method::POST]),
            )?,
        })
    }

    /// Forgets idle keys (call now and then so that memory stays bounded).
    pub fn forget_idle(&self) {
        self.auth.forget_idle();
        self.api.forget_idle();
        self.orders.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|n| crate::config::parse_net(n).expect("net"))
            .collect()
    }

    fn client(peer: &str, xff: Option<&str>, trusted: &[&str]) -> IpAddr {
        let mut req = TestRequest::get().peer_addr(format!("{peer}:1234").parse().expect("addr"));
        if let Some(xff) = xff {
            req = req.insert_header(("X-Forwarded-For", xff));
        }
        ClientAddress::new(nets(trusted))
            .of(&req.to_http_request())
            .expect("address")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        // untrusted peer: its own address, whatever it claims
        assert_eq!(
            client("203.0.113.9", Some("1.2.3.4"), &[]),
            ip("203.0.113.9")
        );
        // trusted proxy: the right-most untrusted address
        assert_eq!(
            client("10.0.0.1", Some("6.6.6.6, 198.51.100.7"), &["10.0.0.0/8"]),
            ip("198.51.100.7")
        );
        // a chain of trusted proxies is skipped
        assert_eq!(
            client(
                "10.0.0.1",
                Some("6.6.6.6, 198.51.100.7, 10.0.0.2"),
                &["10.0.0.0/8"]
            ),
            ip("198.51.100.7")
        );
        // nothing usable: the peer
        assert_eq!(
            client("10.0.0.1", Some("garbage"), &["10.0.0.0/8"]),
            ip("10.0.0.1")
        );
        assert_eq!(client("10.0.0.1", None, &["10.0.0.1"]), ip("10.0.0.1"));
    }
}
