//! `oms-bench fulfil`: shipments and refunds by the admin's Bearer token on orders placed
//! earlier (the `place --orders-out` file), each order taken by one worker only, once:
//!
//! 1. `POST /api/admin/orders/{id}/shipments` of 1 unit of the order's first line (a partial
//!    shipment: the order stays `PAID`);
//! 2. `POST /api/admin/orders/{id}/refunds` of 1 unit of its second line with `restock: cancel`
//!    (the simulated provider refunds at once).
//!
//! The file holds `customer id` lines only, so the orders are read first (`GET /api/orders/{id}`,
//! untimed, at the same concurrency, bounded by the same duration) for their product ids; orders
//! that are not `PAID` with an open unit on each of their first two lines are skipped. The file
//! is taken from its end: the real-time scenario moves the file's first orders to `FULFILLED`.
//!
//! `--connections` workers, one keep-alive connection each, until `--seconds` are over, the
//! orders run out, or `--max-requests` (shipments + refunds, two per order) are sent. The
//! latency of every 201 is kept, shipments and refunds apart; any other answer is an error.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};

use crate::args::Args;
use crate::http::{Setup, client};
use crate::reads::load_orders;
use crate::stats::{Latencies, round3};

/// An order ready to be worked on: its id and the products of its first two lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    id: String,
    ship: i64,
    refund: i64,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let setup = Arc::new(Setup::load(args.required("setup")?)?);
    let connections: usize = args.number("connections", 16)?;
    let duration = Duration::from_secs_f64(args.number("seconds", 15.0)?);
    let max_requests: usize = args.number("max-requests", 1_000_000)?;
    if connections == 0 {
        bail!("--connections must be at least 1");
    }

    let mut seen = HashSet::new();
    let ids: Vec<String> = load_orders(args.required("orders")?, &setup)?
        .into_iter()
        .rev()
        .map(|(_, id)| id)
        .filter(|id| seen.insert(id.clone()))
        .take(max_requests / 2)
        .collect();
    let listed = ids.len();

    let started = Instant::now();
    let prepared = prepare(&setup, ids, connections, duration).await?;
    let prepare_seconds = started.elapsed().as_secs_f64();
    if prepared.targets.is_empty() {
        bail!(
            "no order to ship and refund among {listed} ({} skipped; first: {})",
            prepared.skipped,
            prepared.first_skip.as_deref().unwrap_or("none")
        );
    }
    let available = prepared.targets.len();

    let outcome = work(&setup, prepared.targets, connections, duration).await?;
    let exhausted = outcome.orders >= available;
    let mut figures = outcome.figures(connections);
    if let Value::Object(map) = &mut figures {
        map.extend([
            ("listed".to_owned(), json!(listed)),
            ("available".to_owned(), json!(available)),
            ("exhausted".to_owned(), json!(exhausted)),
            ("skipped".to_owned(), json!(prepared.skipped)),
            ("first_skip".to_owned(), json!(prepared.first_skip)),
            ("prepare_seconds".to_owned(), json!(round3(prepare_seconds))),
        ]);
    }
    println!("{figures}");
    Ok(())
}

/// The orders read, in the file's (reversed) order.
struct Prepared {
    targets: Vec<Target>,
    skipped: usize,
    first_skip: Option<String>,
}

