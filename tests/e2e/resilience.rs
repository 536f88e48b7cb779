//! Resilience and operations: graceful shutdown of the real `oms serve` process on SIGTERM,
//! `/metrics` (on the API, or only on `METRICS_ADDR`), and the database going away and coming
//! back — cut with a TCP proxy written here, between the server and PostgreSQL (the shared
//! PostgreSQL is never stopped: other tests use it).

use std::time::{Duration, Instant};

use crate::oms_process::{OmsProcess, customer_token, product_in};
use adapters_postgres::testing::{TestDb, base_url};
use e2e::{
    JWT_SECRET, PASSWORD, eventually, json_of, order_body, plain_client, spawn_app, spawn_app_with,
};
use futures_util::StreamExt as _;
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// `url` with a password in it (PostgreSQL's trust authentication ignores it), and that password:
/// the logs must never show it.
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    match authority.rsplit_once('@') {
        Some((user, _)) if user.contains(':') => {
            let password = user.split_once(':').unwrap().1.to_owned();
            (url.to_owned(), password)
        }
        Some((user, host)) => {
            let password = "db-password-sentinel-4711".to_owned();
            (
                format!("{scheme}://{user}:{password}@{host}/{path}"),
                password,
            )
        }
        None => {
            let password = "db-password-sentinel-4711".to_owned();
            (
                format!("{scheme}://postgres:{password}@{authority}/{path}"),
                password,
            )
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn ws_connect(port: u16, token: &str) -> Ws {
    let mut request = format!("ws://127.0.0.1:{port}/api/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The close frame's code, skipping pings and events.
async fn close_code(ws: &mut Ws, within: Duration) -> Option<CloseCode> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) | Err(_) => return None,
        }
    }
}

/// How many orders have a charge in flight.
async fn processing_orders(pool: &adapters_postgres::PgPool) -> i64 {
    e2e::count(
        pool,
        "SELECT count(*) AS n FROM orders WHERE payment_status = 'processing'",
    )
    .await
}

/// The value of one series (`name{labels}` exactly as rendered) in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_slow_request_refuses_new_connections_closes_websockets_and_exits_0() {
    let db = TestDb::new().await;
    let product = product_in(&db, 10).await;
    let (database_url, db_password) = with_password(&db.url);
    let mut oms = OmsProcess::start(
        &database_url,
        &[
            ("SIMULATED_PAYMENT_LATENCY_MS", "2000"),
            ("SHUTDOWN_TIMEOUT", "5s"),
            ("METRICS_ADDR", "127.0.0.1:0"),
            // Sentry on (nothing listens there; no event is due): start-up and exit with it.
            ("SENTRY_DSN", "https://public@127.0.0.1:9/1"),
        ],
    );
    let base = oms.url("");
    let token = customer_token(&base).await;
    let mut ws = ws_connect(oms.port, &token).await;

    // `/metrics` lives only on METRICS_ADDR, and sees the WebSocket client.
    let client = plain_client();
    let on_api = client.get(oms.url("/metrics")).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let metrics_url = format!("http://127.0.0.1:{}/metrics", oms.metrics_port.unwrap());
    // The client is counted once its session task runs, which may be just after the handshake's
    // answer reached the test: wait for it (bounded).
    let text = e2e::eventually(
        "the WebSocket client counted",
        Duration::from_secs(10),
        async || {
            let text = client
                .get(&metrics_url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (sample(&text, "oms_realtime_clients{transport=\"ws\"}") == Some(1.0)).then_some(text)
        },
    )
    .await;
    assert_eq!(
        sample(
            &text,
            "oms_http_requests_total{method=\"POST\",route=\"/api/auth/register\",status=\"201\"}"
        ),
        Some(1.0)
    );

    // A payment that takes about 2 s, in flight when the signal comes.
    let mut body = order_body(product, 1);
    body["payment"] = json!({"token": "tok_visa"});
    let slow = {
        let (url, token) = (oms.url("/api/orders"), token.clone());
        tokio::spawn(async move {
            let response = plain_client()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, json_of(response).await)
        })
    };
    // In flight: the order is stored, its charge under way (payment `processing`).
    let pool = db.pool();
    eventually(
        "the slow order to be stored with its charge in flight",
        Duration::from_secs(10),
        async || (processing_orders(&pool).await == 1).then_some(()),
    )
    .await;
    assert!(!slow.is_finished(), "the payment takes 2 s");
    let signalled = Instant::now();
    oms.sigterm();

    // Real-time clients are closed first, with 1001 "going away".
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(2)).await,
        Some(CloseCode::Away)
    );
    // New connections are refused while the slow request is still being served.
    eventually(
        "the listener to close at once (connections refused)",
        Duration::from_secs(1),
        async || match TcpStream::connect(("127.0.0.1", oms.port)).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        },
    )
    .await;
    assert!(
        !slow.is_finished(),
        "refused while the in-flight request still runs"
    );

    // The in-flight request completes.
    let (status, order) = slow.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["status"], "PAID");

    // And the process exits 0 within the bound (SHUTDOWN_TIMEOUT plus a margin).
    let exit = tokio::task::block_in_place(|| oms.wait_exit(Duration::from_secs(7)));
    let took = signalled.elapsed();
    let status = exit.unwrap_or_else(|| panic!("still running:\n{}", oms.log_text()));
    assert!(status.success(), "exit {status}:\n{}", oms.log_text());
    println!("SIGTERM to exit: {took:?} (a 2 s request in flight)");

    let logs = oms.log_text();
    assert!(logs.contains("signal received"), "{logs}");
    assert!(logs.contains("\"stopped\""), "{logs}");
    assert!(logs.contains("to Sentry"), "{logs}");
    // Nothing secret reaches a log line.
    for secret in [PASSWORD, token.as_str(), JWT_SECRET, db_password.as_str()] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
}

