//! Prometheus metrics, rendered by hand in the text exposition format (no exporter crate: the set
//! is small and fixed).
//!
//! - `oms_http_requests_total{method,route,status}` and
//!   `oms_http_request_duration_seconds{method,route,status}` (histogram) — `route` is the matched
//!   pattern (`/api/orders/{id}`), never the raw path, so ids do not explode the label set;
//! - `oms_db_pool_connections{state="in_use"|"idle"}`, `oms_db_pool_max_connections`;
//! - `oms_realtime_clients{transport="ws"|"sse"}`, `oms_realtime_events_delivered_total`,
//!   `oms_realtime_slow_clients_dropped_total`;
//! - `oms_orders_total{outcome="placed"|"paid"|"processing"|"declined"|"cancelled"|"expired"}`;
//! - `oms_webhook_attempts_total{outcome="succeeded"|"retrying"|"failed"|"gone"|"blocked"}` and
//!   `oms_webhook_attempt_duration_seconds{outcome}` (histogram) of this instance's attempts
//!   (`failed`: the last attempt of a delivery failed);
//! - `oms_webhook_pending_deliveries{endpoint}` and
//!   `oms_webhook_oldest_pending_seconds{endpoint}`: the queue, read every few seconds;
//! - `oms_emails_total{outcome="sent"|"retrying"|"failed"}`: this instance's email attempts
//!   (`failed`: refused for good, or the last attempt failed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The order outcomes counted.
pub const ORDER_OUTCOMES: [&str; 6] = [
    "placed",
    "paid",
    "processing",
    "declined",
    "cancelled",
    "expired",
];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Gauges read from elsewhere when the metrics are rendered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub pool_size: usize,
    pub pool_available: usize,
    pub pool_max: usize,
    pub ws_clients: i64,
    pub sse_clients: i64,
    pub events_delivered: u64,
    pub slow_clients_dropped: u64,
}

/// The process's metrics. One per process, shared through `web::Data`.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    orders: [AtomicU64; ORDER_OUTCOMES.len()],
    ws_clients: AtomicI64,
    sse_clients: AtomicI64,
    webhook_attempts: Mutex<BTreeMap<&'static str, Series>>,
    webhook_queue: Mutex<Vec<ports::QueueStats>>,
    emails: [AtomicU64; EMAIL_OUTCOMES.len()],
}

/// The outcomes `oms_emails_total` counts.
pub const EMAIL_OUTCOMES: [&str; 3] = ["sent", "retrying", "failed"];

/// A real-time transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Sse,
}

