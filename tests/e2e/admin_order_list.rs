//! `GET /api/admin/orders`: every filter alone and combined, keyset pages over equal timestamps,
//! and bad parameters.

use e2e::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::admin_support::{OrderSpec, all_pages, get_json, ids, insert_order};

/// An order of the world and what the filters look at.
struct Row {
    id: String,
    user_id: i64,
    email: String,
    status: &'static str,
    total: i64,
    created_at: OffsetDateTime,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// What a query must return: the rows passing `keep`, newest first.
fn expected(rows: &[Row], keep: impl Fn(&Row) -> bool) -> Vec<String> {
    let mut kept: Vec<&Row> = rows.iter().filter(|r| keep(r)).collect();
    kept.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    kept.iter().map(|r| r.id.clone()).collect()
}

async fn world(app: &TestApp) -> Vec<Row> {
    let alice = app.customer().await;
    let bob = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    let t0 = datetime!(2026-01-01 0:00 UTC);
    let plan = [
        (&alice, "PENDING", 500, 1),
        (&alice, "PAID", 1500, 2),
        (&bob, "FULFILLED", 2500, 3),
        (&bob, "CANCELLED", 3500, 4),
        (&alice, "FULFILLED", 4500, 5),
        (&bob, "PAID", 5500, 6),
        (&alice, "CANCELLED", 2500, 7),
        (&bob, "PENDING", 1500, 8),
    ];
    let mut rows = Vec::new();
    for (who, status, total, hours) in plan {
        let created_at = t0 + Duration::hours(hours);
        let spec = OrderSpec {
            status,
            total,
            ..OrderSpec::new(who.user_id, product.id, created_at)
        };
        let id = insert_order(app, &spec).await;
        rows.push(Row {
            id: id.to_string(),
            user_id: who.user_id,
            email: who.email.clone(),
            status,
            total,
            created_at,
        });
    }
    rows
}

#[tokio::test]
async fn each_filter_alone_and_combined() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let rows = world(&app).await;
    let alice = rows[0].user_id;
    let alice_email = rows[0].email.clone();
    let bob_email = rows[2].email.clone();
    let t = |h: i64| datetime!(2026-01-01 0:00 UTC) + Duration::hours(h);

