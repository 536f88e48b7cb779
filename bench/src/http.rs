//! HTTP helpers shared by the scenarios: clients, tokens, the setup file, a tiny PRNG, and
//! the loopback guard.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What `setup` made: tokens, product ids and stock, read by the other scenarios.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    pub base: String,
    pub admin_token: String,
    pub customers: Vec<Customer>,
    /// Products of the spread placement (consecutive ids).
    pub products: Vec<i64>,
    /// The few products every client buys in the contended placement.
    pub hot: Vec<i64>,
    pub stock: i64,
    pub hot_stock: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub token: String,
}

impl Setup {
    pub fn load(path: &str) -> anyhow::Result<Setup> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let setup: Setup =
            serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
        ensure_loopback(&setup.base)?;
        if setup.customers.is_empty() || setup.products.len() < 2 || setup.hot.len() < 2 {
            bail!("{path}: needs customers, at least 2 products and 2 hot products");
        }
        Ok(setup)
    }
}

/// The bench only ever talks to this machine.
pub fn ensure_loopback(base: &str) -> anyhow::Result<()> {
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .unwrap_or(base);
    if rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]") {
        Ok(())
    } else {
        bail!("{base} is not a loopback address: the bench runs on loopback only")
    }
}

/// A client for one task: one keep-alive connection (requests are sequential), Nagle off,
/// every request bounded.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// A Bearer token from `POST /api/auth/token`.
pub async fn token(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/auth/token"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    match body["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => bail!("POST /api/auth/token for {email}: {status} {body}"),
    }
}

/// xorshift64*: enough to spread requests over products and orders.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert!(ensure_loopback("http://127.0.0.1:18490").is_ok());
        assert!(ensure_loopback("http://localhost:1").is_ok());
        assert!(ensure_loopback("http://10.0.0.1:80").is_err());
        assert!(ensure_loopback("http://example.com").is_err());
    }

    #[test]
    fn rng_stays_in_range_and_varies() {
        let mut rng = Rng::new(3);
        let draws: Vec<usize> = (0..1000).map(|_| rng.below(5)).collect();
        assert!(draws.iter().all(|&d| d < 5));
        for v in 0..5 {
            assert!(draws.contains(&v));
        }
    }
}
