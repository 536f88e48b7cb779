use std::time::Duration;

use adapters_postgres::listener::{
    self, Listener, Notice, PgEventSource, PgRevocationSource, spawn_listener,
};
use domain::{EventType, OrderStatus, PaymentStatus};
use ports::{
    EventSource, LoggedRevocation, Revocation, RevocationLog, RevocationNotice, RevocationSource,
    SourceNotice, TokenRevocations, UserRepository,
};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use crate::support::{Ctx, ctx};

async fn next(rx: &mut mpsc::Receiver<Notice>) -> Notice {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("a notice in time")
        .expect("the listener is running")
}

/// Places orders until the listener hears one (it may not be listening yet), returns its id.
async fn until_heard(
    c: &Ctx,
    rx: &mut mpsc::Receiver<Notice>,
    user: i64,
    product: i64,
) -> uuid::Uuid {
    for _ in 0..50 {
        let placed = c.place(user, &[(product, 1)]).await;
        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            Ok(Some(Notice::Events(events))) => {
                let e = events
                    .iter()
                    .find(|e| e.order_id == placed.id)
                    .expect("our event");
                assert_eq!(e.kind, EventType::OrderCreated);
                assert_eq!(e.to_status, OrderStatus::Pending);
                assert_eq!(e.from_status, None);
                assert_eq!(e.payment_status, PaymentStatus::Unpaid);
                assert_eq!(e.user_id, user);
                assert_eq!(e.total_amount, placed.total_amount);
                assert_eq!(e.actor, None);
                // The stored event, as the payload carried it.
                let stored = c.orders.clone();
                let history = ports::OrderRepository::history(&stored, placed.id)
                    .await
                    .unwrap();
                assert_eq!(history[0].id, e.id);
                assert_eq!(history[0].occurred_at, e.occurred_at);
                return placed.id;
            }
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) => panic!("listener stopped"),
            Err(_) => continue,
        }
    }
    panic!("the listener never heard an order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hears_events_and_revocations_and_survives_a_lost_connection() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 1000).await;
    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = spawn_listener(c.db.url.clone(), tx, stop_rx);
    // Every LISTEN, the first one too, is announced.
    assert_eq!(next(&mut rx).await, Notice::Reconnected);

    until_heard(&c, &mut rx, ada.id, a.id).await;
    c.revocations
        .revoke(
            "jti-1",
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Notice::Revoked("jti-1".into()));

    // Kill its connection: it comes back and says so.
    let killed = c
        .count(&format!(
            "SELECT count(pg_terminate_backend(pid))::bigint AS n FROM pg_stat_activity \
             WHERE datname = '{}' AND application_name = 'oms-listener'",
            c.db.name
        ))
        .await;
    assert_eq!(killed, 1);
    assert_eq!(next(&mut rx).await, Notice::Reconnected);
    until_heard(&c, &mut rx, ada.id, a.id).await;

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), listener)
        .await
        .expect("the listener stops when asked")
        .unwrap();
}

async fn next_source(source: &mut PgEventSource) -> SourceNotice {
    tokio::time::timeout(Duration::from_secs(15), source.next())
        .await
        .expect("a notice in time")
        .expect("the listener is running")
}

async fn next_revocation(source: &mut PgRevocationSource) -> RevocationNotice {
    tokio::time::timeout(Duration::from_secs(15), source.next())
        .await
        .expect("a notice in time")
        .expect("the listener is running")
}

/// The server's way: events to the relay's source, revocations to their own channel, both told
/// of every (re)connection; one side gone, the other still hears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_source_and_the_revocations_each_hear_their_own_and_every_reconnect() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 1000).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let Listener {
        events: mut source,
        mut revocations,
        task,
    } = listener::spawn(c.db.url.clone(), stop_rx);
    assert_eq!(next_source(&mut source).await, SourceNotice::Resumed);
    assert_eq!(
        next_revocation(&mut revocations).await,
        RevocationNotice::Reconnected
    );

    let placed = c.place(ada.id, &[(a.id, 1)]).await;
    match next_source(&mut source).await {
        SourceNotice::Committed(events) => {
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].order_id, placed.id);
            assert_eq!(events[0].kind, EventType::OrderCreated);
        }
        other => panic!("unexpected {other:?}"),
    }
    c.revocations
        .revoke(
            "jti-2",
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(
        next_revocation(&mut revocations).await,
        RevocationNotice::Revoked("jti-2".into())
    );

    let killed = c
        .count(&format!(
            "SELECT count(pg_terminate_backend(pid))::bigint AS n FROM pg_stat_activity \
             WHERE datname = '{}' AND application_name = 'oms-listener'",
            c.db.name
        ))
        .await;
    assert_eq!(killed, 1);
    assert_eq!(next_source(&mut source).await, SourceNotice::Resumed);
    assert_eq!(
        next_revocation(&mut revocations).await,
        RevocationNotice::Reconnected
    );

    // Without its event consumer, the listener still hands over revocations.
    drop(source);
    c.revocations
        .revoke(
            "jti-3",
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(
        next_revocation(&mut revocations).await,
        RevocationNotice::Revoked("jti-3".into())
    );
    // Nobody is told of the place's events any more; that must not stop it either.
    c.place(ada.id, &[(a.id, 1)]).await;

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the listener stops when asked")
        .unwrap();
}

/// Every revocation is logged for the bus in commit order, both kinds, and forgotten after a
/// day by the purge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_are_logged_for_the_bus_in_commit_order() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    c.revocations.revoke("jti-a", later).await.unwrap();
    // A password change raises the user's generation and announces it.
    let audit = ports::AuditEntry {
        action: "user.password_changed".into(),
        actor: None,
        target: None,
        changes: None,
        request_id: None,
        client_ip: None,
    };
    let changed = c
        .users
        .change_password(ada.id, "$argon2id$other", &audit)
        .await
        .unwrap()
        .expect("ada exists");
    c.revocations.revoke("jti-b", later).await.unwrap();
    let logged = c.revocations.revocations_after(0, 10).await.unwrap();
    assert_eq!(
        logged
            .iter()
            .map(|r| r.revocation.clone())
            .collect::<Vec<_>>(),
        vec![
            Revocation::Token("jti-a".into()),
            Revocation::User(ports::UserGeneration {
                user_id: ada.id,
                min_generation: changed.token_generation,
            }),
            Revocation::Token("jti-b".into()),
        ]
    );
    assert!(logged.windows(2).all(|w| w[0].id < w[1].id));
    let after_first: Vec<LoggedRevocation> = c
        .revocations
        .revocations_after(logged[0].id, 10)
        .await
        .unwrap();
    assert_eq!(after_first, logged[1..].to_vec());
    assert_eq!(
        c.revocations.revocations_after(0, 1).await.unwrap().len(),
        1
    );

    // Rows older than a day go with the purge; younger ones stay.
    c.sql(
        "UPDATE revocation_log SET logged_at = now() - interval '25 hours' WHERE payload = 'jti-a'",
    )
    .await
    .unwrap();
    c.revocations
        .purge_expired(OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(
        c.revocations.revocations_after(0, 10).await.unwrap(),
        logged[1..].to_vec()
    );
}
