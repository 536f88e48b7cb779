//! Refunds over HTTP: cancel, return, no_restock, shipping and goodwill refunds with their stock
//! and money, the events an owner and an admin see, a provider that refuses or does not answer
//! (the reconciler settles it), one key twenty times, twenty admins after one unit.

use std::collections::HashSet;
use std::time::Duration;

use e2e::{Session, TestApp, eventually, json_of, order_body, order_of, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::realtime::{Ws, next_event, ws_connect};

/// A `PAID` order of `units` of `product` (paid with `token`); returns it and the owner's token.
async fn paid_order(app: &TestApp, product: i64, units: i64, token: &str) -> (Value, String) {
    let customer = app.customer().await;
    let bearer = app.bearer(&customer.email).await;
    let mut body = order_body(product, units);
    body["payment"] = json!({"token": token});
    let response = plain_client()
        .post(app.url("/api/orders"))
        .bearer_auth(&bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    (json_of(response).await, bearer)
}

fn refund(app: &TestApp, admin: &Session, order_id: &str, body: &Value) -> reqwest::RequestBuilder {
    admin
        .post(app, &format!("/api/admin/orders/{order_id}/refunds"))
        .json(body)
}

fn ship(
    app: &TestApp,
    admin: &Session,
    order_id: &str,
    product: i64,
    units: i64,
) -> reqwest::RequestBuilder {
    admin
        .post(app, &format!("/api/admin/orders/{order_id}/shipments"))
        .json(&json!({"items": [{"product_id": product, "quantity": units}]}))
}

async fn until(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let event = next_event(ws).await;
        if event["type"] == kind {
            return event;
        }
    }
}

#[tokio::test]
async fn cancel_return_no_restock_shipping_and_goodwill_move_stock_and_money_once() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    // 4 × 1000 + 500 shipping (no tax configured): 4500 captured.
    let (order, owner) = paid_order(&app, a.id, 4, "tok_visa").await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["total_amount"], 4500);
    assert_eq!(app.stored_product(a.id).await.stock_quantity, 6);
    let mut owner_ws = ws_connect(&app, &owner, Some(0)).await;
    let mut admin_ws = ws_connect(&app, &admin_token, Some(0)).await;
    assert_eq!(
        ship(&app, &admin, id, a.id, 2)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );

    // An open unit cancelled: it will not ship and goes back to stock.
    let cancel = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "cancel"}],
                "reason": "customer changed their mind"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(cancel.status(), StatusCode::CREATED);
    let cancel = json_of(cancel).await;
    assert_eq!(cancel["status"], "succeeded");
    assert_eq!(cancel["amount"], 1000);
    assert_eq!(cancel["order_id"], id);
    assert_eq!(cancel["reason"], "customer changed their mind");
    assert_eq!(app.stored_product(a.id).await.stock_quantity, 7);
    for ws in [&mut owner_ws, &mut admin_ws] {
        let event = until(ws, "order.refunded").await;
        assert_eq!(event["refund_id"], cancel["id"]);
        assert_eq!(event["amount"], 1000);
        assert_eq!(event["refunded_amount"], 1000);
        assert_eq!(event["payment_status"], "partially_refunded");
        assert_eq!(
            (event["from_status"].clone(), event["to_status"].clone()),
            (json!("PAID"), json!("PAID"))
        );
    }

    // A shipped unit that came back: back to stock. One that did not: no stock.
    let back = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "return"}], "reason": "broken"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(back.status(), StatusCode::CREATED);
    assert_eq!(app.stored_product(a.id).await.stock_quantity, 8);
    let kept = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "no_restock"}], "reason": "lost"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(kept.status(), StatusCode::CREATED);
    assert_eq!(
        app.stored_product(a.id).await.stock_quantity,
        8,
        "no_restock moves no stock"
    );
    // Both shipped units are refunded now: none is left to return.
    let over = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "return"}], "reason": "again"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let problem = json_of(over).await;
    assert_eq!(problem["code"], "exceeds_refundable_quantity");
    assert_eq!(problem["errors"][0]["field"], "items[0].quantity");
    assert_eq!(problem["errors"][0]["product_id"], a.id);
    assert_eq!(problem["errors"][0]["refundable"], 0);

    // The shipping, once; a goodwill amount; then more than remains.
    let shipping = refund(
        &app,
        &admin,
        id,
        &json!({"shipping": true, "reason": "late"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(shipping.status(), StatusCode::CREATED);
    assert_eq!(json_of(shipping).await["amount"], 500);
    let again = refund(
        &app,
        &admin,
        id,
        &json!({"shipping": true, "reason": "late"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(json_of(again).await["errors"][0]["field"], "shipping");
    let goodwill = refund(&app, &admin, id, &json!({"amount": 250, "reason": "sorry"}))
        .send()
        .await
        .unwrap();
    assert_eq!(goodwill.status(), StatusCode::CREATED);
    // 4500 − 1000 − 1000 − 1000 − 500 − 250 = 750 remain.
    let too_much = refund(&app, &admin, id, &json!({"amount": 751, "reason": "sorry"}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_much.status(), StatusCode::CONFLICT);
    let problem = json_of(too_much).await;
    assert_eq!(problem["code"], "exceeds_captured_amount");
    assert_eq!(problem["remaining"], 750);

    let now = order_of(&app, &admin_token, id).await;
    assert_eq!(now["refunded_amount"], 3750);
    assert_eq!(now["payment_status"], "partially_refunded");
    assert_eq!(now["items"][0]["quantity_shipped"], 2);
    assert_eq!(now["items"][0]["quantity_cancelled"], 1);
    assert_eq!(now["items"][0]["quantity_returned"], 2);
    assert_eq!(now["refunds"].as_array().unwrap().len(), 5);
    assert_eq!(now["refunds"][0]["reason"], "customer changed their mind");
    // The owner sees the refunds, not the reasons.
    let mine = order_of(&app, &owner, id).await;
    assert_eq!(mine["refunds"].as_array().unwrap().len(), 5);
    assert!(
        mine["refunds"][0].get("reason").is_none(),
        "{}",
        mine["refunds"][0]
    );

    // The last open unit cancelled completes the order: PAID → FULFILLED by a refund. The rest of
    // the money then refunds it in full.
    let last = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "cancel"}], "reason": "out of stock"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(last.status(), StatusCode::CREATED);
    let event = until(&mut admin_ws, "order.status_changed").await;
    assert_eq!(event["to_status"], "FULFILLED");
    let done = order_of(&app, &admin_token, id).await;
    assert_eq!(done["status"], "FULFILLED");
    assert_eq!(done["fulfillment_status"], "fulfilled");
    assert_eq!(done["refunded_amount"], 4500, "capped at what remained");
    assert_eq!(done["payment_status"], "refunded");
    let closed = refund(&app, &admin, id, &json!({"amount": 1, "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::CONFLICT);
    assert_eq!(json_of(closed).await["code"], "not_refundable");
}

#[tokio::test]
async fn a_refused_refund_is_409_and_changes_nothing_and_an_unanswered_one_is_settled_later() {
    let app = spawn_app().await; // payment timeout 500 ms
    let a = app.product("Kettle", 1000, 10).await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;

    let (order, _) = paid_order(&app, a.id, 2, "tok_refund_fails").await;
    let id = order["id"].as_str().unwrap();
    let refused = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "cancel"}], "reason": "r"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let problem = json_of(refused).await;
    assert_eq!(problem["code"], "refund_failed");
    let now = order_of(&app, &admin_token, id).await;
    assert_eq!(now["refunded_amount"], 0);
    assert_eq!(now["payment_status"], "captured");
    assert_eq!(now["items"][0]["quantity_cancelled"], 0);
    assert_eq!(now["refunds"][0]["status"], "failed");
    assert_eq!(now["refunds"][0]["id"], problem["refund_id"]);
    assert_eq!(
        app.stored_product(a.id).await.stock_quantity,
        8,
        "no stock moved"
    );

    let (order, _) = paid_order(&app, a.id, 2, "tok_refund_timeout").await;
    let id = order["id"].as_str().unwrap().to_owned();
    let pending = refund(
        &app,
        &admin,
        &id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "cancel"}], "reason": "r"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(pending.status(), StatusCode::ACCEPTED);
    let pending = json_of(pending).await;
    assert_eq!(pending["status"], "pending");
    // Nothing moved yet: the units are held, not refunded.
    let held = order_of(&app, &admin_token, &id).await;
    assert_eq!(held["refunded_amount"], 0);
    assert_eq!(held["items"][0]["quantity_cancelled"], 0);
    // The server's reconciler asks the provider once the payment timeout has passed.
    let settled = eventually(
        "the pending refund settled",
        Duration::from_secs(15),
        async || {
            let order = order_of(&app, &admin_token, &id).await;
            (order["refunds"][0]["status"] == "succeeded").then_some(order)
        },
    )
    .await;
    assert_eq!(settled["refunded_amount"], 1000);
    assert_eq!(settled["items"][0]["quantity_cancelled"], 1);
    assert_eq!(
        app.stored_product(a.id).await.stock_quantity,
        7,
        "one unit back, once"
    );
}

#[tokio::test]
async fn one_key_twenty_times_refunds_once_and_twenty_admins_after_one_unit_get_it_once() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 100).await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    let (order, _) = paid_order(&app, a.id, 3, "tok_visa").await;
    let id = order["id"].as_str().unwrap().to_owned();
    let body =
        json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "cancel"}], "reason": "r"});
    let sends = (0..20).map(|_| {
        refund(&app, &admin, &id, &body)
            .header("Idempotency-Key", "refund-1")
            .send()
    });
    let mut refunds = HashSet::new();
    for response in futures_util::future::join_all(sends).await {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => {
                refunds.insert(json_of(response).await["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(json_of(response).await["code"], "idempotency_in_progress");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let now = order_of(&app, &admin_token, &id).await;
    assert_eq!(now["refunded_amount"], 1000);
    assert_eq!(now["items"][0]["quantity_cancelled"], 1);

    // Two units are left open: twenty admins race for them one at a time.
    let sends = (0..20).map(|_| refund(&app, &admin, &id, &body).send());
    let mut created = 0;
    for response in futures_util::future::join_all(sends).await {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_eq!(
                    json_of(response).await["code"],
                    "exceeds_refundable_quantity"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 2);
    let now = order_of(&app, &admin_token, &id).await;
    assert_eq!(now["items"][0]["quantity_cancelled"], 3);
    assert_eq!(
        app.stored_product(a.id).await.stock_quantity,
        100,
        "each unit back once"
    );
}

#[tokio::test]
async fn bad_refund_requests_are_422_or_409_and_change_nothing() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    let (order, _) = paid_order(&app, a.id, 2, "tok_visa").await;
    let id = order["id"].as_str().unwrap();
    let before = order_of(&app, &admin_token, id).await;
    let line = |restock: &str, quantity: i64| json!([{"product_id": a.id, "quantity": quantity, "restock": restock}]);
    let bad = [
        (json!({"reason": "r"}), "items"),
        (json!({"shipping": false, "reason": "r"}), "items"),
        (
            json!({"items": line("cancel", 1), "amount": 5, "reason": "r"}),
            "amount",
        ),
        (json!({"amount": 0, "reason": "r"}), "amount"),
        (
            json!({"items": line("lost", 1), "reason": "r"}),
            "items[0].restock",
        ),
        (
            json!({"items": line("cancel", 0), "reason": "r"}),
            "items[0].quantity",
        ),
        (json!({"items": line("cancel", 1), "reason": ""}), "reason"),
        (json!({"items": [], "reason": "r"}), "items"),
    ];
    for (body, field) in bad {
        let response = refund(&app, &admin, id, &body).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem = json_of(response).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    // A shipped-unit refund of units that never shipped, and a product not in the order.
    let other = app.product("Mug", 100, 10).await;
    let over = refund(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1, "restock": "return"},
                          {"product_id": other.id, "quantity": 1, "restock": "cancel"}],
                "reason": "r"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let problem = json_of(over).await;
    assert_eq!(problem["code"], "exceeds_refundable_quantity");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
    let stale = refund(&app, &admin, id, &json!({"amount": 1, "reason": "r"}))
        .header("If-Match", "\"999\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let customer = app.customer().await;
    let unpaid = json_of(
        customer
            .post(&app, "/api/orders")
            .json(&order_body(a.id, 1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let not_paid = refund(
        &app,
        &admin,
        unpaid["id"].as_str().unwrap(),
        &json!({"amount": 1, "reason": "r"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(not_paid.status(), StatusCode::CONFLICT);
    assert_eq!(json_of(not_paid).await["code"], "not_refundable");
    assert_eq!(
        order_of(&app, &admin_token, id).await,
        before,
        "nothing changed"
    );
}
