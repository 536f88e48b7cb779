//! `oms-bench realtime`: `--clients` WebSocket clients on `/api/ws` (the admin's Bearer token,
//! so each receives every event), then order status changes `PAID → FULFILLED` through
//! `PATCH /api/admin/orders/{id}/status` at a steady `--rate` per second for `--seconds`.
//!
//! Latency of a delivery = the message's arrival at a client − the event's `occurred_at`. The
//! event's time is PostgreSQL's `now()` in the changing transaction, i.e. its start, a little
//! before its commit: so the figure is an upper bound of commit → delivery (same host, same
//! clock). Memory per client = (server RSS with every client connected − RSS before) / clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::args::Args;
use crate::http::{Setup, client};
use crate::reads::load_orders;
use crate::rss::status_kib;
use crate::stats::{Latencies, round3};

/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 64;
/// After the last change, how long deliveries may still take.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    occurred_at: String,
}

/// A client's WebSocket settings: a 4 KiB read buffer. tungstenite's default (128 KiB) is zeroed
/// for every read: with 1,000 clients each reading one small message at a time, the load
/// generator spent half its CPU in `memset` (perf), on the cores the server runs on, and the
/// clients served last read their message that much later.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    connected: bool,
    error: Option<String>,
    latencies: Latencies,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let mut setup = Setup::load(args.required("setup")?)?;
    // `--base`: the instance that takes the status changes (else the setup's server).
    if let Some(base) = args.get("base") {
        crate::http::ensure_loopback(base)?;
        setup.base = base.trim_end_matches('/').to_owned();
    }
    let orders = load_orders(args.required("orders")?, &setup)?;
    let clients: usize = args.number("clients", 1_000)?;
    let rate: f64 = args.number("rate", 20.0)?;
    let seconds: f64 = args.number("seconds", 15.0)?;
    let pid: u32 = args.number("pid", 0)?;
    if rate <= 0.0 {
        bail!("--rate must be positive");
    }
    let changes = ((rate * seconds) as usize).min(orders.len());
    // `--ws-base`: the clients on another instance than the one that takes the changes (the
    // event crosses the bus).
    let ws_base = args
        .get("ws-base")
        .unwrap_or(&setup.base)
        .trim_end_matches('/')
        .to_owned();
    let ws_url = format!("{}/api/ws", ws_base.replacen("http://", "ws://", 1));

    let rss_before = status_kib(pid, "VmRSS");
    let received = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    // Every client task ends by this time whatever happens.
    let connect_budget = Duration::from_secs(30 + clients as u64 / 100);
    let hard_end = Instant::now() + connect_budget + Duration::from_secs_f64(seconds) + DRAIN * 4;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (url, token) = (ws_url.clone(), setup.admin_token.clone());
        let (received, connected) = (received.clone(), connected.clone());
        let (gate, stop) = (gate.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            one_client(&url, &token, &gate, &connected, &received, stop, hard_end).await
        }));
    }
    // Wait for the connections (bounded).
    let connect_deadline = started + connect_budget;
    while (connected.load(Ordering::Relaxed) as usize) < clients
        && Instant::now() < connect_deadline
        && !tasks.iter().all(|t| t.is_finished())
    {
        sleep(Duration::from_millis(50)).await;
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    sleep(Duration::from_secs(1)).await;
    let open = connected.load(Ordering::Relaxed);
    let rss_connected = status_kib(pid, "VmRSS");

    let (changed, patch) = change_statuses(&setup, &orders[..changes], rate).await?;
    let expected = open * changed;
    let drain_end = Instant::now() + DRAIN;
    while received.load(Ordering::Relaxed) < expected && Instant::now() < drain_end {
        sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);

    let mut latencies = Latencies::default();
    let mut failures = 0u64;
    let mut first_error = None;
    for task in tasks {
        let seen = task.await?;
        if !seen.connected {
            failures += 1;
        }
        if first_error.is_none() {
            first_error = seen.error;
        }
        latencies.merge(seen.latencies);
    }
    let delivered = latencies.len() as u64;
    let per_client = match (rss_before, rss_connected) {
        (Some(before), Some(with)) if open > 0 => {
            Some(round3(with.saturating_sub(before) as f64 / open as f64))
        }
        _ => None,
    };
    let mut figures = json!({
        "kind": "realtime",
        "bus": args.get("bus"),
        "clients": clients,
        "connected": open,
        "connect_failures": failures,
        "connect_seconds": round3(connect_seconds),
        "first_error": first_error,
        "rate": rate,
        "changes": changed,
        "expected": expected,
        "delivered": delivered,
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "rss_per_client_kib": per_client,
        "patch": patch.summary(),
    });
    if let (serde_json::Value::Object(out), serde_json::Value::Object(summary)) =
        (&mut figures, latencies.summary())
    {
        out.extend(summary);
    }
    println!("{figures}");
    Ok(())
}