/// Counts a connected real-time client while it lives.
pub struct ClientGuard {
    metrics: Arc<Metrics>,
    transport: Transport,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.metrics
            .gauge(self.transport)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Series {
    fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        for (bucket, bound) in self.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// `name_bucket`, `name_sum` and `name_count` lines with `labels`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (count, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

impl ports::WebhookTelemetry for Metrics {
    fn attempt(&self, outcome: &'static str, seconds: f64) {
        self.webhook_attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(outcome)
            .or_default()
            .observe(seconds);
    }
}

impl ports::MailTelemetry for Metrics {
    fn attempt(&self, outcome: &'static str) {
        if let Some(index) = EMAIL_OUTCOMES.iter().position(|o| *o == outcome) {
            self.emails[index].fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Metrics {
    /// Email attempts this instance made that ended with `outcome`.
    pub fn email_attempts(&self, outcome: &str) -> u64 {
        EMAIL_OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |index| self.emails[index].load(Ordering::Relaxed))
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(seconds);
    }

    /// The webhook queue as last read.
    pub fn set_webhook_queue(&self, stats: Vec<ports::QueueStats>) {
        *self
            .webhook_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = stats;
    }

    /// Attempts this instance made that ended with `outcome`.
    pub fn webhook_attempts(&self, outcome: &str) -> u64 {
        self.webhook_attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(outcome)
            .map_or(0, |series| series.count)
    }

    /// Counts an order outcome (one of [`ORDER_OUTCOMES`]; others are ignored).
    pub fn order_outcome(&self, outcome: &str) {
        if let Some(index) = ORDER_OUTCOMES.iter().position(|o| *o == outcome) {
            self.orders[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn order_count(&self, outcome: &str) -> u64 {
        ORDER_OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |index| self.orders[index].load(Ordering::Relaxed))
    }

    fn gauge(&self, transport: Transport) -> &AtomicI64 {
        match transport {
            Transport::WebSocket => &self.ws_clients,
            Transport::Sse => &self.sse_clients,
        }
    }

    /// Counts a connected real-time client until the guard drops.
    pub fn client_connected(self: Arc<Self>, transport: Transport) -> ClientGuard {
        self.gauge(transport).fetch_add(1, Ordering::Relaxed);
        ClientGuard {
            metrics: self,
            transport,
        }
    }

    pub fn ws_clients(&self) -> i64 {
        self.ws_clients.load(Ordering::Relaxed)
    }

    pub fn sse_clients(&self) -> i64 {
        self.sse_clients.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        out.push_str("# HELP oms_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE oms_http_requests_total counter\n");
        for ((method, route, status), series) in &requests {
            let _ = writeln!(
                out,
                "oms_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                series.count
            );
        }
        out.push_str("# HELP oms_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE oms_http_request_duration_seconds histogram\n");
        for ((method, route, status), series) in &requests {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            series.render(&mut out, "oms_http_request_duration_seconds", &labels);
        }
        let in_use = gauges.pool_size.saturating_sub(gauges.pool_available);
        out.push_str("# HELP oms_db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE oms_db_pool_connections gauge\n");
        let _ = writeln!(out, "oms_db_pool_connections{{state=\"in_use\"}} {in_use}");
        let _ = writeln!(
            out,
            "oms_db_pool_connections{{state=\"idle\"}} {}",
            gauges.pool_available
        );
        out.push_str("# HELP oms_db_pool_max_connections Database pool size limit.\n");
        out.push_str("# TYPE oms_db_pool_max_connections gauge\n");
        let _ = writeln!(out, "oms_db_pool_max_connections {}", gauges.pool_max);
        out.push_str("# HELP oms_realtime_clients Connected real-time clients.\n");
        out.push_str("# TYPE oms_realtime_clients gauge\n");
        let _ = writeln!(
            out,
            "oms_realtime_clients{{transport=\"ws\"}} {}",
            gauges.ws_clients
        );
        let _ = writeln!(
            out,
            "oms_realtime_clients{{transport=\"sse\"}} {}",
            gauges.sse_clients
        );
        out.push_str("# HELP oms_realtime_events_delivered_total Events queued to clients.\n");
        out.push_str("# TYPE oms_realtime_events_delivered_total counter\n");
        let _ = writeln!(
            out,
            "oms_realtime_events_delivered_total {}",
            gauges.events_delivered
        );
        out.push_str(
            "# HELP oms_realtime_slow_clients_dropped_total Clients dropped for a full queue.\n",
        );
        out.push_str("# TYPE oms_realtime_slow_clients_dropped_total counter\n");
        let _ = writeln!(
            out,
            "oms_realtime_slow_clients_dropped_total {}",
            gauges.slow_clients_dropped
        );
        out.push_str("# HELP oms_orders_total Orders by outcome.\n");
        out.push_str("# TYPE oms_orders_total counter\n");
        for (outcome, count) in ORDER_OUTCOMES.iter().zip(&self.orders) {
            let _ = writeln!(
                out,
                "oms_orders_total{{outcome=\"{outcome}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        self.render_webhooks(&mut out);
        out.push_str("# HELP oms_emails_total Email attempts by outcome.\n");
        out.push_str("# TYPE oms_emails_total counter\n");
        for (outcome, count) in EMAIL_OUTCOMES.iter().zip(&self.emails) {
            let _ = writeln!(
                out,
                "oms_emails_total{{outcome=\"{outcome}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        out
    }

    fn render_webhooks(&self, out: &mut String) {
        let attempts = self
            .webhook_attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        out.push_str("# HELP oms_webhook_attempts_total Webhook attempts by outcome.\n");
        out.push_str("# TYPE oms_webhook_attempts_total counter\n");
        for (outcome, series) in &attempts {
            let _ = writeln!(
                out,
                "oms_webhook_attempts_total{{outcome=\"{outcome}\"}} {}",
                series.count
            );
        }
        out.push_str("# HELP oms_webhook_attempt_duration_seconds Webhook attempt latency.\n");
        out.push_str("# TYPE oms_webhook_attempt_duration_seconds histogram\n");
        for (outcome, series) in &attempts {
            series.render(
                out,
                "oms_webhook_attempt_duration_seconds",
                &format!("outcome=\"{outcome}\""),
            );
        }
        let queue = self
            .webhook_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        out.push_str("# HELP oms_webhook_pending_deliveries Pending deliveries per endpoint.\n");
        out.push_str("# TYPE oms_webhook_pending_deliveries gauge\n");
        for stats in &queue {
            let _ = writeln!(
                out,
                "oms_webhook_pending_deliveries{{endpoint=\"{}\"}} {}",
                stats.endpoint_id, stats.pending
            );
        }
        out.push_str(
            "# HELP oms_webhook_oldest_pending_seconds Age of the oldest pending delivery per endpoint.\n",
        );
        out.push_str("# TYPE oms_webhook_oldest_pending_seconds gauge\n");
        for stats in &queue {
            let _ = writeln!(
                out,
                "oms_webhook_oldest_pending_seconds{{endpoint=\"{}\"}} {}",
                stats.endpoint_id, stats.oldest_pending_seconds
            );
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware (`actix_web::middleware::from_fn(metrics::track)`): records every request's
/// method, matched route, status and latency. Requests that matched no route count as `unmatched`.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().as_str().to_owned();
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe_request(
            &method,
            &route,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}

/// Where `/metrics` reads its gauges: the pool, its limit, the real-time hub.
pub struct GaugeSources {
    pub pool: adapters_postgres::PgPool,
    pub pool_max: usize,
    pub hub: adapters_ws::Hub,
}

impl GaugeSources {
    /// The gauges now.
    pub fn read(&self, metrics: &Metrics) -> Gauges {
        let (pool_size, pool_available) = adapters_postgres::pool_status(&self.pool);
        Gauges {
            pool_size,
            pool_available,
            pool_max: self.pool_max,
            ws_clients: metrics.ws_clients(),
            sse_clients: metrics.sse_clients(),
            events_delivered: self.hub.delivered_total(),
            slow_clients_dropped: self.hub.dropped_slow_total(),
        }
    }
}

/// `GET /metrics`: the Prometheus text exposition (not part of the JSON API nor its OpenAPI
/// document).
pub async fn serve(
    metrics: web::Data<Metrics>,
    sources: web::Data<GaugeSources>,
) -> actix_web::HttpResponse {
    let text = metrics.render(&sources.read(&metrics));
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(text)
}

/// Mounts `GET /metrics` (with its app data).
pub fn configure(
    cfg: &mut web::ServiceConfig,
    metrics: &web::Data<Metrics>,
    sources: &web::Data<GaugeSources>,
) {
    cfg.service(
        web::resource("/metrics")
            .app_data(metrics.clone())
            .app_data(sources.clone())
            .get(serve),
    );
}

/// The small server of `METRICS_ADDR`: `/metrics` only, one worker, no signal handling of its
/// own (it stops with the API server). Returns the server and its port.
pub fn metrics_server(
    addr: &str,
    metrics: web::Data<Metrics>,
    sources: web::Data<GaugeSources>,
) -> anyhow::Result<(actix_web::dev::Server, u16)> {
    use anyhow::Context as _;
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("binding METRICS_ADDR {addr}"))?;
    let port = listener.local_addr()?.port();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(|cfg| configure(cfg, &metrics, &sources))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok((server, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Arc::new(Metrics::default());
        metrics.observe_request("GET", "/api/orders/{id}", 200, 0.003);
        metrics.observe_request("GET", "/api/orders/{id}", 200, 0.2);
        metrics.order_outcome("placed");
        metrics.order_outcome("nonsense");
        let guard = Arc::clone(&metrics).client_connected(Transport::WebSocket);
        let text = metrics.render(&Gauges {
            pool_size: 5,
            pool_available: 2,
            pool_max: 10,
            ws_clients: metrics.ws_clients(),
            ..Gauges::default()
        });
        drop(guard);
        assert!(text.contains(
            "oms_http_requests_total{method=\"GET\",route=\"/api/orders/{id}\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("oms_db_pool_connections{state=\"in_use\"} 3"));
        assert!(text.contains("oms_realtime_clients{transport=\"ws\"} 1"));
        assert!(text.contains("oms_orders_total{outcome=\"placed\"} 1"));
        assert_eq!(metrics.ws_clients(), 0);
    }
}
