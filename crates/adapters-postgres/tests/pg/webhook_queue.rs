//! The webhook delivery queue on PostgreSQL: the fan-out (subscriptions, the creation point, no
//! event twice), claims racing on one queue (no delivery twice, per-order order, leases), records
//! under a stale lease, retries and disabling.

use std::collections::HashSet;
use std::time::Duration;

use adapters_postgres::PgDeliveryQueue;
use domain::OrderStatus;
use domain::webhook::signing::SECRET_BYTES;
use domain::webhook::{AttemptOutcome, WebhookSecret};
use ports::{AttemptRecord, ClaimedDelivery, DeliveryQueue, OrderRepository, StatusChange};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::{Ctx, ctx};

const LEASE: Duration = Duration::from_secs(30);

/// An endpoint row taking `types`, created now (after every event so far).
async fn endpoint(c: &Ctx, types: &str) -> Uuid {
    let id = Uuid::now_v7();
    let secret = WebhookSecret::from_random([9; SECRET_BYTES]).expose();
    c.sql(&format!(
        "INSERT INTO webhook_endpoints (id, url, event_types, secret, after_event_id) \
         SELECT '{id}', 'https://hooks.example.com/{id}', '{types}', '{secret}', \
                COALESCE(max(id), 0) FROM order_events"
    ))
    .await
    .unwrap();
    id
}

/// Places `n` orders of one customer and cancels each (two events each: created, cancelled).
async fn orders(c: &Ctx, n: usize) -> Vec<Uuid> {
    let user = c
        .customer(&format!("c{}@example.com", Uuid::now_v7().simple()))
        .await;
    let product = c
        .product(&format!("SKU-{}", Uuid::now_v7().simple()), 1_000, 1_000)
        .await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let order = c.place(user.id, &[(product.id, 1)]).await;
        c.orders
            .change_status(&StatusChange::new(order.id, OrderStatus::Cancelled))
            .await
            .unwrap();
        ids.push(order.id);
    }
    ids
}

async fn fan_out_all(queue: &PgDeliveryQueue) {
    while queue.fan_out(1_000).await.unwrap() >= 1_000 {}
}

fn record(
    claim: &ClaimedDelivery,
    token: Uuid,
    outcome: AttemptOutcome,
    retry: Option<Duration>,
) -> AttemptRecord {
    let now = OffsetDateTime::now_utc();
    AttemptRecord {
        delivery_id: claim.id,
        endpoint_id: claim.endpoint_id,
        lease_token: token,
        outcome,
        finished_at: now,
        next_attempt_at: retry.map(|wait| now + wait),
        disable: None,
    }
}

#[tokio::test]
async fn fan_out_queues_each_subscribed_event_once_from_the_endpoints_creation() {
    let c = ctx().await;
    let queue = PgDeliveryQueue::new(c.pool.clone());
    orders(&c, 2).await; // before any endpoint: never delivered
    let all = endpoint(&c, "{*}").await;
    let cancelled = endpoint(&c, "{order.cancelled}").await;
    orders(&c, 3).await;
    fan_out_all(&queue).await;
    fan_out_all(&queue).await; // again: nothing new
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{all}'"
        ))
        .await,
        6
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{cancelled}' AND event_type = 'order.cancelled'"
        ))
        .await,
        3
    );
    assert_eq!(
        c.count("SELECT count(*) AS n FROM webhook_deliveries")
            .await,
        9
    );
    // The payload is the event's JSON.
    assert_eq!(
        c.count(
            "SELECT count(*) AS n FROM webhook_deliveries d JOIN order_events e ON e.id = d.event_id \
             WHERE (d.payload::jsonb ->> 'id')::bigint = e.id AND d.payload::jsonb ->> 'type' = e.type"
        )
        .await,
        9
    );
    // A disabled endpoint gets nothing new.
    c.sql(&format!(
        "UPDATE webhook_endpoints SET enabled = false WHERE id = '{all}'"
    ))
    .await
    .unwrap();
    orders(&c, 1).await;
    fan_out_all(&queue).await;
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{all}'"
        ))
        .await,
        6
    );
}

