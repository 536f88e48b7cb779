//! Real-time: WebSocket and SSE delivery across instances, visibility, resume without gaps under
//! concurrent writers, the LISTEN connection dying, slow consumers, revocation.

use std::collections::HashSet;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::{
    Session, TestApp, eventually, json_of, order_body, plain_client, spawn_app, spawn_app_with,
};
use futures_util::{SinkExt, Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(15);

pub(crate) async fn ws_connect(app: &TestApp, token: &str, since: Option<i64>) -> Ws {
    let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let mut request = format!("ws://127.0.0.1:{}/api/ws{query}", app.port)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws
}

/// The next event (a JSON text message), skipping control frames.
pub(crate) async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("an event in time")
            .expect("the socket is open")
            .expect("a frame");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads events until one with id >= `last`, returning every event id read, in order.
async fn ids_until(ws: &mut Ws, last: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        let event = next_event(ws).await;
        let id = event["id"].as_i64().unwrap();
        ids.push(id);
        if id >= last {
            return ids;
        }
    }
}

/// A minimal Server-Sent Events reader.
struct Sse {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: String,
}

#[derive(Debug)]
struct SseEvent {
    id: Option<i64>,
    event: Option<String>,
    data: Value,
}

impl Sse {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> Sse {
        let mut request = plain_client()
            .get(app.url("/api/events"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(120));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Sse {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    id: None,
                    event: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                event.data = serde_json::from_str(&data).unwrap();
                return event;
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("an SSE event in time")
                .expect("the stream is open")
                .unwrap();
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// Whether the stream ends (within `WAIT`), skipping anything still buffered.
    async fn ends(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

pub(crate) async fn place(app: &TestApp, customer: &Session, product_id: i64) -> String {
    let response = customer
        .post(app, "/api/orders")
        .json(&order_body(product_id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await["id"].as_str().unwrap().to_owned()
}

async fn set_status(app: &TestApp, admin: &Session, order_id: &str, status: &str) {
    let response = admin
        .client
        .patch(app.url(&format!("/api/admin/orders/{order_id}/status")))
        .header("X-CSRF-Token", &admin.csrf)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{order_id} → {status}");
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Every stored event id, ascending.
pub(crate) async fn stored_ids(app: &TestApp) -> Vec<i64> {
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query("SELECT id FROM order_events ORDER BY id")
        .load::<Id>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect()
}

#[tokio::test]
async fn a_change_on_one_instance_reaches_clients_of_both_in_order() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let product = a.product("Lamp", 1500, 10).await;
    let customer = a.customer().await;
    let admin = a.admin().await;
    let admin_token = a.bearer(&admin.email).await;

    let mut ws_on_b = ws_connect(&b, &admin_token, None).await;
    let mut sse_on_a = Sse::open(&a, &admin_token, None).await;

    let order_id = place(&a, &customer, product.id).await;
    set_status(&a, &admin, &order_id, "PAID").await;
    set_status(&a, &admin, &order_id, "FULFILLED").await;

    let expected = [
        ("order.created", Value::Null, "PENDING"),
        ("order.paid", json!("PENDING"), "PAID"),
        ("order.status_changed", json!("PAID"), "FULFILLED"),
    ];
    let mut last = 0;
    for (kind, from, to) in expected {
        let ws_event = next_event(&mut ws_on_b).await;
        let sse_event = sse_on_a.next().await;
        assert_eq!(ws_event, sse_event.data);
        assert_eq!(ws_event["type"], kind);
        assert_eq!(sse_event.event.as_deref(), Some(kind));
        assert_eq!(ws_event["order_id"], order_id.as_str());
        assert_eq!(ws_event["user_id"], customer.user_id);
        assert_eq!(ws_event["from_status"], from);
        assert_eq!(ws_event["to_status"], to);
        let id = ws_event["id"].as_i64().unwrap();
        assert_eq!(sse_event.id, Some(id));
        assert!(id > last, "ids ascend");
        last = id;
    }
}

#[tokio::test]
async fn customers_see_only_their_own_orders_events() {
    let app = spawn_app().await;
    let product = app.product("Mug", 800, 10).await;
    let alice = app.customer().await;
    let bob = app.customer().await;
    let admin = app.admin().await;
    let bob_token = app.bearer(&bob.email).await;

    let mut bob_ws = ws_connect(&app, &bob_token, None).await;
    let mut bob_sse = Sse::open(&app, &bob_token, None).await;

    let alices = place(&app, &alice, product.id).await;
    set_status(&app, &admin, &alices, "CANCELLED").await;
    let bobs = place(&app, &bob, product.id).await;

    // The first thing Bob receives, on either channel, is his own order: Alice's two events were
    // committed before it and never reached him.
    let first_ws = next_event(&mut bob_ws).await;
    assert_eq!(first_ws["order_id"], bobs.as_str());
    assert_eq!(bob_sse.next().await.data["order_id"], bobs.as_str());

    // Replay from the start shows him his own event only.
    let mut replay = ws_connect(&app, &bob_token, Some(0)).await;
    assert_eq!(next_event(&mut replay).await, first_ws);
    let mut replay_sse = Sse::open(&app, &bob_token, Some(0)).await;
    assert_eq!(replay_sse.next().await.data, first_ws);
    assert_eq!(
        stored_ids(&app).await.len(),
        3,
        "all three events are stored"
    );
}

#[tokio::test]
async fn resume_delivers_exactly_the_missed_events_under_concurrent_writers() {
    let app = spawn_app().await;
    let product = app.product("Pen", 100, 100_000).await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    let customers = {
        let mut list = Vec::new();
        for _ in 0..8 {
            list.push(app.customer().await);
        }
        list
    };

    let mut ws = ws_connect(&app, &admin_token, None).await;
    let first = place(&app, &customers[0], product.id).await;
    let seen = next_event(&mut ws).await;
    assert_eq!(seen["order_id"], first.as_str());
    let last_seen = seen["id"].as_i64().unwrap();
    drop(ws);

    // 8 writers place and move orders, while the client is away and while it comes back.
    let app = std::sync::Arc::new(app);
    let admin = std::sync::Arc::new(admin);
    let writers: Vec<_> = customers
        .into_iter()
        .map(|customer| {
            let app = app.clone();
            let admin = admin.clone();
            tokio::spawn(async move {
                for round in 0..6 {
                    let id = place(&app, &customer, product.id).await;
                    let status = if round % 2 == 0 { "PAID" } else { "CANCELLED" };
                    set_status(&app, &admin, &id, status).await;
                }
            })
        })
        .collect();
    // Resume once the writers have stored events the client missed (they go on meanwhile).
    eventually(
        "16 events stored while the client is away",
        WAIT,
        async || {
            let missed = stored_ids(&app)
                .await
                .into_iter()
                .filter(|id| *id > last_seen);
            (missed.count() >= 16).then_some(())
        },
    )
    .await;
    let mut resumed = ws_connect(&app, &admin_token, Some(last_seen)).await;
    let mut sse = Sse::open(&app, &admin_token, Some(last_seen)).await;
    for writer in writers {
        writer.await.unwrap();
    }

    let expected: Vec<i64> = stored_ids(&app)
        .await
        .into_iter()
        .filter(|id| *id > last_seen)
        .collect();
    assert_eq!(expected.len(), 8 * 6 * 2);
    let last = *expected.last().unwrap();
    assert_eq!(ids_until(&mut resumed, last).await, expected);
    let mut sse_ids = Vec::new();
    while sse_ids.last() != Some(&last) {
        sse_ids.push(sse.next().await.id.unwrap());
    }
    assert_eq!(sse_ids, expected);
}

#[tokio::test]
async fn events_survive_the_listen_connection_being_killed() {
    let app = spawn_app().await;
    let product = app.product("Cup", 300, 1000).await;
    let customer = app.customer().await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    let mut ws = ws_connect(&app, &admin_token, None).await;

    for round in 0..30 {
        if round == 10 || round == 20 {
            let mut conn = app.pool.get().await.unwrap();
            // The listener reconnects after a backoff (100 ms first): ten placements can be
            // quicker than that, so wait for it to be back before killing it again.
            let killed = eventually("the listener's connection, to kill it", WAIT, async || {
                let killed = diesel::sql_query(
                    "SELECT pg_terminate_backend(pid)::int::bigint AS id FROM pg_stat_activity \
                     WHERE application_name = 'oms-listener' AND datname = current_database()",
                )
                .load::<Id>(&mut conn)
                .await
                .unwrap();
                (!killed.is_empty()).then_some(killed)
            })
            .await;
            assert_eq!(killed.len(), 1, "one listener connection per instance");
        }
        place(&app, &customer, product.id).await;
    }
    let expected = stored_ids(&app).await;
    assert_eq!(expected.len(), 30);
    let received = ids_until(&mut ws, *expected.last().unwrap()).await;
    assert_eq!(received, expected, "every event, once, in order");
}

#[tokio::test]
async fn unauthenticated_upgrade_is_refused_and_foreign_origins_too() {
    let app = spawn_app().await;
    let request = format!("ws://127.0.0.1:{}/api/ws", app.port)
        .into_client_request()
        .unwrap();
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
    let sse = plain_client()
        .get(app.url("/api/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(sse).await["code"], "unauthenticated");

    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let mut request = format!("ws://127.0.0.1:{}/api/ws", app.port)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    request
        .headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_consumer_is_dropped_without_stalling_others() {
    // Enough event bytes to fill the slow client's socket buffers on both sides (the server's
    // send buffer autotunes up to 4 MiB on loopback), then its queue; sent in bursts smaller than
    // the queue, so that a client that reads keeps up.
    const EVENTS: i64 = 20_000;
    const BURST: i64 = 100;
    let app = spawn_app_with(|s| s.realtime.ws_client_queue = 256).await;
    let admin = app.admin().await;
    let token = app.bearer(&admin.email).await;
    let mut slow = ws_connect(&app, &token, None).await;
    let mut fast = ws_connect(&app, &token, None).await;

    // Synthetic events straight onto the channel every instance listens to (the hub delivers what
    // the channel carries; storing them is not what this test is about). A burst is sent once the
    // fast client has read all but the last one: it never has more than two bursts unread, fewer
    // than its queue holds, so a client that reads keeps up however busy the machine is (a fixed
    // pause between bursts got the fast client dropped too, now and then, on a loaded machine).
    let (read, mut fast_read) = watch::channel(0);
    let pool = app.pool.clone();
    let writer = tokio::spawn(async move {
        let mut conn = pool.get().await.unwrap();
        for start in (0..EVENTS).step_by(BURST as usize) {
            diesel::sql_query(
                "SELECT pg_notify('oms_events', json_build_array(json_build_object( \
                   'id', 1000000 + g, 'type', 'order.created', 'order_id', gen_random_uuid(), \
                   'user_id', 1, 'from_status', NULL, 'to_status', 'PENDING', \
                   'payment_status', 'unpaid', 'total_amount', 100, \
                   'occurred_at', '2026-11-25T10:00:00Z'))::text) \
                 FROM generate_series($1, $2) AS g",
            )
            .bind::<diesel::sql_types::BigInt, _>(start + 1)
            .bind::<diesel::sql_types::BigInt, _>(start + BURST)
            .execute(&mut conn)
            .await
            .unwrap();
            tokio::time::timeout(WAIT, fast_read.wait_for(|n| *n >= start))
                .await
                .expect("the fast client reads each burst in time")
                .expect("the fast client is still reading");
        }
    });

    // The fast client gets every one, in order, while the slow one is not reading.
    for expected in 1..=EVENTS {
        assert_eq!(next_event(&mut fast).await["id"], 1_000_000 + expected);
        read.send_replace(expected);
    }
    writer.await.unwrap();

    // The slow client finds, after what was buffered, a close frame saying why.
    let mut close = None;
    let mut count = 0;
    loop {
        let next = tokio::time::timeout(WAIT, slow.next()).await;
        let Ok(Some(Ok(message))) = next else {
            break;
        };
        match message {
            Message::Close(frame) => {
                close = frame;
                break;
            }
            Message::Text(_) => count += 1,
            _ => {}
        }
    }
    let frame = close.unwrap_or_else(|| panic!("no close frame after {count} events"));
    assert_eq!(frame.code, CloseCode::Again, "closed as a slow consumer");
    assert!(count < EVENTS, "it was dropped before receiving everything");
}

#[tokio::test]
async fn logout_closes_that_sessions_streams_with_1008() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let other = app.bearer(&customer.email).await;
    let mut ws = ws_connect(&app, &token, None).await;
    let mut other_ws = ws_connect(&app, &other, None).await;
    let mut sse = Sse::open(&app, &token, None).await;

    let response = plain_client()
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let message = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
    match message {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Policy),
        other => panic!("expected close 1008, got {other:?}"),
    }
    assert!(sse.ends().await, "the SSE stream ends");
    // Another token of the same user stays connected.
    other_ws.send(Message::Ping(Bytes::new())).await.unwrap();
    let mut saw_pong = false;
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(2), other_ws.next()).await
    {
        if matches!(message, Message::Pong(_)) {
            saw_pong = true;
            break;
        }
    }
    assert!(saw_pong, "the other session's socket is still open");
    let ids: HashSet<i64> = stored_ids(&app).await.into_iter().collect();
    assert!(ids.is_empty());
}

#[tokio::test]
async fn a_since_older_than_the_retention_resets_first() {
    let app = spawn_app().await;
    let product = app.product("Clip", 50, 100).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    for _ in 0..3 {
        place(&app, &customer, product.id).await;
    }
    let ids = stored_ids(&app).await;
    // The retention job removed the first two events.
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query("DELETE FROM order_events WHERE id <= $1")
        .bind::<diesel::sql_types::BigInt, _>(ids[1])
        .execute(&mut conn)
        .await
        .unwrap();

    let mut ws = ws_connect(&app, &token, Some(ids[0] - 1)).await;
    assert_eq!(next_event(&mut ws).await, json!({"type": "stream.reset"}));
    assert_eq!(next_event(&mut ws).await["id"], ids[2]);

    let mut sse = Sse::open(&app, &token, Some(ids[0] - 1)).await;
    let reset = sse.next().await;
    assert_eq!(reset.event.as_deref(), Some("stream.reset"));
    assert_eq!(sse.next().await.id, Some(ids[2]));

    // A since in the future replays nothing, and later events still arrive.
    let mut future = ws_connect(&app, &token, Some(ids[2] + 1000)).await;
    place(&app, &customer, product.id).await;
    let live = next_event(&mut future).await;
    assert!(live["id"].as_i64().unwrap() > ids[2]);
}
