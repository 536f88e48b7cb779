//! `PAYMENT_PROVIDER=stripe` against localstripe (a local Stripe fake, PyPI `localstripe`) that
//! each test starts on a port of 127.0.0.1: placements paid, declined, retried, with 3-D Secure,
//! timed out and settled by the reconciler, refunds, webhooks (valid, forged, stale, replayed,
//! unknown), and a `kill -9` between the PaymentIntent and the `PAID` commit.
//!
//! `LOCALSTRIPE_BIN` names the launcher (`make stripe-test` installs it into `.venv/stripe`:
//! scripts/localstripe-loopback.py, which binds 127.0.0.1 and keeps its store in memory); without
//! it every test here prints "skipped: LOCALSTRIPE_BIN unset" and passes.
//!
//! localstripe ignores `Idempotency-Key`, so "one PaymentIntent" here is the server's own doing.
//! To make Stripe slow, a test puts a [`HoldProxy`] between the server and localstripe: requests
//! go through, answers are held while it holds (the PaymentIntent is made, its answer late).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adapters_postgres::testing::TestDb;
use adapters_stripe::StripeSettings;
use e2e::{
    Session, TestApp, count, eventually, json_of, order_body, order_of, plain_client,
    spawn_app_with,
};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::admin_support;
use crate::oms_process::{OmsProcess, customer_token, product_in};

const SECRET_KEY: &str = "sk_test_e2e_0123456789";
const WEBHOOK_SECRET: &str = "whsec_e2e_0123456789abcdef";
/// A card that needs 3-D Secure in localstripe (as in Stripe's test mode).
const CARD_3DS: &str = "4000002500003155";

// --- localstripe ---------------------------------------------------------------------------

/// A localstripe process of this test's own.
struct LocalStripe {
    child: Child,
    base: String,
    port: u16,
}

impl LocalStripe {
    /// Starts localstripe on a free port of 127.0.0.1, or `None` (with the skip line) when
    /// `LOCALSTRIPE_BIN` is unset.
    fn start() -> Option<LocalStripe> {
        let Ok(bin) = std::env::var("LOCALSTRIPE_BIN") else {
            println!("skipped: LOCALSTRIPE_BIN unset (make stripe-test sets it)");
            return None;
        };
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("LOCALSTRIPE_BIN={bin} does not start: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("localstripe said {line:?}"));
        Some(LocalStripe {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> Value {
        let response = plain_client()
            .get(self.url(path))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = plain_client()
            .post(self.url(path))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
        body
    }

    /// Every PaymentIntent localstripe holds.
    async fn intents(&self) -> Vec<Value> {
        let list = self.get("/v1/payment_intents?limit=100").await;
        list["data"].as_array().unwrap().clone()
    }

    /// The PaymentIntents made for `order_id`.
    async fn intents_of(&self, order_id: &str) -> Vec<Value> {
        self.intents()
            .await
            .into_iter()
            .filter(|i| i["metadata"]["order_id"] == order_id)
            .collect()
    }

    /// A card PaymentMethod of `number`.
    async fn card(&self, number: &str) -> String {
        let pm = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2040"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        pm["id"].as_str().unwrap().to_owned()
    }

    /// Finishes (or fails) a PaymentIntent's 3-D Secure as the customer's browser would.
    async fn authenticate(&self, client_secret: &str, success: bool) -> Value {
        let intent = intent_of_secret(client_secret);
        self.post(
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[
                ("client_secret", client_secret),
                ("success", if success { "true" } else { "false" }),
            ],
        )
        .await
    }

    /// Makes localstripe send its events, signed with the webhook secret, to `url`.
    async fn send_webhooks_to(&self, url: &str) {
        let response = plain_client()
            .post(self.url("/_config/webhooks/e2e"))
            .form(&[("url", url), ("secret", WEBHOOK_SECRET)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        // Only this child, by its own handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn intent_of_secret(client_secret: &str) -> &str {
    client_secret.split("_secret_").next().unwrap()
}

// --- a proxy that can hold Stripe's answers ------------------------------------------------

/// A TCP proxy on 127.0.0.1 to localstripe; while `hold` is set, the answers wait in it (the
/// requests reach localstripe at once).
struct HoldProxy {
    base: String,
    hold: Arc<AtomicBool>,
}

impl HoldProxy {
    async fn start(upstream_port: u16) -> HoldProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = Arc::new(AtomicBool::new(false));
        let held = hold.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pipe(client, upstream_port, held.clone()));
            }
        });
        HoldProxy {
            base: format!("http://127.0.0.1:{port}"),
            hold,
        }
    }

    fn hold(&self, on: bool) {
        self.hold.store(on, Ordering::SeqCst);
    }
}

async fn pipe(client: TcpStream, upstream_port: u16, hold: Arc<AtomicBool>) {
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
    });
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match upstream_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while hold.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if client_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
}

