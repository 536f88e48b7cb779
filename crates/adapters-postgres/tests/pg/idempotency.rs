use ports::{Claim, IdempotencyBegin, IdempotencyStore, StoredResponse};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::{Ctx, ctx};

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        body: r#"{"id":"x"}"#.into(),
        location: Some("/api/orders/x".into()),
    }
}

/// Claims the key, which must be new to the store.
async fn start(s: &dyn IdempotencyStore, user: i64, scope: &str, key: &str, hash: &str) -> Claim {
    let resource = Uuid::now_v7();
    match s.begin(user, scope, key, hash, resource).await.unwrap() {
        IdempotencyBegin::Started(claim) => {
            assert_eq!(claim.resource, resource);
            assert!(!claim.resumed);
            claim
        }
        other => panic!("expected a fresh claim, got {other:?}"),
    }
}

async fn begin(
    s: &dyn IdempotencyStore,
    user: i64,
    scope: &str,
    key: &str,
    hash: &str,
) -> IdempotencyBegin {
    s.begin(user, scope, key, hash, Uuid::now_v7())
        .await
        .unwrap()
}

/// Ends the lease of every claim, as if its instance had died a lease ago.
async fn lease_runs_out(c: &Ctx) {
    c.sql("UPDATE idempotency_keys SET leased_until = now() - interval '1 second'")
        .await
        .unwrap();
}

#[tokio::test]
async fn begin_complete_replay_mismatch() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let s = &c.idempotency;
    let first = start(s, ada.id, "orders", "k1", "h1").await;
    assert_eq!(
        begin(s, ada.id, "orders", "k1", "h1").await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        begin(s, ada.id, "orders", "k1", "h2").await,
        IdempotencyBegin::Mismatch
    );
    // Keys belong to a user and a scope.
    let bobs = start(s, bob.id, "orders", "k1", "h2").await;
    start(s, ada.id, "payment", "k1", "h2").await;

    assert!(
        s.complete(ada.id, "orders", "k1", first.id, &created())
            .await
            .unwrap()
    );
    assert_eq!(
        begin(s, ada.id, "orders", "k1", "h1").await,
        IdempotencyBegin::Replay(created())
    );
    assert_eq!(
        begin(s, ada.id, "orders", "k1", "h2").await,
        IdempotencyBegin::Mismatch
    );
    // A completed record is not released, nor taken over.
    s.release(ada.id, "orders", "k1", first.id).await.unwrap();
    lease_runs_out(&c).await;
    assert_eq!(
        begin(s, ada.id, "orders", "k1", "h1").await,
        IdempotencyBegin::Replay(created())
    );
    let no_location = StoredResponse {
        status: 409,
        body: "{}".into(),
        location: None,
    };
    assert!(
        s.complete(bob.id, "orders", "k1", bobs.id, &no_location)
            .await
            .unwrap()
    );
    assert_eq!(
        begin(s, bob.id, "orders", "k1", "h2").await,
        IdempotencyBegin::Replay(no_location)
    );
}

#[tokio::test]
async fn release_lets_the_key_be_used_again() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let s = &c.idempotency;
    let claim = start(s, ada.id, "orders", "k", "h1").await;
    // Someone else's claim id releases nothing.
    s.release(ada.id, "orders", "k", Uuid::now_v7())
        .await
        .unwrap();
    assert_eq!(
        begin(s, ada.id, "orders", "k", "h1").await,
        IdempotencyBegin::InProgress
    );
    s.release(ada.id, "orders", "k", claim.id).await.unwrap();
    start(s, ada.id, "orders", "k", "h2").await;
}

#[tokio::test]
async fn a_claim_past_its_lease_is_taken_over_with_its_resource() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let s = &c.idempotency;
    let dead = start(s, ada.id, "orders.place", "k", "h").await;
    // Within the lease (60 s here): still in progress.
    assert_eq!(
        begin(s, ada.id, "orders.place", "k", "h").await,
        IdempotencyBegin::InProgress
    );
    lease_runs_out(&c).await;
    // Another body is still refused.
    assert_eq!(
        begin(s, ada.id, "orders.place", "k", "other").await,
        IdempotencyBegin::Mismatch
    );
    let retry = match begin(s, ada.id, "orders.place", "k", "h").await {
        IdempotencyBegin::Started(claim) => claim,
        other => panic!("expected a take-over, got {other:?}"),
    };
    assert!(retry.resumed);
    assert_eq!(retry.resource, dead.resource, "the first request's order");
    assert_ne!(retry.id, dead.id);
    // The new holder has a fresh lease.
    assert_eq!(
        begin(s, ada.id, "orders.place", "k", "h").await,
        IdempotencyBegin::InProgress
    );
    // The first request, if it ever comes back, can neither answer nor release.
    assert!(
        !s.complete(ada.id, "orders.place", "k", dead.id, &created())
            .await
            .unwrap()
    );
    s.release(ada.id, "orders.place", "k", dead.id)
        .await
        .unwrap();
    assert!(
        s.complete(ada.id, "orders.place", "k", retry.id, &created())
            .await
            .unwrap()
    );
    assert_eq!(
        begin(s, ada.id, "orders.place", "k", "h").await,
        IdempotencyBegin::Replay(created())
    );
}

#[tokio::test]
async fn the_lease_is_the_stores_setting_counted_from_the_claim() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let short = adapters_postgres::PgIdempotencyStore::new(
        c.pool.clone(),
        std::time::Duration::from_secs(5),
    );
    start(&short, ada.id, "orders", "k", "h").await;
    let lease_secs = c
        .count(
            "SELECT round(extract(epoch FROM leased_until - created_at))::bigint AS n \
             FROM idempotency_keys",
        )
        .await;
    assert_eq!(lease_secs, 5);
}

#[tokio::test]
async fn records_older_than_a_day_count_as_absent_and_are_purged() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let s = &c.idempotency;
    let old = start(s, ada.id, "orders", "old", "h1").await;
    assert!(
        s.complete(ada.id, "orders", "old", old.id, &created())
            .await
            .unwrap()
    );
    start(s, ada.id, "orders", "new", "h1").await;
    c.sql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'")
        .await
        .unwrap();
    // Expired: a fresh claim, even with another body.
    start(s, ada.id, "orders", "old", "h2").await;

    c.sql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'new'")
        .await
        .unwrap();
    let cutoff = OffsetDateTime::now_utc() - time::Duration::hours(24);
    assert_eq!(s.purge_before(cutoff).await.unwrap(), 1);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM idempotency_keys").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_concurrent_claim_starts() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = c.idempotency.clone();
        tasks.push(tokio::spawn(async move {
            s.begin(ada.id, "orders", "race", "h", Uuid::now_v7())
                .await
                .unwrap()
        }));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.unwrap() {
            IdempotencyBegin::Started(_) => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_concurrent_retry_takes_an_expired_claim_over() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let dead = start(&c.idempotency, ada.id, "orders", "race", "h").await;
    lease_runs_out(&c).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = c.idempotency.clone();
        tasks.push(tokio::spawn(async move {
            s.begin(ada.id, "orders", "race", "h", Uuid::now_v7())
                .await
                .unwrap()
        }));
    }
    let mut taken = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            IdempotencyBegin::Started(claim) => taken.push(claim),
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert!(taken[0].resumed);
    assert_eq!(taken[0].resource, dead.resource);
}
