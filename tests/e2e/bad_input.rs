//! Bad input of every kind: a 4xx problem of the contract, and nothing changes.

use e2e::{json_of, order_body, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json", "{status}");
    (status, json_of(response).await)
}

#[tokio::test]
async fn bad_order_bodies_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let product = app.product("Widget", 1000, 10).await;
    let customer = app.customer().await;
    let send_raw = |body: String, content_type: &'static str| {
        customer
            .post(&app, "/api/orders")
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // unparsable JSON
    let (status, body) = problem(
        send_raw("{\"items\": [".into(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (status, _) = problem(send_raw(String::new(), "application/json").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // not JSON at all
    let (status, body) = problem(
        send_raw(order_body(product.id, 1).to_string(), "text/plain")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");

    // too large
    let mut huge = order_body(product.id, 1);
    huge["shipping_address"]["name"] = json!("x".repeat(70 * 1024));
    let (status, body) = problem(
        send_raw(huge.to_string(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");

    // shape and range errors: 422 naming the field
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"items": [{"product_id": product.id, "quantity": "two"}], "shipping_address": order_body(1, 1)["shipping_address"]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": product.id, "quantity": 1, "price": 1}], "shipping_address": order_body(1, 1)["shipping_address"]}),
            "items[0].price",
        ),
        (
            {
                let mut b = order_body(product.id, 1);
                b["total_amount"] = json!(1);
                b
            },
            "total_amount",
        ),
        (
            order_body(product.id, 1_000_000_000_000),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": product.id, "quantity": 1e40}], "shipping_address": order_body(1, 1)["shipping_address"]}),
            "items[0].quantity",
        ),
        (order_body(product.id, 0), "items[0].quantity"),
        (order_body(product.id, -3), "items[0].quantity"),
        (order_body(-1, 1), "items[0].product_id"),
        (
            {
                let mut b = order_body(product.id, 1);
                b["shipping_address"]["country"] = json!("XX");
                b
            },
            "shipping_address.country",
        ),
        (
            {
                let mut b = order_body(product.id, 1);
                b["shipping_address"]["name"] = json!("a\nb");
                b
            },
            "shipping_address.name",
        ),
        (
            {
                let mut b = order_body(product.id, 1);
                b["shipping_address"]["city"] = Value::Null;
                b
            },
            "shipping_address.city",
        ),
        (
            {
                let mut b = order_body(product.id, 1);
                b["items"] = json!([]);
                b
            },
            "items",
        ),
        (
            json!({"shipping_address": order_body(1, 1)["shipping_address"]}),
            "items",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let response = customer
            .post(&app, "/api/orders")
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, problem) = problem(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem["code"], "validation_failed", "{body}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }

    // a bad Idempotency-Key
    let response = customer
        .post(&app, "/api/orders")
        .header("Idempotency-Key", "has spaces")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(app.order_count().await, 0, "no order was created");
    assert_eq!(
        app.stored_product(product.id).await.stock_quantity,
        10,
        "no stock moved"
    );
}

#[tokio::test]
async fn ids_that_cannot_exist_are_404_and_bad_queries_422() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let client = plain_client();
    for path in [
        "/api/products/abc",
        "/api/products/-1",
        "/api/products/0",
        "/api/products/99999999999999999999999",
        "/api/products/1.5",
        "/api/nothing-here",
    ] {
        let (status, body) = problem(client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["code"], "not_found");
    }
    for path in [
        "/api/orders/not-a-uuid",
        "/api/orders/12345",
        "/api/orders/00000000-0000-0000-0000-000000000000",
        "/api/orders/not-a-uuid/history",
    ] {
        let (status, _) = problem(customer.get(&app, path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    for query in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=-5",
        "cursor=forged",
        "cursor=MTIz",
        "cursor=%00%01",
    ] {
        let (status, body) = problem(
            client
                .get(app.url(&format!("/api/products?{query}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(body["code"], "validation_failed");
    }
    for query in ["status=paid", "status=NOPE", "cursor=xyz", "limit=1000"] {
        let (status, _) = problem(
            customer
                .get(&app, &format!("/api/orders?{query}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    // a wrong method on a known path
    let (status, body) = problem(
        client
            .delete(app.url("/api/products"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn bad_credentials_bodies() {
    let app = spawn_app().await;
    let client = plain_client();
    let cases = [
        (json!({"email": "a@example.com"}), "password"),
        (
            json!({"email": "a@example.com", "password": 12345678}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "not-an-email", "password": "long enough"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "long enough", "role": "ADMIN"}),
            "role",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = problem(
            client
                .post(app.url("/api/auth/register"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let response = client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // nobody was registered
    let login = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "a@example.com", "password": "long enough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn control_characters_in_a_login_email_are_just_wrong_credentials() {
    let app = spawn_app().await;
    for path in ["/api/auth/login", "/api/auth/token"] {
        let response = plain_client()
            .post(app.url(path))
            .json(&json!({"email": "a\u{0}b@example.com", "password": "whatever-password"}))
            .send()
            .await
            .unwrap();
        let (status, body) = problem(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["code"], "invalid_credentials");
    }
}
