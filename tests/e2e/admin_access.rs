//! Every admin route: a customer gets 403 `forbidden` (cookie or Bearer), nobody signed in gets
//! 401 `unauthenticated`, and neither changes anything.

use e2e::{json_of, order_body, plain_client, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin_support::get_json;

/// Every admin route, with a body that an admin's request would have succeeded with.
fn routes(product_id: i64, order_id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/admin/orders".into(), None),
        (Method::GET, "/api/admin/orders?status=PAID".into(), None),
        (Method::GET, "/api/admin/orders/export".into(), None),
        (
            Method::PATCH,
            format!("/api/admin/orders/{order_id}/status"),
            Some(json!({"status": "CANCELLED"})),
        ),
        (Method::GET, "/api/admin/products".into(), None),
        (
            Method::POST,
            "/api/admin/products".into(),
            Some(json!({"name": "X", "price": 1, "stock_quantity": 1, "sku": "X-1"})),
        ),
        (
            Method::GET,
            format!("/api/admin/products/{product_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/admin/products/{product_id}"),
            Some(json!({"stock_quantity": 0})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/products/{product_id}"),
            None,
        ),
        // an admin path that names nothing is refused before it is a 404
        (Method::GET, "/api/admin/nothing-here".into(), None),
    ]
}

#[tokio::test]
async fn a_customer_gets_403_and_nobody_gets_401_on_every_admin_route() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let bearer = app.bearer(&customer.email).await;
    let product = app.product("Mug", 500, 10).await;
    let placed = customer
        .post(&app, "/api/orders")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .expect("place");
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order_id = json_of(placed).await["id"].as_str().expect("id").to_owned();

    for (method, path, body) in routes(product.id, &order_id) {
        // a customer with a cookie session and a valid CSRF token
        let mut request = customer
            .client
            .request(method.clone(), app.url(&path))
            .header("X-CSRF-Token", &customer.csrf);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            json_of(response).await["code"],
            "forbidden",
            "{method} {path}"
        );

        // the same customer with a Bearer token
        let mut request = plain_client()
            .request(method.clone(), app.url(&path))
            .bearer_auth(&bearer);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} (Bearer)"
        );

        // nobody signed in
        let mut request = plain_client().request(method.clone(), app.url(&path));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} (anonymous)"
        );
        assert_eq!(json_of(response).await["code"], "unauthenticated");
    }

    // nothing changed
    let stored = app.stored_product(product.id).await;
    assert_eq!(stored.stock_quantity, 9);
    assert!(!stored.archived);
    let (_, order) = get_json(&customer, &app, &format!("/api/orders/{order_id}")).await;
    assert_eq!(order["status"], "PENDING");
    let (_, page) = get_json(&customer, &app, "/api/products?q=X-1").await;
    assert_eq!(page["items"], json!([]));
}
