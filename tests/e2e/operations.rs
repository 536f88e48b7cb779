//! Health, readiness, OpenAPI, request ids, security headers, CORS.

use std::time::Duration;

use e2e::{json_of, plain_client, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn health_readiness_and_the_openapi_document() {
    let app = spawn_app().await;
    let client = plain_client();
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(json_of(health).await["status"], "ok");
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let doc = json_of(
        client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/auth/me",
        "/api/auth/token",
        "/api/products",
        "/api/products/{id}",
        "/api/orders",
        "/api/orders/{id}",
        "/api/orders/{id}/history",
        "/api/orders/{id}/cancel",
        "/api/orders/{id}/payment",
    ] {
        let item = &doc["paths"][path];
        assert!(item.is_object(), "{path} missing");
        for (_, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('4')),
                "{path} lists no 4xx"
            );
        }
    }
}

#[tokio::test]
async fn request_ids_and_security_headers() {
    let app = spawn_app().await;
    let client = plain_client();
    let echoed = client
        .get(app.url("/api/products"))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(echoed.headers()["x-content-type-options"], "nosniff");
    assert_eq!(echoed.headers()["referrer-policy"], "no-referrer");
    assert_eq!(
        echoed.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );

    let replaced = client
        .get(app.url("/api/orders"))
        .header("X-Request-Id", "x".repeat(129))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::UNAUTHORIZED);
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(!id.is_empty() && id.len() <= 128 && id != "x".repeat(129));
    assert_eq!(
        replaced.headers()["x-content-type-options"],
        "nosniff",
        "errors too"
    );

    let fresh = client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::NOT_FOUND);
    assert!(fresh.headers().contains_key("x-request-id"));
}

/// The server says how long it keeps an idle connection (`Keep-Alive: timeout=4`), and keeps it
/// at least that long: a second request on the same socket 3.5 s after the first is answered. A
/// pooling client that reads the hint drops the socket before the server does.
#[tokio::test]
async fn idle_connections_live_as_long_as_the_keep_alive_hint_says() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = spawn_app().await;
    let host = format!("127.0.0.1:{}", app.port);
    let mut socket = tokio::net::TcpStream::connect(&host).await.unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut answers = Vec::new();
    for pause in [None, Some(Duration::from_millis(3_500))] {
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        answers.push(String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase());
    }
    for answer in &answers {
        assert!(answer.starts_with("http/1.1 200"), "{answer}");
        assert!(answer.contains("\r\nkeep-alive: timeout=4\r\n"), "{answer}");
    }
}

#[tokio::test]
async fn cors_allows_listed_origins_with_credentials() {
    let app = e2e::spawn_app_with(|s| {
        s.http.cors_allowed_origins = vec!["https://shop.example".into()];
    })
    .await;
    let client = plain_client();
    let preflight = client
        .request(reqwest::Method::OPTIONS, app.url("/api/orders"))
        .header("Origin", "https://shop.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, x-csrf-token, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(
        preflight.headers()["access-control-allow-credentials"],
        "true"
    );

    let simple = client
        .get(app.url("/api/products"))
        .header("Origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in ["location", "etag", "x-request-id", "retry-after"] {
        assert!(exposed.contains(header), "{exposed}");
    }

    let evil = client
        .get(app.url("/api/products"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!evil.headers().contains_key("access-control-allow-origin"));
}
