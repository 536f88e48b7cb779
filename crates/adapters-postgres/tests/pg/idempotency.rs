use ports::{IdempotencyBegin, IdempotencyStore, StoredResponse};
use time::OffsetDateTime;

use crate::support::ctx;

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        body: r#"{"id":"x"}"#.into(),
        location: Some("/api/orders/x".into()),
    }
}

#[tokio::test]
async fn begin_complete_replay_mismatch() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let s = &c.idempotency;
    assert_eq!(
        s.begin(ada.id, "orders", "k1", "h1").await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.begin(ada.id, "orders", "k1", "h1").await.unwrap(),
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        s.begin(ada.id, "orders", "k1", "h2").await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    // Keys belong to a user and a scope.
    assert_eq!(
        s.begin(bob.id, "orders", "k1", "h2").await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.begin(ada.id, "payment", "k1", "h2").await.unwrap(),
        IdempotencyBegin::Started
    );

    s.complete(ada.id, "orders", "k1", &created())
        .await
        .unwrap();
    assert_eq!(
        s.begin(ada.id, "orders", "k1", "h1").await.unwrap(),
        IdempotencyBegin::Replay(created())
    );
    assert_eq!(
        s.begin(ada.id, "orders", "k1", "h2").await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    // A completed record is not released.
    s.release(ada.id, "orders", "k1").await.unwrap();
    assert_eq!(
        s.begin(ada.id, "orders", "k1", "h1").await.unwrap(),
        IdempotencyBegin::Replay(created())
    );
    let no_location = StoredResponse {
        status: 409,
        body: "{}".into(),
        location: None,
    };
    s.complete(bob.id, "orders", "k1", &no_location)
        .await
        .unwrap();
    assert_eq!(
        s.begin(bob.id, "orders", "k1", "h2").await.unwrap(),
        IdempotencyBegin::Replay(no_location)
    );
}

#[tokio::test]
async fn release_lets_the_key_be_used_again() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let s = &c.idempotency;
    assert_eq!(
        s.begin(ada.id, "orders", "k", "h1").await.unwrap(),
        IdempotencyBegin::Started
    );
    s.release(ada.id, "orders", "k").await.unwrap();
    assert_eq!(
        s.begin(ada.id, "orders", "k", "h2").await.unwrap(),
        IdempotencyBegin::Started
    );
}

#[tokio::test]
async fn records_older_than_a_day_count_as_absent_and_are_purged() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let s = &c.idempotency;
    s.begin(ada.id, "orders", "old", "h1").await.unwrap();
    s.complete(ada.id, "orders", "old", &created())
        .await
        .unwrap();
    s.begin(ada.id, "orders", "new", "h1").await.unwrap();
    c.sql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'")
        .await
        .unwrap();
    // Expired: a fresh claim, even with another body.
    assert_eq!(
        s.begin(ada.id, "orders", "old", "h2").await.unwrap(),
        IdempotencyBegin::Started
    );

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
            s.begin(ada.id, "orders", "race", "h").await.unwrap()
        }));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.unwrap() {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
}
