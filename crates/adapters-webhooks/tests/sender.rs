//! The sender against real HTTP servers on loopback: what it sends, how answers map to outcomes,
//! and the address check (literal addresses, names resolving to loopback), redirects not followed,
//! the timeout and the bounded body.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use adapters_webhooks::{HttpWebhookSender, SystemResolver};
use domain::webhook::AttemptOutcome;
use ports::{HostResolver, OutgoingWebhook, WebhookSender};

#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    last: Mutex<Option<(String, String, String)>>,
}

/// A server on 127.0.0.1 answering every request with `answer`; returns its port and what it saw.
fn serve(answer: fn() -> HttpResponse, delay: Duration) -> (u16, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let shared = seen.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let seen = shared.clone();
        App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
            let seen = seen.clone();
            async move {
                seen.hits.fetch_add(1, Ordering::SeqCst);
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                *seen.last.lock().unwrap() = Some((
                    header("webhook-id"),
                    header("webhook-signature"),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                tokio::time::sleep(delay).await;
                answer()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (port, seen)
}

fn request(url: String) -> OutgoingWebhook {
    OutgoingWebhook {
        url,
        message_id: "msg_1".into(),
        timestamp: 1_700_000_000,
        signature: "v1,abc=".into(),
        payload: r#"{"id":1}"#.into(),
    }
}

fn sender(allow_private: bool) -> HttpWebhookSender {
    HttpWebhookSender::new(Duration::from_secs(2), allow_private).unwrap()
}

#[tokio::test]
async fn sends_the_headers_and_body_and_maps_answers_to_outcomes() {
    let (ok, seen) = serve(|| HttpResponse::NoContent().finish(), Duration::ZERO);
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{ok}/hook")))
        .await;
    assert_eq!(outcome, AttemptOutcome::Delivered { status: 204 });
    let (id, signature, body) = seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(
        (id.as_str(), signature.as_str(), body.as_str()),
        ("msg_1", "v1,abc=", r#"{"id":1}"#)
    );

    let (gone, _) = serve(|| HttpResponse::Gone().finish(), Duration::ZERO);
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{gone}/")))
        .await;
    assert_eq!(outcome, AttemptOutcome::Gone);
    let (failing, _) = serve(
        || HttpResponse::ServiceUnavailable().finish(),
        Duration::ZERO,
    );
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{failing}/")))
        .await;
    assert_eq!(outcome, AttemptOutcome::Refused { status: 503 });

    // Nobody listening: a failed attempt that says so.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{closed}/")))
        .await;
    assert!(
        matches!(&outcome, AttemptOutcome::Failed { error } if error.contains("connect")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn forbidden_addresses_are_never_connected_to_literal_or_resolved() {
    let (port, seen) = serve(|| HttpResponse::Ok().finish(), Duration::ZERO);
    let strict = sender(false);
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let outcome = strict.send(&request(url.clone())).await;
        assert!(
            matches!(&outcome, AttemptOutcome::Blocked { reason } if reason == "loopback"),
            "{url}: {outcome:?}"
        );
    }
    assert_eq!(
        seen.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
    // The same URLs with private addresses allowed (development, tests).
    let outcome = sender(true)
        .send(&request(format!("http://localhost:{port}/")))
        .await;
    assert_eq!(outcome, AttemptOutcome::Delivered { status: 200 });
    // Creation's resolver sees the same addresses.
    let addrs = SystemResolver.resolve("localhost", port).await.unwrap();
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| a.is_loopback()),
        "{addrs:?}"
    );
    assert!(
        SystemResolver
            .resolve("no such host.invalid", 443)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_slow_or_huge_answers_are_bounded() {
    let (target, target_seen) = serve(|| HttpResponse::Ok().finish(), Duration::ZERO);
    // Answers are `fn` pointers (they cannot capture): the target's URL is known at run time.
    static TARGET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TARGET
        .set(format!("http://127.0.0.1:{target}/elsewhere"))
        .unwrap();
    let (redirecting, _) = serve(
        || {
            HttpResponse::TemporaryRedirect()
                .insert_header(("location", TARGET.get().unwrap().as_str()))
                .finish()
        },
        Duration::ZERO,
    );
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{redirecting}/")))
        .await;
    assert_eq!(outcome, AttemptOutcome::Refused { status: 307 });
    assert_eq!(
        target_seen.hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );

    let (slow, _) = serve(|| HttpResponse::Ok().finish(), Duration::from_secs(10));
    let started = Instant::now();
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{slow}/")))
        .await;
    assert!(
        matches!(&outcome, AttemptOutcome::Failed { error } if error.contains("timed out")),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the whole attempt is bounded"
    );

    let (huge, _) = serve(
        || HttpResponse::Ok().body(vec![b'x'; 8 * 1024 * 1024]),
        Duration::ZERO,
    );
    let outcome = sender(true)
        .send(&request(format!("http://127.0.0.1:{huge}/")))
        .await;
    assert_eq!(outcome, AttemptOutcome::Delivered { status: 200 });
}