    type Keep = Box<dyn Fn(&Row) -> bool>;
    let cases: Vec<(String, Keep)> = vec![
        (String::new(), Box::new(|_| true)),
        ("status=PAID".into(), Box::new(|r| r.status == "PAID")),
        (
            "status=PAID&status=FULFILLED".into(),
            Box::new(|r| r.status == "PAID" || r.status == "FULFILLED"),
        ),
        (
            "status=cancelled".into(),
            Box::new(|r| r.status == "CANCELLED"),
        ),
        (
            format!("user_id={alice}"),
            Box::new(move |r| r.user_id == alice),
        ),
        (
            format!("email={}", alice_email.to_uppercase()),
            Box::new({
                let e = alice_email.clone();
                move |r| r.email == e
            }),
        ),
        ("email=nobody@example.com".into(), Box::new(|_| false)),
        (
            format!("created_from={}", rfc3339(t(2))),
            Box::new(move |r| r.created_at >= t(2)),
        ),
        (
            format!("created_to={}", rfc3339(t(2))),
            Box::new(move |r| r.created_at < t(2)),
        ),
        (
            // the same instant written with an offset, `+` percent-encoded
            "created_from=2026-01-01T05:00:00%2B02:00&created_to=2026-01-01T06:00:00Z".into(),
            Box::new(move |r| r.created_at >= t(3) && r.created_at < t(6)),
        ),
        ("min_total=2500".into(), Box::new(|r| r.total >= 2500)),
        ("max_total=2500".into(), Box::new(|r| r.total <= 2500)),
        (
            "min_total=1500&max_total=4500".into(),
            Box::new(|r| (1500..=4500).contains(&r.total)),
        ),
        (
            format!(
                "status=FULFILLED&status=PAID&status=CANCELLED&email={bob_email}&created_from={}&max_total=5000",
                rfc3339(t(3))
            ),
            Box::new({
                let e = bob_email.clone();
                move |r| {
                    ["FULFILLED", "PAID", "CANCELLED"].contains(&r.status)
                        && r.email == e
                        && r.created_at >= t(3)
                        && r.total <= 5000
                }
            }),
        ),
        (
            format!(
                "user_id={alice}&min_total=1000&created_to={}&status=PAID&status=PENDING",
                rfc3339(t(8))
            ),
            Box::new(move |r| {
                r.user_id == alice
                    && r.total >= 1000
                    && r.created_at < t(8)
                    && (r.status == "PAID" || r.status == "PENDING")
            }),
        ),
        // an empty value is no filter
        ("status=&email=".into(), Box::new(|_| true)),
    ];
    for (query, keep) in cases {
        let want = expected(&rows, keep);
        let (status, page) = get_json(&admin, &app, &format!("/api/admin/orders?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), want, "{query}");
        assert_eq!(page["next_cursor"], Value::Null, "{query}");
    }
}

#[tokio::test]
async fn items_are_full_orders_with_the_admins_transitions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let rows = world(&app).await;
    let (status, page) = get_json(&admin, &app, "/api/admin/orders?status=PAID&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    let order = &page["items"][0];
    assert_eq!(order["id"], rows[5].id.as_str());
    assert_eq!(order["user_id"], rows[5].user_id);
    assert_eq!(order["total_amount"], 5500);
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["items"][0]["quantity"], 1);
    assert_eq!(order["shipping_address"]["city"], "London");
    assert_eq!(
        order["allowed_transitions"],
        serde_json::json!(["FULFILLED", "CANCELLED"])
    );
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn pages_over_equal_timestamps_visit_every_order_exactly_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    let same = datetime!(2026-03-01 12:00:00.123456 UTC);
    let mut made: Vec<(OffsetDateTime, Uuid, &str)> = Vec::new();
    for i in 0..31 {
        // 25 orders at one instant, the others around it
        let created_at = match i {
            0..25 => same,
            25..28 => same + Duration::microseconds(1 + i),
            _ => same - Duration::seconds(i),
        };
        let status = if i % 3 == 0 { "FULFILLED" } else { "PAID" };
        let spec = OrderSpec {
            status,
            ..OrderSpec::new(customer.user_id, product.id, created_at)
        };
        made.push((created_at, insert_order(&app, &spec).await, status));
    }
    made.sort_by_key(|m| std::cmp::Reverse((m.0, m.1)));
    for limit in [1, 4, 7, 25, 200] {
        let seen = all_pages(&admin, &app, &format!("/api/admin/orders?limit={limit}")).await;
        let want: Vec<String> = made.iter().map(|m| m.1.to_string()).collect();
        assert_eq!(seen, want, "limit {limit}");
    }
    let seen = all_pages(&admin, &app, "/api/admin/orders?status=PAID&limit=3").await;
    let want: Vec<String> = made
        .iter()
        .filter(|m| m.2 == "PAID")
        .map(|m| m.1.to_string())
        .collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    for h in 0..3 {
        let at = datetime!(2026-01-01 0:00 UTC) + Duration::hours(h);
        insert_order(&app, &OrderSpec::new(customer.user_id, product.id, at)).await;
    }
    // a cursor of the customer's own list is refused by the admin list
    let (_, mine) = get_json(&customer, &app, "/api/orders?limit=1").await;
    let foreign = mine["next_cursor"].as_str().expect("a cursor").to_owned();
    let (_, first) = get_json(&admin, &app, "/api/admin/orders?limit=1").await;
    let good = first["next_cursor"].as_str().expect("a cursor").to_owned();
    let mut tampered = good.clone();
    tampered.replace_range(2..3, if &good[2..3] == "A" { "B" } else { "A" });
    let cases = [
        ("status=SHIPPED", "status"),
        ("user_id=abc", "user_id"),
        ("created_from=2026-01-01", "created_from"),
        ("created_to=yesterday", "created_to"),
        ("min_total=-5", "min_total"),
        ("max_total=1e3", "max_total"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        (&format!("cursor={foreign}"), "cursor"),
        (&format!("cursor={tampered}"), "cursor"),
    ];
    for (query, field) in cases {
        let response = admin
            .get(&app, &format!("/api/admin/orders?{query}"))
            .send()
            .await
            .expect("request");
        let body = crate::admin_support::problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["code"], "validation_failed", "{query}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let (status, _) = get_json(
        &admin,
        &app,
        &format!("/api/admin/orders?limit=1&cursor={good}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
