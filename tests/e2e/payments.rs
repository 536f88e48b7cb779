//! Payment at placement and later, and `Idempotency-Key` (replay, reuse, in flight).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use e2e::{json_of, order_body, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn paid_body(product_id: i64, token: &str) -> Value {
    let mut body = order_body(product_id, 1);
    body["payment"] = json!({"token": token});
    body
}

/// Status, body text and `Location` of a response.
async fn answer(response: reqwest::Response) -> (StatusCode, String, Option<String>) {
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), location)
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer_and_create_nothing() {
    let app = spawn_app().await;
    let product = app.product("Widget", 1000, 10).await;
    let customer = app.customer().await;
    let send = |body: Value, key: &'static str| {
        customer
            .post(&app, "/api/orders")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = answer(
        send(paid_body(product.id, "tok_visa"), "key-1")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first.0, StatusCode::CREATED);
    // the same document with its keys in another order is the same body
    let reordered: Value = serde_json::from_str(&format!(
        r#"{{"payment":{{"token":"tok_visa"}},"shipping_address":{},"items":[{{"quantity":1,"product_id":{}}}]}}"#,
        order_body(product.id, 1)["shipping_address"],
        product.id
    ))
    .unwrap();
    let replay = answer(send(reordered, "key-1").await.unwrap()).await;
    assert_eq!(replay, first, "status, body and Location replayed exactly");
    assert_eq!(app.order_count().await, 1);
    assert_eq!(app.charge_count().await, 1);
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 9);

    // another body with the key: 422
    let reused = send(paid_body(product.id, "tok_chargeDeclined"), "key-1")
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(reused).await["code"], "idempotency_key_reused");

    // kept failures replay too (402), and a fresh key is a fresh request
    let declined = answer(
        send(paid_body(product.id, "tok_chargeDeclined"), "key-2")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(declined.0, StatusCode::PAYMENT_REQUIRED);
    let again = answer(
        send(paid_body(product.id, "tok_chargeDeclined"), "key-2")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again, declined);
    assert_eq!(app.order_count().await, 2);

    // keys are per user
    let other = app.customer().await;
    let theirs = other
        .post(&app, "/api/orders")
        .header("Idempotency-Key", "key-1")
        .json(&paid_body(product.id, "tok_visa"))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert_ne!(
        json_of(theirs).await["id"].as_str(),
        serde_json::from_str::<Value>(&first.1).unwrap()["id"].as_str()
    );
    assert_eq!(app.order_count().await, 3);
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_key_make_one_order_and_one_charge() {
    let app = spawn_app_with_latency().await;
    let product = app.product("Widget", 1000, 100).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let client = plain_client();
    let requests = (0..50).map(|_| {
        client
            .post(app.url("/api/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "the-one-key")
            .json(&paid_body(product.id, "tok_visa"))
            .send()
    });
    let answers: Vec<(StatusCode, String, Option<String>)> = futures_util::future::join_all(
        requests.map(|r| async move { answer(r.await.unwrap()).await }),
    )
    .await;
    let created: HashSet<&String> = answers
        .iter()
        .filter(|a| a.0 == StatusCode::CREATED)
        .map(|a| &a.1)
        .collect();
    assert_eq!(created.len(), 1, "every 201 is the same answer");
    for (status, body, _) in &answers {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert!(body.contains("idempotency_in_progress"), "{body}");
        }
    }
    assert_eq!(app.order_count().await, 1);
    assert_eq!(app.charge_count().await, 1);
    // once the first has finished, a retry gets the replay
    let retry = answer(
        client
            .post(app.url("/api/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "the-one-key")
            .json(&paid_body(product.id, "tok_visa"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(retry.0, StatusCode::CREATED);
    assert!(created.contains(&retry.1));
}

async fn spawn_app_with_latency() -> e2e::TestApp {
    e2e::spawn_app_with(|s| s.payments.simulated_latency = Duration::from_millis(200)).await
}

#[tokio::test]
async fn a_provider_timeout_answers_202_processing_and_its_retry_charges_nothing() {
    let app = spawn_app().await; // payment timeout 500 ms
    let product = app.product("Widget", 1000, 10).await;
    let customer = app.customer().await;
    let started = Instant::now();
    let first = answer(
        customer
            .post(&app, "/api/orders")
            .header("Idempotency-Key", "slow")
            .json(&paid_body(product.id, "tok_timeout"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered within the timeout"
    );
    assert_eq!(first.0, StatusCode::ACCEPTED);
    let order: Value = serde_json::from_str(&first.1).unwrap();
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["payment_status"], "processing");
    assert_eq!(
        order["allowed_transitions"],
        json!([]),
        "no cancel while a charge is in flight"
    );
    let retry = answer(
        customer
            .post(&app, "/api/orders")
            .header("Idempotency-Key", "slow")
            .json(&paid_body(product.id, "tok_timeout"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(retry, first);
    assert_eq!(app.charge_count().await, 1);
    assert_eq!(app.order_count().await, 1);
}

#[tokio::test]
async fn paying_later_declines_keep_the_order_payable() {
    let app = spawn_app().await;
    let product = app.product("Widget", 1000, 10).await;
    let customer = app.customer().await;
    let placed = customer
        .post(&app, "/api/orders")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    let id = json_of(placed).await["id"].as_str().unwrap().to_owned();
    let pay = |token: &'static str| {
        customer
            .post(&app, &format!("/api/orders/{id}/payment"))
            .json(&json!({"token": token}))
            .send()
    };
    let declined = pay("tok_chargeDeclined").await.unwrap();
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let problem = json_of(declined).await;
    assert_eq!(problem["code"], "payment_declined");
    assert_eq!(problem["order_id"], id.as_str());
    let order = json_of(
        customer
            .get(&app, &format!("/api/orders/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (order["status"].as_str(), order["payment_status"].as_str()),
        (Some("PENDING"), Some("failed"))
    );

    let paid = pay("tok_visa").await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    let order = json_of(paid).await;
    assert_eq!(order["status"], "PAID");
    assert_eq!(order["payment_collected"], true);

    let twice = pay("tok_visa").await.unwrap();
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let problem = json_of(twice).await;
    assert_eq!(problem["code"], "invalid_transition");
    assert_eq!(problem["from"], "PAID");
    assert_eq!(problem["to"], "PAID");

    let history = json_of(
        customer
            .get(&app, &format!("/api/orders/{id}/history"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["order.created", "order.paid"]);
    assert!(history["items"][1]["actor"].is_null(), "the system paid it");

    // someone else's order: 404
    let other = app.customer().await;
    let theirs = other
        .post(&app, &format!("/api/orders/{id}/payment"))
        .json(&json!({"token": "tok_visa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
}
