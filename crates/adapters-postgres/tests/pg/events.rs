use domain::{EventType, OrderStatus};
use ports::{EventLog, OrderRepository, StatusChange};
use time::OffsetDateTime;

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
