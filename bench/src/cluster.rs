//! `oms-bench cluster`: the load and the checks of `scripts/cluster-test.sh` (several `oms serve`
//! instances on one database, events over `EVENT_BUS`, instances and NATS nodes killed by the
//! script meanwhile).
//!
//! - One admin WebSocket client per instance, from the newest stored event on (`?since=`); when
//!   its instance goes away it reconnects (to the same address, once the script restarted it) with
//!   `since` = the last id it got.
//! - `--writers` writers for `--seconds`, each placing paid 2-line orders on the instances in
//!   turn; an order is acknowledged when an instance answered 201. A request to a dead instance
//!   moves on to the next one.
//! - Then, within `--drain-seconds`, every client must have received every stored event after the
//!   start, once and in id order (so a reconnecting client resumed without a gap); every
//!   acknowledged order is stored; the stock taken from the products equals the units of the
//!   orders placed since the start, and no stock is negative.
//!
//! Prints one JSON line; exits non-zero when a check fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout};
use tokio_postgres::NoTls;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::args::Args;
use crate::http::{Rng, Setup, client, ensure_loopback};

const ADDRESS: &str = r#"{"name":"Ada Lovelace","line1":"1 Main St","line2":null,"city":"London","region":null,"postal_code":"N1 9GU","country":"GB"}"#;

/// What one client saw.
#[derive(Default)]
struct Seen {
    ids: Vec<i64>,
    reconnects: u32,
    /// Ids that came out of order or twice.
    disorder: Vec<(i64, i64)>,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let setup = Setup::load(args.required("setup")?)?;
    let bases: Vec<String> = args
        .required("bases")?
        .split(',')
        .map(|b| b.trim().trim_end_matches('/').to_owned())
        .collect();
    for base in &bases {
        ensure_loopback(base)?;
    }
    let writers: usize = args.number("writers", 8)?;
    let seconds: f64 = args.number("seconds", 30.0)?;
    let drain: f64 = args.number("drain-seconds", 30.0)?;
    let bus = args.get("bus").unwrap_or("postgres").to_owned();
    let (db, connection) = tokio_postgres::connect(args.required("db-url")?, NoTls)
        .await
        .context("connecting to the database")?;
    tokio::spawn(connection);

    let start: i64 = db
        .query_one("SELECT COALESCE(max(id), 0) FROM order_events", &[])
        .await?
        .get(0);
    let stock_before: i64 = db
        .query_one(
            "SELECT COALESCE(sum(stock_quantity), 0)::bigint FROM products WHERE id = ANY($1)",
            &[&setup.products],
        )
        .await?
        .get(0);

    // The clients.
    let (stop_clients, stopped) = watch::channel(false);
    let mut clients = Vec::new();
    for base in &bases {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let task = tokio::spawn(follow(
            base.clone(),
            setup.admin_token.clone(),
            start,
            seen.clone(),
            stopped.clone(),
        ));
        clients.push((base.clone(), seen, task));
    }
    sleep(Duration::from_millis(500)).await;