/// At INFO a request is one line, in either format: the use cases' spans log no open or close
/// lines of their own. Development's text has no colour codes when it goes to a pipe (as here),
/// not a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_info_line_and_a_pipe_gets_no_colour_codes() {
    let db = TestDb::new().await;
    for app_env in ["development", "production"] {
        let oms = OmsProcess::start(&db.url, &[("APP_ENV", app_env)]);
        let client = plain_client();
        for _ in 0..3 {
            let response = client.get(oms.url("/api/products")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        // A refused sign-in runs the `sign_in` use case (a span) and verifies a password.
        let response = client
            .post(oms.url("/api/auth/login"))
            .json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // One more request, and its line: every line logged before it has reached us too.
        let health = client.get(oms.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        eventually(
            "the last request's line",
            Duration::from_secs(5),
            async || (oms.lines_with("/healthz") == 1).then_some(()),
        )
        .await;
        let logs = oms.log_text();
        assert_eq!(oms.lines_with("/api/products"), 3, "{app_env}:\n{logs}");
        assert_eq!(oms.lines_with("/api/auth/login"), 1, "{app_env}:\n{logs}");
        assert_eq!(oms.lines_with("request finished"), 5, "{app_env}:\n{logs}");
        assert!(!logs.contains('\u{1b}'), "{app_env}: colour codes:\n{logs}");
        for line in logs.lines().filter(|line| line.contains("/api/products")) {
            for field in ["request_id", "GET", "latency_ms", "200"] {
                assert!(line.contains(field), "{app_env}: no {field}: {line}");
            }
        }
        if app_env == "production" {
            let line = logs
                .lines()
                .find(|line| line.contains("/api/auth/login"))
                .unwrap();
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["level"], "INFO");
            assert_eq!(value["fields"]["message"], "request finished");
            assert!(
                value["fields"]["latency_ms"].as_f64().unwrap() > 0.0,
                "{line}"
            );
            assert_eq!(value["span"]["http.status_code"], 401);
            assert_eq!(value["span"]["http.method"], "POST");
            assert!(!value["span"]["request_id"].as_str().unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_order_outcomes_pool_and_realtime_clients() {
    let app = spawn_app().await;
    let client = plain_client();
    for _ in 0..3 {
        let response = client.get(app.url("/api/products")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let product = app.product("Counted", 1_000, 10).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let mut ws = ws_connect(app.port, &token).await;
    for (token, expected) in [
        (Some("tok_visa"), StatusCode::CREATED),
        (Some("tok_chargeDeclined"), StatusCode::PAYMENT_REQUIRED),
        (None, StatusCode::CREATED),
    ] {
        let mut body = order_body(product.id, 1);
        if let Some(token) = token {
            body["payment"] = json!({"token": token});
        }
        let response = customer
            .post(&app, "/api/orders")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
        if token.is_none() {
            let id = json_of(response).await["id"].as_str().unwrap().to_owned();
            let cancel = customer
                .post(&app, &format!("/api/orders/{id}/cancel"))
                .send()
                .await
                .unwrap();
            assert_eq!(cancel.status(), StatusCode::OK);
        }
    }

    // Events reach the WebSocket client through the listener: wait for the counter.
    let text = eventually(
        "an event delivered to the WebSocket client (metrics)",
        Duration::from_secs(10),
        async || {
            let response = client.get(app.url("/metrics")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain; version=0.0.4")
            );
            let text = response.text().await.unwrap();
            let delivered = sample(&text, "oms_realtime_events_delivered_total").unwrap_or(0.0);
            (delivered >= 1.0).then_some(text)
        },
    )
    .await;
    let products = "{method=\"GET\",route=\"/api/products\",status=\"200\"}";
    assert_eq!(
        sample(&text, &format!("oms_http_requests_total{products}")),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("oms_http_request_duration_seconds_count{products}")
        ),
        Some(3.0)
    );
    assert!(text.contains("oms_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/products\",status=\"200\",le=\"+Inf\"} 3"));
    for (outcome, count) in [
        ("placed", 3.0),
        ("paid", 1.0),
        ("declined", 1.0),
        ("cancelled", 1.0),
        ("processing", 0.0),
        ("expired", 0.0),
    ] {
        assert_eq!(
            sample(&text, &format!("oms_orders_total{{outcome=\"{outcome}\"}}")),
            Some(count),
            "{outcome}: {text}"
        );
    }
    assert_eq!(
        sample(&text, "oms_db_pool_max_connections"),
        Some(app.settings.database.max_connections as f64)
    );
    let open = sample(&text, "oms_db_pool_connections{state=\"in_use\"}").unwrap()
        + sample(&text, "oms_db_pool_connections{state=\"idle\"}").unwrap();
    assert!(open >= 1.0, "{text}");
    assert_eq!(
        sample(&text, "oms_realtime_clients{transport=\"ws\"}"),
        Some(1.0)
    );
    assert!(sample(&text, "oms_realtime_events_delivered_total").unwrap() >= 1.0);

    // The gauge follows the client leaving.
    ws.close(None).await.unwrap();
    drop(ws);
    eventually(
        "the ws gauge to drop to 0",
        Duration::from_secs(5),
        async || {
            let text = client
                .get(app.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (sample(&text, "oms_realtime_clients{transport=\"ws\"}") == Some(0.0)).then_some(())
        },
    )
    .await;

    // Operational, not part of the JSON API.
    let doc = json_of(
        client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(doc["paths"].get("/metrics").is_none());
}

// ---------------------------------------------------------------------------------------------
// The database going away: a TCP proxy between the server and PostgreSQL
// ---------------------------------------------------------------------------------------------

/// A loopback TCP proxy to PostgreSQL. Cut: every open connection is dropped and new ones are
/// accepted but never answered (a black hole, the worst case: a client waits for its own
/// timeout). Restored: it forwards again.
struct PgProxy {
    port: u16,
    up: watch::Sender<bool>,
}

impl PgProxy {
    async fn start(upstream: String) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, _) = watch::channel(true);
        let states = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut state = states.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if !*state.borrow_and_update() {
                        // Black hole until restored, then drop it.
                        let _ = state.wait_for(|up| *up).await;
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        PgProxy { port, up }
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// `url` with its `host:port` replaced by the proxy's; and the `host:port` it had.
fn through_proxy(url: &str, proxy_port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((credentials, host_port)) => (format!("{credentials}@"), host_port),
        None => (String::new(), authority),
    };
    let upstream = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    (
        format!("{scheme}://{credentials}127.0.0.1:{proxy_port}/{path}"),
        upstream,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_the_server_answers_503_quickly_under_load_and_recovers_by_itself() {
    let (_, upstream) = through_proxy(&base_url(), 0);
    let proxy = PgProxy::start(upstream).await;
    let app = spawn_app_with(|s| {
        let (url, _) = through_proxy(s.database.url.expose_secret(), proxy.port);
        s.database.url = SecretString::from(url);
        s.database.connect_timeout = Duration::from_secs(1);
        s.database.statement_timeout = Duration::from_secs(2);
    })
    .await;
    let client = plain_client();
    let get = |path: &'static str| client.get(app.url(path)).send();
    assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);
    assert_eq!(get("/api/products").await.unwrap().status(), StatusCode::OK);

    proxy.cut();
    let started = Instant::now();
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(ready).await["code"], "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(3), "not a hang");

    // Under load: 20 concurrent requests all answer 503 problems, quickly.
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..20).map(|_| {
        let client = client.clone();
        let url = app.url("/api/products");
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status();
            let content_type = response.headers()["content-type"].clone();
            (status, content_type, json_of(response).await)
        }
    }))
    .await;
    let took = started.elapsed();
    for (status, content_type, body) in &answers {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "service_unavailable");
    }
    assert!(took < Duration::from_secs(5), "20 answers took {took:?}");
    println!("20 concurrent requests without a database: all 503 in {took:?}");
    // The process itself is fine meanwhile.
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);

    proxy.restore();
    let restored = Instant::now();
    eventually(
        "/readyz to answer 200 after the database is back",
        Duration::from_secs(15),
        async || (get("/readyz").await.unwrap().status() == StatusCode::OK).then_some(()),
    )
    .await;
    println!(
        "ready again {:?} after the database came back",
        restored.elapsed()
    );
    for _ in 0..5 {
        assert_eq!(get("/api/products").await.unwrap().status(), StatusCode::OK);
    }
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert_eq!(
        sample(
            &metrics,
            "oms_http_requests_total{method=\"GET\",route=\"/api/products\",status=\"503\"}"
        ),
        Some(20.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_closes_every_realtime_client_at_once() {
    const WS_CLIENTS: usize = 40;
    const SSE_CLIENTS: usize = 10;
    let db = TestDb::new().await;
    let mut settings = api::Settings::for_tests(&db.url, JWT_SECRET).unwrap();
    settings.rate_limits = api::config::RateLimits::OFF;
    let app = api::Application::build(settings).await.unwrap();
    let port = app.port();
    let shutdown = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let token = customer_token(&base).await;

    let mut sockets = Vec::new();
    for _ in 0..WS_CLIENTS {
        sockets.push(ws_connect(port, &token).await);
    }
    let mut streams = Vec::new();
    for _ in 0..SSE_CLIENTS {
        let response = plain_client()
            .get(format!("{base}/api/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response.bytes_stream());
    }

    let started = Instant::now();
    shutdown.shutdown().await;
    let stopped = started.elapsed();
    for ws in &mut sockets {
        assert_eq!(
            close_code(ws, Duration::from_secs(2)).await,
            Some(CloseCode::Away)
        );
    }
    for stream in &mut streams {
        let ended = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
        assert!(ended.is_ok(), "the SSE stream ends");
    }
    server.await.unwrap().unwrap();
    assert!(
        stopped < Duration::from_secs(3),
        "{WS_CLIENTS} WebSocket and {SSE_CLIENTS} SSE clients held the shutdown for {stopped:?}"
    );
    println!("shutdown with {WS_CLIENTS} WebSocket and {SSE_CLIENTS} SSE clients: {stopped:?}");
}