#[tokio::test]
async fn concurrent_fan_outs_and_claims_never_hand_out_a_delivery_twice() {
    let c = ctx().await;
    let queue = PgDeliveryQueue::new(c.pool.clone());
    endpoint(&c, "{order.created}").await;
    orders(&c, 60).await;
    // Four fan-outs at once: each event queued once (the position row serialises them).
    let fan_outs: Vec<_> = (0..4)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move { fan_out_all(&queue).await })
        })
        .collect();
    for task in fan_outs {
        task.await.unwrap();
    }
    assert_eq!(
        c.count("SELECT count(*) AS n FROM webhook_deliveries")
            .await,
        60
    );

    // Eight claimers race until the queue is empty; nothing is claimed twice.
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claims = queue.claim(3, Uuid::now_v7(), LEASE).await.unwrap();
                    if claims.is_empty() {
                        return mine;
                    }
                    mine.extend(claims.into_iter().map(|c| c.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in claimers {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 60);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM webhook_deliveries WHERE attempts = 1")
            .await,
        60
    );
}

#[tokio::test]
async fn one_orders_deliveries_go_one_at_a_time_in_id_order() {
    let c = ctx().await;
    let queue = PgDeliveryQueue::new(c.pool.clone());
    endpoint(&c, "{*}").await;
    orders(&c, 2).await;
    fan_out_all(&queue).await;

    let token = Uuid::now_v7();
    let first = queue.claim(10, token, LEASE).await.unwrap();
    // Each order's order.created only: its order.cancelled waits.
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|d| d.payload.contains("order.created")));
    assert!(
        queue
            .claim(10, Uuid::now_v7(), LEASE)
            .await
            .unwrap()
            .is_empty()
    );

    // A failure keeps the first pending (retry later): the second still waits, and is pushed
    // back with it.
    queue
        .record(&[record(
            &first[0],
            token,
            AttemptOutcome::Refused { status: 500 },
            Some(Duration::from_secs(60)),
        )])
        .await
        .unwrap();
    assert!(
        queue
            .claim(10, Uuid::now_v7(), LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at > now() + interval '50 seconds'").await,
        2,
        "the failed delivery and the later one of its order"
    );
    // A success lets the next event of that order go.
    queue
        .record(&[record(
            &first[1],
            token,
            AttemptOutcome::Delivered { status: 200 },
            None,
        )])
        .await
        .unwrap();
    let next = queue.claim(10, Uuid::now_v7(), LEASE).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].payload.contains("order.cancelled"));
    assert!(next[0].event_id > first[1].event_id);
    let due = queue.next_due().await.unwrap().unwrap();
    assert!(
        due > OffsetDateTime::now_utc(),
        "the next due time is the lease or the retry"
    );
}

