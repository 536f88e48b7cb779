use domain::{EventType, OrderStatus};
use ports::{EventLog, EventQuery, OrderRepository, StatusChange, StoredEvent};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::ctx;

#[tokio::test]
async fn events_after_by_user_and_limit() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    assert_eq!(c.events.latest_id().await.unwrap(), 0);
    assert_eq!(c.events.oldest_id().await.unwrap(), None);
    assert!(c.events.events_after(0, None, 10).await.unwrap().is_empty());

    let ada_order = c.place(ada.id, &[(a.id, 1)]).await;
    let bob_order = c.place(bob.id, &[(a.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(ada_order.id, OrderStatus::Paid))
        .await
        .unwrap();

    let all = c.events.events_after(0, None, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(
        all.iter().map(|e| (e.order_id, e.kind)).collect::<Vec<_>>(),
        [
            (ada_order.id, EventType::OrderCreated),
            (bob_order.id, EventType::OrderCreated),
            (ada_order.id, EventType::OrderPaid),
        ]
    );
    assert_eq!(c.events.oldest_id().await.unwrap(), Some(all[0].id));
    assert_eq!(c.events.latest_id().await.unwrap(), all[2].id);

    let adas = c.events.events_after(0, Some(ada.id), 10).await.unwrap();
    assert_eq!(
        adas.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[0].id, all[2].id]
    );
    assert!(adas.iter().all(|e| e.user_id == ada.id));
    let after_first = c
        .events
        .events_after(all[0].id, Some(ada.id), 10)
        .await
        .unwrap();
    assert_eq!(
        after_first.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[2].id]
    );
    let limited = c.events.events_after(0, None, 2).await.unwrap();
    assert_eq!(
        limited.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[0].id, all[1].id]
    );
    // A `since` in the future: nothing.
    assert!(
        c.events
            .events_after(all[2].id + 100, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn purge_removes_only_old_events() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let old = c.place(ada.id, &[(a.id, 1)]).await;
    let new = c.place(ada.id, &[(a.id, 1)]).await;
    c.sql(&format!(
        "UPDATE order_events SET occurred_at = now() - interval '40 days' WHERE order_id = '{}'",
        old.id
    ))
    .await
    .unwrap();
    let cutoff = OffsetDateTime::now_utc() - time::Duration::days(30);
    assert_eq!(c.events.purge_before(cutoff).await.unwrap(), 1);
    assert_eq!(c.events.purge_before(cutoff).await.unwrap(), 0);
    let left = c.events.events_after(0, None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].order_id, new.id);
    assert_eq!(c.events.oldest_id().await.unwrap(), Some(left[0].id));
    // The order itself stays.
    assert!(c.orders.get(old.id).await.unwrap().is_some());
}

#[tokio::test]
async fn events_matching_by_type_order_owner_and_limit() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let query = |after_id, limit| EventQuery {
        after_id,
        limit,
        ..EventQuery::default()
    };
    assert!(
        c.events
            .events_matching(&query(0, 10))
            .await
            .unwrap()
            .is_empty()
    );

    let ada_paid = c.place(ada.id, &[(a.id, 1)]).await;
    let bob_cancelled = c.place(bob.id, &[(a.id, 1)]).await;
    let ada_pending = c.place(ada.id, &[(a.id, 1)]).await;
    for (order, status) in [
        (ada_paid.id, OrderStatus::Paid),
        (bob_cancelled.id, OrderStatus::Cancelled),
        (ada_paid.id, OrderStatus::Fulfilled),
    ] {
        c.orders
            .change_status(&StatusChange::new(order, status))
            .await
            .unwrap();
    }
    let all = c.events.events_matching(&query(0, 100)).await.unwrap();
    assert_eq!(all, c.events.events_after(0, None, 100).await.unwrap());
    let summary = |events: &[StoredEvent]| -> Vec<(Uuid, EventType)> {
        events.iter().map(|e| (e.order_id, e.kind)).collect()
    };
    assert_eq!(
        summary(&all),
        [
            (ada_paid.id, EventType::OrderCreated),
            (bob_cancelled.id, EventType::OrderCreated),
            (ada_pending.id, EventType::OrderCreated),
            (ada_paid.id, EventType::OrderPaid),
            (bob_cancelled.id, EventType::OrderCancelled),
            (ada_paid.id, EventType::OrderStatusChanged),
        ]
    );
    let ids = |events: Vec<StoredEvent>| -> Vec<i64> { events.iter().map(|e| e.id).collect() };
    let id = |n: usize| all[n].id;

    // One type; two types (either); a type nothing has.
    let created = EventQuery {
        types: vec![EventType::OrderCreated],
        ..query(0, 100)
    };
    assert_eq!(
        ids(c.events.events_matching(&created).await.unwrap()),
        [id(0), id(1), id(2)]
    );
    let paid_or_cancelled = EventQuery {
        types: vec![EventType::OrderCancelled, EventType::OrderPaid],
        ..query(0, 100)
    };
    assert_eq!(
        ids(c.events.events_matching(&paid_or_cancelled).await.unwrap()),
        [id(3), id(4)]
    );
    let refunded = EventQuery {
        types: vec![EventType::Refunded],
        ..query(0, 100)
    };
    assert!(
        c.events
            .events_matching(&refunded)
            .await
            .unwrap()
            .is_empty()
    );

    // One order, in id order; with a type; after an id; with a limit.
    let of_order = |after_id, limit| EventQuery {
        order_id: Some(ada_paid.id),
        ..query(after_id, limit)
    };
    assert_eq!(
        ids(c.events.events_matching(&of_order(0, 100)).await.unwrap()),
        [id(0), id(3), id(5)]
    );
    assert_eq!(
        ids(c
            .events
            .events_matching(&of_order(id(0), 100))
            .await
            .unwrap()),
        [id(3), id(5)]
    );
    assert_eq!(
        ids(c.events.events_matching(&of_order(0, 2)).await.unwrap()),
        [id(0), id(3)]
    );
    let created_of_order = EventQuery {
        types: vec![EventType::OrderCreated, EventType::OrderStatusChanged],
        ..of_order(0, 100)
    };
    assert_eq!(
        ids(c.events.events_matching(&created_of_order).await.unwrap()),
        [id(0), id(5)]
    );
    let unknown_order = EventQuery {
        order_id: Some(Uuid::now_v7()),
        ..query(0, 100)
    };
    assert!(
        c.events
            .events_matching(&unknown_order)
            .await
            .unwrap()
            .is_empty()
    );

    // An owner with the other filters: every filter given must match.
    let bobs_created = EventQuery {
        user_id: Some(bob.id),
        types: vec![EventType::OrderCreated],
        ..query(0, 100)
    };
    assert_eq!(
        ids(c.events.events_matching(&bobs_created).await.unwrap()),
        [id(1)]
    );
    let bob_and_adas_order = EventQuery {
        user_id: Some(bob.id),
        ..of_order(0, 100)
    };
    assert!(
        c.events
            .events_matching(&bob_and_adas_order)
            .await
            .unwrap()
            .is_empty()
    );
    // A position past the end: nothing.
    assert!(
        c.events
            .events_matching(&query(id(5) + 100, 10))
            .await
            .unwrap()
            .is_empty()
    );
}
