//! The reconciler: charges whose answer was lost are found and the orders paid, unpaid orders
//! expire exactly once even with several instances reconciling, declines are recorded.

use std::sync::Arc;
use std::time::Duration;

use e2e::{TestApp, eventually, json_of, order_body, spawn_app};
use ports::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn paid_body(product_id: i64, token: &str) -> Value {
    let mut body = order_body(product_id, 2);
    body["payment"] = json!({"token": token});
    body
}

async fn order_of(app: &TestApp, token: &str, id: &str) -> Value {
    json_of(
        reqwest::Client::new()
            .get(app.url(&format!("/api/orders/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn history_of(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let body = json_of(
        reqwest::Client::new()
            .get(app.url(&format!("/api/orders/{id}/history")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

fn kinds(history: &[Value]) -> Vec<&str> {
    history
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

/// A reconciler of our own over the test database: the code every instance runs in the
/// background, on its own pool, reading the time from `clock`.
async fn reconciler(app: &TestApp, clock: Arc<dyn Clock>) -> app::Reconciler {
    let pool = adapters_postgres::build_pool(&api::startup::pg_settings(&app.settings)).unwrap();
    let mut deps = api::startup::deps(&app.settings, &pool).await.unwrap();
    deps.clock = clock;
    app::Reconciler::new(deps, api::startup::app_settings(&app.settings))
}

/// The system's clock moved `ahead`: a reconciler that runs later than now, without waiting.
struct Ahead(time::Duration);

impl Clock for Ahead {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + self.0
    }
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_paid_after_a_restart_and_charged_once() {
    let app = spawn_app().await; // payment timeout 500 ms
    let product = app.product("Kettle", 2500, 10).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;

    // tok_timeout is charged at the provider, whose answer comes after the server gave up: the
    // server answers 202 and the order waits, `processing`.
    let response = reqwest::Client::new()
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&paid_body(product.id, "tok_timeout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = json_of(response).await["id"].as_str().unwrap().to_owned();
    assert_eq!(app.charge_count().await, 1);

    // The process goes away before it learns the charge went through; a new one starts. Its
    // reconciler (first pass at start-up) asks the provider and finds the charge.
    let app = app.restart().await;
    let order = eventually("the order paid", Duration::from_secs(10), async || {
        let order = order_of(&app, &token, &id).await;
        (order["status"] == "PAID").then_some(order)
    })
    .await;
    assert_eq!(order["payment_status"], "captured");
    assert_eq!(order["payment_collected"], true);
    assert_eq!(app.charge_count().await, 1, "charged once");
    let history = history_of(&app, &token, &id).await;
    assert_eq!(kinds(&history), ["order.created", "order.paid"]);
    assert_eq!(history[1]["actor"], Value::Null, "the system paid it");
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 8);
}

#[tokio::test]
async fn an_expired_unpaid_order_is_cancelled_once_with_two_reconcilers() {
    // The default TTL (30 minutes): the server's own reconciler leaves the order alone; ours run
    // with a clock past it.
    let app = spawn_app().await;
    let ttl = app.settings.shop.pending_order_ttl;
    let product = app.product("Teapot", 1500, 10).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&order_body(product.id, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = json_of(response).await["id"].as_str().unwrap().to_owned();
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 7);

    // Just before the TTL: nothing expires.
    let before: Arc<dyn Clock> = Arc::new(Ahead(
        time::Duration::try_from(ttl).unwrap() - time::Duration::seconds(5),
    ));
    let early = reconciler(&app, before).await.run_once().await.unwrap();
    assert_eq!(early.expired, 0, "{early:?}");

    let past: Arc<dyn Clock> = Arc::new(Ahead(
        time::Duration::try_from(ttl).unwrap() + time::Duration::seconds(1),
    ));
    let (first, second) = (
        reconciler(&app, past.clone()).await,
        reconciler(&app, past.clone()).await,
    );
    let (a, b) = tokio::join!(first.run_once(), second.run_once());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expired + b.expired, 1, "expired once: {a:?} {b:?}");

    let order = order_of(&app, &token, &id).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        app.stored_product(product.id).await.stock_quantity,
        10,
        "released once"
    );
    let history = history_of(&app, &token, &id).await;
    assert_eq!(kinds(&history), ["order.created", "order.cancelled"]);
    assert_eq!(history[1]["note"], "expired");
    assert_eq!(history[1]["actor"], Value::Null);

    // Later passes find nothing more to do.
    let again = reconciler(&app, past).await.run_once().await.unwrap();
    assert_eq!(again.expired, 0);
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 10);
}

#[tokio::test]
async fn a_decline_cancels_the_order_returns_the_stock_and_records_the_events() {
    let app = spawn_app().await;
    let product = app.product("Toaster", 4000, 5).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&paid_body(product.id, "tok_chargeDeclined"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "payment_declined");
    let id = problem["order_id"].as_str().unwrap().to_owned();

    let order = order_of(&app, &token, &id).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["payment_collected"], false);
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 5);
    let history = history_of(&app, &token, &id).await;
    assert_eq!(kinds(&history), ["order.created", "order.cancelled"]);
    assert_eq!(history[1]["from_status"], "PENDING");
    assert_eq!(history[1]["to_status"], "CANCELLED");
}