    // The writers.
    let http = client()?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(Mutex::new(0_u64));
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let http = http.clone();
        let bases = bases.clone();
        let products = setup.products.clone();
        let token = setup.customers[writer % setup.customers.len()]
            .token
            .clone();
        let acknowledged = acknowledged.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(writer as u64 + 1);
            let mut turn = writer;
            while Instant::now() < deadline {
                let base = &bases[turn % bases.len()];
                turn += 1;
                let i = rng.below(products.len());
                let (a, b) = (products[i], products[(i + 1) % products.len()]);
                let body = format!(
                    r#"{{"items":[{{"product_id":{a},"quantity":1}},{{"product_id":{b},"quantity":2}}],"shipping_address":{ADDRESS},"payment":{{"token":"tok_visa"}}}}"#
                );
                let sent = http
                    .post(format!("{base}/api/orders"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().as_u16() == 201 => {
                        if let Ok(order) = response.json::<Value>().await
                            && let Some(id) = order["id"].as_str()
                        {
                            acknowledged.lock().unwrap_or_else(|e| e.into_inner()).push(id.to_owned());
                        }
                    }
                    _ => {
                        *failed.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                        sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }

    // Every client gets every event after the start.
    let stored: Vec<i64> = db
        .query(
            "SELECT id FROM order_events WHERE id > $1 ORDER BY id",
            &[&start],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let drain_until = Instant::now() + Duration::from_secs_f64(drain);
    loop {
        let caught_up = clients.iter().all(|(_, seen, _)| {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.ids.last().copied().unwrap_or(start) >= stored.last().copied().unwrap_or(start)
        });
        if caught_up || Instant::now() >= drain_until {
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_clients.send(true);
    let mut report = Vec::new();
    let mut ok = true;
    for (base, seen, task) in clients {
        let _ = timeout(Duration::from_secs(5), task).await;
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let complete = seen.ids == stored;
        let missing = stored.iter().filter(|id| !seen.ids.contains(id)).count();
        ok &= complete && seen.disorder.is_empty();
        report.push(json!({
            "base": base, "events": seen.ids.len(), "reconnects": seen.reconnects,
            "missing": missing, "out_of_order_or_twice": seen.disorder.len(), "complete": complete,
        }));
    }

    // Acknowledged orders are stored; stock moved exactly by the units ordered.
    let acknowledged = acknowledged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let stored_orders: i64 = db
        .query_one(
            "SELECT count(*) FROM orders WHERE id::text = ANY($1)",
            &[&acknowledged],
        )
        .await?
        .get(0);
    let stock_after: i64 = db
        .query_one(
            "SELECT COALESCE(sum(stock_quantity), 0)::bigint FROM products WHERE id = ANY($1)",
            &[&setup.products],
        )
        .await?
        .get(0);
    let units: i64 = db
        .query_one(
            "SELECT COALESCE(sum(i.quantity), 0)::bigint FROM order_items i \
             JOIN orders o ON o.id = i.order_id \
             WHERE i.product_id = ANY($1) AND o.status <> 'CANCELLED' \
               AND o.id IN (SELECT order_id FROM order_events WHERE id > $2)",
            &[&setup.products, &start],
        )
        .await?
        .get(0);
    let negative: i64 = db
        .query_one(
            "SELECT count(*) FROM products WHERE stock_quantity < 0",
            &[],
        )
        .await?
        .get(0);
    let lost = acknowledged.len() as i64 - stored_orders;
    let stock_ok = stock_before - stock_after == units && negative == 0;
    ok &= lost == 0 && stock_ok && !stored.is_empty();
    let line = json!({
        "scenario": "cluster", "bus": bus, "instances": bases.len(), "writers": writers,
        "orders_acknowledged": acknowledged.len(), "acknowledged_lost": lost,
        "requests_failed": *failed.lock().unwrap_or_else(|e| e.into_inner()),
        "events": stored.len(), "stock_taken": stock_before - stock_after, "units_ordered": units,
        "negative_stock": negative, "clients": report, "ok": ok,
    });
    println!("{line}");
    if !ok {
        bail!("cluster checks failed: {line}");
    }
    Ok(())
}

/// One admin client on `base`, from `since`, reconnecting with the last id it got.
async fn follow(
    base: String,
    token: String,
    since: i64,
    seen: Arc<Mutex<Seen>>,
    mut stop: watch::Receiver<bool>,
) {
    let ws_base = base.replacen("http://", "ws://", 1);
    let mut first = true;
    loop {
        if *stop.borrow() {
            return;
        }
        let last = seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .last()
            .copied()
            .unwrap_or(since);
        let Ok(mut request) = format!("{ws_base}/api/ws?since={last}").into_client_request() else {
            return;
        };
        let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return;
        };
        request.headers_mut().insert("Authorization", bearer);
        let connected = timeout(
            Duration::from_secs(3),
            tokio_tungstenite::connect_async_with_config(
                request,
                Some(crate::realtime::client_config()),
                true,
            ),
        )
        .await;
        let Ok(Ok((mut ws, _))) = connected else {
            tokio::select! {
                () = sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => return,
            }
            continue;
        };
        if !first {
            seen.lock().unwrap_or_else(|e| e.into_inner()).reconnects += 1;
        }
        first = false;
        loop {
            let message = tokio::select! {
                message = ws.next() => message,
                _ = stop.changed() => return,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    let Some(id) = event["id"].as_i64() else {
                        continue; // stream.reset and other control messages
                    };
                    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                    let previous = seen.ids.last().copied().unwrap_or(since);
                    if id <= previous {
                        seen.disorder.push((previous, id));
                    } else {
                        seen.ids.push(id);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    }
}