#[tokio::test]
async fn a_dead_claims_lease_runs_out_and_its_late_record_is_ignored() {
    let c = ctx().await;
    let queue = PgDeliveryQueue::new(c.pool.clone());
    endpoint(&c, "{order.created}").await;
    orders(&c, 1).await;
    fan_out_all(&queue).await;

    let dead = Uuid::now_v7();
    let claimed = queue
        .claim(1, dead, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        queue
            .claim(1, Uuid::now_v7(), LEASE)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // The holder never records; once the lease ran out another claim takes it, same message id.
    let live = Uuid::now_v7();
    let mut taken = Vec::new();
    for _ in 0..100 {
        taken = queue.claim(1, live, LEASE).await.unwrap();
        if !taken.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].message_id, claimed[0].message_id);
    assert_eq!(taken[0].attempts_before, 1);
    // The dead holder's late record changes nothing; the live one's counts.
    queue
        .record(&[record(
            &claimed[0],
            dead,
            AttemptOutcome::Refused { status: 500 },
            Some(LEASE),
        )])
        .await
        .unwrap();
    assert_eq!(c.count("SELECT count(*) AS n FROM webhook_deliveries WHERE last_error IS NULL AND status = 'pending'").await, 1);
    queue
        .record(&[record(
            &taken[0],
            live,
            AttemptOutcome::Delivered { status: 204 },
            None,
        )])
        .await
        .unwrap();
    assert_eq!(
        c.count(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'succeeded' AND attempts = 2"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn giving_up_fails_the_delivery_and_a_disable_is_audited() {
    let c = ctx().await;
    let queue = PgDeliveryQueue::new(c.pool.clone());
    let id = endpoint(&c, "{order.created}").await;
    orders(&c, 1).await;
    fan_out_all(&queue).await;
    let token = Uuid::now_v7();
    let claimed = queue.claim(1, token, LEASE).await.unwrap();
    assert!(claimed[0].failing_since.is_none());
    let mut last = record(&claimed[0], token, AttemptOutcome::Gone, None);
    last.disable = Some("the endpoint answered 410 Gone".into());
    queue.record(&[last]).await.unwrap();
    assert_eq!(c.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'failed' AND last_response_status = 410").await, 1);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM webhook_endpoints WHERE id = '{id}' AND NOT enabled \
             AND disabled_reason LIKE '%410%' AND failing_since IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'webhook.disabled' AND target_id = '{id}' AND actor_id IS NULL"
        ))
        .await,
        1
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].pending, 0);
    assert_eq!(
        queue
            .purge_before(OffsetDateTime::now_utc() + time::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_disabled_endpoints_deliveries_are_parked_until_it_is_enabled_again() {
    use adapters_postgres::PgWebhookStore;
    use ports::{AuditContext, WebhookEndpointChange, WebhookStore};

    let c = ctx().await;
    let queue = PgDeliveryQueue::new(c.pool.clone());
    let store = PgWebhookStore::new(c.pool.clone());
    let id = endpoint(&c, "{order.created}").await;
    orders(&c, 3).await;
    fan_out_all(&queue).await;
    let token = Uuid::now_v7();
    let claimed = queue.claim(1, token, LEASE).await.unwrap();
    let mut gone = record(
        &claimed[0],
        token,
        AttemptOutcome::Gone,
        Some(Duration::from_secs(5)),
    );
    gone.disable = Some("the endpoint answered 410 Gone".into());
    queue.record(&[gone]).await.unwrap();

    // All three wait out of the claim's way, and show no due time.
    assert!(
        queue
            .claim(10, Uuid::now_v7(), LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at >= '9999-01-01+00'")
            .await,
        3
    );
    let query = ports::DeliveryQuery {
        endpoint_id: id,
        status: None,
        before_event_id: None,
        limit: 10,
    };
    let listed = store.deliveries(&query).await.unwrap().unwrap();
    assert!(
        listed.iter().all(|d| d.next_attempt_at.is_none()),
        "{listed:?}"
    );

    // Enabled again: due now, in order.
    let ctx = AuditContext {
        actor: None,
        request_id: None,
        client_ip: None,
    };
    store
        .update(
            id,
            WebhookEndpointChange {
                enabled: Some(true),
                ..WebhookEndpointChange::default()
            },
            &ctx,
        )
        .await
        .unwrap()
        .unwrap();
    let resumed = queue.claim(10, Uuid::now_v7(), LEASE).await.unwrap();
    assert_eq!(resumed.len(), 3);
    // Disabled by an admin: parked again.
    c.sql("UPDATE webhook_deliveries SET lease_token = NULL, leased_until = NULL")
        .await
        .unwrap();
    store
        .update(
            id,
            WebhookEndpointChange {
                enabled: Some(false),
                ..WebhookEndpointChange::default()
            },
            &ctx,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        queue
            .claim(10, Uuid::now_v7(), LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}
