//! Webhook endpoints as admins use them: creation (its position in the event log, taken under the
//! event lock), keyset pages, changes (and changes of nothing), deletion, secret rotation, the
//! test event, the deliveries log and redelivery; each write's audit entry, none with a secret.

use std::time::Duration;

use adapters_postgres::{EVENT_LOCK_KEY, PgWebhookStore};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use domain::webhook::{EventFilter, WebhookSecret};
use ports::audit::AuditQuery;
use ports::{
    Actor, AuditContext, AuditLog, DeliveryQuery, DeliveryStatus, EndpointCursor, EndpointQuery,
    NewWebhookEndpoint, StoredAuditEntry, WebhookEndpointChange, WebhookStore,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::{Ctx, ctx};

fn store(c: &Ctx) -> PgWebhookStore {
    PgWebhookStore::new(c.pool.clone())
}

fn admin() -> AuditContext {
    AuditContext {
        actor: Some(Actor {
            id: 1,
            role: domain::Role::Admin,
        }),
        request_id: Some("req-webhooks".into()),
        client_ip: Some("192.0.2.10".into()),
    }
}

fn secret(byte: u8) -> WebhookSecret {
    WebhookSecret::from_random([byte; 24])
}

fn new_endpoint(url: &str) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        id: Uuid::now_v7(),
        url: url.to_owned(),
        event_types: EventFilter::parse(&["order.paid", "order.created"]).unwrap(),
        description: Some("Warehouse".into()),
        enabled: true,
        secret: secret(1),
    }
}

/// The columns admins never see.
#[derive(Debug, diesel::QueryableByName)]
struct Hidden {
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    previous_expires_at: Option<OffsetDateTime>,
    #[diesel(sql_type = BigInt)]
    after_event_id: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failing_since: Option<OffsetDateTime>,
}

