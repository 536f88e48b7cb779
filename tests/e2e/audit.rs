//! The audit log and internal notes over HTTP: a scripted session of admin work whose entries
//! are compared in full; notes visible to admins in an order's history and to nobody else (not
//! the customer's history, not the real-time stream); the audit list's filters and pages; the
//! retention purge run by housekeeping.

use std::collections::HashSet;

use diesel_async::RunQueryDsl as _;
use e2e::{Session, TestApp, count, json_of, order_body, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_support::{delete, get_json, patch, problem};
use crate::realtime::{next_event, ws_connect};

/// Every audit entry with an id above `after`, newest first (followed through every page).
async fn entries_after(app: &TestApp, admin: &Session, after: i64) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/admin/audit?limit=200".to_owned(),
            Some(c) => format!("/api/admin/audit?limit=200&cursor={c}"),
        };
        let (status, page) = get_json(admin, app, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for entry in page["items"].as_array().expect("items") {
            if entry["id"].as_i64().expect("id") > after {
                entries.push(entry.clone());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return entries,
        }
    }
}

/// The newest entry's id (0 when there is none).
async fn latest_entry(app: &TestApp, admin: &Session) -> i64 {
    let (status, page) = get_json(admin, app, "/api/admin/audit?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    page["items"][0]["id"].as_i64().unwrap_or(0)
}

/// An entry without its `id` and `occurred_at` (checked apart: an integer, an RFC 3339 time).
fn comparable(entry: &Value) -> Value {
    assert!(entry["id"].is_i64(), "{entry}");
    let occurred_at = entry["occurred_at"].as_str().expect("occurred_at");
    assert!(
        time::OffsetDateTime::parse(occurred_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{occurred_at}"
    );
    let mut entry = entry.clone();
    let object = entry.as_object_mut().expect("an object");
    object.remove("id");
    object.remove("occurred_at");
    entry
}

/// An order of `units` of `product` by a new customer, `PENDING` and unpaid, or paid with
/// `token`; the order and the customer's token.
async fn order_of(
    app: &TestApp,
    product: i64,
    units: i64,
    payment: Option<&str>,
) -> (Value, String) {
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    let mut body = order_body(product, units);
    if let Some(payment) = payment {
        body["payment"] = json!({"token": payment});
    }
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

async fn unpaid_order(app: &TestApp, product: i64, units: i64) -> (Value, String) {
    order_of(app, product, units, None).await
}

#[tokio::test]
async fn a_scripted_session_of_admin_work_is_audited_in_full() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let kettle = app.product("Kettle", 1000, 10).await;
    // One order to mark paid (collected offline), one paid by card to ship and refund.
    let (unpaid, _) = unpaid_order(&app, kettle.id, 1).await;
    let unpaid_id = unpaid["id"].as_str().unwrap().to_owned();
    let (order, _) = order_of(&app, kettle.id, 3, Some("tok_visa")).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    // Whatever was recorded while signing in and setting up, the session's entries come after.
    let before = latest_entry(&app, &admin).await;
    let actor = json!({"id": admin.user_id, "role": "ADMIN"});

    // A product: created, its price changed, archived (and archived again: nothing changes).
    let created = admin
        .post(&app, "/api/admin/products")
        .header("X-Request-Id", "audit-create")
        .json(
            &json!({"name": "Desk Lamp", "description": "Warm light.\nDimmable.",
                      "price": 5400, "stock_quantity": 10, "sku": "LMP-1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let lamp = json_of(created).await["id"].as_i64().unwrap();
    let updated = patch(&admin, &app, &format!("/api/admin/products/{lamp}"))
        .header("X-Request-Id", "audit-price")
        .json(&json!({"price": 5900, "name": "Desk Lamp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    for request_id in ["audit-archive", "audit-archive-again"] {
        let archived = delete(&admin, &app, &format!("/api/admin/products/{lamp}"))
            .header("X-Request-Id", request_id)
            .send()
            .await
            .unwrap();
        assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    }

    // An order marked paid (collected offline); the other: one unit shipped, one refunded
    // before it ships, a note.
    let paid = patch(
        &admin,
        &app,
        &format!("/api/admin/orders/{unpaid_id}/status"),
    )
    .header("X-Request-Id", "audit-paid")
    .json(&json!({"status": "PAID", "note": "paid by bank transfer"}))
    .send()
    .await
    .unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    let shipped = admin
        .post(&app, &format!("/api/admin/orders/{order_id}/shipments"))
        .header("X-Request-Id", "audit-ship")
        .json(&json!({"items": [{"product_id": kettle.id, "quantity": 1}],
                      "carrier": "DHL", "tracking_number": "JD014600003828"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shipped.status(), StatusCode::CREATED);
    let shipment = json_of(shipped).await;
    let refunded = admin
        .post(&app, &format!("/api/admin/orders/{order_id}/refunds"))
        .header("X-Request-Id", "audit-refund")
        .json(
            &json!({"items": [{"product_id": kettle.id, "quantity": 1, "restock": "cancel"}],
                      "reason": "customer changed their mind"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refunded.status(), StatusCode::CREATED);
    let refund = json_of(refunded).await;
    assert_eq!(refund["amount"], 1000);
    let noted = admin
        .post(&app, &format!("/api/admin/orders/{order_id}/notes"))
        .header("X-Request-Id", "audit-note")
        .json(&json!({"note": " Called the customer.\nThey are away until Friday. "}))
        .send()
        .await
        .unwrap();
    assert_eq!(noted.status(), StatusCode::CREATED);

    // Refused writes record nothing: a cancel after a shipment, a bad note, a stale If-Match.
    let refused = patch(
        &admin,
        &app,
        &format!("/api/admin/orders/{order_id}/status"),
    )
    .header("X-Request-Id", "audit-refused-cancel")
    .json(&json!({"status": "CANCELLED"}))
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let refused = admin
        .post(&app, &format!("/api/admin/orders/{order_id}/notes"))
        .header("X-Request-Id", "audit-refused-note")
        .json(&json!({"note": "tab\there"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = patch(&admin, &app, &format!("/api/admin/products/{lamp}"))
        .header("X-Request-Id", "audit-refused-etag")
        .header("If-Match", "\"1\"")
        .json(&json!({"price": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);

    let entries = entries_after(&app, &admin, before).await;
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let got: Vec<Value> = entries.iter().rev().map(comparable).collect();
    let entry = |request_id: &str, action: &str, target: Value, changes: Value| {
        json!({"action": action, "actor": actor, "target": target, "changes": changes,
               "request_id": request_id, "client_ip": "127.0.0.1"})
    };
    let product = json!({"type": "product", "id": lamp});
    let order = json!({"type": "order", "id": order_id});
    let marked = json!({"type": "order", "id": unpaid_id});
    let expected = vec![
        entry(
            "audit-create",
            "product.created",
            product.clone(),
            json!({"name": [null, "Desk Lamp"], "description": [null, "Warm light.\nDimmable."],
                   "price": [null, 5400], "stock_quantity": [null, 10], "sku": [null, "LMP-1"], "image_url": [null, null],
                   "archived": [null, false]}),
        ),
        entry(
            "audit-price",
            "product.updated",
            product.clone(),
            json!({"price": [5400, 5900]}),
        ),
        entry(
            "audit-archive",
            "product.archived",
            product.clone(),
            json!({"archived": [false, true]}),
        ),
        entry(
            "audit-paid",
            "order.status_changed",
            marked,
            json!({"status": ["PENDING", "PAID"], "payment_status": ["unpaid", "captured"]}),
        ),
        entry(
            "audit-ship",
            "order.shipped",
            order.clone(),
            json!({"fulfillment_status": ["unfulfilled", "partially_fulfilled"],
                   "shipment": [null, {"id": shipment["id"],
                                       "items": [{"product_id": kettle.id, "quantity": 1}],
                                       "carrier": "DHL", "tracking_number": "JD014600003828"}]}),
        ),
        entry(
            "audit-refund",
            "order.refunded",
            order.clone(),
            json!({"refund": [null, {"id": refund["id"], "amount": 1000,
                                     "items": [{"product_id": kettle.id, "quantity": 1,
                                                "restock": "cancel"}],
                                     "shipping": false,
                                     "reason": "customer changed their mind"}]}),
        ),
        entry(
            "audit-note",
            "order.note_added",
            order.clone(),
            json!({"note": [null, "Called the customer.\nThey are away until Friday."]}),
        ),
    ];
    assert_eq!(
        got,
        expected,
        "{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

#[tokio::test]
async fn notes_are_shown_to_admins_only_and_never_sent_in_real_time() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let admin_token = app.bearer(&admin.email).await;
    let kettle = app.product("Kettle", 1000, 10).await;
    let (order, owner_token) = unpaid_order(&app, kettle.id, 1).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let notes_path = format!("/api/admin/orders/{id}/notes");
    let events = count(&app.pool, "SELECT count(*) AS n FROM order_events").await;
    let mut owner_ws = ws_connect(&app, &owner_token, Some(0)).await;
    let mut admin_ws = ws_connect(&app, &admin_token, Some(0)).await;

    // 2,000 characters (not bytes), with a CRLF line break.
    let text = format!("Line one.\r\nLine two: {}", "é".repeat(1979));
    assert_eq!(text.chars().count(), 2000);
    let response = admin
        .post(&app, &notes_path)
        .json(&json!({"note": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let note = json_of(response).await;
    assert_eq!(note["note"], text.as_str());
    assert_eq!(note["actor"], json!({"id": admin.user_id, "role": "ADMIN"}));
    assert!(note["id"].is_i64());
    assert!(note["occurred_at"].is_string());
    assert_eq!(note.as_object().unwrap().len(), 4, "{note}");
    // No event: nothing stored, nothing sent.
    assert_eq!(
        count(&app.pool, "SELECT count(*) AS n FROM order_events").await,
        events
    );
    let paid = patch(&admin, &app, &format!("/api/admin/orders/{id}/status"))
        .json(&json!({"status": "PAID"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    for ws in [&mut owner_ws, &mut admin_ws] {
        // Replayed from the start, then live: the order's creation, then its payment, and
        // nothing for the note in between.
        let kinds = [next_event(ws).await, next_event(ws).await];
        assert_eq!(kinds[0]["type"], "order.created", "{kinds:?}");
        assert_eq!(kinds[1]["type"], "order.paid", "{kinds:?}");
    }

    // The admin's history has the note, by id between the creation and the payment.
    let (status, history) = get_json(&admin, &app, &format!("/api/orders/{id}/history")).await;
    assert_eq!(status, StatusCode::OK);
    let items = history["items"].as_array().unwrap();
    let types: Vec<&str> = items.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["order.created", "note", "order.paid"]);
    assert_eq!(
        items[1],
        json!({"id": note["id"], "type": "note", "from_status": null, "to_status": null,
               "actor": {"id": admin.user_id, "role": "ADMIN"}, "note": text,
               "occurred_at": note["occurred_at"]})
    );
    // The owner's has none.
    let owner_history = json_of(
        plain_client()
            .get(app.url(&format!("/api/orders/{id}/history")))
            .bearer_auth(&owner_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let owner_types: Vec<&str> = owner_history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(owner_types, ["order.created", "order.paid"]);
    assert!(!owner_history.to_string().contains("Line one"));

    // Who may not, and what is refused (each changes nothing).
    // (Signed in first: a sign-in may be audited itself.)
    let customer = app.customer().await;
    let notes_before = count(&app.pool, "SELECT count(*) AS n FROM order_notes").await;
    let entries_before = count(&app.pool, "SELECT count(*) AS n FROM audit_log").await;
    let by_customer = customer
        .post(&app, &notes_path)
        .json(&json!({"note": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(by_customer, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    let anonymous = plain_client()
        .post(app.url(&notes_path))
        .json(&json!({"note": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(anonymous, StatusCode::UNAUTHORIZED).await["code"],
        "unauthenticated"
    );
    for path in [
        format!("/api/admin/orders/{}/notes", uuid::Uuid::now_v7()),
        "/api/admin/orders/not-a-uuid/notes".to_owned(),
    ] {
        let missing = admin
            .post(&app, &path)
            .json(&json!({"note": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(missing, StatusCode::NOT_FOUND).await["code"],
            "not_found",
            "{path}"
        );
    }
    for body in [
        json!({"note": ""}),
        json!({"note": "   \n "}),
        json!({"note": "x".repeat(2001)}),
        json!({"note": "tab\there"}),
        json!({"note": "bell\u{7}"}),
        json!({"note": null}),
        json!({}),
        json!({"note": "ok", "pinned": true}),
        json!({"note": 12}),
    ] {
        let bad = admin
            .post(&app, &notes_path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["code"], "validation_failed", "{body}");
    }
    let malformed = admin
        .post(&app, &notes_path)
        .header("Content-Type", "application/json")
        .body("{\"note\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(malformed, StatusCode::BAD_REQUEST).await["code"],
        "malformed_json"
    );
    let not_json = admin
        .post(&app, &notes_path)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        count(&app.pool, "SELECT count(*) AS n FROM order_notes").await,
        notes_before
    );
    assert_eq!(
        count(&app.pool, "SELECT count(*) AS n FROM audit_log").await,
        entries_before
    );
    // A cookie session without its CSRF token is refused too (and adds no note).
    let no_csrf = admin
        .client
        .post(app.url(&notes_path))
        .json(&json!({"note": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(no_csrf, StatusCode::FORBIDDEN).await["code"],
        "csrf_failed"
    );
    assert_eq!(
        count(&app.pool, "SELECT count(*) AS n FROM order_notes").await,
        notes_before
    );
}

#[tokio::test]
async fn the_audit_list_filters_and_pages_over_http() {
    let app = spawn_app().await;
    let ada = app.admin().await;
    let bob = app.admin().await;
    let before = latest_entry(&app, &ada).await;
    // Five products by Ada, their prices changed by Bob.
    let mut products = Vec::new();
    for n in 0..5 {
        let created = ada
            .post(&app, "/api/admin/products")
            .json(
                &json!({"name": format!("Mug {n}"), "price": 100 + n, "stock_quantity": 1,
                          "sku": format!("MUG-{n}")}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        products.push(json_of(created).await["id"].as_i64().unwrap());
    }
    for id in &products {
        let updated = patch(&bob, &app, &format!("/api/admin/products/{id}"))
            .json(&json!({"price": 999}))
            .send()
            .await
            .unwrap();
        assert_eq!(updated.status(), StatusCode::OK);
    }
    let all = entries_after(&app, &ada, before).await;
    assert_eq!(all.len(), 10);
    let ids_of = |entries: &[Value]| -> Vec<i64> {
        entries
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .filter(|id| *id > before)
            .collect()
    };
    let list = async |query: &str| -> Vec<i64> {
        let (status, page) = get_json(&ada, &app, &format!("/api/admin/audit?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["next_cursor"], Value::Null, "{query}: one page");
        ids_of(page["items"].as_array().unwrap())
    };
    let all_ids = ids_of(&all);
    let created_ids: Vec<i64> = all_ids[5..].to_vec();
    let updated_ids: Vec<i64> = all_ids[..5].to_vec();
    assert_eq!(list("action=product.created").await, created_ids);
    assert_eq!(list("action=product.updated").await, updated_ids);
    assert_eq!(
        list(&format!("actor_id={}", bob.user_id)).await,
        updated_ids
    );
    assert_eq!(
        list(&format!("actor_id={}&action=product.created", bob.user_id)).await,
        Vec::<i64>::new()
    );
    let third = products[2];
    assert_eq!(
        list(&format!("target_type=product&target_id={third}")).await,
        [all_ids[2], all_ids[7]]
    );
    assert_eq!(list("target_type=order").await, Vec::<i64>::new());
    // By time: from the third update on (inclusive), and before it (exclusive).
    let at = all[2]["occurred_at"].as_str().unwrap().replace('+', "%2B");
    let from = list(&format!("created_from={at}")).await;
    let to = list(&format!("created_to={at}")).await;
    assert!(from.contains(&all_ids[2]) && !to.contains(&all_ids[2]));
    let mut both: Vec<i64> = from.iter().chain(&to).copied().collect();
    both.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(both, all_ids, "the two halves make the whole, once each");
    // Target ids: numbers for products.
    assert_eq!(
        all[0]["target"],
        json!({"type": "product", "id": products[4]})
    );

    // Pages of three, newest first, nothing repeated or missed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/admin/audit?limit=3".to_owned(),
            Some(c) => format!("/api/admin/audit?limit=3&cursor={c}"),
        };
        let (status, page) = get_json(&ada, &app, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["items"].as_array().unwrap().len() <= 3);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    let seen: Vec<i64> = seen.into_iter().filter(|id| *id > before).collect();
    assert_eq!(seen, all_ids);
    // A filtered page continues with the filter.
    let (_, first) = get_json(
        &ada,
        &app,
        "/api/admin/audit?action=product.updated&limit=2",
    )
    .await;
    let next = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = get_json(
        &ada,
        &app,
        &format!("/api/admin/audit?action=product.updated&limit=2&cursor={next}"),
    )
    .await;
    assert_eq!(
        ids_of(second["items"].as_array().unwrap()),
        updated_ids[2..4]
    );

    // Refusals: every bad value named; forged and foreign cursors; who may not.
    let (_, products_page) = get_json(&ada, &app, "/api/admin/products?limit=1").await;
    let foreign = products_page["next_cursor"].as_str().unwrap().to_owned();
    for (query, fields) in [
        ("action=nope", vec!["action"]),
        (
            "actor_id=x&target_type=Product",
            vec!["actor_id", "target_type"],
        ),
        ("target_type=product&target_id=abc", vec!["target_id"]),
        ("target_type=order&target_id=12", vec!["target_id"]),
        (
            "created_from=yesterday&created_to=2026-11-01",
            vec!["created_from", "created_to"],
        ),
        ("limit=0", vec!["limit"]),
        ("limit=201", vec!["limit"]),
        ("cursor=forged", vec!["cursor"]),
        (&format!("cursor={foreign}"), vec!["cursor"]),
    ] {
        let response = ada
            .get(&app, &format!("/api/admin/audit?{query}"))
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let named: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{query}");
    }
    let customer = app.customer().await;
    let refused = customer.get(&app, "/api/admin/audit").send().await.unwrap();
    assert_eq!(
        problem(refused, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    let anonymous = plain_client()
        .get(app.url("/api/admin/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(anonymous, StatusCode::UNAUTHORIZED).await["code"],
        "unauthenticated"
    );
    let not_allowed = ada
        .post(&app, "/api/admin/audit")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn housekeeping_purges_entries_older_than_the_retention() {
    let app = spawn_app().await;
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO audit_log (occurred_at, action) VALUES \
           (now() - interval '400 days', 'product.updated'), \
           (now() - interval '2 days', 'product.updated')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    // An instance's housekeeping runs as it starts (then every 10 minutes): AUDIT_RETENTION is
    // 365 days by default.
    let _second = app.second_instance().await;
    e2e::eventually(
        "the year-old entry to be purged",
        std::time::Duration::from_secs(10),
        async || {
            let old = count(
                &app.pool,
                "SELECT count(*) AS n FROM audit_log WHERE occurred_at < now() - interval '1 year'",
            )
            .await;
            (old == 0).then_some(())
        },
    )
    .await;
    assert_eq!(
        count(&app.pool, "SELECT count(*) AS n FROM audit_log").await,
        1,
        "the two-day-old entry stays"
    );
    assert_eq!(
        count(&app.pool, "SELECT deleted AS n FROM audit_purges").await,
        1
    );
}
