//! `PATCH /api/admin/orders/{id}/status`: every allowed and forbidden move, the race of two
//! admins, `If-Match`, and bad requests.

use e2e::{Session, TestApp, json_of, order_body, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::admin_support::{OrderSpec, get_json, insert_order, patch, problem};

const STATUSES: [&str; 4] = ["PENDING", "PAID", "FULFILLED", "CANCELLED"];

fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("PENDING", "PAID")
            | ("PENDING", "CANCELLED")
            | ("PAID", "FULFILLED")
            | ("PAID", "CANCELLED")
    )
}

fn status_path(id: impl std::fmt::Display) -> String {
    format!("/api/admin/orders/{id}/status")
}

/// Places an order over HTTP (paid with `tok_visa` when `pay`); returns its JSON.
async fn place(
    app: &TestApp,
    customer: &Session,
    product_id: i64,
    quantity: i64,
    pay: bool,
) -> Value {
    let mut body = order_body(product_id, quantity);
    if pay {
        body["payment"] = json!({"token": "tok_visa"});
    }
    let response = customer
        .post(app, "/api/orders")
        .json(&body)
        .send()
        .await
        .expect("place");
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "placed (PAID or PENDING)"
    );
    json_of(response).await
}

async fn history_types(app: &TestApp, admin: &Session, id: &str) -> Vec<Value> {
    let (status, body) = get_json(admin, app, &format!("/api/orders/{id}/history")).await;
    assert_eq!(status, StatusCode::OK);
    body["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn every_allowed_and_forbidden_transition() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    for from in STATUSES {
        for to in STATUSES {
            let spec = OrderSpec {
                status: from,
                ..OrderSpec::new(customer.user_id, product.id, OffsetDateTime::now_utc())
            };
            let id = insert_order(&app, &spec).await;
            let mut body = json!({"status": to, "note": format!("{from} to {to}")});
            if to == "FULFILLED" {
                body["tracking"] = json!({"carrier": "DHL", "tracking_number": "JD0123"});
            }
            let response = patch(&admin, &app, &status_path(id))
                .json(&body)
                .send()
                .await
                .expect("patch");
            if !allowed(from, to) {
                let problem = problem(response, StatusCode::CONFLICT).await;
                assert_eq!(problem["code"], "invalid_transition", "{from}→{to}");
                assert_eq!(problem["from"], from);
                assert_eq!(problem["to"], to);
                let (_, order) = get_json(&admin, &app, &format!("/api/orders/{id}")).await;
                assert_eq!(order["status"], from, "a refused move changes nothing");
                continue;
            }
            assert_eq!(response.status(), StatusCode::OK, "{from}→{to}");
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .expect("ETag")
                .to_owned();
            let order = json_of(response).await;
            assert_eq!(order["status"], to);
            match (from, to) {
                ("PENDING", "PAID") => {
                    assert_eq!(order["payment_collected"], true);
                    assert_eq!(order["payment_status"], "captured");
                    assert_eq!(
                        order["allowed_transitions"],
                        json!(["FULFILLED", "CANCELLED"])
                    );
                }
                ("PAID", "CANCELLED") => {
                    assert_eq!(order["payment_status"], "refunded");
                    assert_eq!(order["allowed_transitions"], json!([]));
                }
                ("PAID", "FULFILLED") => {
                    assert_eq!(
                        order["tracking"],
                        json!({"carrier": "DHL", "tracking_number": "JD0123"})
                    );
                }
                _ => {}
            }
            let get = admin
                .get(&app, &format!("/api/orders/{id}"))
                .send()
                .await
                .expect("get");
            assert_eq!(
                get.headers().get("etag").and_then(|v| v.to_str().ok()),
                Some(etag.as_str()),
                "the answer's ETag is the order's"
            );
            let history = history_types(&app, &admin, &id.to_string()).await;
            let last = history.last().expect("an event");
            assert_eq!(last["from_status"], from);
            assert_eq!(last["to_status"], to);
            assert_eq!(last["note"], format!("{from} to {to}"));
            assert_eq!(last["actor"]["id"], admin.user_id);
            assert_eq!(last["actor"]["role"], "ADMIN");
        }
    }
}

