//! [`TokioResolver`]: the [`HostResolver`] of the creation-time address check, over the system
//! resolver (`tokio::net::lookup_host`, `getaddrinfo` on a blocking thread).
//!
//! Bounded by [`RESOLVE_TIMEOUT`]: a name that takes longer counts as one that does not resolve
//! (accepted, and checked again at every delivery; see `app::webhooks::endpoints`).

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use ports::HostResolver;

/// How long one resolution may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Resolves with the system resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioResolver;

#[async_trait]
impl HostResolver for TokioResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addresses)) => {
                let mut ips: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
                ips.sort();
                ips.dedup();
                Ok(ips)
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {RESOLVE_TIMEOUT:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_a_bad_name_does_not_resolve() {
        let ips = TokioResolver
            .resolve("localhost", 443)
            .await
            .expect("resolves");
        assert!(!ips.is_empty());
        assert!(ips.iter().all(IpAddr::is_loopback), "{ips:?}");
        assert!(
            TokioResolver
                .resolve("no such host.invalid", 443)
                .await
                .is_err()
        );
    }
}