async fn hidden(c: &Ctx, id: Uuid) -> Hidden {
    let mut conn = c.pool.get().await.unwrap();
    diesel::sql_query(
        "SELECT secret, previous_secret, previous_expires_at, after_event_id, failing_since \
           FROM webhook_endpoints WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .get_result(&mut conn)
    .await
    .unwrap()
}

async fn max_event_id(c: &Ctx) -> i64 {
    c.count("SELECT COALESCE(max(id), 0)::bigint AS n FROM order_events")
        .await
}

async fn entries(c: &Ctx) -> Vec<StoredAuditEntry> {
    c.audit
        .list(&AuditQuery {
            limit: 200,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

/// Every audit entry as text, for the secret scan.
async fn entries_text(c: &Ctx) -> String {
    format!("{:?}", entries(c).await)
}

#[tokio::test]
async fn creation_stores_the_endpoint_after_the_newest_event_with_its_audit_entry() {
    let c = ctx().await;
    let store = store(&c);
    let user = c.customer("ada@example.com").await;
    let product = c.product("SKU-1", 1000, 10).await;
    c.place(user.id, &[(product.id, 1)]).await;
    let before = max_event_id(&c).await;
    assert!(before > 0);

    let new = new_endpoint("https://hooks.example.com/oms");
    let created = store.create(new.clone(), &admin()).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.url, "https://hooks.example.com/oms");
    assert_eq!(created.event_types, new.event_types);
    assert_eq!(created.description.as_deref(), Some("Warehouse"));
    assert!(created.enabled);
    assert_eq!(created.disabled_reason, None);
    assert_eq!(store.get(new.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);

    let stored = hidden(&c, new.id).await;
    assert_eq!(stored.secret, secret(1).expose());
    assert_eq!(stored.previous_secret, None);
    assert_eq!(stored.after_event_id, before);
    // An event committed later has a greater id.
    c.place(user.id, &[(product.id, 1)]).await;
    assert!(max_event_id(&c).await > stored.after_event_id);

    let written = entries(&c).await;
    assert_eq!(written.len(), 1);
    let entry = &written[0].entry;
    assert_eq!(entry.action, "webhook.created");
    assert_eq!(entry.actor, admin().actor);
    assert_eq!(entry.request_id.as_deref(), Some("req-webhooks"));
    let target = entry.target.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_str(), target.id.clone()),
        ("webhook", new.id.to_string())
    );
    assert_eq!(
        entry.changes.as_ref().unwrap().to_json(),
        serde_json::json!({
            "url": [null, "https://hooks.example.com/oms"],
            "event_types": [null, ["order.created", "order.paid"]],
            "description": [null, "Warehouse"],
            "enabled": [null, true],
        })
    );
    assert!(!entries_text(&c).await.contains("whsec_"));
}

#[tokio::test]
async fn creation_waits_for_an_event_writer_holding_the_event_lock() {
    let c = ctx().await;
    let store = store(&c);
    // An event writer between its lock and its commit.
    let mut writer = c.pool.get().await.unwrap();
    writer.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(EVENT_LOCK_KEY)
        .execute(&mut writer)
        .await
        .unwrap();
    let new = new_endpoint("https://hooks.example.com/");
    let creating = tokio::spawn({
        let store = store.clone();
        let new = new.clone();
        async move { store.create(new, &admin()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !creating.is_finished(),
        "the creation did not wait for the event lock"
    );
    assert_eq!(store.get(new.id).await.unwrap(), None);
    writer.batch_execute("COMMIT").await.unwrap();
    let created = creating.await.unwrap().unwrap();
    assert_eq!(store.get(new.id).await.unwrap(), Some(created));
}

#[tokio::test]
async fn endpoints_are_listed_newest_first_in_keyset_pages() {
    let c = ctx().await;
    let store = store(&c);
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = store
            .create(
                new_endpoint(&format!("https://h{i}.example.com/")),
                &admin(),
            )
            .await
            .unwrap();
        ids.push(created.id);
    }
    // Two of the same instant: the id decides.
    c.sql("UPDATE webhook_endpoints SET created_at = '2026-12-01T00:00:00Z'")
        .await
        .unwrap();
    ids.reverse();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(&EndpointQuery { after, limit: 2 })
            .await
            .unwrap();
        seen.extend(page.iter().map(|e| e.id));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(EndpointCursor::of(last)),
            _ => break,
        }
    }
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn a_change_records_what_changed_and_a_change_of_nothing_writes_nothing() {
    let c = ctx().await;
    let store = store(&c);
    let created = store
        .create(new_endpoint("https://hooks.example.com/"), &admin())
        .await
        .unwrap();
    let change = WebhookEndpointChange {
        url: Some("https://other.example.com/x".into()),
        event_types: Some(EventFilter::All),
        description: Some(None),
        enabled: Some(false),
    };
    let updated = store
        .update(created.id, change.clone(), &admin())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.url, "https://other.example.com/x");
    assert_eq!(updated.event_types, EventFilter::All);
    assert_eq!(updated.description, None);
    assert!(!updated.enabled);
    assert!(updated.updated_at > created.updated_at);
    let written = entries(&c).await;
    assert_eq!(written.len(), 2);
    assert_eq!(written[0].entry.action, "webhook.updated");
    assert_eq!(
        written[0].entry.changes.as_ref().unwrap().to_json(),
        serde_json::json!({
            "url": ["https://hooks.example.com/", "https://other.example.com/x"],
            "event_types": [["order.created", "order.paid"], ["*"]],
            "description": ["Warehouse", null],
            "enabled": [true, false],
        })
    );

    // The same again, and an empty change: nothing written.
    for change in [change, WebhookEndpointChange::default()] {
        let same = store
            .update(created.id, change, &admin())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(same, updated);
    }
    assert_eq!(entries(&c).await.len(), 2);
    assert_eq!(
        store
            .update(Uuid::now_v7(), WebhookEndpointChange::default(), &admin())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn enabling_clears_the_servers_reason_and_the_failure_history() {
    let c = ctx().await;
    let store = store(&c);
    let created = store
        .create(new_endpoint("https://hooks.example.com/"), &admin())
        .await
        .unwrap();
    c.sql(&format!(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'the endpoint answered 410 Gone', \
         failing_since = now() - interval '1 day' WHERE id = '{}'",
        created.id
    ))
    .await
    .unwrap();
    let enable = WebhookEndpointChange {
        enabled: Some(true),
        ..WebhookEndpointChange::default()
    };
    let enabled = store
        .update(created.id, enable, &admin())
        .await
        .unwrap()
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.disabled_reason, None);
    assert_eq!(hidden(&c, created.id).await.failing_since, None);
    assert_eq!(
        entries(&c).await[0]
            .entry
            .changes
            .as_ref()
            .unwrap()
            .to_json(),
        serde_json::json!({
            "enabled": [false, true],
            "disabled_reason": ["the endpoint answered 410 Gone", null],
        })
    );

    // An admin's disabling leaves no server reason.
    c.sql(&format!(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failing since 5 days' WHERE id = '{}'",
        created.id
    ))
    .await
    .unwrap();
    let disabled = store
        .update(
            created.id,
            WebhookEndpointChange {
                enabled: Some(false),
                ..WebhookEndpointChange::default()
            },
            &admin(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_reason, None);
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_beside_the_new_one_for_the_overlap() {
    let c = ctx().await;
    let store = store(&c);
    let created = store
        .create(new_endpoint("https://hooks.example.com/"), &admin())
        .await
        .unwrap();
    let overlap = Duration::from_secs(24 * 3600);
    assert!(
        store
            .rotate_secret(created.id, secret(2), overlap, &admin())
            .await
            .unwrap()
    );
    let stored = hidden(&c, created.id).await;
    assert_eq!(stored.secret, secret(2).expose());
    assert_eq!(stored.previous_secret, Some(secret(1).expose()));
    let expires = stored.previous_expires_at.unwrap();
    let expected = OffsetDateTime::now_utc() + overlap;
    assert!(
        (expires - expected).abs() < time::Duration::minutes(1),
        "{expires} vs {expected}"
    );
    assert!(
        !store
            .rotate_secret(Uuid::now_v7(), secret(3), overlap, &admin())
            .await
            .unwrap()
    );
    let written = entries(&c).await;
    assert_eq!(written[0].entry.action, "webhook.secret_rotated");
    assert_eq!(written[0].entry.changes, None);
    let text = entries_text(&c).await;
    for s in [secret(1), secret(2)] {
        let exposed = s.expose();
        assert!(!text.contains(&exposed));
        assert!(!text.contains(exposed.trim_start_matches("whsec_")));
    }
}

#[tokio::test]
async fn the_test_event_is_a_pending_delivery_with_an_event_id_of_its_own() {
    let c = ctx().await;
    let store = store(&c);
    let created = store
        .create(new_endpoint("https://hooks.example.com/"), &admin())
        .await
        .unwrap();
    let first = store
        .send_test(created.id, &admin())
        .await
        .unwrap()
        .unwrap();
    let second = store
        .send_test(created.id, &admin())
        .await
        .unwrap()
        .unwrap();
    assert!(second.event_id > first.event_id);
    assert_eq!(first.event_type, "webhook.test");
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!(first.attempts, 0);
    assert!(first.next_attempt_at.is_some());

    #[derive(diesel::QueryableByName)]
    struct Payload {
        #[diesel(sql_type = Text)]
        payload: String,
        #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
        order_id: Option<Uuid>,
    }
    let mut conn = c.pool.get().await.unwrap();
    let row: Payload =
        diesel::sql_query("SELECT payload, order_id FROM webhook_deliveries WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(first.id)
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(row.order_id, None);
    let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap();
    assert_eq!(payload["id"], first.event_id);
    assert_eq!(payload["type"], "webhook.test");
    assert_eq!(payload["webhook_id"], created.id.to_string());
    let at = payload["occurred_at"].as_str().unwrap();
    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();

    // A real event placed later takes a greater id (the sequence is shared).
    let user = c.customer("ada@example.com").await;
    let product = c.product("SKU-1", 1000, 10).await;
    c.place(user.id, &[(product.id, 1)]).await;
    assert!(max_event_id(&c).await > second.event_id);

    let written = entries(&c).await;
    assert_eq!(written[0].entry.action, "webhook.test_sent");
    assert_eq!(
        written[0].entry.changes.as_ref().unwrap().to_json()["delivery_id"][1],
        second.id.to_string()
    );
    assert_eq!(
        store.send_test(Uuid::now_v7(), &admin()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn deliveries_are_newest_first_filtered_and_paged_and_retried() {
    let c = ctx().await;
    let store = store(&c);
    let endpoint = store
        .create(new_endpoint("https://hooks.example.com/"), &admin())
        .await
        .unwrap();
    let other = store
        .create(new_endpoint("https://other.example.com/"), &admin())
        .await
        .unwrap();
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(
            store
                .send_test(endpoint.id, &admin())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    store.send_test(other.id, &admin()).await.unwrap().unwrap();
    // Two failed after their attempts, one succeeded.
    c.sql(&format!(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, attempts = 8, \
           last_attempt_at = now(), last_response_status = 500, last_error = 'HTTP 500' \
         WHERE id IN ('{}', '{}')",
        sent[1].id, sent[3].id
    ))
    .await
    .unwrap();
    c.sql(&format!(
        "UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, attempts = 1 \
         WHERE id = '{}'",
        sent[4].id
    ))
    .await
    .unwrap();

    let query = |status, before, limit| DeliveryQuery {
        endpoint_id: endpoint.id,
        status,
        before_event_id: before,
        limit,
    };
    let all = store
        .deliveries(&query(None, None, 50))
        .await
        .unwrap()
        .unwrap();
    let event_ids: Vec<i64> = all.iter().map(|d| d.event_id).collect();
    let mut expected: Vec<i64> = sent.iter().map(|d| d.event_id).collect();
    expected.reverse();
    assert_eq!(event_ids, expected);
    let page = store
        .deliveries(&query(None, Some(expected[1]), 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        page.iter().map(|d| d.event_id).collect::<Vec<_>>(),
        expected[2..4]
    );
    let failed = store
        .deliveries(&query(Some(DeliveryStatus::Failed), None, 50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        failed.iter().map(|d| d.id).collect::<Vec<_>>(),
        [sent[3].id, sent[1].id]
    );
    assert_eq!(failed[0].last_response_status, Some(500));
    assert_eq!(failed[0].last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(
        store
            .deliveries(&DeliveryQuery {
                endpoint_id: Uuid::now_v7(),
                ..query(None, None, 50)
            })
            .await
            .unwrap(),
        None
    );

    // A failed delivery retried: pending, due now, its attempts kept.
    let retried = store
        .retry_delivery(endpoint.id, sent[1].id, &admin())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retried.status, DeliveryStatus::Pending);
    assert_eq!(retried.attempts, 8);
    assert!(retried.next_attempt_at.is_some());
    let entry = &entries(&c).await[0].entry;
    assert_eq!(entry.action, "webhook.redelivered");
    let target = entry.target.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_str(), target.id.clone()),
        ("webhook_delivery", sent[1].id.to_string())
    );
    assert_eq!(
        entry.changes.as_ref().unwrap().to_json(),
        serde_json::json!({
            "status": ["failed", "pending"],
            "endpoint_id": [endpoint.id, endpoint.id],
        })
    );
    // Not through another endpoint, not an unknown one.
    assert_eq!(
        store
            .retry_delivery(other.id, sent[1].id, &admin())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .retry_delivery(endpoint.id, Uuid::now_v7(), &admin())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn deletion_takes_the_deliveries_along_and_is_audited() {
    let c = ctx().await;
    let store = store(&c);
    let endpoint = store
        .create(new_endpoint("https://hooks.example.com/"), &admin())
        .await
        .unwrap();
    store
        .send_test(endpoint.id, &admin())
        .await
        .unwrap()
        .unwrap();
    assert!(store.delete(endpoint.id, &admin()).await.unwrap());
    assert_eq!(store.get(endpoint.id).await.unwrap(), None);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM webhook_deliveries")
            .await,
        0
    );
    let entry = &entries(&c).await[0].entry;
    assert_eq!(entry.action, "webhook.deleted");
    assert_eq!(
        entry.changes.as_ref().unwrap().to_json()["url"],
        serde_json::json!(["https://hooks.example.com/", null])
    );
    assert!(!store.delete(endpoint.id, &admin()).await.unwrap());
    assert!(!entries_text(&c).await.contains("whsec_"));
}

/// A failing write leaves no audit entry: the entry is in the write's transaction.
#[tokio::test]
async fn a_refused_write_leaves_no_entry() {
    let c = ctx().await;
    let store = store(&c);
    let mut new = new_endpoint("https://hooks.example.com/");
    // The database's own check: a URL over 2,048 characters.
    new.url = format!("https://hooks.example.com/{}", "x".repeat(2100));
    assert!(store.create(new, &admin()).await.is_err());
    assert_eq!(entries(&c).await.len(), 0);
}