/// Reads every order (admin token), `connections` at a time, until `duration` is over.
async fn prepare(
    setup: &Arc<Setup>,
    ids: Vec<String>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Prepared> {
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (http, setup, ids, next) = (client()?, setup.clone(), ids.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut found: Vec<(usize, Result<Target, String>)> = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                let read = read_order(&http, &setup, id).await;
                found.push((i, read.and_then(|order| target(id, &order))));
            }
            found
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    let mut prepared = Prepared {
        targets: Vec::with_capacity(all.len()),
        skipped: 0,
        first_skip: None,
    };
    for (_, read) in all {
        match read {
            Ok(target) => prepared.targets.push(target),
            Err(why) => {
                prepared.skipped += 1;
                prepared.first_skip.get_or_insert(why);
            }
        }
    }
    Ok(prepared)
}

async fn read_order(http: &reqwest::Client, setup: &Setup, id: &str) -> Result<Value, String> {
    let response = http
        .get(format!("{}/api/orders/{id}", setup.base))
        .bearer_auth(&setup.admin_token)
        .send()
        .await
        .map_err(|e| format!("GET /api/orders/{id}: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET /api/orders/{id}: {e}"))?;
    if status.as_u16() != 200 {
        return Err(format!(
            "GET /api/orders/{id}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET /api/orders/{id}: {e}"))
}

/// The order's first two lines, if it is `PAID` with an open unit on each.
fn target(id: &str, order: &Value) -> Result<Target, String> {
    if order["status"] != "PAID" {
        return Err(format!("order {id} is {}, not PAID", order["status"]));
    }
    let items = order["items"].as_array().map_or(&[][..], Vec::as_slice);
    let [first, second, ..] = items else {
        return Err(format!("order {id} has {} line(s), not 2", items.len()));
    };
    let open = |line: &Value| {
        ["quantity_shipped", "quantity_cancelled"]
            .iter()
            .fold(line["quantity"].as_i64().unwrap_or(0), |open, key| {
                open - line[*key].as_i64().unwrap_or(0)
            })
    };
    match (first["product_id"].as_i64(), second["product_id"].as_i64()) {
        (Some(ship), Some(refund)) if open(first) >= 1 && open(second) >= 1 => Ok(Target {
            id: id.to_owned(),
            ship,
            refund,
        }),
        _ => Err(format!("order {id} has no open unit on each of its lines")),
    }
}

fn shipment_body(product: i64) -> String {
    json!({"items": [{"product_id": product, "quantity": 1}]}).to_string()
}

fn refund_body(product: i64) -> String {
    json!({
        "items": [{"product_id": product, "quantity": 1, "restock": "cancel"}],
        "reason": "bench",
    })
    .to_string()
}

/// What the workers came to.
#[derive(Debug, Default)]
struct Outcome {
    elapsed: Duration,
    orders: usize,
    shipments: Latencies,
    refunds: Latencies,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl Outcome {
    fn merge(&mut self, part: Outcome) {
        self.orders += part.orders;
        self.shipments.merge(part.shipments);
        self.refunds.merge(part.refunds);
        for (kind, count) in part.errors {
            *self.errors.entry(kind).or_default() += count;
        }
        if self.first_error.is_none() {
            self.first_error = part.first_error;
        }
    }

    fn figures(self, connections: usize) -> Value {
        let seconds = self.elapsed.as_secs_f64();
        let rate = |n: usize| round3(n as f64 / seconds.max(1e-9));
        let mut out = Map::new();
        out.extend([
            ("kind".to_owned(), json!("fulfil")),
            ("connections".to_owned(), json!(connections)),
            ("orders".to_owned(), json!(self.orders)),
            ("shipments".to_owned(), json!(self.shipments.len())),
            ("refunds".to_owned(), json!(self.refunds.len())),
            ("seconds".to_owned(), json!(round3(seconds))),
            (
                "shipment_rate".to_owned(),
                json!(rate(self.shipments.len())),
            ),
            ("refund_rate".to_owned(), json!(rate(self.refunds.len()))),
        ]);
        for (prefix, latencies) in [("shipment", self.shipments), ("refund", self.refunds)] {
            if let Value::Object(summary) = latencies.summary() {
                for (key, value) in summary {
                    out.insert(format!("{prefix}_{key}"), value);
                }
            }
        }
        out.extend([
            (
                "errors".to_owned(),
                json!(self.errors.values().sum::<u64>()),
            ),
            ("error_kinds".to_owned(), json!(self.errors)),
            ("first_error".to_owned(), json!(self.first_error)),
        ]);
        Value::Object(out)
    }
}

/// Ships and refunds `targets`, each once, `connections` at a time.
async fn work(
    setup: &Arc<Setup>,
    targets: Vec<Target>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let targets = Arc::new(targets);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (http, setup, targets, next) =
            (client()?, setup.clone(), targets.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            while Instant::now() < deadline {
                let Some(target) = targets.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                out.orders += 1;
                let base = format!("{}/api/admin/orders/{}", setup.base, target.id);
                let url = format!("{base}/shipments");
                let shipment = post(&http, &setup, url, shipment_body(target.ship)).await;
                record(&mut out, Step::Shipment, shipment).await;
                let url = format!("{base}/refunds");
                let refund = post(&http, &setup, url, refund_body(target.refund)).await;
                record(&mut out, Step::Refund, refund).await;
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        total.merge(task.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// A failed request: its kind (`"409"`, `"transport"`) and text.
type Failure = (String, String);

/// POSTs `body`; the latency of a 201 (its body read), else what went wrong.
async fn post(
    http: &reqwest::Client,
    setup: &Setup,
    url: String,
    body: String,
) -> Result<Duration, Failure> {
    let sent = Instant::now();
    let transport = |e: reqwest::Error| ("transport".to_owned(), format!("POST {url}: {e}"));
    let response = http
        .post(&url)
        .bearer_auth(&setup.admin_token)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(transport)?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(transport)?;
    if status == 201 {
        Ok(sent.elapsed())
    } else {
        Err((
            status.to_string(),
            format!(
                "POST {url}: {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ),
        ))
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Shipment,
    Refund,
}

async fn record(out: &mut Outcome, step: Step, result: Result<Duration, Failure>) {
    match (result, step) {
        (Ok(elapsed), Step::Shipment) => out.shipments.push(elapsed),
        (Ok(elapsed), Step::Refund) => out.refunds.push(elapsed),
        (Err((kind, text)), _) => {
            let transport = kind == "transport";
            let what = match step {
                Step::Shipment => "shipment",
                Step::Refund => "refund",
            };
            *out.errors.entry(format!("{what} {kind}")).or_default() += 1;
            out.first_error.get_or_insert(text);
            if transport {
                // A refused connection fails at once: do not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bodies_are_the_contract_shape() {
        let shipment: Value = serde_json::from_str(&shipment_body(7)).unwrap();
        assert_eq!(
            shipment,
            json!({"items": [{"product_id": 7, "quantity": 1}]})
        );
        let refund: Value = serde_json::from_str(&refund_body(8)).unwrap();
        assert_eq!(
            refund,
            json!({"items": [{"product_id": 8, "quantity": 1, "restock": "cancel"}], "reason": "bench"})
        );
    }

    fn order(status: &str, lines: &[(i64, i64, i64, i64)]) -> Value {
        let items: Vec<Value> = lines
            .iter()
            .map(|&(product_id, quantity, shipped, cancelled)| {
                json!({"product_id": product_id, "quantity": quantity,
                       "quantity_shipped": shipped, "quantity_cancelled": cancelled})
            })
            .collect();
        json!({"status": status, "items": items})
    }

    #[test]
    fn a_paid_order_with_open_units_on_two_lines_is_a_target() {
        let t = target("o1", &order("PAID", &[(3, 1, 0, 0), (4, 2, 0, 0)])).unwrap();
        assert_eq!(
            t,
            Target {
                id: "o1".into(),
                ship: 3,
                refund: 4
            }
        );
        assert!(target("o2", &order("FULFILLED", &[(3, 1, 0, 0), (4, 2, 0, 0)])).is_err());
        assert!(target("o3", &order("PAID", &[(3, 1, 0, 0)])).is_err());
        assert!(target("o4", &order("PAID", &[(3, 1, 1, 0), (4, 2, 0, 0)])).is_err());
        assert!(target("o5", &order("PAID", &[(3, 1, 0, 0), (4, 2, 0, 2)])).is_err());
        assert!(target("o6", &order("PAID", &[(3, 1, 0, 0), (4, 2, 1, 0)])).is_ok());
    }

    #[test]
    fn figures_keep_shipments_and_refunds_apart() {
        let mut out = Outcome {
            elapsed: Duration::from_secs(2),
            orders: 3,
            ..Outcome::default()
        };
        for m in [1000, 2000, 3000] {
            out.shipments.push_micros(m);
        }
        out.refunds.push_micros(5000);
        out.refunds.push_micros(7000);
        out.errors.insert("refund 409".into(), 1);
        out.first_error = Some("POST …/refunds: 409".into());
        let f = out.figures(16);
        assert_eq!(f["kind"], "fulfil");
        assert_eq!(f["connections"], 16);
        assert_eq!(f["shipments"], 3);
        assert_eq!(f["refunds"], 2);
        assert_eq!(f["shipment_rate"], 1.5);
        assert_eq!(f["refund_rate"], 1.0);
        assert_eq!(f["shipment_p50_ms"], 2.0);
        assert_eq!(f["shipment_p99_ms"], 3.0);
        assert_eq!(f["refund_p50_ms"], 5.0);
        assert_eq!(f["refund_p99_ms"], 7.0);
        assert_eq!(f["errors"], 1);
        assert_eq!(f["error_kinds"]["refund 409"], 1);
        assert_eq!(f["first_error"], "POST …/refunds: 409");
    }
}
