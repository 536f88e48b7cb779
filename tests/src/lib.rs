//! The end-to-end test harness: a real server on a fresh PostgreSQL database per test.
//!
//! [`spawn_app`] makes a [`TestDb`], builds [`Settings`] in code (rate limits off unless a test
//! turns them on, short timeouts), runs the [`Application`] on `127.0.0.1:0` in a background task
//! and returns a [`TestApp`]: the base URL, HTTP clients, and helpers that create users, admins
//! and products directly through the repositories (so a test sets up its world without going
//! through the routes it tests).
//!
//! Test support code: a failed expectation here is a failed test, so `unwrap`/`expect` are fine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod receiver;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use adapters_postgres::testing::TestDb;
use adapters_postgres::{PgOrderRepository, PgPool, PgProductRepository, PgUserRepository};
use api::auth::password::Argon2Hasher;
use api::config::RateLimits;
use api::{Application, Settings};
use domain::product::NewProduct;
use ports::{
    OrderFilter, OrderRepository, PasswordHasher, Product, ProductRepository, UserRepository,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// The JWT secret of every test server (tests forge tokens with it and with others).
pub const JWT_SECRET: &str = "e2e-test-secret-e2e-test-secret-0123456789";
/// The password of every user the helpers create.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server and its database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub port: u16,
    pub settings: Settings,
    /// A pool of the harness's own on the test database.
    pub pool: PgPool,
    db: Arc<TestDb>,
    server: actix_web::dev::ServerHandle,
}

/// A signed-in browser-like client: cookies, and the CSRF token to echo.
pub struct Session {
    pub client: Client,
    pub csrf: String,
    pub user_id: i64,
    pub email: String,
}

/// Spawns a server with the test defaults (rate limits off).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns a server with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::new(TestDb::new().await);
    spawn_on(db, adjust).await
}

async fn spawn_on(db: Arc<TestDb>, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings::for_tests(&db.url, JWT_SECRET).expect("test settings");
    settings.rate_limits = RateLimits::OFF;
    settings.payments.timeout = Duration::from_millis(500);
    settings.database.connect_timeout = Duration::from_secs(5);
    adjust(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("the application builds");
    let port = app.port();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        pool: db.pool(),
        settings,
        db,
        server,
    }
}

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// Waits for something a test can observe, instead of sleeping and assuming it happened: runs
/// `check` every 10 ms until it returns `Some`, and returns that value. Fails the test, naming
/// `what`, when `within` passes first (a `check` that hangs counts against it too).
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, check()).await {
            Ok(Some(value)) => return value,
            Ok(None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(POLL).await;
            }
            _ => panic!("waited {within:?} for {what}"),
        }
    }
}

/// The number a query returns as `n` (a `bigint`), e.g. `SELECT count(*) AS n FROM orders`.
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = pool.get().await.expect("connection");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .expect("count")
        .n
}

/// A client that keeps cookies, like a browser.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A client without a cookie store (scripts, attackers).
pub fn plain_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A valid order body for `product_id`.
pub fn order_body(product_id: i64, quantity: i64) -> Value {
    json!({
        "items": [{"product_id": product_id, "quantity": quantity}],
        "shipping_address": {
            "name": "Ada Lovelace", "line1": "1 Main St", "line2": null, "city": "London",
            "region": null, "postal_code": "N1 9GU", "country": "GB"
        }
    })
}

/// `GET /api/orders/{id}` as the holder of `bearer`: the order's JSON.
pub async fn order_of(app: &TestApp, bearer: &str, id: &str) -> Value {
    order_at(&app.base, bearer, id).await
}

