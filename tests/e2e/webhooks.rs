//! Webhook delivery against real HTTP receivers on loopback ([`e2e::receiver`]): signatures checked
//! by the Standard Webhooks reference library, retries with the same `webhook-id`, `410`, per-order
//! order under concurrent writers on two instances, a receiver down then up, an instance killed
//! mid-attempt, and the address check at delivery (a name that now resolves to loopback) and
//! redirects not followed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use e2e::receiver::{Receiver, Reply};
use e2e::{Session, TestApp, count, eventually, json_of, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_support::{get_json, patch};
use crate::oms_process::{OmsProcess, customer_token};
use crate::realtime::place;

/// Settings for receivers on loopback over plain HTTP, with quick retries.
fn loopback(settings: &mut api::config::Settings) {
    settings.webhooks.allow_private = true;
    settings.webhooks.allow_http = true;
    // Twenty quick retries: no delivery gives up during a test, however slow the machine.
    settings.webhooks.retry_schedule = vec![Duration::from_millis(100); 20];
}

/// Creates an endpoint; returns its id and secret.
async fn create_endpoint(
    app: &TestApp,
    admin: &Session,
    url: &str,
    types: Value,
) -> (String, String) {
    let response = admin
        .post(app, "/api/admin/webhooks")
        .json(&json!({"url": url, "event_types": types, "description": "test receiver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_of(response).await;
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, admin: &Session, endpoint: &str) -> Vec<Value> {
    let (status, body) = get_json(
        admin,
        app,
        &format!("/api/admin/webhooks/{endpoint}/deliveries?limit=100"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// Checks `request` with the reference verifier and `secret`.
fn verify(secret: &str, request: &e2e::receiver::Received) -> Result<(), String> {
    let verifier = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
    let mut headers = reqwest::header::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let value = request.header(name).ok_or(format!("no {name}"))?;
        headers.insert(name, value.parse().map_err(|_| format!("bad {name}"))?);
    }
    verifier
        .verify(request.body.as_bytes(), &headers)
        .map_err(|e| e.to_string())
}

/// The stored events of `order_id`, as the event feed shows them, by id.
async fn feed_events(app: &TestApp, admin: &Session, order_id: &str) -> BTreeMap<i64, Value> {
    let (status, body) = get_json(
        admin,
        app,
        &format!("/api/admin/events?order_id={order_id}&limit=1000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_i64().unwrap(), item.clone()))
        .collect()
}

#[tokio::test]
async fn deliveries_are_signed_as_standard_webhooks_and_carry_the_feeds_json() {
    let app = spawn_app_with(loopback).await;
    let receiver = Receiver::start().await;
    let admin = app.admin().await;
    let (endpoint, secret) =
        create_endpoint(&app, &admin, &receiver.url("/hook"), json!(["*"])).await;
    let customer = app.customer().await;
    let product = app.product("Lamp", 1_000, 10).await;
    let order = place(&app, &customer, product.id).await;
    let response = patch(&admin, &app, &format!("/api/admin/orders/{order}/status"))
        .json(&json!({"status": "PAID"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let events = feed_events(&app, &admin, &order).await;
    assert_eq!(events.len(), 2, "order.created and order.paid: {events:?}");
    eventually("both events delivered", Duration::from_secs(10), || async {
        (receiver.count() >= 2).then_some(())
    })
    .await;
    let requests = receiver.requests();
    let mut ids = HashSet::new();
    for request in &requests {
        verify(&secret, request).unwrap();
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.path, "/hook");
        let body = request.json();
        let id = body["id"].as_i64().unwrap();
        assert_eq!(body, events[&id], "the body is the event's JSON");
        assert!(ids.insert(request.header("webhook-id").unwrap().to_owned()));
    }
    // A wrong secret does not verify (the verifier really checks).
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(verify(other, &requests[0]).is_err());

    let listed = eventually(
        "both listed as succeeded",
        Duration::from_secs(5),
        || async {
            let items = deliveries(&app, &admin, &endpoint).await;
            (items.len() == 2 && items.iter().all(|d| d["status"] == "succeeded")).then_some(items)
        },
    )
    .await;
    assert!(
        listed
            .iter()
            .all(|d| d["attempts"] == 1 && d["last_response_status"] == 200)
    );
    assert!(
        listed[0]["event_id"].as_i64() > listed[1]["event_id"].as_i64(),
        "newest first"
    );
    let metrics = e2e::plain_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("oms_webhook_attempts_total{outcome=\"succeeded\"} 2"),
        "{metrics}"
    );

    // After a rotation both secrets sign, each verifies on its own.
    let response = admin
        .post(
            &app,
            &format!("/api/admin/webhooks/{endpoint}/rotate-secret"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let new_secret = json_of(response).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    place(&app, &customer, product.id).await;
    let rotated = eventually(
        "an event after the rotation",
        Duration::from_secs(10),
        || async { receiver.requests().get(2).cloned() },
    )
    .await;
    let signatures = rotated.header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    verify(&secret, &rotated).unwrap();
    verify(&new_secret, &rotated).unwrap();
}

#[tokio::test]
async fn failed_attempts_are_retried_with_the_same_webhook_id_and_a_410_disables() {
    let app = spawn_app_with(loopback).await;
    // Each message fails twice, then succeeds.
    let seen: Arc<std::sync::Mutex<HashMap<String, usize>>> = Arc::default();
    let tally = seen.clone();
    let receiver = Receiver::start_with(move |request, _| {
        let id = request.header("webhook-id").unwrap_or_default().to_owned();
        let mut seen = tally.lock().unwrap();
        let n = seen.entry(id).or_default();
        *n += 1;
        Reply::status(if *n <= 2 { 500 } else { 204 })
    })
    .await;
    let admin = app.admin().await;
    let (endpoint, _) =
        create_endpoint(&app, &admin, &receiver.url("/"), json!(["order.created"])).await;
    let customer = app.customer().await;
    let product = app.product("Lamp", 1_000, 10).await;
    place(&app, &customer, product.id).await;

    let delivery = eventually(
        "delivered on the third attempt",
        Duration::from_secs(10),
        || async {
            let items = deliveries(&app, &admin, &endpoint).await;
            items.into_iter().find(|d| d["status"] == "succeeded")
        },
    )
    .await;
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["event_type"], "order.created");
    assert_eq!(delivery["last_error"], Value::Null);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "only order.created is subscribed");
    let ids: HashSet<&str> = requests
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");

    // A 410 disables the endpoint at once, recorded in the audit log.
    receiver.set_behaviour(|_, _| Reply::status(410));
    place(&app, &customer, product.id).await;
    let disabled = eventually("disabled by a 410", Duration::from_secs(10), || async {
        let (_, body) = get_json(&admin, &app, &format!("/api/admin/webhooks/{endpoint}")).await;
        (body["enabled"] == false).then_some(body)
    })
    .await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    assert_eq!(receiver.count(), 4, "one attempt after the 410, no more");
    let (_, audit) = get_json(&admin, &app, "/api/admin/audit?action=webhook.disabled").await;
    assert_eq!(audit["items"][0]["target"]["id"], endpoint.as_str());
    assert_eq!(audit["items"][0]["actor"], Value::Null);

    // While disabled, new events are not queued for it: once another endpoint got the next
    // event (so the fan-out went past it), the disabled one still has its two deliveries.
    let witness = Receiver::start().await;
    create_endpoint(&app, &admin, &witness.url("/"), json!(["order.created"])).await;
    place(&app, &customer, product.id).await;
    eventually(
        "the other endpoint got the event",
        Duration::from_secs(10),
        || async { (witness.count() == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        count(
            &app.pool,
            &format!(
                "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{endpoint}'"
            )
        )
        .await,
        2,
        "nothing queued for a disabled endpoint"
    );
    assert_eq!(receiver.count(), 4);
}

#[tokio::test]
async fn one_orders_events_arrive_in_id_order_under_8_writers_on_2_instances() {
    let first = spawn_app_with(loopback).await;
    let second = first.second_instance().await;
    // A fifth of the attempts fail: retries must not let a later event of the order overtake.
    let status_of = |index: usize| if index % 5 == 3 { 503 } else { 200 };
    let receiver = Receiver::start_with(move |_, index| Reply::status(status_of(index))).await;
    let admin = first.admin().await;
    let (endpoint, _) = create_endpoint(&first, &admin, &receiver.url("/"), json!(["*"])).await;
    let product = first.product("Lamp", 1_000, 1_000).await;

    let mut writers = Vec::new();
    for writer in 0..8 {
        let app = if writer % 2 == 0 { &first } else { &second };
        let customer = app.customer().await;
        let admin = app.admin().await;
        let (base, pid) = (app.base.clone(), product.id);
        writers.push(async move {
            let mut orders = Vec::new();
            for _ in 0..3 {
                let response = customer
                    .client
                    .post(format!("{base}/api/orders"))
                    .header("X-CSRF-Token", &customer.csrf)
                    .json(&e2e::order_body(pid, 1))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                let order = json_of(response).await["id"].as_str().unwrap().to_owned();
                // Two more events on the same order: paid (offline), fulfilled.
                for status in ["PAID", "FULFILLED"] {
                    let response = admin
                        .client
                        .patch(format!("{base}/api/admin/orders/{order}/status"))
                        .header("X-CSRF-Token", &admin.csrf)
                        .json(&json!({"status": status}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK, "{order} → {status}");
                }
                orders.push(order);
            }
            orders
        });
    }
    let orders: Vec<String> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();

    let mut expected: HashMap<String, Vec<i64>> = HashMap::new();
    for order in &orders {
        expected.insert(
            order.clone(),
            feed_events(&first, &admin, order)
                .await
                .into_keys()
                .collect(),
        );
    }
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(total, orders.len() * 3);
    eventually("every event delivered", Duration::from_secs(30), || async {
        let delivered = count(
            &first.pool,
            &format!("SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{endpoint}' AND status = 'succeeded'"),
        )
        .await;
        (delivered == total as i64).then_some(())
    })
    .await;

    // For each order: no request for an event arrived before every earlier event of the order
    // had been answered with a 2xx.
    let requests = receiver.requests();
    let mut answered: Vec<(usize, i64, String)> = Vec::new();
    for (n, request) in requests.iter().enumerate() {
        let body = request.json();
        answered.push((
            n,
            body["id"].as_i64().unwrap(),
            body["order_id"].as_str().unwrap().to_owned(),
        ));
    }
    for (order, ids) in &expected {
        let mut delivered_upto = 0usize; // how many of `ids` have had a 2xx so far
        for (n, id, of) in &answered {
            if of != order {
                continue;
            }
            let position = ids.iter().position(|x| x == id).unwrap();
            assert!(
                position <= delivered_upto,
                "order {order}: event {id} sent before event {} was delivered",
                ids[delivered_upto]
            );
            if status_of(*n) == 200 && position == delivered_upto {
                delivered_upto += 1;
            }
        }
        assert_eq!(delivered_upto, ids.len(), "order {order}: all delivered");
    }
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_everything_once_when_it_comes_back() {
    let app = spawn_app_with(|s| {
        loopback(s);
        s.webhooks.retry_schedule = vec![Duration::from_millis(200); 50];
    })
    .await;
    let receiver = Receiver::start().await;
    let admin = app.admin().await;
    let (endpoint, _) = create_endpoint(&app, &admin, &receiver.url("/"), json!(["*"])).await;
    receiver.stop().await;

    let customer = app.customer().await;
    let product = app.product("Lamp", 1_000, 100).await;
    for _ in 0..5 {
        place(&app, &customer, product.id).await;
    }
    eventually(
        "every delivery failed at least once",
        Duration::from_secs(10),
        || async {
            let items = deliveries(&app, &admin, &endpoint).await;
            let refused = items
                .iter()
                .filter(|d| d["attempts"].as_i64() >= Some(1))
                .count();
            (items.len() == 5 && refused == 5 && items.iter().all(|d| d["status"] == "pending"))
                .then_some(())
        },
    )
    .await;
    assert_eq!(receiver.count(), 0);
    let failed = deliveries(&app, &admin, &endpoint).await;
    assert!(
        failed.iter().any(|d| d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("connect"))),
        "{failed:?}"
    );

    receiver.restart().await;
    eventually("all five delivered", Duration::from_secs(20), || async {
        let items = deliveries(&app, &admin, &endpoint).await;
        items
            .iter()
            .all(|d| d["status"] == "succeeded")
            .then_some(())
    })
    .await;
    let requests = receiver.requests();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for request in &requests {
        *per_id
            .entry(request.header("webhook-id").unwrap())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), 5);
    assert!(
        per_id.values().all(|n| *n == 1),
        "each exactly once: {per_id:?}"
    );
}

#[tokio::test]
async fn an_instance_killed_mid_attempt_is_taken_over_after_the_lease_with_the_same_id() {
    let app = spawn_app_with(loopback).await;
    // The first request is held (its instance dies meanwhile); later ones are answered at once.
    let receiver = Receiver::start_with(|_, index| {
        let mut reply = Reply::status(200);
        if index == 0 {
            reply.delay = Duration::from_secs(20);
        }
        reply
    })
    .await;
    let admin = app.admin().await;
    let (endpoint, _) =
        create_endpoint(&app, &admin, &receiver.url("/"), json!(["order.created"])).await;
    let product = app.product("Lamp", 1_000, 10).await;
    // From here on only `oms` processes deliver.
    app.stop().await;
    let env = [
        ("WEBHOOK_ALLOW_PRIVATE", "true"),
        ("WEBHOOK_ALLOW_HTTP", "true"),
        ("WEBHOOK_TIMEOUT", "2s"),
    ];
    let mut first = OmsProcess::start(app.database_url(), &env);
    let token = customer_token(&first.url("")).await;
    let response = e2e::plain_client()
        .post(first.url("/api/orders"))
        .bearer_auth(&token)
        .json(&e2e::order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    eventually(
        "the first attempt reached the receiver",
        Duration::from_secs(10),
        || async { (receiver.count() == 1).then_some(()) },
    )
    .await;
    first.child.kill().unwrap(); // SIGKILL, mid-attempt
    let _ = first.child.wait();
    let killed = std::time::Instant::now();

    let _second = OmsProcess::start(app.database_url(), &env);
    eventually(
        "another instance delivered after the lease",
        Duration::from_secs(20),
        || async { (receiver.count() == 2).then_some(()) },
    )
    .await;
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "not before the lease ran out"
    );
    let requests = receiver.requests();
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    eventually(
        "recorded as succeeded after 2 attempts",
        Duration::from_secs(5),
        || async {
            let done = count(
                &app.pool,
                &format!(
                    "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{endpoint}' \
                 AND status = 'succeeded' AND attempts = 2"
                ),
            )
            .await;
            (done == 1).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_and_redirects_are_refused_at_delivery() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.retry_schedule = vec![Duration::from_secs(60)];
    })
    .await;
    let receiver = Receiver::start().await;
    let admin = app.admin().await;
    // Created while the name resolves nowhere (accepted: checked at every delivery) ...
    let port = receiver.addr.port();
    let (endpoint, _) = create_endpoint(
        &app,
        &admin,
        &format!("http://rebinding.invalid:{port}/"),
        json!(["order.created"]),
    )
    .await;
    // ... then it "resolves" to loopback: DNS rebinding, played by changing the stored name.
    let mut conn = app.pool.get().await.unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE webhook_endpoints SET url = 'http://localhost:{port}/' WHERE id = '{endpoint}'"
        )),
        &mut conn,
    )
    .await
    .unwrap();
    drop(conn);
    let customer = app.customer().await;
    let product = app.product("Lamp", 1_000, 10).await;
    place(&app, &customer, product.id).await;
    let blocked = eventually(
        "the attempt was refused",
        Duration::from_secs(10),
        || async {
            deliveries(&app, &admin, &endpoint)
                .await
                .into_iter()
                .find(|d| d["attempts"] == 1 && d["last_error"].is_string())
        },
    )
    .await;
    assert_eq!(blocked["status"], "pending");
    assert_eq!(blocked["last_response_status"], Value::Null);
    assert!(
        blocked["last_error"].as_str().unwrap().contains("loopback"),
        "{blocked}"
    );
    assert_eq!(receiver.count(), 0, "nothing reached the loopback receiver");
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let app = spawn_app_with(|s| {
        loopback(s);
        s.webhooks.retry_schedule = vec![Duration::from_secs(60)];
    })
    .await;
    let target = Receiver::start().await;
    let location = target.url("/elsewhere");
    let redirecting = Receiver::start_with(move |_, _| Reply {
        status: 307,
        delay: Duration::ZERO,
        location: Some(location.clone()),
    })
    .await;
    let admin = app.admin().await;
    let (endpoint, _) = create_endpoint(
        &app,
        &admin,
        &redirecting.url("/"),
        json!(["order.created"]),
    )
    .await;
    let customer = app.customer().await;
    let product = app.product("Lamp", 1_000, 10).await;
    place(&app, &customer, product.id).await;
    let attempted = eventually("one attempt recorded", Duration::from_secs(10), || async {
        deliveries(&app, &admin, &endpoint)
            .await
            .into_iter()
            .find(|d| d["last_response_status"] == 307)
    })
    .await;
    assert_eq!(attempted["status"], "pending", "retried later");
    assert_eq!(redirecting.count(), 1);
    assert_eq!(target.count(), 0, "the redirect was not followed");
}

#[tokio::test]
async fn the_test_event_and_a_redelivery_reach_the_receiver_signed() {
    let app = spawn_app_with(loopback).await;
    let receiver = Receiver::start().await;
    let admin = app.admin().await;
    // Subscribed to one order type only: the test event goes whatever the subscription.
    let (endpoint, secret) =
        create_endpoint(&app, &admin, &receiver.url("/"), json!(["order.refunded"])).await;
    let response = admin
        .post(&app, &format!("/api/admin/webhooks/{endpoint}/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let first = eventually(
        "the test event arrived",
        Duration::from_secs(10),
        || async { receiver.requests().first().cloned() },
    )
    .await;
    verify(&secret, &first).unwrap();
    let body = first.json();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["webhook_id"], endpoint.as_str());
    let delivery = eventually("listed as succeeded", Duration::from_secs(5), || async {
        deliveries(&app, &admin, &endpoint)
            .await
            .into_iter()
            .find(|d| d["status"] == "succeeded" && d["event_type"] == "webhook.test")
    })
    .await;
    assert_eq!(delivery["event_id"], body["id"]);

    // A redelivery sends it again now, with the same webhook-id (receivers deduplicate on it).
    let response = admin
        .post(
            &app,
            &format!(
                "/api/admin/webhooks/{endpoint}/deliveries/{}/retry",
                delivery["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let again = eventually("redelivered", Duration::from_secs(10), || async {
        receiver.requests().get(1).cloned()
    })
    .await;
    verify(&secret, &again).unwrap();
    assert_eq!(again.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(again.body, first.body);
    let (_, audit) = get_json(&admin, &app, "/api/admin/audit?action=webhook.redelivered").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}
