//! The customer journey over HTTP.

use e2e::{PASSWORD, json_of, order_body, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_login_browse_order_read_list_history_cancel() {
    let app = spawn_app().await;
    let widget = app.product("Widget", 1999, 10).await;
    let gadget = app.product("Gadget", 500, 3).await;

    // register: 201, the user and a CSRF token, and the two cookies
    let client = e2e::browser();
    let response = client
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "  Ada@Example.com ", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("oms_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    assert!(session_cookie.contains("Path=/"));
    let csrf_cookie = cookies.iter().find(|c| c.starts_with("oms_csrf=")).unwrap();
    assert!(csrf_cookie.contains("SameSite=Strict") && !csrf_cookie.contains("HttpOnly"));
    let body = json_of(response).await;
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "CUSTOMER");
    let csrf_value = csrf_cookie
        .trim_start_matches("oms_csrf=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(
        body["csrf_token"], csrf_value,
        "csrf_token is the cookie's value"
    );

    // the same email again: 409
    let again = e2e::plain_client()
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(json_of(again).await["code"], "email_taken");

    // login with cookies, then me
    let ada = app.login("ada@example.com").await;
    let me = json_of(ada.get(&app, "/api/auth/me").send().await.unwrap()).await;
    assert_eq!(me["user"]["id"], ada.user_id);
    assert_eq!(me["csrf_token"], ada.csrf);

    // list products (public), then one
    let list = e2e::plain_client()
        .get(app.url("/api/products?limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let page = json_of(list).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], widget.id);
    assert!(page["items"][0].get("archived").is_none());
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let page2 = json_of(
        e2e::plain_client()
            .get(app.url(&format!("/api/products?limit=1&cursor={cursor}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page2["items"][0]["id"], gadget.id);
    assert!(page2["next_cursor"].is_null());
    let found = json_of(
        e2e::plain_client()
            .get(app.url(&format!("/api/products/{}", widget.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found["sku"], widget.sku.as_str());
    assert_eq!(found["price"], 1999);

    // place an order (cookie + CSRF): 201 with Location, PENDING unpaid, priced by the server
    let mut body = order_body(widget.id, 2);
    body["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"product_id": gadget.id, "quantity": 1}));
    let placed = ada
        .post(&app, "/api/orders")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let location = placed.headers()["location"].to_str().unwrap().to_owned();
    let order = json_of(placed).await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/orders/{id}"));
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["payment_collected"], false);
    assert_eq!(order["allowed_transitions"], json!(["CANCELLED"]));
    assert_eq!(order["subtotal"], 2 * 1999 + 500);
    assert_eq!(order["shipping_amount"], 500);
    assert_eq!(order["tax_amount"], 0);
    assert_eq!(order["total_amount"], 2 * 1999 + 500 + 500);
    assert_eq!(order["currency"], "USD");
    assert!(order["tracking"].is_null());
    assert_eq!(order["shipping_address"]["country"], "GB");
    assert_eq!(order["items"][0]["line_total"], 2 * 1999);
    assert_eq!(order["items"][1]["sku"], gadget.sku.as_str());
    assert!(order["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.stored_product(widget.id).await.stock_quantity, 8);

    // get it, with a strong ETag
    let got = ada.get(&app, &location).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));
    assert_eq!(json_of(got).await["id"], id.as_str());

    // list own orders, newest first
    let second = ada
        .post(&app, "/api/orders")
        .json(&order_body(gadget.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    let second_id = json_of(second).await["id"].as_str().unwrap().to_owned();
    let mine = json_of(ada.get(&app, "/api/orders").send().await.unwrap()).await;
    let ids: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second_id.as_str(), id.as_str()]);
    let first_page = json_of(ada.get(&app, "/api/orders?limit=1").send().await.unwrap()).await;
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let next = json_of(
        ada.get(&app, &format!("/api/orders?limit=1&cursor={cursor}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(next["items"][0]["id"], id.as_str());
    let pending = json_of(
        ada.get(&app, "/api/orders?status=CANCELLED")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(pending["items"].as_array().unwrap().is_empty());

    // history: the order.created event
    let history = json_of(
        ada.get(&app, &format!("{location}/history"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(history["items"][0]["type"], "order.created");
    assert!(history["items"][0]["from_status"].is_null());
    assert_eq!(history["items"][0]["to_status"], "PENDING");

    // cancel: stock back, history grows, a second cancel is 409 with from/to
    let cancelled = ada
        .post(&app, &format!("{location}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled = json_of(cancelled).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["allowed_transitions"], json!([]));
    assert_eq!(app.stored_product(widget.id).await.stock_quantity, 10);
    let again = ada
        .post(&app, &format!("{location}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let problem = json_of(again).await;
    assert_eq!(problem["code"], "invalid_transition");
    assert_eq!(problem["from"], "CANCELLED");
    assert_eq!(problem["to"], "CANCELLED");
    let history = json_of(
        ada.get(&app, &format!("{location}/history"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(history["items"][1]["type"], "order.cancelled");
    assert_eq!(history["items"][1]["actor"]["id"], ada.user_id);

    // logout: 204, cookies cleared, the session is gone
    let out = ada.post(&app, "/api/auth/logout").send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = ada.get(&app, "/api/auth/me").send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn insufficient_stock_and_unknown_products_are_reported_per_line() {
    let app = spawn_app().await;
    let scarce = app.product("Scarce", 100, 2).await;
    let plenty = app.product("Plenty", 100, 100).await;
    let customer = app.customer().await;

    let mut body = order_body(plenty.id, 1);
    body["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"product_id": scarce.id, "quantity": 3}));
    let response = customer
        .post(&app, "/api/orders")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "insufficient_stock");
    assert_eq!(problem["errors"][0]["field"], "items[1].quantity");
    assert_eq!(problem["errors"][0]["product_id"], scarce.id);
    assert_eq!(problem["errors"][0]["available"], 2);
    assert_eq!(app.stored_product(plenty.id).await.stock_quantity, 100);
    assert_eq!(app.order_count().await, 0);

    let response = customer
        .post(&app, "/api/orders")
        .json(&order_body(999_999, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "unknown_product");
    assert_eq!(problem["errors"][0]["field"], "items[0].product_id");
    assert_eq!(app.order_count().await, 0);
}

#[tokio::test]
async fn bearer_clients_order_without_csrf_and_payment_outcomes_follow_the_contract() {
    let app = spawn_app().await;
    let product = app.product("Widget", 1000, 10).await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let client = e2e::plain_client();

    let mut paid = order_body(product.id, 1);
    paid["payment"] = json!({"token": "tok_visa"});
    let response = client
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&paid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(response).await;
    assert_eq!(order["status"], "PAID");
    assert_eq!(order["payment_status"], "captured");
    assert_eq!(order["payment_collected"], true);
    assert_eq!(order["allowed_transitions"], json!([]));

    let mut declined = order_body(product.id, 2);
    declined["payment"] = json!({"token": "tok_chargeDeclined"});
    let response = client
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&declined)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "payment_declined");
    let declined_id = problem["order_id"].as_str().unwrap();
    let order = json_of(
        client
            .get(app.url(&format!("/api/orders/{declined_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        app.stored_product(product.id).await.stock_quantity,
        9,
        "declined stock is back"
    );
}