// --- the server ------------------------------------------------------------------------------

fn stripe_settings(api_base: &str, timeout: Duration) -> StripeSettings {
    StripeSettings {
        secret_key: SecretString::from(SECRET_KEY),
        webhook_secret: SecretString::from(WEBHOOK_SECRET),
        api_base: api_base.to_owned(),
        timeout,
    }
}

/// A server charging through Stripe at `api_base`, each call at most `timeout`.
async fn stripe_app(api_base: &str, timeout: Duration) -> TestApp {
    let base = api_base.to_owned();
    spawn_app_with(move |s| {
        s.payments.provider = "stripe".into();
        s.payments.timeout = timeout;
        s.payments.stripe = Some(stripe_settings(&base, timeout));
    })
    .await
}

struct Shopper {
    bearer: String,
    product: i64,
}

async fn shopper(app: &TestApp) -> Shopper {
    let product = app.product("Lamp", 1_250, 100).await.id;
    let customer = app.customer().await;
    Shopper {
        bearer: app.bearer(&customer.email).await,
        product,
    }
}

fn place(app: &TestApp, shopper: &Shopper, payment_method: &str) -> reqwest::RequestBuilder {
    let mut body = order_body(shopper.product, 2);
    body["payment"] = json!({"token": payment_method});
    plain_client()
        .post(app.url("/api/orders"))
        .bearer_auth(&shopper.bearer)
        .json(&body)
}

async fn wait_for_status(app: &TestApp, bearer: &str, id: &str, status: &str) -> Value {
    eventually(
        &format!("order {id} {status}"),
        Duration::from_secs(20),
        async || {
            let order = order_of(app, bearer, id).await;
            (order["status"] == status).then_some(order)
        },
    )
    .await
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// POSTs `event` to the webhook, signed with `secret` at `t`.
async fn deliver(app: &TestApp, event: &Value, secret: &str, t: i64) -> reqwest::Response {
    let body = serde_json::to_vec(event).unwrap();
    let signature = adapters_stripe::signature::sign(&body, &SecretString::from(secret), t);
    plain_client()
        .post(app.url("/api/payments/stripe/webhook"))
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Stripe-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "data": {"object": object}})
}

async fn paid_events(app: &TestApp, order_id: &str) -> i64 {
    count(
        &app.pool,
        &format!(
            "SELECT count(*) AS n FROM order_events WHERE order_id = '{order_id}' \
             AND type = 'order.paid'"
        ),
    )
    .await
}