async fn one_client(
    url: &str,
    token: &str,
    gate: &Semaphore,
    connected: &AtomicU64,
    received: &AtomicU64,
    mut stop: watch::Receiver<bool>,
    hard_end: Instant,
) -> Seen {
    let mut seen = Seen::default();
    let socket = {
        let Ok(_permit) = gate.acquire().await else {
            return seen;
        };
        let request = url.into_client_request().map(|mut r| {
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                r.headers_mut().insert("Authorization", value);
            }
            r
        });
        let config = client_config();
        let attempt = async {
            tokio_tungstenite::connect_async_with_config(request?, Some(config), true).await
        };
        match timeout(Duration::from_secs(10), attempt).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(e)) => {
                seen.error = Some(e.to_string());
                return seen;
            }
            Err(_) => {
                seen.error = Some("connect timed out".into());
                return seen;
            }
        }
    };
    seen.connected = true;
    connected.fetch_add(1, Ordering::Relaxed);
    let (_sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let arrived = OffsetDateTime::now_utc();
                    if let Some(micros) = delivery_micros(text.as_str(), arrived) {
                        seen.latencies.push_micros(micros);
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    seen.error = Some(e.to_string());
                    break;
                }
                None => {
                    seen.error = Some("closed by the server".into());
                    break;
                }
            },
            _ = stop.changed() => break,
            () = sleep_until(hard_end) => break,
        }
    }
    seen
}

/// Microseconds from the event's `occurred_at` to `arrived`, for `order.status_changed` events.
fn delivery_micros(text: &str, arrived: OffsetDateTime) -> Option<u64> {
    let event: Event = serde_json::from_str(text).ok()?;
    if event.kind != "order.status_changed" {
        return None;
    }
    let occurred = OffsetDateTime::parse(&event.occurred_at, &Rfc3339).ok()?;
    Some(u64::try_from((arrived - occurred).whole_microseconds()).unwrap_or(0))
}

/// `PATCH … {"status": "FULFILLED"}` for each order, started at a steady rate (each in its own
/// task, so a slow answer does not delay the next). Returns the successes and their latencies.
async fn change_statuses(
    setup: &Setup,
    orders: &[(String, String)],
    rate: f64,
) -> anyhow::Result<(u64, Latencies)> {
    let http = client()?;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(orders.len());
    for (k, (_, id)) in orders.iter().enumerate() {
        sleep_until(start + Duration::from_secs_f64(k as f64 / rate)).await;
        let request = http
            .patch(format!("{}/api/admin/orders/{id}/status", setup.base))
            .bearer_auth(&setup.admin_token)
            .json(&json!({"status": "FULFILLED"}));
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.text().await?;
            anyhow::Ok((status, body, sent.elapsed()))
        }));
    }
    let mut ok = 0;
    let mut latencies = Latencies::default();
    for task in tasks {
        let (status, body, elapsed) = task.await?.context("status change")?;
        if status == 200 {
            ok += 1;
            latencies.push(elapsed);
        } else {
            eprintln!("oms-bench realtime: status change answered {status}: {body}");
        }
    }
    Ok((ok, latencies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_latency_of_status_changes_only() {
        let arrived = OffsetDateTime::parse("2026-11-25T10:00:00.005Z", &Rfc3339).unwrap();
        let changed = r#"{"id":9,"type":"order.status_changed","order_id":"x","user_id":2,"from_status":"PAID","to_status":"FULFILLED","payment_status":"captured","total_amount":5000,"occurred_at":"2026-11-25T10:00:00.001500Z"}"#;
        assert_eq!(delivery_micros(changed, arrived), Some(3_500));
        let paid = changed.replace("order.status_changed", "order.paid");
        assert_eq!(delivery_micros(&paid, arrived), None);
        assert_eq!(delivery_micros("not json", arrived), None);
    }
}
