//! `POST /api/orders/quote`: priced exactly as placement prices, reserving and writing nothing,
//! with placement's refusals; signed in, CSRF for cookie sessions, not limited per user.

use e2e::{Session, TestApp, json_of, order_body, plain_client, spawn_app, spawn_app_with};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// `POST /api/orders/quote` by `customer` with `body`.
async fn post_quote(app: &TestApp, customer: &Session, body: &Value) -> Response {
    send(app, customer, "/api/orders/quote", body).await
}

/// `POST /api/orders` by `customer` with `body`.
async fn post_order(app: &TestApp, customer: &Session, body: &Value) -> Response {
    send(app, customer, "/api/orders", body).await
}

async fn send(app: &TestApp, customer: &Session, path: &str, body: &Value) -> Response {
    customer
        .post(app, path)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// The members of a placed order that a quote must equal.
fn priced(order: &Value) -> Value {
    let items: Vec<Value> = order["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            json!({"product_id": i["product_id"], "sku": i["sku"], "name": i["name"],
                   "quantity": i["quantity"], "unit_price": i["unit_price"],
                   "line_total": i["line_total"]})
        })
        .collect();
    json!({"items": items, "subtotal": order["subtotal"],
           "shipping_amount": order["shipping_amount"], "tax_amount": order["tax_amount"],
           "total_amount": order["total_amount"], "currency": order["currency"]})
}

#[tokio::test]
async fn a_quote_prices_as_placement_and_writes_nothing() {
    let app = spawn_app_with(|s| {
        s.shop.pricing.tax_rates = domain::TaxRates::parse("GB=2000").expect("rates");
    })
    .await;
    let lamp = app.product("Lamp", 1999, 5).await;
    let mug = app.product("Mug", 333, 40).await;
    let customer = app.customer().await;
    let mut body = order_body(lamp.id, 1);
    let items = body["items"].as_array_mut().expect("items");
    items.push(json!({"product_id": mug.id, "quantity": 2}));
    items.push(json!({"product_id": lamp.id, "quantity": 1}));
    // `payment` is ignored: nothing is charged
    body["payment"] = json!({"token": "tok_visa"});

    let response = post_quote(&app, &customer, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let quote = json_of(response).await;
    assert_eq!(quote["items"].as_array().expect("items").len(), 2);
    assert_eq!(quote["items"][0]["product_id"], lamp.id);
    assert_eq!(quote["items"][0]["quantity"], 2);
    assert_eq!(quote["items"][0]["line_total"], 3998);
    assert_eq!(quote["items"][0]["available"], 5);
    assert_eq!(quote["items"][1]["available"], 40);
    assert_eq!(quote["subtotal"], 3998 + 666);
    assert_eq!(quote["shipping_amount"], 500);
    assert_eq!(quote["currency"], "USD");
    // nothing reserved, created or charged
    assert_eq!(app.stored_product(lamp.id).await.stock_quantity, 5);
    assert_eq!(app.order_count().await, 0);
    assert_eq!(app.charge_count().await, 0);

    // the order placed with the same body costs exactly what the quote said
    let response = post_order(&app, &customer, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(response).await;
    let mut expected = quote.clone();
    for item in expected["items"].as_array_mut().expect("items") {
        item.as_object_mut().expect("item").remove("available");
    }
    assert_eq!(priced(&order), expected);
    assert!(order["tax_amount"].as_i64().expect("tax") > 0);

    // `available` is the stock now
    let response = post_quote(&app, &customer, &order_body(lamp.id, 1)).await;
    assert_eq!(json_of(response).await["items"][0]["available"], 3);

    // free shipping from the threshold, as placement
    let response = post_quote(&app, &customer, &order_body(mug.id, 16)).await;
    let free = json_of(response).await;
    assert_eq!(free["subtotal"], 5328);
    assert_eq!(free["shipping_amount"], 0);
}

#[tokio::test]
async fn a_quote_refuses_as_placement_does() {
    let app = spawn_app().await;
    let scarce = app.product("Scarce", 100, 2).await;
    let plenty = app.product("Plenty", 100, 100).await;
    let customer = app.customer().await;

    let mut body = order_body(plenty.id, 1);
    body["items"]
        .as_array_mut()
        .expect("items")
        .push(json!({"product_id": scarce.id, "quantity": 3}));
    let response = post_quote(&app, &customer, &body).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "insufficient_stock");
    assert_eq!(problem["errors"][0]["field"], "items[1].quantity");
    assert_eq!(problem["errors"][0]["product_id"], scarce.id);
    assert_eq!(problem["errors"][0]["available"], 2);

    let response = post_quote(&app, &customer, &order_body(999_999, 1)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "unknown_product");
    assert_eq!(problem["errors"][0]["field"], "items[0].product_id");

    // an archived product is unknown
    let admin = app.admin().await;
    let archived = admin
        .client
        .delete(app.url(&format!("/api/admin/products/{}", plenty.id)))
        .header("X-CSRF-Token", &admin.csrf)
        .send()
        .await
        .expect("archive");
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    let response = post_quote(&app, &customer, &order_body(plenty.id, 1)).await;
    assert_eq!(json_of(response).await["code"], "unknown_product");

    for (bad, field) in [
        (
            json!({"items": [], "shipping_address": order_body(1, 1)["shipping_address"]}),
            "items",
        ),
        (order_body(scarce.id, 0), "items[0].quantity"),
        (order_body(scarce.id, 1001), "items[0].quantity"),
    ] {
        let response = post_quote(&app, &customer, &bad).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let problem = json_of(response).await;
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{bad}");
    }
    let mut unknown_member = order_body(scarce.id, 1);
    unknown_member["coupon"] = json!("FREE");
    let response = post_quote(&app, &customer, &unknown_member).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.order_count().await, 0);
}

#[tokio::test]
async fn a_quote_needs_a_session_and_csrf_and_is_not_limited_as_a_placement() {
    let app = spawn_app_with(|s| {
        s.rate_limits.orders_per_minute = 1;
    })
    .await;
    let lamp = app.product("Lamp", 1000, 5).await;
    let response = plain_client()
        .post(app.url("/api/orders/quote"))
        .json(&order_body(lamp.id, 1))
        .send()
        .await
        .expect("quote");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await["code"], "unauthenticated");

    let customer = app.customer().await;
    let response = customer
        .client
        .post(app.url("/api/orders/quote"))
        .json(&order_body(lamp.id, 1))
        .send()
        .await
        .expect("quote");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(response).await["code"], "csrf_failed");

    // one placement per minute, but quotes go on
    for _ in 0..5 {
        let response = post_quote(&app, &customer, &order_body(lamp.id, 1)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let first = post_order(&app, &customer, &order_body(lamp.id, 1)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = post_order(&app, &customer, &order_body(lamp.id, 1)).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = post_quote(&app, &customer, &order_body(lamp.id, 1)).await;
    assert_eq!(response.status(), StatusCode::OK);
}