// --- the tests -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_placement_is_paid_with_one_payment_intent() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let app = stripe_app(&stripe.base, Duration::from_secs(5)).await;
    let shopper = shopper(&app).await;
    let response = place(&app, &shopper, "pm_card_visa").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(response).await;
    assert_eq!(order["status"], "PAID");
    assert_eq!(order["payment_status"], "captured");
    assert_eq!(order["payment_collected"], true);
    assert!(order.get("payment").is_none(), "{order}");
    let id = order["id"].as_str().unwrap();
    let intents = stripe.intents_of(id).await;
    assert_eq!(intents.len(), 1);
    let intent = &intents[0];
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], order["total_amount"]);
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["metadata"]["attempt"], "1");
    assert_eq!(
        count(
            &app.pool,
            &format!(
                "SELECT count(*) AS n FROM stripe_payment_intents WHERE order_id = '{id}' \
                 AND intent_id = '{}'",
                intent["id"].as_str().unwrap()
            )
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_decline_is_402_with_only_the_decline_code() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let app = stripe_app(&stripe.base, Duration::from_secs(5)).await;
    let shopper = shopper(&app).await;
    let response = place(&app, &shopper, "pm_card_chargeCustomerFail")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let text = response.text().await.unwrap();
    let problem: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["code"], "payment_declined");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .ends_with("card_declined"),
        "{problem}"
    );
    // Nothing else of Stripe's answer (its message, the charge) reaches the client.
    assert!(
        !text.contains("Your card was declined") && !text.contains("ch_"),
        "{text}"
    );
    let id = problem["order_id"].as_str().unwrap();
    let order = order_of(&app, &shopper.bearer, id).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["payment_status"], "failed");
    // An unknown PaymentMethod is declined too.
    let response = place(&app, &shopper, "pm_does_not_exist")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_a_retry_with_the_same_idempotency_key_makes_one_payment_intent() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let app = stripe_app(&stripe.base, Duration::from_secs(5)).await;
    let shopper = shopper(&app).await;
    let first = place(&app, &shopper, "pm_card_visa")
        .header("Idempotency-Key", "stripe-retry-1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = json_of(first).await;
    let again = place(&app, &shopper, "pm_card_visa")
        .header("Idempotency-Key", "stripe-retry-1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(json_of(again).await["id"], first["id"]);
    assert_eq!(stripe.intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_three_d_secure_answers_202_with_the_client_secret_then_the_webhook_pays() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let app = stripe_app(&stripe.base, Duration::from_secs(5)).await;
    stripe
        .send_webhooks_to(&app.url("/api/payments/stripe/webhook"))
        .await;
    let shopper = shopper(&app).await;
    let card = stripe.card(CARD_3DS).await;
    let response = place(&app, &shopper, &card).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let order = json_of(response).await;
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["payment_status"], "processing");
    let secret = order["payment"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = order["id"].as_str().unwrap().to_owned();
    // Only in that answer.
    assert!(
        order_of(&app, &shopper.bearer, &id)
            .await
            .get("payment")
            .is_none()
    );
    let intents = stripe.intents_of(&id).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "requires_action");

    // The customer's browser finishes 3-D Secure; localstripe sends payment_intent.succeeded.
    let intent = stripe.authenticate(&secret, true).await;
    assert_eq!(intent["status"], "succeeded");
    let paid = wait_for_status(&app, &shopper.bearer, &id, "PAID").await;
    assert_eq!(paid["payment_status"], "captured");
    assert_eq!(paid_events(&app, &id).await, 1);
    assert_eq!(
        count(&app.pool, "SELECT count(*) AS n FROM stripe_events").await,
        1,
        "the one payment_intent.succeeded applied (other types are ignored, not stored)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_slow_answer_is_202_then_the_reconciler_finds_the_intent_and_pays_once() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let proxy = HoldProxy::start(stripe.port).await;
    let app = stripe_app(&proxy.base, Duration::from_millis(2000)).await;
    let shopper = shopper(&app).await;
    proxy.hold(true);
    let response = place(&app, &shopper, "pm_card_visa").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let order = json_of(response).await;
    assert_eq!(order["payment_status"], "processing");
    assert!(order.get("payment").is_none());
    let id = order["id"].as_str().unwrap().to_owned();
    // The PaymentIntent was made; its answer never reached the server.
    eventually(
        "the PaymentIntent made",
        Duration::from_secs(10),
        async || (stripe.intents_of(&id).await.len() == 1).then_some(()),
    )
    .await;
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) AS n FROM stripe_payment_intents WHERE intent_id IS NULL"
        )
        .await,
        1
    );
    proxy.hold(false);
    let paid = wait_for_status(&app, &shopper.bearer, &id, "PAID").await;
    assert_eq!(paid["payment_collected"], true);
    assert_eq!(stripe.intents_of(&id).await.len(), 1, "never charged twice");
    assert_eq!(paid_events(&app, &id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_unreachable_is_202_processing() {
    let Some(_stripe) = LocalStripe::start() else {
        return;
    };
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = stripe_app(
        &format!("http://127.0.0.1:{closed}"),
        Duration::from_millis(1000),
    )
    .await;
    let shopper = shopper(&app).await;
    let response = place(&app, &shopper, "pm_card_visa").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(json_of(response).await["payment_status"], "processing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_refunds_partial_then_full() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let app = stripe_app(&stripe.base, Duration::from_secs(5)).await;
    let shopper = shopper(&app).await;
    let order = json_of(place(&app, &shopper, "pm_card_visa").send().await.unwrap()).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let total = order["total_amount"].as_i64().unwrap();
    let intent = stripe.intents_of(&id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin: Session = app.admin().await;

    let partial = admin
        .post(&app, &format!("/api/admin/orders/{id}/refunds"))
        .json(&json!({"amount": 300, "reason": "goodwill"}))
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::CREATED);
    let partial = json_of(partial).await;
    assert_eq!(partial["status"], "succeeded");
    let after = order_of(&app, &shopper.bearer, &id).await;
    assert_eq!(after["payment_status"], "partially_refunded");
    assert_eq!(after["refunded_amount"], 300);

    let rest = admin
        .post(&app, &format!("/api/admin/orders/{id}/refunds"))
        .json(&json!({"amount": total - 300, "reason": "the rest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::CREATED);
    let after = order_of(&app, &shopper.bearer, &id).await;
    assert_eq!(after["payment_status"], "refunded");
    assert_eq!(after["refunded_amount"], total);

    let refunds = stripe
        .get(&format!("/v1/refunds?payment_intent={intent}&limit=100"))
        .await;
    let mut amounts: Vec<i64> = refunds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    amounts.sort_unstable();
    let mut expected = vec![300, total - 300];
    expected.sort_unstable();
    assert_eq!(amounts, expected);
    let ours: Vec<&str> = refunds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metadata"]["refund_id"].as_str().unwrap())
        .collect();
    assert!(ours.contains(&partial["id"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_webhooks_valid_forged_stale_replayed_and_unknown() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    // No webhook registered at localstripe: the test signs the events itself. A long payment
    // timeout keeps the reconciler (which asks about a charge only that long after its attempt)
    // from settling these orders first.
    let app = stripe_app(&stripe.base, Duration::from_secs(20)).await;
    let shopper = shopper(&app).await;
    let card = stripe.card(CARD_3DS).await;
    let order = json_of(place(&app, &shopper, &card).send().await.unwrap()).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let secret = order["payment"]["client_secret"].as_str().unwrap();
    let intent = intent_of_secret(secret).to_owned();
    stripe.authenticate(secret, true).await;
    let succeeded = event(
        "evt_e2e_succeeded",
        "payment_intent.succeeded",
        json!({"id": intent, "object": "payment_intent"}),
    );

    // Forged (another secret), stale (301 s old), unsigned, garbage: 400, nothing changes.
    let forged = deliver(&app, &succeeded, "whsec_not_ours", unix_now()).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(forged).await["code"], "invalid_signature");
    let stale = deliver(&app, &succeeded, WEBHOOK_SECRET, unix_now() - 301).await;
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(stale).await["code"], "invalid_signature");
    let unsigned = plain_client()
        .post(app.url("/api/payments/stripe/webhook"))
        .json(&succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::BAD_REQUEST);
    let garbage = plain_client()
        .post(app.url("/api/payments/stripe/webhook"))
        .header("Stripe-Signature", "t=1,v1=00")
        .body("\u{0}not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        order_of(&app, &shopper.bearer, &id).await["status"],
        "PENDING"
    );

    // Valid: PAID, once.
    let valid = deliver(&app, &succeeded, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(valid.status(), StatusCode::OK);
    assert_eq!(json_of(valid).await["outcome"], "applied");
    assert_eq!(order_of(&app, &shopper.bearer, &id).await["status"], "PAID");
    // Replayed: 200, nothing changes.
    let replay = deliver(&app, &succeeded, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(json_of(replay).await["outcome"], "replayed");
    assert_eq!(paid_events(&app, &id).await, 1);
    // Another event about the same intent: the order is past it.
    let late = event(
        "evt_e2e_succeeded_again",
        "payment_intent.succeeded",
        json!({"id": intent}),
    );
    let late = deliver(&app, &late, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(json_of(late).await["outcome"], "unchanged");
    assert_eq!(paid_events(&app, &id).await, 1);

    // Unknown type: 200, ignored.
    let unknown = event(
        "evt_e2e_unknown",
        "customer.created",
        json!({"id": "cus_1"}),
    );
    let unknown = deliver(&app, &unknown, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(unknown.status(), StatusCode::OK);
    assert_eq!(json_of(unknown).await["outcome"], "ignored");

    // An intent this server did not make, naming an order of ours: ignored.
    let other = json_of(
        place(&app, &shopper, &stripe.card(CARD_3DS).await)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let foreign = stripe
        .post(
            "/v1/payment_intents",
            &[
                ("amount", &other["total_amount"].to_string()),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
                ("metadata[order_id]", &other_id),
            ],
        )
        .await;
    let foreign = event(
        "evt_e2e_foreign",
        "payment_intent.succeeded",
        json!({"id": foreign["id"]}),
    );
    let foreign = deliver(&app, &foreign, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(json_of(foreign).await["outcome"], "ignored");
    assert_eq!(
        order_of(&app, &shopper.bearer, &other_id).await["status"],
        "PENDING"
    );

    // A failed 3-D Secure: payment failed, the order stays PENDING and payable.
    let other_secret = other["payment"]["client_secret"].as_str().unwrap();
    stripe.authenticate(other_secret, false).await;
    let failed = event(
        "evt_e2e_failed",
        "payment_intent.payment_failed",
        json!({"id": intent_of_secret(other_secret)}),
    );
    let failed = deliver(&app, &failed, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(json_of(failed).await["outcome"], "applied");
    let after = order_of(&app, &shopper.bearer, &other_id).await;
    assert_eq!(after["status"], "PENDING");
    assert_eq!(after["payment_status"], "failed");
    let paid_again = plain_client()
        .post(app.url(&format!("/api/orders/{other_id}/payment")))
        .bearer_auth(&shopper.bearer)
        .json(&json!({"token": "pm_card_visa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid_again.status(), StatusCode::OK);
    assert_eq!(json_of(paid_again).await["status"], "PAID");
    assert_eq!(
        stripe.intents_of(&other_id).await.len(),
        3,
        "two attempts and the foreign one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_refund_webhook_settles_a_pending_refund() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let proxy = HoldProxy::start(stripe.port).await;
    let app = stripe_app(&proxy.base, Duration::from_millis(1500)).await;
    let shopper = shopper(&app).await;
    let order = json_of(place(&app, &shopper, "pm_card_visa").send().await.unwrap()).await;
    assert_eq!(order["status"], "PAID");
    let id = order["id"].as_str().unwrap().to_owned();
    let admin = app.admin().await;
    proxy.hold(true);
    let pending = admin
        .post(&app, &format!("/api/admin/orders/{id}/refunds"))
        .json(&json!({"amount": 200, "reason": "slow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(pending.status(), StatusCode::ACCEPTED);
    let pending = json_of(pending).await;
    assert_eq!(pending["status"], "pending");
    proxy.hold(false);
    // Stripe made the refund; its refund.updated settles ours (or the reconciler does first).
    let intent = stripe.intents_of(&id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refunds = eventually(
        "the refund at Stripe",
        Duration::from_secs(10),
        async || {
            let list = stripe
                .get(&format!("/v1/refunds?payment_intent={intent}"))
                .await;
            let data = list["data"].as_array().unwrap().clone();
            (!data.is_empty()).then_some(data)
        },
    )
    .await;
    assert_eq!(refunds.len(), 1);
    let updated = event(
        "evt_e2e_refund_updated",
        "refund.updated",
        json!({"id": refunds[0]["id"], "object": "refund"}),
    );
    let answer = deliver(&app, &updated, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let outcome = json_of(answer).await["outcome"].clone();
    assert!(outcome == "applied" || outcome == "unchanged", "{outcome}");
    let after = eventually("the refund settled", Duration::from_secs(20), async || {
        let order = order_of(&app, &shopper.bearer, &id).await;
        (order["refunded_amount"] == 200).then_some(order)
    })
    .await;
    assert_eq!(after["payment_status"], "partially_refunded");
    assert_eq!(after["refunds"][0]["status"], "succeeded");
    // charge.refunded about the same intent: nothing more.
    let charge = event(
        "evt_e2e_charge_refunded",
        "charge.refunded",
        json!({"id": "ch_x", "object": "charge", "payment_intent": intent}),
    );
    let answer = deliver(&app, &charge, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        order_of(&app, &shopper.bearer, &id).await["refunded_amount"],
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_kill_9_between_the_payment_intent_and_paid_is_paid_once_by_the_reconciler() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let proxy = HoldProxy::start(stripe.port).await;
    let db = TestDb::new().await;
    let product = product_in(&db, 10).await;
    let env = |timeout_ms: &'static str, base: String| {
        vec![
            ("PAYMENT_PROVIDER", "stripe".to_owned()),
            ("STRIPE_SECRET_KEY", SECRET_KEY.to_owned()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("STRIPE_API_BASE", base),
            ("PAYMENT_TIMEOUT_MS", timeout_ms.to_owned()),
        ]
    };
    let vars = env("20000", proxy.base.clone());
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut first = OmsProcess::start(&db.url, &vars);
    let token = customer_token(&first.url("")).await;
    let mut body = order_body(product, 1);
    body["payment"] = json!({"token": "pm_card_visa"});

    // The PaymentIntent is made and succeeds; its answer is held, and the server dies.
    proxy.hold(true);
    let in_flight = tokio::spawn(
        plain_client()
            .post(first.url("/api/orders"))
            .bearer_auth(&token)
            .json(&body)
            .send(),
    );
    let intent = eventually(
        "the PaymentIntent made",
        Duration::from_secs(15),
        async || stripe.intents().await.into_iter().next(),
    )
    .await;
    assert_eq!(intent["status"], "succeeded");
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed instance never answered"
    );
    proxy.hold(false);
    let order_id = intent["metadata"]["order_id"].as_str().unwrap().to_owned();
    let pool = db.pool();
    let status = |pool: adapters_postgres::PgPool, id: String| async move {
        count(
            &pool,
            &format!("SELECT count(*) AS n FROM orders WHERE id = '{id}' AND status = 'PAID'"),
        )
        .await
    };
    assert_eq!(status(pool.clone(), order_id.clone()).await, 0);

    // The next instance's reconciler asks Stripe, finds the intent by its metadata, pays once.
    let vars = env("1000", stripe.base.clone());
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let second = OmsProcess::start(&db.url, &vars);
    eventually("the order paid", Duration::from_secs(20), async || {
        (status(pool.clone(), order_id.clone()).await == 1).then_some(())
    })
    .await;
    assert_eq!(
        stripe.intents().await.len(),
        1,
        "one PaymentIntent, charged once"
    );
    assert_eq!(
        count(
            &pool,
            &format!(
                "SELECT count(*) AS n FROM order_events WHERE order_id = '{order_id}' \
                 AND type = 'order.paid'"
            )
        )
        .await,
        1
    );
    let order = second.order(&token, &order_id).await;
    assert_eq!(order["payment_collected"], true);
    assert_eq!(second.lines_with("STRIPE_SECRET_KEY"), 0);
    assert_eq!(second.lines_with(SECRET_KEY), 0, "the key is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_a_capture_that_lands_on_a_cancelled_order_is_refunded() {
    let Some(stripe) = LocalStripe::start() else {
        return;
    };
    let app = stripe_app(&stripe.base, Duration::from_secs(5)).await;
    let shopper = shopper(&app).await;
    let card = stripe.card(CARD_3DS).await;
    let order = json_of(place(&app, &shopper, &card).send().await.unwrap()).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let secret = order["payment"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // An admin cancels the order while the customer is still authenticating.
    let admin = app.admin().await;
    let cancelled = admin_support::patch(&admin, &app, &format!("/api/admin/orders/{id}/status"))
        .json(&json!({"status": "CANCELLED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    stripe.authenticate(&secret, true).await;
    let succeeded = event(
        "evt_e2e_late_capture",
        "payment_intent.succeeded",
        json!({"id": intent_of_secret(&secret)}),
    );
    let answer = deliver(&app, &succeeded, WEBHOOK_SECRET, unix_now()).await;
    assert_eq!(json_of(answer).await["outcome"], "unchanged");
    assert_eq!(
        order_of(&app, &shopper.bearer, &id).await["status"],
        "CANCELLED"
    );
    let refunds = stripe
        .get(&format!(
            "/v1/refunds?payment_intent={}",
            intent_of_secret(&secret)
        ))
        .await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
    assert_eq!(refunds["data"][0]["amount"], order["total_amount"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_webhook_refuses_everything_without_stripe() {
    // The simulated provider: the route exists, and refuses every body as unsigned (never 5xx).
    let app = spawn_app_with(|_| {}).await;
    for body in [
        "",
        "{}",
        "\u{0}garbage",
        r#"{"id":"evt_1","type":"payment_intent.succeeded"}"#,
    ] {
        let response = plain_client()
            .post(app.url("/api/payments/stripe/webhook"))
            .header("Stripe-Signature", "t=1,v1=00")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(json_of(response).await["code"], "invalid_signature");
    }
}
