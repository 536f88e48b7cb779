//! Helpers of the admin tests: admin requests, orders written straight into the database (to
//! control their time, status, total, owner and address), and following list cursors.

use diesel::sql_types::{BigInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use e2e::{Session, TestApp, json_of};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// A cookie-authenticated `PATCH` with the CSRF header.
pub fn patch(session: &Session, app: &TestApp, path: &str) -> RequestBuilder {
    session
        .client
        .patch(app.url(path))
        .header("X-CSRF-Token", &session.csrf)
}

/// A cookie-authenticated `DELETE` with the CSRF header.
pub fn delete(session: &Session, app: &TestApp, path: &str) -> RequestBuilder {
    session
        .client
        .delete(app.url(path))
        .header("X-CSRF-Token", &session.csrf)
}

/// `GET path` as `session`: the status and the JSON body.
pub async fn get_json(session: &Session, app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = session.get(app, path).send().await.expect("request");
    let status = response.status();
    (status, json_of(response).await)
}

/// An order to write straight into the database.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub user_id: i64,
    pub product_id: i64,
    pub status: &'static str,
    pub total: i64,
    pub units: i64,
    pub created_at: OffsetDateTime,
    pub name: String,
    pub city: String,
}

impl OrderSpec {
    pub fn new(user_id: i64, product_id: i64, created_at: OffsetDateTime) -> OrderSpec {
        OrderSpec {
            user_id,
            product_id,
            status: "PAID",
            total: 1000,
            units: 1,
            created_at,
            name: "Ada Lovelace".into(),
            city: "London".into(),
        }
    }
}

/// Inserts an order (one line of `units` units; no shipping or tax, so the total is the
/// subtotal) with a payment state that fits its status; returns its id.
pub async fn insert_order(app: &TestApp, spec: &OrderSpec) -> Uuid {
    let id = Uuid::now_v7();
    let (payment_status, collected) = match spec.status {
        "PAID" | "FULFILLED" => ("captured", true),
        _ => ("unpaid", false),
    };
    let mut conn = app.pool.get().await.expect("connection");
    diesel::sql_query(
        "INSERT INTO orders (id, user_id, status, payment_status, payment_collected, subtotal, \
           shipping_amount, tax_amount, total_amount, currency, shipping_address, created_at, \
           updated_at, fulfillment_status) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $6, 'USD', \
           jsonb_build_object('name', $7::text, 'line1', '1 Main St', 'line2', NULL, \
             'city', $8::text, 'region', NULL, 'postal_code', 'N1 9GU', 'country', 'GB'), \
           $9, $9, CASE WHEN $3 = 'FULFILLED' THEN 'fulfilled' ELSE 'unfulfilled' END)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<BigInt, _>(spec.user_id)
    .bind::<Text, _>(spec.status)
    .bind::<Text, _>(payment_status)
    .bind::<diesel::sql_types::Bool, _>(collected)
    .bind::<BigInt, _>(spec.total)
    .bind::<Text, _>(&spec.name)
    .bind::<Text, _>(&spec.city)
    .bind::<Timestamptz, _>(spec.created_at)
    .execute(&mut conn)
    .await
    .expect("insert order");
    diesel::sql_query(
        "INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price, \
           quantity_shipped) \
         SELECT $1, p.id, p.sku, p.name, $3, $4 / $3, \
                CASE WHEN o.status = 'FULFILLED' THEN $3 ELSE 0 END \
           FROM products p, orders o WHERE p.id = $2 AND o.id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<BigInt, _>(spec.product_id)
    .bind::<BigInt, _>(spec.units)
    .bind::<BigInt, _>(spec.total)
    .execute(&mut conn)
    .await
    .expect("insert item");
    id
}

/// The ids of a page's items.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Follows `next_cursor` from `path` (which already has a `?`) to the end; every id in order.
pub async fn all_pages(session: &Session, app: &TestApp, path: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let url = match &cursor {
            None => path.to_owned(),
            Some(c) => format!("{path}&cursor={c}"),
        };
        let (status, page) = get_json(session, app, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("more than 1000 pages: the cursor does not advance");
}

/// The `code` and the whole problem of a refusal, checking its status.
pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    json_of(response).await
}