#[tokio::test]
async fn two_admins_cancelling_at_once_one_wins_and_stock_comes_back_once() {
    let app = spawn_app().await;
    let first = app.admin().await;
    let second = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Lamp", 2000, 50).await;
    for round in 0..5 {
        let pay = round % 2 == 1;
        let order = place(&app, &customer, product.id, 3, pay).await;
        let id = order["id"].as_str().expect("id").to_owned();
        assert_eq!(app.stored_product(product.id).await.stock_quantity, 47);
        let body = json!({"status": "CANCELLED"});
        let (a, b) = tokio::join!(
            patch(&first, &app, &status_path(&id)).json(&body).send(),
            patch(&second, &app, &status_path(&id)).json(&body).send(),
        );
        let mut statuses = [a.expect("a").status(), b.expect("b").status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
        assert_eq!(
            app.stored_product(product.id).await.stock_quantity,
            50,
            "stock released exactly once (round {round})"
        );
        let cancels = history_types(&app, &first, &id)
            .await
            .iter()
            .filter(|e| e["type"] == "order.cancelled")
            .count();
        assert_eq!(cancels, 1);
    }
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Mug", 500, 10).await;
    let order = place(&app, &customer, product.id, 1, false).await;
    let id = order["id"].as_str().expect("id").to_owned();
    let get = admin
        .get(&app, &format!("/api/orders/{id}"))
        .send()
        .await
        .expect("get");
    let seen = get.headers()["etag"].to_str().expect("etag").to_owned();

    let paid = patch(&admin, &app, &status_path(&id))
        .header("If-Match", &seen)
        .json(&json!({"status": "PAID"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(paid.status(), StatusCode::OK);
    let fresh = paid.headers()["etag"].to_str().expect("etag").to_owned();
    assert_ne!(fresh, seen);

    for stale in [seen.as_str(), "W/\"2\"", "\"999\", \"998\"", "nonsense"] {
        let response = patch(&admin, &app, &status_path(&id))
            .header("If-Match", stale)
            .json(&json!({"status": "FULFILLED"}))
            .send()
            .await
            .expect("patch");
        let body = problem(response, StatusCode::PRECONDITION_FAILED).await;
        assert_eq!(body["code"], "precondition_failed", "{stale}");
    }
    let (_, now) = get_json(&admin, &app, &format!("/api/orders/{id}")).await;
    assert_eq!(now["status"], "PAID");

    let response = patch(&admin, &app, &status_path(&id))
        .header("If-Match", format!("\"1\", {fresh}"))
        .json(&json!({"status": "FULFILLED"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a list holding the current tag matches"
    );
    let response = patch(&admin, &app, &status_path(&id))
        .header("If-Match", "*")
        .json(&json!({"status": "CANCELLED"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "`*` matches; the move itself is refused"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_changes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Mug", 500, 10).await;
    let order = place(&app, &customer, product.id, 2, false).await;
    let id = order["id"].as_str().expect("id").to_owned();
    let cases = [
        (
            json!({"status": "CANCELLED", "tracking": {"carrier": "DHL", "tracking_number": "1"}}),
            "tracking",
        ),
        (json!({"status": "SHIPPED"}), "status"),
        (json!({"status": "CANCELLED", "colour": "red"}), "colour"),
        (json!({"note": "no status"}), "status"),
        (
            json!({"status": "CANCELLED", "note": "line\nbreak"}),
            "note",
        ),
        (
            json!({"status": "FULFILLED", "tracking": {"carrier": "DHL"}}),
            "tracking.tracking_number",
        ),
        (json!({"status": 3}), "status"),
    ];
    for (body, field) in cases {
        let response = patch(&admin, &app, &status_path(&id))
            .json(&body)
            .send()
            .await
            .expect("patch");
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["code"], "validation_failed", "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    for path in [status_path("not-a-uuid"), status_path(Uuid::now_v7())] {
        let response = patch(&admin, &app, &path)
            .json(&json!({"status": "CANCELLED"}))
            .send()
            .await
            .expect("patch");
        assert_eq!(
            problem(response, StatusCode::NOT_FOUND).await["code"],
            "not_found"
        );
    }
    let response = patch(&admin, &app, &status_path(&id))
        .header("content-type", "text/plain")
        .body("{\"status\": \"CANCELLED\"}")
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = patch(&admin, &app, &status_path(&id))
        .header("content-type", "application/json")
        .body("{\"status\": ")
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // without the CSRF header a cookie session is refused
    let response = admin
        .client
        .patch(app.url(&status_path(&id)))
        .json(&json!({"status": "CANCELLED"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        problem(response, StatusCode::FORBIDDEN).await["code"],
        "csrf_failed"
    );

    let (_, now) = get_json(&admin, &app, &format!("/api/orders/{id}")).await;
    assert_eq!(now["status"], "PENDING");
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 8);
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_and_releases_its_stock() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Kettle", 3000, 5).await;
    let order = place(&app, &customer, product.id, 2, true).await;
    assert_eq!(order["status"], "PAID");
    let id = order["id"].as_str().expect("id").to_owned();
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 3);
    let response = patch(&admin, &app, &status_path(&id))
        .json(&json!({"status": "CANCELLED", "note": "customer asked"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled = json_of(response).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["payment_status"], "refunded");
    assert_eq!(cancelled["payment_collected"], true);
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 5);
    // the customer sees the change too
    let (_, mine) = get_json(&customer, &app, &format!("/api/orders/{id}")).await;
    assert_eq!(mine["status"], "CANCELLED");
    assert_eq!(mine["allowed_transitions"], json!([]));
}