/// `GET {base}/api/orders/{id}` as the holder of `bearer` (any server: a spawned one, a process).
pub async fn order_at(base: &str, bearer: &str, id: &str) -> Value {
    json_of(
        plain_client()
            .get(format!("{base}/api/orders/{id}"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The JSON body of a response, checking on the way that it never leaks a password hash.
pub async fn json_of(response: Response) -> Value {
    let text = response.text().await.expect("body");
    assert_no_secrets(&text);
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Fails if `text` holds anything of a password hash.
pub fn assert_no_secrets(text: &str) {
    assert!(
        !text.contains("password_hash"),
        "a body leaks password_hash: {text}"
    );
    assert!(!text.contains("$argon2"), "a body leaks a hash: {text}");
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Another server instance on the same database with the same settings, as a second replica.
    pub async fn second_instance(&self) -> TestApp {
        let settings = self.settings.clone();
        spawn_on(self.db.clone(), |s| *s = settings).await
    }

    /// Another instance on the same database, with this one's settings adjusted by `adjust`.
    pub async fn instance_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        spawn_on(self.db.clone(), |s| *s = settings).await
    }

    /// Stops this instance's server and background tasks (as a deploy would).
    pub async fn stop(&self) {
        self.server.stop(false).await;
    }

    /// The test database's URL (for `oms` processes on it).
    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// Stops this instance (as a crash or a deploy would) and starts a new one on the same
    /// database with the same settings: a restart.
    pub async fn restart(self) -> TestApp {
        let db = self.db.clone();
        let settings = self.settings.clone();
        self.server.stop(false).await;
        drop(self);
        spawn_on(db, |s| *s = settings).await
    }

    /// Registers `email` over HTTP with a fresh cookie client; returns the signed-in session.
    pub async fn register(&self, email: &str) -> Session {
        let client = browser();
        let response = client
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body = json_of(response).await;
        Session {
            client,
            csrf: body["csrf_token"].as_str().expect("csrf_token").to_owned(),
            user_id: body["user"]["id"].as_i64().expect("user id"),
            email: email.to_owned(),
        }
    }

    /// A new customer with a unique email, signed in with cookies.
    pub async fn customer(&self) -> Session {
        let email = format!("customer-{}@example.com", uuid::Uuid::now_v7().simple());
        self.register(&email).await
    }

    /// Signs `email` in with a fresh cookie client.
    pub async fn login(&self, email: &str) -> Session {
        let client = browser();
        let response = client
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK);
        let body = json_of(response).await;
        Session {
            client,
            csrf: body["csrf_token"].as_str().expect("csrf_token").to_owned(),
            user_id: body["user"]["id"].as_i64().expect("user id"),
            email: email.to_owned(),
        }
    }

    /// A Bearer token for `email`.
    pub async fn bearer(&self, email: &str) -> String {
        let response = plain_client()
            .post(self.url("/api/auth/token"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("token");
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// An admin made through the repository (as `oms create-admin` does), signed in.
    pub async fn admin(&self) -> Session {
        let email = format!("admin-{}@example.com", uuid::Uuid::now_v7().simple());
        let hash = Argon2Hasher::new()
            .await
            .expect("hasher")
            .hash(PASSWORD)
            .await
            .expect("hash");
        PgUserRepository::new(self.pool.clone())
            .upsert_admin(&email, &hash)
            .await
            .expect("admin");
        self.login(&email).await
    }

    /// A product made through the repository.
    pub async fn product(&self, name: &str, price: i64, stock: i64) -> Product {
        let sku = format!("SKU-{}", uuid::Uuid::now_v7().simple());
        PgProductRepository::new(self.pool.clone())
            .create(
                &NewProduct {
                    name: name.to_owned(),
                    description: Some(format!("{name}, the best.")),
                    price,
                    stock_quantity: stock,
                    sku,
                    image_url: None,
                },
                None,
            )
            .await
            .expect("product")
    }

    /// The product as stored now.
    pub async fn stored_product(&self, id: i64) -> Product {
        PgProductRepository::new(self.pool.clone())
            .get(id)
            .await
            .expect("read")
            .expect("exists")
    }

    /// How many charges the simulated payment provider holds (captured, declined or refunded).
    pub async fn charge_count(&self) -> i64 {
        count(&self.pool, "SELECT count(*) AS n FROM simulated_charges").await
    }

    /// How many orders exist.
    pub async fn order_count(&self) -> usize {
        PgOrderRepository::new(self.pool.clone())
            .list(&OrderFilter::default(), None, 10_000)
            .await
            .expect("list")
            .len()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and let the workers go (the command is sent by the call itself); the
        // database is dropped with the last `TestDb`.
        drop(self.server.stop(false));
    }
}

impl Session {
    /// A cookie-authenticated POST with the CSRF header.
    pub fn post(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(app.url(path))
            .header("X-CSRF-Token", &self.csrf)
    }

    pub fn get(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        self.client.get(app.url(path))
    }
}
