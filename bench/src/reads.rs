//! `oms-bench reads`: `GET /api/products` (the first page, 50 products, anonymous) or
//! `GET /api/orders/{id}` (a random order placed earlier, by its owner's Bearer token).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::args::Args;
use crate::http::Setup;
use crate::load::{Build, Plan, drive};

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let setup = Setup::load(args.required("setup")?)?;
    let route = args.required("route")?.to_owned();
    let plan = Plan {
        connections: args.number("connections", 16)?,
        duration: Duration::from_secs_f64(args.number("seconds", 15.0)?),
        max_requests: args.number("max-requests", 5_000_000)?,
        expect: 200,
        keep_locations: 0,
    };
    let build: Arc<Build> = match route.as_str() {
        "products" => {
            let url = format!("{}/api/products", setup.base);
            Arc::new(move |_, http, _| http.get(&url))
        }
        "order" => {
            let orders = load_orders(args.required("orders")?, &setup)?;
            let base = setup.base.clone();
            Arc::new(move |_, http, rng| {
                let (token, id) = &orders[rng.below(orders.len())];
                http.get(format!("{base}/api/orders/{id}"))
                    .bearer_auth(token)
            })
        }
        other => bail!("--route {other:?}: products or order"),
    };
    let mut figures = drive(&plan, build).await?.figures();
    if let Value::Object(map) = &mut figures {
        map.extend([
            ("kind".to_owned(), json!("reads")),
            ("label".to_owned(), json!(route)),
            ("connections".to_owned(), json!(plan.connections)),
        ]);
    }
    println!("{figures}");
    Ok(())
}

/// `(owner's token, order id)` from the `place --orders-out` file.
pub fn load_orders(path: &str, setup: &Setup) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut orders = Vec::new();
    for line in text.lines() {
        let Some((customer, id)) = line.split_once(' ') else {
            continue;
        };
        let customer: usize = customer.parse()?;
        let Some(owner) = setup.customers.get(customer) else {
            bail!("{path}: customer {customer} is not in the setup");
        };
        orders.push((owner.token.clone(), id.to_owned()));
    }
    if orders.is_empty() {
        bail!("{path}: no orders (run `place --orders-out` first)");
    }
    Ok(orders)
}
