//! `/api/admin/stats/sales` and `/api/admin/stats/summary`: the figures after placement, payment,
//! shipment, refund and cancellation; zones, intervals and refusals; and the rollups equal a
//! recount from the orders (also after the demo seed and the bulk generator: `admin_seed`).

use e2e::{Session, TestApp, count, json_of, order_body, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};

use crate::admin_support::{get_json, patch, problem};

/// The rollups, slots summed, against the same figures counted from `orders` and
/// `order_items`: the number of rows that differ (0 when they agree).
pub async fn rollup_mismatches(app: &TestApp) -> i64 {
    let hourly = count(
        &app.pool,
        "WITH r AS ( \
           SELECT date_trunc('hour', o.created_at, 'UTC') AS hour, count(*)::bigint AS orders, \
                  count(*) FILTER (WHERE o.payment_collected)::bigint AS paid_orders, \
                  coalesce(sum(u.units) FILTER (WHERE o.payment_collected), 0)::bigint AS units, \
                  coalesce(sum(o.total_amount) FILTER (WHERE o.payment_collected), 0)::bigint \
                      AS gross, \
                  coalesce(sum(o.refunded_amount) FILTER (WHERE o.payment_collected), 0)::bigint \
                      AS refunded \
             FROM orders o \
             LEFT JOIN (SELECT order_id, sum(quantity) AS units FROM order_items \
                         GROUP BY order_id) u ON u.order_id = o.id \
            GROUP BY 1), \
         h AS ( \
           SELECT hour, sum(orders)::bigint AS orders, sum(paid_orders)::bigint AS paid_orders, \
                  sum(units)::bigint AS units, sum(gross)::bigint AS gross, \
                  sum(refunded)::bigint AS refunded \
             FROM order_stats_hourly GROUP BY hour \
           HAVING (sum(orders), sum(paid_orders), sum(units), sum(gross), sum(refunded)) \
                  <> (0, 0, 0, 0, 0)) \
         SELECT count(*) AS n FROM ( \
           (SELECT * FROM r EXCEPT SELECT * FROM h) \
           UNION ALL (SELECT * FROM h EXCEPT SELECT * FROM r)) x",
    )
    .await;
    let counters = count(
        &app.pool,
        "SELECT CASE WHEN \
           (SELECT (coalesce(sum(pending), 0)::bigint, coalesce(sum(paid), 0)::bigint, \
                    coalesce(sum(fulfilled), 0)::bigint, coalesce(sum(cancelled), 0)::bigint, \
                    coalesce(sum(awaiting_payment), 0)::bigint, \
                    coalesce(sum(units_to_ship), 0)::bigint) \
              FROM order_stats_counters) \
           IS DISTINCT FROM \
           (SELECT (count(*) FILTER (WHERE status = 'PENDING'), \
                    count(*) FILTER (WHERE status = 'PAID'), \
                    count(*) FILTER (WHERE status = 'FULFILLED'), \
                    count(*) FILTER (WHERE status = 'CANCELLED'), \
                    count(*) FILTER (WHERE status = 'PENDING' \
                                       AND payment_status IN ('unpaid', 'failed')), \
                    (SELECT coalesce(sum(i.quantity - i.quantity_shipped \
                                         - i.quantity_cancelled), 0)::bigint \
                       FROM order_items i JOIN orders p ON p.id = i.order_id \
                      WHERE p.status = 'PAID')) \
              FROM orders) \
         THEN 1 ELSE 0 END::bigint AS n",
    )
    .await;
    hourly + counters
}

