//! Crash recovery with real processes: an `oms serve` killed with SIGKILL (`kill -9`) in the middle
//! of a placement, and the orders it leaves behind. The retry of the placement with the same
//! `Idempotency-Key` finishes the dead request's order after the lease (one order, one charge);
//! an unpaid order of a dead instance is cancelled promptly by the next one's reconciler.

use std::time::{Duration, Instant};

use adapters_postgres::testing::TestDb;
use e2e::{count, eventually, json_of, order_body, plain_client};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::oms_process::{OmsProcess, customer_token, product_in};

/// A lease as short as the start-up check allows: PAYMENT_TIMEOUT_MS 2 s + statement timeout 1 s.
const SHORT_LEASE: &[(&str, &str)] = &[
    ("PAYMENT_TIMEOUT_MS", "2000"),
    ("DATABASE_STATEMENT_TIMEOUT", "1s"),
    ("IDEMPOTENCY_LEASE", "3s"),
];

fn place(base: &str, token: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
    plain_client()
        .post(format!("{base}/api/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
}

/// Sends the request `send` builds (for a base URL) to `first`, kills that instance with SIGKILL
/// once the request's charge is made (its answer still on the way), starts another instance, and
/// retries there: within the lease the key is still held (409); after it, the retry's answer.
async fn kill_mid_charge_then_retry(
    db: &TestDb,
    mut first: OmsProcess,
    send: impl Fn(&str) -> reqwest::RequestBuilder,
) -> (OmsProcess, reqwest::Response) {
    let pool = db.pool();
    let in_flight = tokio::spawn(send(&first.url("")).send());
    eventually("the charge made", Duration::from_secs(10), async || {
        let charged = count(&pool, "SELECT count(*) AS n FROM simulated_charges").await;
        (charged == 1).then_some(())
    })
    .await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let killed_at = Instant::now();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed instance never answered"
    );

    let second = OmsProcess::start(&db.url, SHORT_LEASE);
    let early = send(&second.url("")).send().await.unwrap();
    if killed_at.elapsed() < Duration::from_millis(2500) {
        assert_eq!(early.status(), StatusCode::CONFLICT);
        assert_eq!(json_of(early).await["code"], "idempotency_in_progress");
    }
    let answer = eventually(
        "the key taken over after its lease",
        Duration::from_secs(15),
        async || {
            let response = send(&second.url("")).send().await.unwrap();
            (response.status() != StatusCode::CONFLICT).then_some(response)
        },
    )
    .await;
    (second, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_cut_by_kill_9_is_finished_by_its_retry_after_the_lease_once() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let product = product_in(&db, 10).await;
    let first = OmsProcess::start(&db.url, SHORT_LEASE);
    let token = customer_token(&first.url("")).await;
    // `tok_timeout` is captured at the provider, whose answer comes only after the caller's
    // timeout: the request is in flight, its charge made, when its instance dies.
    let mut body = order_body(product, 2);
    body["payment"] = json!({"token": "tok_timeout"});
    let key = "checkout-7f3a";
    let (second, answer) =
        kill_mid_charge_then_retry(&db, first, |base| place(base, &token, key, &body)).await;
    assert_eq!(
        count(&pool, "SELECT count(*) AS n FROM orders").await,
        1,
        "the dead request created its order, the retry none"
    );
    let order_id = order_row(&pool).await;
    let status = answer.status();
    assert!(
        status == StatusCode::CREATED || status == StatusCode::ACCEPTED,
        "{status}"
    );
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let answered = json_of(answer).await;
    assert_eq!(
        answered["id"],
        order_id.as_str(),
        "the dead request's order"
    );
    assert_eq!(location, Some(format!("/api/orders/{order_id}")));

    // One order, one charge; the order ends up paid (at once, or through the reconciler).
    assert_eq!(count(&pool, "SELECT count(*) AS n FROM orders").await, 1);
    assert_eq!(
        count(&pool, "SELECT count(*) AS n FROM simulated_charges").await,
        1
    );
    eventually("the order paid", Duration::from_secs(15), async || {
        let paid = count(
            &pool,
            "SELECT count(*) AS n FROM orders WHERE status = 'PAID'",
        )
        .await;
        (paid == 1).then_some(())
    })
    .await;
    assert_eq!(
        count(&pool, "SELECT stock_quantity AS n FROM products").await,
        8,
        "stock taken once"
    );
    // The answer is now kept: the same key replays it, the same order again.
    let replay = place(&second.url(""), &token, key, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), status);
    assert_eq!(json_of(replay).await["id"], order_id.as_str());
    assert_eq!(count(&pool, "SELECT count(*) AS n FROM orders").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_order_left_by_a_killed_instance_is_cancelled_within_its_ttl_and_5_s() {
    const TTL: Duration = Duration::from_secs(2);
    let settings: &[(&str, &str)] = &[("PENDING_ORDER_TTL", "2s")];
    let db = TestDb::new().await;
    let pool = db.pool();
    let product = product_in(&db, 10).await;
    let mut first = OmsProcess::start(&db.url, settings);
    let token = customer_token(&first.url("")).await;
    let response = plain_client()
        .post(first.url("/api/orders"))
        .bearer_auth(&token)
        .json(&order_body(product, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed_at = Instant::now();
    let order = json_of(response).await;
    assert_eq!(order["payment_status"], "unpaid");
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    let second = OmsProcess::start(&db.url, settings);
    let url = second.url(&format!("/api/orders/{}", order["id"].as_str().unwrap()));
    let cancelled = eventually(
        "the order cancelled",
        TTL + Duration::from_secs(5),
        async || {
            let order = json_of(
                plain_client()
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            (order["status"] == "CANCELLED").then_some(order)
        },
    )
    .await;
    assert!(placed_at.elapsed() < TTL + Duration::from_secs(5));
    assert_eq!(cancelled["payment_status"], "unpaid");
    assert_eq!(
        count(&pool, "SELECT stock_quantity AS n FROM products").await,
        10,
        "its stock back"
    );
}

/// The one order's id.
async fn order_row(pool: &adapters_postgres::PgPool) -> String {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("SELECT id::text AS id FROM orders")
        .get_result::<Row>(&mut conn)
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_cut_by_kill_9_is_finished_by_its_retry_after_the_lease_once() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let product = product_in(&db, 10).await;
    let first = OmsProcess::start(&db.url, SHORT_LEASE);
    let token = customer_token(&first.url("")).await;
    let placed = plain_client()
        .post(first.url("/api/orders"))
        .bearer_auth(&token)
        .json(&order_body(product, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order_id = json_of(placed).await["id"].as_str().unwrap().to_owned();
    let path = format!("/api/orders/{order_id}/payment");
    let body = json!({"token": "tok_timeout"});
    let (second, answer) = kill_mid_charge_then_retry(&db, first, |base| {
        plain_client()
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "pay-1")
            .json(&body)
    })
    .await;
    let status = answer.status();
    assert!(
        status == StatusCode::OK || status == StatusCode::ACCEPTED,
        "{status}"
    );
    assert_eq!(json_of(answer).await["id"], order_id.as_str());
    assert_eq!(
        count(&pool, "SELECT count(*) AS n FROM simulated_charges").await,
        1,
        "charged once"
    );
    eventually("the order paid", Duration::from_secs(15), async || {
        let order = second.order(&token, &order_id).await;
        (order["status"] == "PAID").then_some(())
    })
    .await;
}
