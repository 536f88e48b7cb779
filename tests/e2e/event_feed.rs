//! The event feed `GET /api/admin/events` over HTTP: consumers looping on `next_since` while 8
//! writers race miss nothing and see nothing twice; filters; 422s; who may read it; `stream.reset`
//! when `since` is older than the oldest stored event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::QueryableByName;
use e2e::{Session, TestApp, json_of, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_support::{get_json, patch, problem};
use crate::realtime::{next_event, place, ws_connect};

async fn set_status(app: &TestApp, admin: &Session, order_id: &str, status: &str) {
    let response = patch(admin, app, &format!("/api/admin/orders/{order_id}/status"))
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{order_id} → {status}");
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// The stored event ids matching `condition` (SQL over `order_events`), ascending.
async fn stored_ids(app: &TestApp, condition: &str) -> Vec<i64> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query(format!(
        "SELECT id FROM order_events WHERE {condition} ORDER BY id"
    ))
    .load::<Id>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.id)
    .collect()
}

/// One page of the feed at `query` (without the leading `?`), checking it is a 200 with the
/// contract's shape and its events in ascending id order.
async fn page(admin: &Session, app: &TestApp, query: &str) -> (Vec<Value>, i64) {
    let (status, body) = get_json(admin, app, &format!("/api/admin/events?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let items = body["items"].as_array().expect("items").clone();
    let next_since = body["next_since"].as_i64().expect("next_since");
    let ids: Vec<i64> = items.iter().filter_map(|i| i["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{query}: {ids:?}");
    (items, next_since)
}

fn ids_of(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect()
}

/// Loops on `next_since` from 0 with `filter` until `done` was set before a page came back empty;
/// every event item it was given, in order.
async fn consume(
    admin: Arc<Session>,
    app: Arc<TestApp>,
    filter: &'static str,
    done: Arc<AtomicBool>,
) -> Vec<Value> {
    let mut since = 0;
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let finished = done.load(Ordering::SeqCst);
        let (items, next_since) = page(&admin, &app, &format!("since={since}&{filter}")).await;
        assert!(
            items.iter().all(|i| i["type"] != "stream.reset"),
            "no reset: nothing was purged"
        );
        if let (Some(last_seen), Some(first)) = (seen.last(), items.first()) {
            assert!(
                first["id"].as_i64() > last_seen["id"].as_i64(),
                "{filter}: {first} after {last_seen}"
            );
        }
        assert!(next_since >= since, "next_since never goes back");
        if let Some(last) = items.last() {
            assert!(next_since >= last["id"].as_i64().unwrap());
        }
        let empty = items.is_empty();
        seen.extend(items);
        since = next_since;
        if empty {
            if finished {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Two consumers (everything; two types) loop on `next_since` while 8 writers on two instances
/// place orders and move them. The test can fail: with the event lock taken out of
/// `append_events` and a random sleep of up to 20 ms put between the events' insert and the
/// commit, it failed 3 runs of 3 (events missed). An earlier version with one instance and one
/// product for every writer (placements and cancellations queue on its row) passed even so: keep
/// the writers apart.
#[tokio::test]
async fn consumers_looping_on_next_since_miss_nothing_under_8_concurrent_writers() {
    let a = spawn_app().await;
    // Two instances, each with its own group commit of placements and of status changes: up to
    // four event-writing transactions in flight at once.
    let b = a.second_instance().await;
    let admin = a.admin().await;
    let mut writers = Vec::new();
    for n in 0..8 {
        // A product each, so placements and cancellations of different writers do not queue on
        // one product row.
        let product = a.product(&format!("Pen {n}"), 100, 1_000).await;
        writers.push((a.customer().await, product.id));
    }
    let a = Arc::new(a);
    let b = Arc::new(b);
    let admin = Arc::new(admin);
    let done = Arc::new(AtomicBool::new(false));

    // Small pages, so the consumers read many while the writers commit.
    let everything = tokio::spawn(consume(admin.clone(), a.clone(), "limit=7", done.clone()));
    let some_types = tokio::spawn(consume(
        admin.clone(),
        b.clone(),
        "type=order.paid&type=order.cancelled&limit=5",
        done.clone(),
    ));
    let writers: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(n, (customer, product_id))| {
            let app = if n % 2 == 0 { a.clone() } else { b.clone() };
            let admin = admin.clone();
            tokio::spawn(async move {
                for round in 0..6 {
                    let id = place(&app, &customer, product_id).await;
                    set_status(&app, &admin, &id, "PAID").await;
                    let last = if round % 3 == 2 {
                        "CANCELLED"
                    } else {
                        "FULFILLED"
                    };
                    set_status(&app, &admin, &id, last).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let everything = everything.await.unwrap();
    let some_types = some_types.await.unwrap();

    let stored = stored_ids(&a, "true").await;
    assert_eq!(stored.len(), 8 * 6 * 3);
    assert_eq!(
        ids_of(&everything),
        stored,
        "every event, once, in id order"
    );
    assert_eq!(
        ids_of(&some_types),
        stored_ids(&a, "type IN ('order.paid', 'order.cancelled')").await
    );
    assert!(
        some_types
            .iter()
            .all(|e| e["type"] == "order.paid" || e["type"] == "order.cancelled")
    );

    // Each item is exactly what the real-time replay sends for that event.
    let token = a.bearer(&admin.email).await;
    let mut ws = ws_connect(&a, &token, Some(0)).await;
    for item in &everything {
        assert_eq!(&next_event(&mut ws).await, item);
    }
}

#[tokio::test]
async fn filters_by_type_and_order_and_pages_by_limit() {
    let app = spawn_app().await;
    let product = app.product("Cup", 300, 100).await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let first = place(&app, &customer, product.id).await;
    let second = place(&app, &customer, product.id).await;
    set_status(&app, &admin, &first, "PAID").await;
    set_status(&app, &admin, &second, "CANCELLED").await;
    set_status(&app, &admin, &first, "FULFILLED").await;
    let all = stored_ids(&app, "true").await;
    assert_eq!(all.len(), 5);

    // Everything, as the real-time JSON.
    let (items, next_since) = page(&admin, &app, "").await;
    assert_eq!(ids_of(&items), all);
    assert_eq!(next_since, all[4]);
    assert_eq!(items[0]["type"], "order.created");
    assert_eq!(items[0]["order_id"], first.as_str());
    assert_eq!(items[0]["user_id"], customer.user_id);
    assert_eq!(items[0]["from_status"], Value::Null);
    assert_eq!(items[0]["to_status"], "PENDING");
    assert_eq!(items[4]["type"], "order.status_changed");

    // One type, two types, a type nothing has (the position still moves to what was read).
    let (items, _) = page(&admin, &app, "type=order.created").await;
    assert_eq!(ids_of(&items), [all[0], all[1]]);
    let (items, _) = page(&admin, &app, "type=order.cancelled&type=order.paid").await;
    assert_eq!(ids_of(&items), [all[2], all[3]]);
    let (items, next_since) = page(&admin, &app, "type=order.refunded").await;
    assert!(items.is_empty());
    assert_eq!(next_since, all[4]);

    // One order (any case), with a type, after a position.
    let upper = first.to_uppercase();
    let (items, next_since) = page(&admin, &app, &format!("order_id={upper}")).await;
    assert_eq!(ids_of(&items), [all[0], all[2], all[4]]);
    assert_eq!(next_since, all[4]);
    let (items, _) = page(
        &admin,
        &app,
        &format!("order_id={second}&type=order.cancelled"),
    )
    .await;
    assert_eq!(ids_of(&items), [all[3]]);
    let (items, _) = page(&admin, &app, &format!("order_id={first}&since={}", all[2])).await;
    assert_eq!(ids_of(&items), [all[4]]);

    // Pages of two: a full page ends at its last event.
    let mut since = 0;
    let mut seen = Vec::new();
    loop {
        let (items, next_since) = page(&admin, &app, &format!("limit=2&since={since}")).await;
        if items.is_empty() {
            assert_eq!(next_since, since);
            break;
        }
        assert!(items.len() <= 2);
        assert_eq!(next_since, items.last().unwrap()["id"].as_i64().unwrap());
        seen.extend(ids_of(&items));
        since = next_since;
    }
    assert_eq!(seen, all);

    // A since in the future reads nothing and comes back to the latest event.
    let (items, next_since) = page(&admin, &app, &format!("since={}", all[4] + 1000)).await;
    assert!(items.is_empty());
    assert_eq!(next_since, all[4]);
    // Empty values count as not given.
    let (items, _) = page(&admin, &app, "since=&type=&order_id=&limit=").await;
    assert_eq!(ids_of(&items), all);
}

#[tokio::test]
async fn bad_parameters_are_422_naming_each() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (query, field) in [
        ("since=-1", "since"),
        ("since=abc", "since"),
        ("since=1.5", "since"),
        ("type=order.unknown", "type"),
        ("type=stream.reset", "type"),
        ("type=order.paid,order.cancelled", "type"),
        ("order_id=12", "order_id"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
    ] {
        let response = admin
            .get(&app, &format!("/api/admin/events?{query}"))
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["code"], "validation_failed", "{query}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let response = admin
        .get(&app, "/api/admin/events?limit=0&since=x&type=y&order_id=z")
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["limit", "since", "type", "order_id"]);
    // The largest page is fine.
    let (items, next_since) = page(&admin, &app, "limit=1000").await;
    assert!(items.is_empty());
    assert_eq!(next_since, 0);
}

#[tokio::test]
async fn customers_are_403_and_strangers_401() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let response = customer
        .get(&app, "/api/admin/events")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    let token = app.bearer(&customer.email).await;
    let response = plain_client()
        .get(app.url("/api/admin/events?since=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = plain_client()
        .get(app.url("/api/admin/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response, StatusCode::UNAUTHORIZED).await["code"],
        "unauthenticated"
    );
    // An admin's Bearer token reads it.
    let admin = app.admin().await;
    let token = app.bearer(&admin.email).await;
    let response = plain_client()
        .get(app.url("/api/admin/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(response).await,
        json!({"items": [], "next_since": 0})
    );
}

#[tokio::test]
async fn a_since_older_than_the_retention_resets_first_then_goes_on() {
    let app = spawn_app().await;
    let product = app.product("Clip", 50, 100).await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    for _ in 0..4 {
        place(&app, &customer, product.id).await;
    }
    let ids = stored_ids(&app, "true").await;
    // The retention job removed the first two events.
    let mut conn = app.pool.get().await.unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM order_events WHERE id <= $1")
            .bind::<diesel::sql_types::BigInt, _>(ids[1]),
        &mut conn,
    )
    .await
    .unwrap();

    let (items, next_since) = page(&admin, &app, &format!("since={}&limit=1", ids[0])).await;
    assert_eq!(items[0], json!({"type": "stream.reset"}));
    assert_eq!(items.len(), 2, "the reset is on top of the limit");
    assert_eq!(items[1]["id"], ids[2]);
    assert_eq!(next_since, ids[2]);
    // The next page goes on without a reset.
    let (items, _) = page(&admin, &app, &format!("since={next_since}")).await;
    assert_eq!(ids_of(&items), [ids[3]]);
    // Just before the oldest stored event nothing was lost: no reset.
    let (items, _) = page(&admin, &app, &format!("since={}", ids[1])).await;
    assert_eq!(ids_of(&items), [ids[2], ids[3]]);
    // From the start, with a filter nothing matches: a reset, and a position that needs no other.
    let (items, next_since) = page(&admin, &app, "since=0&type=order.refunded").await;
    assert_eq!(items, [json!({"type": "stream.reset"})]);
    assert!(next_since >= ids[2] - 1);
    let (items, _) = page(
        &admin,
        &app,
        &format!("since={next_since}&type=order.refunded"),
    )
    .await;
    assert!(items.is_empty(), "no second reset");
}