async fn summary(app: &TestApp, admin: &Session) -> Value {
    let (status, body) = get_json(admin, app, "/api/admin/stats/summary").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn sales(app: &TestApp, admin: &Session, query: &str) -> Value {
    let (status, body) = get_json(admin, app, &format!("/api/admin/stats/sales?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

async fn place(app: &TestApp, customer: &Session, body: Value) -> String {
    let response = customer
        .post(app, "/api/orders")
        .json(&body)
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn paid(product_id: i64, quantity: i64) -> Value {
    let mut body = order_body(product_id, quantity);
    body["payment"] = json!({"token": "tok_visa"});
    body
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("format")
}

/// `today`'s figures as the totals of a sales report of the current UTC day.
fn figures(sales: &Value) -> Value {
    let t = &sales["totals"];
    json!([
        t["orders"],
        t["paid_orders"],
        t["units"],
        t["gross"],
        t["refunded"],
        t["net"]
    ])
}

#[tokio::test]
async fn figures_follow_placement_payment_shipment_refund_and_cancellation() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let lamp = app.product("Lamp", 1000, 50).await;
    let mug = app.product("Mug", 500, 50).await;
    let day = OffsetDateTime::now_utc().replace_time(Time::MIDNIGHT);
    let today = format!(
        "created_from={}&created_to={}",
        rfc3339(day),
        rfc3339(day + Duration::days(1))
    );

    let empty = summary(&app, &admin).await;
    assert_eq!(
        empty,
        json!({"orders_by_status": {"PENDING": 0, "PAID": 0, "FULFILLED": 0, "CANCELLED": 0},
               "awaiting_payment": 0, "units_to_ship": 0, "failed_webhook_deliveries": 0,
               "today": {"orders": 0, "net": 0}})
    );

    // placement and payment: A paid (2 lamps: 2000 + 500 shipping), B unpaid, C paid (3 mugs)
    let a = place(&app, &customer, paid(lamp.id, 2)).await;
    let b = place(&app, &customer, order_body(mug.id, 1)).await;
    let c = place(&app, &customer, paid(mug.id, 3)).await;
    let s = summary(&app, &admin).await;
    assert_eq!(
        s["orders_by_status"],
        json!({"PENDING": 1, "PAID": 2, "FULFILLED": 0, "CANCELLED": 0})
    );
    assert_eq!(s["awaiting_payment"], 1);
    assert_eq!(s["units_to_ship"], 5);
    assert_eq!(s["today"], json!({"orders": 3, "net": 4500}));
    let report = sales(&app, &admin, &today).await;
    assert_eq!(report["items"].as_array().expect("items").len(), 1);
    assert_eq!(
        report["items"][0]["period_start"],
        rfc3339(day).replace("+00:00", "Z")
    );
    assert_eq!(figures(&report), json!([3, 2, 5, 4500, 0, 4500]));
    assert_eq!(report["items"][0]["net"], 4500);
    assert_eq!(rollup_mismatches(&app).await, 0);

    // shipment: A ships and is fulfilled
    let response = admin
        .post(&app, &format!("/api/admin/orders/{a}/shipments"))
        .json(&json!({}))
        .send()
        .await
        .expect("ship");
    assert_eq!(response.status(), StatusCode::CREATED);
    let s = summary(&app, &admin).await;
    assert_eq!(
        s["orders_by_status"],
        json!({"PENDING": 1, "PAID": 1, "FULFILLED": 1, "CANCELLED": 0})
    );
    assert_eq!(s["units_to_ship"], 3);
    assert_eq!(rollup_mismatches(&app).await, 0);

    // refund: one of C's mugs before it ships (500)
    let response = admin
        .post(&app, &format!("/api/admin/orders/{c}/refunds"))
        .json(
            &json!({"items": [{"product_id": mug.id, "quantity": 1, "restock": "cancel"}],
                      "reason": "broken"}),
        )
        .send()
        .await
        .expect("refund");
    assert_eq!(response.status(), StatusCode::CREATED);
    let s = summary(&app, &admin).await;
    assert_eq!(s["units_to_ship"], 2);
    assert_eq!(s["today"], json!({"orders": 3, "net": 4000}));
    let report = sales(&app, &admin, &today).await;
    assert_eq!(figures(&report), json!([3, 2, 5, 4500, 500, 4000]));
    assert_eq!(rollup_mismatches(&app).await, 0);

    // cancellations: the customer's unpaid B; the admin's paid C (refunded in full)
    let response = customer
        .post(&app, &format!("/api/orders/{b}/cancel"))
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), StatusCode::OK);
    let response = patch(&admin, &app, &format!("/api/admin/orders/{c}/status"))
        .json(&json!({"status": "CANCELLED"}))
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), StatusCode::OK);
    let s = summary(&app, &admin).await;
    assert_eq!(
        s,
        json!({"orders_by_status": {"PENDING": 0, "PAID": 0, "FULFILLED": 1, "CANCELLED": 2},
               "awaiting_payment": 0, "units_to_ship": 0, "failed_webhook_deliveries": 0,
               "today": {"orders": 3, "net": 2500}})
    );
    let report = sales(&app, &admin, &today).await;
    assert_eq!(figures(&report), json!([3, 2, 5, 4500, 2000, 2500]));
    assert_eq!(rollup_mismatches(&app).await, 0);

    // the same figures by hour, in a whole-hour zone and in a half-hour one (read from the orders)
    for query in [
        format!("{today}&interval=hour"),
        format!("{today}&interval=hour&tz=America/New_York"),
        format!("{today}&interval=hour&tz=Asia/Kolkata"),
        format!("{today}&interval=day&tz=Asia/Kathmandu"),
        "interval=day".to_owned(),
        "tz=Europe/London".to_owned(),
    ] {
        let report = sales(&app, &admin, &query).await;
        assert_eq!(
            figures(&report),
            json!([3, 2, 5, 4500, 2000, 2500]),
            "{query}"
        );
        let items = report["items"].as_array().expect("items");
        let placed: Vec<&Value> = items.iter().filter(|i| i["orders"] != 0).collect();
        assert!(!placed.is_empty(), "{query}");
        for pair in items.windows(2) {
            assert!(
                pair[0]["period_start"].as_str() < pair[1]["period_start"].as_str(),
                "{query}: oldest first"
            );
        }
    }
    // by hour over the UTC day: 24 buckets, zeros where nothing happened
    let hourly = sales(&app, &admin, &format!("{today}&interval=hour")).await;
    assert_eq!(hourly["items"].as_array().expect("items").len(), 24);
    // the default range: the 30 days up to now, by day (31 buckets, the first partly covered)
    let default = sales(&app, &admin, "").await;
    assert_eq!(default["items"].as_array().expect("items").len(), 31);

    // a failed webhook delivery is counted
    let mut conn = app.pool.get().await.expect("connection");
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(
        "WITH e AS (INSERT INTO webhook_endpoints (id, url, event_types, secret, after_event_id) \
                    VALUES (gen_random_uuid(), 'https://example.com/hook', ARRAY['*'], 'whsec_x', 0) \
                    RETURNING id) \
         INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, status, \
                                         attempts) \
         SELECT gen_random_uuid(), e.id, g, 'order.paid', '{}', \
                CASE WHEN g = 1 THEN 'succeeded' ELSE 'failed' END, 8 \
           FROM e, generate_series(1, 3) g",
    )
    .execute(&mut conn)
    .await
    .expect("deliveries");
    assert_eq!(summary(&app, &admin).await["failed_webhook_deliveries"], 2);
}

