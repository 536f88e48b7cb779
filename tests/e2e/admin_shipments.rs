//! Shipments over HTTP: partial then complete, the events an owner and an admin see, every
//! refusal of the contract (nothing changes), idempotent retries and admins racing.

use std::collections::HashSet;

use e2e::{Session, TestApp, json_of, order_body, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::realtime::{Ws, next_event, ws_connect};

/// A `PAID` order of `lines` (product, units), placed by a new customer; returns it and the
/// customer's Bearer token.
async fn paid_order(app: &TestApp, lines: &[(i64, i64)]) -> (Value, String) {
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let mut body = order_body(lines[0].0, lines[0].1);
    body["items"] = lines
        .iter()
        .map(|(product_id, quantity)| json!({"product_id": product_id, "quantity": quantity}))
        .collect();
    body["payment"] = json!({"token": "tok_visa"});
    let response = plain_client()
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    (json_of(response).await, token)
}

fn ship(app: &TestApp, admin: &Session, order_id: &str, body: &Value) -> reqwest::RequestBuilder {
    admin
        .post(app, &format!("/api/admin/orders/{order_id}/shipments"))
        .json(body)
}

async fn order_of(app: &TestApp, admin: &Session, id: &str) -> Value {
    json_of(
        admin
            .get(app, &format!("/api/orders/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Reads events until one of `kind` (skipping the history replayed from `since=0`).
async fn until(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let event = next_event(ws).await;
        if event["type"] == kind {
            return event;
        }
    }
}

#[tokio::test]
async fn a_partial_shipment_then_the_rest_fulfil_the_order_and_both_sides_see_it() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let b = app.product("Teapot", 2000, 10).await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    let (order, owner_token) = paid_order(&app, &[(a.id, 3), (b.id, 1)]).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["fulfillment_status"], "unfulfilled");
    assert_eq!(order["shipments"], json!([]));
    assert_eq!(order["refunds"], json!([]));
    assert_eq!(order["refunded_amount"], 0);
    assert_eq!(order["items"][0]["quantity_shipped"], 0);
    let mut owner_ws = ws_connect(&app, &owner_token, Some(0)).await;
    let mut admin_ws = ws_connect(&app, &admin_token, Some(0)).await;

    let first = ship(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 2}], "carrier": "DHL",
                "tracking_number": "JD0001", "note": "first box"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first = json_of(first).await;
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(
        location,
        format!("/api/admin/orders/{id}/shipments/{first_id}")
    );
    assert_eq!(first["order_id"], id);
    assert_eq!(first["items"], json!([{"product_id": a.id, "quantity": 2}]));
    assert_eq!(first["carrier"], "DHL");
    assert_eq!(first["tracking_number"], "JD0001");
    for ws in [&mut owner_ws, &mut admin_ws] {
        let event = until(ws, "order.shipped").await;
        assert_eq!(event["order_id"], id);
        assert_eq!(event["shipment_id"], first_id);
        assert_eq!(event["from_status"], "PAID");
        assert_eq!(event["to_status"], "PAID");
        assert_eq!(event["fulfillment_status"], "partially_fulfilled");
        assert_eq!(event["refunded_amount"], 0);
    }
    let now = order_of(&app, &admin, id).await;
    assert_eq!(now["status"], "PAID");
    assert_eq!(now["fulfillment_status"], "partially_fulfilled");
    assert_eq!(now["items"][0]["quantity_shipped"], 2);
    assert_eq!(now["items"][1]["quantity_shipped"], 0);
    assert_eq!(
        now["tracking"],
        json!({"carrier": "DHL", "tracking_number": "JD0001"})
    );
    assert_eq!(now["shipments"][0]["id"], first_id);
    let got = admin.get(&app, &location).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(json_of(got).await, first);
    // Stock was taken at placement; shipping moves none.
    assert_eq!(app.stored_product(a.id).await.stock_quantity, 7);

    // The rest, without naming it: the order is fulfilled by this shipment.
    let rest = ship(&app, &admin, id, &json!({})).send().await.unwrap();
    assert_eq!(rest.status(), StatusCode::CREATED);
    let rest = json_of(rest).await;
    assert_eq!(
        rest["items"],
        json!([{"product_id": a.id, "quantity": 1}, {"product_id": b.id, "quantity": 1}])
    );
    assert_eq!(rest["carrier"], Value::Null);
    for ws in [&mut owner_ws, &mut admin_ws] {
        let event = until(ws, "order.status_changed").await;
        assert_eq!(event["shipment_id"], rest["id"]);
        assert_eq!(event["from_status"], "PAID");
        assert_eq!(event["to_status"], "FULFILLED");
        assert_eq!(event["fulfillment_status"], "fulfilled");
    }
    let done = order_of(&app, &admin, id).await;
    assert_eq!(done["status"], "FULFILLED");
    assert_eq!(done["fulfillment_status"], "fulfilled");
    assert_eq!(done["shipments"].as_array().unwrap().len(), 2);
    assert_eq!(
        done["tracking"],
        json!({"carrier": "DHL", "tracking_number": "JD0001"})
    );
    let history: Vec<String> = json_of(
        admin
            .get(&app, &format!("/api/orders/{id}/history"))
            .send()
            .await
            .unwrap(),
    )
    .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        history,
        [
            "order.created",
            "order.paid",
            "order.shipped",
            "order.status_changed"
        ]
    );
    // The owner sees the shipments in their own order too (and its list).
    let mine = json_of(
        plain_client()
            .get(app.url("/api/orders"))
            .bearer_auth(&owner_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(mine["items"][0]["shipments"].as_array().unwrap().len(), 2);

    // Nothing more ships from a FULFILLED order.
    let again = ship(&app, &admin, id, &json!({})).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let problem = json_of(again).await;
    assert_eq!(problem["code"], "invalid_transition");
    assert_eq!(problem["from"], "FULFILLED");
    assert_eq!(problem["to"], "FULFILLED");
}

#[tokio::test]
async fn every_refusal_is_a_clear_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let other = app.product("Mug", 500, 10).await;
    let admin = app.admin().await;
    let (order, owner_token) = paid_order(&app, &[(a.id, 2)]).await;
    let id = order["id"].as_str().unwrap();
    let before = order_of(&app, &admin, id).await;

    let bad_bodies = [
        (json!({"items": []}), "items"),
        (
            json!({"items": [{"product_id": a.id, "quantity": 0}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": 0, "quantity": 1}]}),
            "items[0].product_id",
        ),
        (json!({"carrier": "DHL"}), "tracking_number"),
        (json!({"tracking_number": "X1"}), "carrier"),
        (json!({"carrier": "", "tracking_number": "X1"}), "carrier"),
    ];
    for (body, field) in bad_bodies {
        let response = ship(&app, &admin, id, &body).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem = json_of(response).await;
        assert_eq!(problem["code"], "validation_failed", "{body}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    let unknown_field = ship(&app, &admin, id, &json!({"boxes": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // More than open, and a product not in the order: each named, with what is open.
    let over = ship(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 3}, {"product_id": other.id, "quantity": 1}]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let problem = json_of(over).await;
    assert_eq!(problem["code"], "exceeds_open_quantity");
    assert_eq!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (
                e["field"].clone(),
                e["product_id"].clone(),
                e["open"].clone()
            ))
            .collect::<Vec<_>>(),
        [
            (json!("items[0].quantity"), json!(a.id), json!(2)),
            (json!("items[1].quantity"), json!(other.id), json!(0)),
        ]
    );

    // A stale ETag, an unknown order, a customer, an unpaid order.
    let stale = ship(&app, &admin, id, &json!({}))
        .header("If-Match", "\"999\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let missing = ship(&app, &admin, &uuid::Uuid::now_v7().to_string(), &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let by_customer = plain_client()
        .post(app.url(&format!("/api/admin/orders/{id}/shipments")))
        .bearer_auth(&owner_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_customer.status(), StatusCode::FORBIDDEN);
    let customer = app.customer().await;
    let pending = json_of(
        customer
            .post(&app, "/api/orders")
            .json(&order_body(a.id, 1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let unpaid = ship(&app, &admin, pending["id"].as_str().unwrap(), &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unpaid.status(), StatusCode::CONFLICT);
    let problem = json_of(unpaid).await;
    assert_eq!(problem["code"], "invalid_transition");
    assert_eq!(
        (problem["from"].clone(), problem["to"].clone()),
        (json!("PENDING"), json!("FULFILLED"))
    );
    let unknown_shipment = admin
        .get(
            &app,
            &format!("/api/admin/orders/{id}/shipments/{}", uuid::Uuid::now_v7()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_shipment.status(), StatusCode::NOT_FOUND);

    let after = order_of(&app, &admin, id).await;
    assert_eq!(after, before, "nothing changed");
}

#[tokio::test]
async fn the_same_key_twenty_times_at_once_ships_once() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let admin = app.admin().await;
    let (order, _) = paid_order(&app, &[(a.id, 5)]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let body = json!({"items": [{"product_id": a.id, "quantity": 1}]});
    let sends = (0..20).map(|_| {
        ship(&app, &admin, &id, &body)
            .header("Idempotency-Key", "box-1")
            .send()
    });
    let mut shipments = HashSet::new();
    for response in futures_util::future::join_all(sends).await {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => {
                shipments.insert(json_of(response).await["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(json_of(response).await["code"], "idempotency_in_progress");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(shipments.len(), 1, "one shipment, replayed: {shipments:?}");
    let now = order_of(&app, &admin, &id).await;
    assert_eq!(now["items"][0]["quantity_shipped"], 1);
    assert_eq!(now["shipments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admins_racing_never_ship_more_than_is_open() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let admin = app.admin().await;
    let (order, _) = paid_order(&app, &[(a.id, 5)]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let body = json!({"items": [{"product_id": a.id, "quantity": 1}]});
    let sends = (0..12).map(|_| ship(&app, &admin, &id, &body).send());
    let mut created = 0;
    for response in futures_util::future::join_all(sends).await {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let code = json_of(response).await["code"].clone();
                assert!(
                    code == "exceeds_open_quantity" || code == "invalid_transition",
                    "{code}"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 5);
    let now = order_of(&app, &admin, &id).await;
    assert_eq!(now["status"], "FULFILLED");
    assert_eq!(now["items"][0]["quantity_shipped"], 5);
    assert_eq!(now["shipments"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn the_status_route_ships_every_open_unit_and_cancel_is_refused_after_a_shipment() {
    let app = spawn_app().await;
    let a = app.product("Kettle", 1000, 10).await;
    let admin = app.admin().await;
    let (order, _) = paid_order(&app, &[(a.id, 3)]).await;
    let id = order["id"].as_str().unwrap();
    let fulfilled = admin
        .client
        .patch(app.url(&format!("/api/admin/orders/{id}/status")))
        .header("X-CSRF-Token", &admin.csrf)
        .json(&json!({"status": "FULFILLED", "tracking": {"carrier": "UPS", "tracking_number": "1Z9"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(fulfilled.status(), StatusCode::OK);
    let fulfilled = json_of(fulfilled).await;
    assert_eq!(fulfilled["fulfillment_status"], "fulfilled");
    assert_eq!(fulfilled["items"][0]["quantity_shipped"], 3);
    assert_eq!(
        fulfilled["shipments"][0]["items"],
        json!([{"product_id": a.id, "quantity": 3}])
    );
    assert_eq!(fulfilled["shipments"][0]["carrier"], "UPS");

    let (order, _) = paid_order(&app, &[(a.id, 3)]).await;
    let id = order["id"].as_str().unwrap();
    let shipped = ship(
        &app,
        &admin,
        id,
        &json!({"items": [{"product_id": a.id, "quantity": 1}]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(shipped.status(), StatusCode::CREATED);
    let cancel = admin
        .client
        .patch(app.url(&format!("/api/admin/orders/{id}/status")))
        .header("X-CSRF-Token", &admin.csrf)
        .json(&json!({"status": "CANCELLED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::CONFLICT);
    assert_eq!(json_of(cancel).await["code"], "invalid_transition");
    assert_eq!(
        app.stored_product(a.id).await.stock_quantity,
        4,
        "no stock moved"
    );
}
