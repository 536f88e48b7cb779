//! Admin webhook endpoints over HTTP: the CRUD round trip and the exact fields, the secret (shown
//! by creation and rotation only), the URL rules and the forbidden address classes (and
//! `WEBHOOK_ALLOW_PRIVATE`, `WEBHOOK_ALLOW_HTTP`), 404s, the test event in the deliveries log,
//! redelivery, and the audit entries of every write (none with a secret). Nothing here needs the
//! delivery worker.

use base64::Engine as _;
use e2e::{Session, TestApp, json_of, plain_client, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::admin_support::{delete, get_json, patch, problem};

const ENDPOINT_FIELDS: [&str; 8] = [
    "id",
    "url",
    "event_types",
    "description",
    "enabled",
    "disabled_reason",
    "created_at",
    "updated_at",
];

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    fields.sort();
    fields
}

/// Checks `secret` is `whsec_` + base64 of 24 bytes.
fn assert_secret(secret: &str) {
    let encoded = secret
        .strip_prefix("whsec_")
        .unwrap_or_else(|| panic!("{secret}"));
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(key.len(), 24, "{secret}");
}

async fn create(admin: &Session, app: &TestApp, body: Value) -> reqwest::Response {
    admin
        .post(app, "/api/admin/webhooks")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Creates an endpoint at `url` (every event type); the answer's JSON.
pub async fn create_ok(admin: &Session, app: &TestApp, url: &str) -> Value {
    let response = create(admin, app, json!({"url": url, "event_types": ["*"]})).await;
    let status = response.status();
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
    body
}

async fn audit_text(admin: &Session, app: &TestApp) -> String {
    let response = admin
        .get(app, "/api/admin/audit?limit=200")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn an_endpoint_round_trip_shows_the_secret_only_on_creation_and_rotation() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let response = create(
        &admin,
        &app,
        json!({
            "url": "https://Hooks.Example.com/oms",
            "event_types": ["order.paid", "order.cancelled"],
            "description": "  Warehouse  ",
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let created = json_of(response).await;
    let mut with_secret = ENDPOINT_FIELDS.to_vec();
    with_secret.push("secret");
    assert_eq!(keys(&created), sorted(&with_secret));
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/admin/webhooks/{id}"));
    assert_eq!(created["url"], "https://hooks.example.com/oms");
    assert_eq!(
        created["event_types"],
        json!(["order.cancelled", "order.paid"])
    );
    assert_eq!(created["description"], "Warehouse");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["disabled_reason"], Value::Null);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_secret(&secret);

    // Read back: the same, without the secret.
    let path = format!("/api/admin/webhooks/{id}");
    let (status, read) = get_json(&admin, &app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&read), sorted(&ENDPOINT_FIELDS));
    for field in ENDPOINT_FIELDS {
        assert_eq!(read[field], created[field], "{field}");
    }
    let (status, list) = get_json(&admin, &app, "/api/admin/webhooks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0], read);
    assert_eq!(list["next_cursor"], Value::Null);
    assert!(!list.to_string().contains("whsec_"));

    // A change.
    let response = patch(&admin, &app, &path)
        .json(&json!({
            "url": "https://other.example.com/hook",
            "event_types": ["*"],
            "description": null,
            "enabled": false,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let changed = json_of(response).await;
    assert_eq!(keys(&changed), sorted(&ENDPOINT_FIELDS));
    assert_eq!(changed["url"], "https://other.example.com/hook");
    assert_eq!(changed["event_types"], json!(["*"]));
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(changed["enabled"], false);
    // A change of nothing changes nothing.
    let response = patch(&admin, &app, &path)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await, changed);
    let response = patch(&admin, &app, &path)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await["enabled"], true);

    // Rotation: a new secret, shown once.
    let response = admin
        .post(&app, &format!("{path}/rotate-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let rotated = json_of(response).await;
    assert_eq!(keys(&rotated), ["secret"]);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_secret(&new_secret);
    assert_ne!(new_secret, secret);
    let (_, read) = get_json(&admin, &app, &path).await;
    assert!(!read.to_string().contains("whsec_"));

    // The test event, then a redelivery, on the endpoint disabled again: the delivery loop claims
    // nothing of a disabled endpoint, so the queued rows stay as this test sets them.
    let response = patch(&admin, &app, &path)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = admin
        .post(&app, &format!("{path}/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued = json_of(response).await;
    let (status, deliveries) = get_json(&admin, &app, &format!("{path}/deliveries")).await;
    assert_eq!(status, StatusCode::OK);
    let items = deliveries["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{deliveries}");
    let delivery = &items[0];
    assert_eq!(
        keys(delivery),
        sorted(&[
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "last_response_status",
            "last_error",
        ])
    );
    assert_eq!(delivery["id"], queued["id"]);
    assert_eq!(delivery["event_type"], "webhook.test");
    assert_eq!(delivery["status"], "pending");
    assert_eq!(delivery["attempts"], 0);
    assert!(delivery["next_attempt_at"].is_string());
    assert_eq!(deliveries["next_cursor"], Value::Null);
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    // As if every attempt had failed.
    let mut conn = app.pool.get().await.unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, \
               attempts = 8, last_error = 'HTTP 500' WHERE id = '{delivery_id}'"
        )),
        &mut conn,
    )
    .await
    .unwrap();
    let (_, failed) = get_json(&admin, &app, &format!("{path}/deliveries?status=failed")).await;
    assert_eq!(failed["items"][0]["status"], "failed");
    let response = admin
        .post(&app, &format!("{path}/deliveries/{delivery_id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let retried = json_of(response).await;
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["attempts"], 8);
    let (_, pending) = get_json(&admin, &app, &format!("{path}/deliveries?status=pending")).await;
    assert_eq!(pending["items"][0]["id"], delivery_id.as_str());
    assert_eq!(pending["items"][0]["status"], "pending");

    // Deletion.
    let response = delete(&admin, &app, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = get_json(&admin, &app, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = delete(&admin, &app, &path).send().await.unwrap();
    problem(response, StatusCode::NOT_FOUND).await;

    // One entry per write, with the request's id; no secret in any.
    let audit = audit_text(&admin, &app).await;
    let entries: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("webhook."))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook.deleted",
            "webhook.redelivered",
            "webhook.test_sent",
            "webhook.updated",
            "webhook.secret_rotated",
            "webhook.updated",
            "webhook.updated",
            "webhook.created",
        ]
    );
    let redelivered = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "webhook.redelivered")
        .unwrap();
    assert_eq!(redelivered["target"]["type"], "webhook_delivery");
    assert_eq!(redelivered["target"]["id"], delivery_id.as_str());
    assert_eq!(
        redelivered["changes"]["status"],
        json!(["failed", "pending"])
    );
    for s in [&secret, &new_secret] {
        assert!(!audit.contains(s.as_str()));
        assert!(!audit.contains(s.trim_start_matches("whsec_")));
    }
    assert!(!audit.contains("whsec_"));
}

/// Every forbidden class of address, written in the URL or resolved (`localhost`).
const FORBIDDEN_HOSTS: [&str; 14] = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "0.0.0.0",
    "[::1]",
    "[fc00::1]",
    "[fe80::1]",
    "[ff02::1]",
    "[::]",
    "localhost",
];

#[tokio::test]
async fn every_forbidden_address_is_refused_at_creation_and_on_change() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for host in FORBIDDEN_HOSTS {
        let url = format!("https://{host}/hook");
        let response = create(&admin, &app, json!({"url": url, "event_types": ["*"]})).await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["code"], "webhook_url_not_allowed", "{url}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    assert_eq!(
        e2e::count(&app.pool, "SELECT count(*) AS n FROM webhook_endpoints").await,
        0
    );
    // Changing the URL of an accepted endpoint is checked the same way.
    let created = create_ok(&admin, &app, "https://hooks.example.com/").await;
    let path = format!("/api/admin/webhooks/{}", created["id"].as_str().unwrap());
    let response = patch(&admin, &app, &path)
        .json(&json!({"url": "https://localhost:8443/x"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["code"], "webhook_url_not_allowed");
    let (_, read) = get_json(&admin, &app, &path).await;
    assert_eq!(read["url"], "https://hooks.example.com/");
}

#[tokio::test]
async fn allow_private_accepts_every_such_address() {
    let app = spawn_app_with(|s| s.webhooks.allow_private = true).await;
    let admin = app.admin().await;
    for host in FORBIDDEN_HOSTS {
        create_ok(&admin, &app, &format!("https://{host}/hook")).await;
    }
}

#[tokio::test]
async fn url_rules_event_types_and_fields_are_validated() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let long = format!("https://hooks.example.com/{}", "x".repeat(2048));
    for (body, field) in [
        (
            json!({"url": "http://hooks.example.com/", "event_types": ["*"]}),
            "url",
        ),
        (
            json!({"url": "https://user:pw@hooks.example.com/", "event_types": ["*"]}),
            "url",
        ),
        (
            json!({"url": "https://@hooks.example.com/", "event_types": ["*"]}),
            "url",
        ),
        (json!({"url": long, "event_types": ["*"]}), "url"),
        (
            json!({"url": "hooks.example.com", "event_types": ["*"]}),
            "url",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["order.teleported"]}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["*", "order.paid"]}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["*"], "description": "x".repeat(501)}),
            "description",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["*"], "description": "a\nb"}),
            "description",
        ),
    ] {
        let response = create(&admin, &app, body.clone()).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["code"], "validation_failed", "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    // Unknown and missing fields, like every admin write.
    for body in [
        json!({"url": "https://hooks.example.com/", "event_types": ["*"], "secret": "whsec_AAAA"}),
        json!({"url": "https://hooks.example.com/"}),
    ] {
        let response = create(&admin, &app, body.clone()).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["code"], "validation_failed", "{body}");
    }
    let created = create_ok(&admin, &app, "https://hooks.example.com/").await;
    let path = format!("/api/admin/webhooks/{}", created["id"].as_str().unwrap());
    for body in [
        json!({"url": null}),
        json!({"event_types": ["order.teleported"]}),
        json!({"url": "http://hooks.example.com/"}),
        json!({"secret": "whsec_AAAA"}),
    ] {
        let response = patch(&admin, &app, &path).json(&body).send().await.unwrap();
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["code"], "validation_failed", "{body}");
    }
    // Nothing written by the refusals.
    assert_eq!(
        e2e::count(&app.pool, "SELECT count(*) AS n FROM webhook_endpoints").await,
        1
    );
    assert_eq!(
        e2e::count(
            &app.pool,
            "SELECT count(*) AS n FROM audit_log WHERE action LIKE 'webhook.%'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn http_is_accepted_with_allow_http() {
    let app = spawn_app_with(|s| s.webhooks.allow_http = true).await;
    let admin = app.admin().await;
    let created = create_ok(&admin, &app, "http://hooks.example.com:8080/x").await;
    assert_eq!(created["url"], "http://hooks.example.com:8080/x");
}

#[tokio::test]
async fn unknown_ids_are_404_and_the_routes_are_for_admins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let unknown = Uuid::now_v7();
    let base = format!("/api/admin/webhooks/{unknown}");
    let (status, _) = get_json(&admin, &app, &base).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(&admin, &app, &format!("{base}/deliveries")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(&admin, &app, "/api/admin/webhooks/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = patch(&admin, &app, &base)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
    let response = delete(&admin, &app, &base).send().await.unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
    for path in [
        format!("{base}/rotate-secret"),
        format!("{base}/test"),
        format!("{base}/deliveries/{}/retry", Uuid::now_v7()),
    ] {
        let response = admin.post(&app, &path).send().await.unwrap();
        problem(response, StatusCode::NOT_FOUND).await;
    }
    // A delivery of another endpoint, or none, through a real endpoint.
    let first = create_ok(&admin, &app, "https://a.example.com/").await;
    let second = create_ok(&admin, &app, "https://b.example.com/").await;
    let first = format!("/api/admin/webhooks/{}", first["id"].as_str().unwrap());
    let second = format!("/api/admin/webhooks/{}", second["id"].as_str().unwrap());
    let queued = json_of(
        admin
            .post(&app, &format!("{first}/test"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let delivery = queued["id"].as_str().unwrap();
    for path in [
        format!("{second}/deliveries/{delivery}/retry"),
        format!("{first}/deliveries/{}/retry", Uuid::now_v7()),
    ] {
        let response = admin.post(&app, &path).send().await.unwrap();
        problem(response, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(
        e2e::count(
            &app.pool,
            "SELECT count(*) AS n FROM audit_log WHERE action LIKE 'webhook.%'"
        )
        .await,
        3,
        "two creations and a test: no entry for a refusal"
    );

    // Customers and strangers.
    let customer = app.customer().await;
    let response = customer
        .post(&app, "/api/admin/webhooks")
        .json(&json!({"url": "https://a.example.com/", "event_types": ["*"]}))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::FORBIDDEN).await;
    let response = plain_client()
        .get(app.url("/api/admin/webhooks"))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn endpoints_and_deliveries_are_paged() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let created = create_ok(&admin, &app, &format!("https://h{i}.example.com/")).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    assert_eq!(
        crate::admin_support::all_pages(&admin, &app, "/api/admin/webhooks?limit=2").await,
        ids
    );
    let path = format!("/api/admin/webhooks/{}", ids[0]);
    let mut queued = Vec::new();
    for _ in 0..3 {
        let response = admin
            .post(&app, &format!("{path}/test"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        queued.push(json_of(response).await["id"].as_str().unwrap().to_owned());
    }
    queued.reverse();
    assert_eq!(
        crate::admin_support::all_pages(&admin, &app, &format!("{path}/deliveries?limit=2")).await,
        queued
    );
    let (_, none) = get_json(&admin, &app, &format!("{path}/deliveries?status=failed")).await;
    assert_eq!(none["items"], json!([]));
    for query in ["status=lost", "limit=0", "limit=201", "cursor=forged"] {
        let (status, body) = get_json(&admin, &app, &format!("{path}/deliveries?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(body["code"], "validation_failed");
    }
    // Another list's cursor is refused.
    let (_, page) = get_json(&admin, &app, "/api/admin/webhooks?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, _) = get_json(&admin, &app, &format!("{path}/deliveries?cursor={cursor}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
