//! `oms-bench place`: `POST /api/orders` as signed-in Bearer customers, 2-line orders (1 unit of
//! one product, 2 of another) paid with `tok_visa`, no `Idempotency-Key`.
//!
//! - `--mode spread`: products `a` and `a + 1` for a random `a` among the bench products (what
//!   the pgbench scripts do);
//! - `--bases URL,URL,...`: the connections spread over several instances (connection n on the
//!   n-th in turn);
//! - `--mode hot`: two distinct products among the few hot ones, in random line order (every
//!   client competes for the same rows).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::args::Args;
use crate::http::{Rng, Setup};
use crate::load::{Build, Plan, drive};
use crate::rss::{Sampler, cpu_seconds, status_kib};

const ADDRESS: &str = r#"{"name":"Ada Lovelace","line1":"1 Main St","line2":null,"city":"London","region":null,"postal_code":"N1 9GU","country":"GB"}"#;

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let setup = Setup::load(args.required("setup")?)?;
    let mode = args.get("mode").unwrap_or("spread").to_owned();
    let plan = Plan {
        connections: args.number("connections", 16)?,
        duration: Duration::from_secs_f64(args.number("seconds", 15.0)?),
        max_requests: args.number("max-requests", 1_000_000)?,
        expect: 201,
        keep_locations: args.number("keep-orders", 5_000)?,
    };
    let products = match mode.as_str() {
        "spread" => setup.products.clone(),
        "hot" => setup.hot.clone(),
        other => bail!("--mode {other:?}: spread or hot"),
    };
    let tokens: Vec<String> = setup.customers.iter().map(|c| c.token.clone()).collect();
    // `--bases URL,URL,...`: connection n places on the n-th instance in turn (several `oms serve`
    // on one database); else on the setup's server.
    let urls: Vec<String> = match args.get("bases") {
        Some(bases) => bases
            .split(',')
            .map(|base| format!("{}/api/orders", base.trim().trim_end_matches('/')))
            .collect(),
        None => vec![format!("{}/api/orders", setup.base)],
    };
    let hot = mode == "hot";
    let build: Arc<Build> = Arc::new(move |n, http, rng| {
        let (a, b) = if hot {
            hot_pair(&products, rng)
        } else {
            spread_pair(&products, rng)
        };
        http.post(&urls[n % urls.len()])
            .bearer_auth(&tokens[n % tokens.len()])
            .header(CONTENT_TYPE, "application/json")
            .body(order_body(a, b))
    });

    let pid: Option<u32> = args.get("pid").map(str::parse).transpose()?;
    let rss_before = pid.and_then(|p| status_kib(p, "VmRSS"));
    let cpu_before = pid.and_then(cpu_seconds);
    let sampler = Sampler::start(pid);
    let outcome = drive(&plan, build).await?;
    let rss = sampler.map(Sampler::finish).unwrap_or_default();
    // The server's CPU time over the run, per order answered 201.
    let cpu = match (cpu_before, pid.and_then(cpu_seconds)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };

    if let Some(path) = args.get("orders-out") {
        let mut text = String::new();
        for (task, location) in &outcome.locations {
            let id = location.rsplit('/').next().unwrap_or_default();
            let _ = writeln!(text, "{} {id}", task % setup.customers.len());
        }
        std::fs::write(path, text).with_context(|| format!("writing {path}"))?;
    }
    let ok = outcome.ok;
    let mut figures = outcome.figures();
    if let Value::Object(map) = &mut figures {
        map.extend([
            ("kind".to_owned(), json!("place")),
            (
                "label".to_owned(),
                json!(args.get("label").unwrap_or(&mode)),
            ),
            ("mode".to_owned(), json!(mode)),
            ("bus".to_owned(), json!(args.get("bus"))),
            ("connections".to_owned(), json!(plan.connections)),
            ("rss_before_kib".to_owned(), json!(rss_before)),
            ("server_cpu_s".to_owned(), json!(cpu)),
            (
                "cpu_ms_per_order".to_owned(),
                json!(cpu.and_then(|s| (ok > 0).then(|| s * 1000.0 / ok as f64))),
            ),
            ("rss_max_kib".to_owned(), json!(rss.max_kib)),
            ("rss_mean_kib".to_owned(), json!(rss.mean_kib)),
        ]);
    }
    println!("{figures}");
    Ok(())
}

/// `a` and the next product, as the pgbench scripts pick them.
fn spread_pair(products: &[i64], rng: &mut Rng) -> (i64, i64) {
    let i = rng.below(products.len() - 1);
    (products[i], products[i + 1])
}

/// Two distinct hot products, in either order.
fn hot_pair(products: &[i64], rng: &mut Rng) -> (i64, i64) {
    let i = rng.below(products.len());
    let j = (i + 1 + rng.below(products.len() - 1)) % products.len();
    (products[i], products[j])
}

/// 1 unit of `a`, 2 of `b`, paid with `tok_visa`.
fn order_body(a: i64, b: i64) -> String {
    format!(
        r#"{{"items":[{{"product_id":{a},"quantity":1}},{{"product_id":{b},"quantity":2}}],"shipping_address":{ADDRESS},"payment":{{"token":"tok_visa"}}}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_contract_shape() {
        let body: Value = serde_json::from_str(&order_body(3, 4)).unwrap();
        assert_eq!(body["items"][0], json!({"product_id": 3, "quantity": 1}));
        assert_eq!(body["items"][1], json!({"product_id": 4, "quantity": 2}));
        assert_eq!(body["payment"]["token"], "tok_visa");
        assert_eq!(body["shipping_address"]["country"], "GB");
    }

    #[test]
    fn pairs() {
        let mut rng = Rng::new(9);
        let products = [10, 11, 12, 13, 14];
        for _ in 0..200 {
            let (a, b) = spread_pair(&products, &mut rng);
            assert_eq!(b, a + 1);
            let (c, d) = hot_pair(&products, &mut rng);
            assert_ne!(c, d);
            assert!(products.contains(&c) && products.contains(&d));
        }
    }
}