#[tokio::test]
async fn orders_of_other_days_land_in_their_own_buckets() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let lamp = app.product("Lamp", 1000, 50).await;
    let a = place(&app, &customer, paid(lamp.id, 1)).await;
    let b = place(&app, &customer, paid(lamp.id, 2)).await;
    // move A back to 23:30 UTC two days ago, and B to 00:15 UTC yesterday: London's and UTC's
    // days agree in December; Kolkata's day starts at 18:30 UTC, so both fall on the same
    // local day there
    let midnight = OffsetDateTime::now_utc().replace_time(Time::MIDNIGHT);
    let mut conn = app.pool.get().await.expect("connection");
    use diesel_async::RunQueryDsl as _;
    for (id, at) in [
        (&a, midnight - Duration::days(1) - Duration::minutes(30)),
        (&b, midnight - Duration::days(1) + Duration::minutes(15)),
    ] {
        diesel::sql_query(format!(
            "UPDATE orders SET created_at = '{}' WHERE id = '{id}'",
            rfc3339(at)
        ))
        .execute(&mut conn)
        .await
        .expect("move");
    }
    assert_eq!(rollup_mismatches(&app).await, 0);
    let range = format!(
        "created_from={}&created_to={}",
        rfc3339(midnight - Duration::days(3)),
        rfc3339(midnight)
    );
    let utc = sales(&app, &admin, &range).await;
    let orders: Vec<i64> = utc["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["orders"].as_i64().expect("orders"))
        .collect();
    assert_eq!(orders, [0, 1, 1]);
    assert_eq!(utc["totals"]["gross"], 1500 + 2500);
    let kolkata = sales(&app, &admin, &format!("{range}&tz=Asia/Kolkata")).await;
    let busy: Vec<i64> = kolkata["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["orders"].as_i64().expect("orders"))
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(busy, [2], "{kolkata}");
    assert_eq!(kolkata["items"][0]["period_start"], {
        let start = midnight - Duration::days(3) - Duration::days(1)
            + Duration::hours(18)
            + Duration::minutes(30);
        rfc3339(start).replace("+00:00", "Z")
    });
}

#[tokio::test]
async fn refusals_and_access() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let now = OffsetDateTime::now_utc();
    for (query, field) in [
        ("interval=week".to_owned(), "interval"),
        ("tz=Mars/Olympus_Mons".to_owned(), "tz"),
        ("tz=../../etc/passwd".to_owned(), "tz"),
        ("created_from=yesterday".to_owned(), "created_from"),
        ("created_to=9999-12-31T23:59:59Z".to_owned(), "created_to"),
        (
            format!("created_from={0}&created_to={0}", rfc3339(now)),
            "created_from",
        ),
        (
            format!(
                "interval=hour&created_from={}&created_to={}",
                rfc3339(now - Duration::hours(401)),
                rfc3339(now)
            ),
            "created_to",
        ),
        (
            format!("created_from={}", rfc3339(now - Duration::days(500))),
            "created_to",
        ),
    ] {
        let response = admin
            .get(&app, &format!("/api/admin/stats/sales?{query}"))
            .send()
            .await
            .expect("sales");
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["code"], "validation_failed", "{query}");
        assert_eq!(body["errors"][0]["field"], field, "{query}");
    }
    // exactly 400 hours are fine
    let start = now.replace_time(Time::from_hms(now.hour(), 0, 0).expect("hour"));
    let report = sales(
        &app,
        &admin,
        &format!(
            "interval=hour&created_from={}&created_to={}",
            rfc3339(start - Duration::hours(400)),
            rfc3339(start)
        ),
    )
    .await;
    assert_eq!(report["items"].as_array().expect("items").len(), 400);

    for path in ["/api/admin/stats/sales", "/api/admin/stats/summary"] {
        let response = plain_client().get(app.url(path)).send().await.expect("get");
        assert_eq!(
            problem(response, StatusCode::UNAUTHORIZED).await["code"],
            "unauthenticated"
        );
        let customer = app.customer().await;
        let response = customer.get(&app, path).send().await.expect("get");
        assert_eq!(
            problem(response, StatusCode::FORBIDDEN).await["code"],
            "forbidden"
        );
    }
}
