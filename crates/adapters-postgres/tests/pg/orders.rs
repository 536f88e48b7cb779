use domain::product::ProductPatch;
use domain::{
    Cents, EventType, InvalidTransition, OrderStatus, PaymentStatus, PricingError, PricingRules,
    Role, TaxRates,
};
use ports::{
    Actor, ChangeStatusError, OrderCursor, OrderFilter, OrderRepository, PaymentUpdateError,
    PlaceOrderError, ProductRepository, Shortage, StatusChange, Tracking, UnknownProduct,
    UserRepository,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Ctx, address, ctx, new_order};

#[tokio::test]
async fn place_prices_snapshots_and_takes_stock() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1999, 10).await;
    let b = c.product("B-1", 1, 5).await;
    let mut order = new_order(ada.id, &[(b.id, 3), (a.id, 2)]);
    order.address = address("GB");
    order.rules = PricingRules {
        tax_rates: TaxRates::parse("GB=2000").unwrap(),
        ..PricingRules::default()
    };
    let placed = c.orders.place(&order).await.unwrap();

    assert_eq!(placed.id, order.id);
    assert_eq!(placed.user_id, ada.id);
    assert_eq!(placed.status, OrderStatus::Pending);
    assert_eq!(placed.payment_status, PaymentStatus::Unpaid);
    assert!(!placed.payment_collected);
    // 2 × 1999 + 3 × 1 = 4001; below 5000 → 500 shipping; (4001 + 500) × 20 % = 900.2 → 900.
    assert_eq!(placed.subtotal, 4001);
    assert_eq!(placed.shipping_amount, 500);
    assert_eq!(placed.tax_amount, 900);
    assert_eq!(placed.total_amount, 5401);
    assert_eq!(placed.currency, "USD");
    assert_eq!(placed.shipping_address, address("GB"));
    assert_eq!(placed.tracking, None);
    assert_eq!(placed.version, 1);
    // Items in line order, with the names and skus of the moment.
    let items: Vec<(i64, &str, i64, i64, i64)> = placed
        .items
        .iter()
        .map(|i| {
            (
                i.product_id,
                i.sku.as_str(),
                i.quantity,
                i.unit_price,
                i.line_total,
            )
        })
        .collect();
    assert_eq!(
        items,
        [(b.id, "B-1", 3, 1, 3), (a.id, "A-1", 2, 1999, 3998)]
    );
    assert_eq!(placed.items[1].name, "Product A-1");

    assert_eq!(c.stock(a.id).await, 8);
    assert_eq!(c.stock(b.id).await, 2);
    assert_eq!(c.products.get(a.id).await.unwrap().unwrap().version, 2);

    // What get returns is what place returned, and a later rename does not change the order.
    c.products
        .update(
            a.id,
            &ProductPatch {
                name: Some("Renamed".into()),
                price: Some(5),
                ..Default::default()
            },
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(c.orders.get(order.id).await.unwrap(), Some(placed.clone()));
    assert_eq!(c.orders.get(Uuid::now_v7()).await.unwrap(), None);

    let history = c.orders.history(order.id).await.unwrap();
    assert_eq!(history.len(), 1);
    let created = &history[0];
    assert_eq!(created.kind, EventType::OrderCreated);
    assert_eq!(
        (created.from_status, created.to_status),
        (None, OrderStatus::Pending)
    );
    assert_eq!(created.user_id, ada.id);
    assert_eq!(created.total_amount, 5401);
    assert_eq!(created.payment_status, PaymentStatus::Unpaid);
    assert_eq!(created.actor, None);
}

#[tokio::test]
async fn place_with_processing_payment_dates_the_attempt() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let mut order = new_order(ada.id, &[(a.id, 1)]);
    order.payment_status = PaymentStatus::Processing;
    let placed = c.orders.place(&order).await.unwrap();
    assert_eq!(placed.payment_status, PaymentStatus::Processing);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM orders WHERE payment_attempted_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn unknown_or_archived_products_write_nothing() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let gone = c.product("G-1", 100, 10).await;
    c.products
        .update(
            gone.id,
            &ProductPatch {
                archived: Some(true),
                ..Default::default()
            },
            None,
            None,
        )
        .await
        .unwrap();
    let missing = gone.id + 100;
    let err = c
        .orders
        .place(&new_order(ada.id, &[(a.id, 1), (missing, 1), (gone.id, 1)]))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PlaceOrderError::UnknownProducts(vec![
            UnknownProduct {
                product_id: missing,
                first_index: 1
            },
            UnknownProduct {
                product_id: gone.id,
                first_index: 2
            },
        ])
    );
    assert_eq!(c.stock(a.id).await, 10);
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 0);
    assert_eq!(c.count("SELECT count(*) AS n FROM order_events").await, 0);
}

#[tokio::test]
async fn every_short_line_is_reported_and_nothing_is_written() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 2).await;
    let b = c.product("B-1", 100, 50).await;
    let d = c.product("D-1", 100, 0).await;
    let err = c
        .orders
        .place(&new_order(ada.id, &[(a.id, 3), (b.id, 50), (d.id, 1)]))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PlaceOrderError::InsufficientStock(vec![
            Shortage {
                product_id: a.id,
                first_index: 0,
                requested: 3,
                available: 2
            },
            Shortage {
                product_id: d.id,
                first_index: 2,
                requested: 1,
                available: 0
            },
        ])
    );
    assert_eq!(
        (
            c.stock(a.id).await,
            c.stock(b.id).await,
            c.stock(d.id).await
        ),
        (2, 50, 0)
    );
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 0);
    assert_eq!(c.count("SELECT count(*) AS n FROM order_items").await, 0);
}

#[tokio::test]
async fn pricing_overflow_writes_nothing() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let mut order = new_order(ada.id, &[(a.id, 1)]);
    order.rules.shipping_flat = Cents(i64::MAX);
    let err = c.orders.place(&order).await.unwrap_err();
    assert_eq!(err, PlaceOrderError::Pricing(PricingError::Overflow));
    assert_eq!(c.stock(a.id).await, 10);
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 0);
}

#[tokio::test]
async fn status_changes_follow_the_state_machine() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let admin = c.users.upsert_admin("root@example.com", "h").await.unwrap();
    let a = c.product("A-1", 100, 10).await;
    let placed = c.place(ada.id, &[(a.id, 4)]).await;

    // Pay: captured, collected, reference kept.
    let mut pay = StatusChange::new(placed.id, OrderStatus::Paid);
    pay.payment_reference = Some("sim_123".into());
    pay.expected_version = Some(placed.version);
    pay.payment_status_in = vec![PaymentStatus::Unpaid, PaymentStatus::Processing];
    let paid = c.orders.change_status(&pay).await.unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    assert_eq!(paid.payment_status, PaymentStatus::Captured);
    assert!(paid.payment_collected);
    assert_eq!(paid.payment_reference.as_deref(), Some("sim_123"));
    assert_eq!(paid.version, placed.version + 1);
    assert_eq!(paid.items, placed.items);

    // A stale If-Match.
    let mut stale = StatusChange::new(placed.id, OrderStatus::Fulfilled);
    stale.expected_version = Some(placed.version);
    assert_eq!(
        c.orders.change_status(&stale).await.unwrap_err(),
        ChangeStatusError::PreconditionFailed
    );
    // Another customer's order is not found; so is an unknown one.
    let mut theirs = StatusChange::new(placed.id, OrderStatus::Cancelled);
    theirs.owner = Some(ada.id + 1000);
    assert_eq!(
        c.orders.change_status(&theirs).await.unwrap_err(),
        ChangeStatusError::NotFound
    );
    assert_eq!(
        c.orders
            .change_status(&StatusChange::new(Uuid::now_v7(), OrderStatus::Paid))
            .await
            .unwrap_err(),
        ChangeStatusError::NotFound
    );
    // PAID → PAID is not a move.
    assert_eq!(
        c.orders
            .change_status(&StatusChange::new(placed.id, OrderStatus::Paid))
            .await
            .unwrap_err(),
        ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Paid
        })
    );

    // Fulfil with tracking, by an admin with a note.
    let mut fulfil = StatusChange::new(placed.id, OrderStatus::Fulfilled);
    fulfil.tracking = Some(Tracking {
        carrier: "UPS".into(),
        tracking_number: "1Z999".into(),
    });
    fulfil.actor = Some(Actor {
        id: admin.id,
        role: Role::Admin,
    });
    fulfil.note = Some("shipped".into());
    let fulfilled = c.orders.change_status(&fulfil).await.unwrap();
    assert_eq!(fulfilled.status, OrderStatus::Fulfilled);
    assert_eq!(fulfilled.tracking, fulfil.tracking);
    assert_eq!(fulfilled.payment_status, PaymentStatus::Captured);

    // Final: nothing moves it, and the stock stays sold.
    assert!(matches!(
        c.orders
            .change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
            .await,
        Err(ChangeStatusError::InvalidTransition(_))
    ));
    assert_eq!(c.stock(a.id).await, 6);

    let history = c.orders.history(placed.id).await.unwrap();
    let kinds: Vec<(EventType, Option<OrderStatus>, OrderStatus)> = history
        .iter()
        .map(|e| (e.kind, e.from_status, e.to_status))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventType::OrderCreated, None, OrderStatus::Pending),
            (
                EventType::OrderPaid,
                Some(OrderStatus::Pending),
                OrderStatus::Paid
            ),
            (
                EventType::OrderStatusChanged,
                Some(OrderStatus::Paid),
                OrderStatus::Fulfilled
            ),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(history[1].payment_status, PaymentStatus::Captured);
    assert_eq!(history[1].actor, None);
    assert_eq!(history[2].actor, fulfil.actor);
    assert_eq!(history[2].note.as_deref(), Some("shipped"));
}

#[tokio::test]
async fn cancelling_releases_stock_and_refunds_paid_orders() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let b = c.product("B-1", 100, 10).await;

    // PENDING → CANCELLED by its owner.
    let first = c.place(ada.id, &[(a.id, 2), (b.id, 3)]).await;
    let mut cancel = StatusChange::new(first.id, OrderStatus::Cancelled);
    cancel.owner = Some(ada.id);
    cancel.actor = Some(Actor {
        id: ada.id,
        role: Role::Customer,
    });
    let cancelled = c.orders.change_status(&cancel).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.payment_status, PaymentStatus::Unpaid);
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), (10, 10));
    // Again: refused, and the stock is not released twice.
    assert!(matches!(
        c.orders.change_status(&cancel).await,
        Err(ChangeStatusError::InvalidTransition(_))
    ));
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), (10, 10));

    // PAID → CANCELLED: refunded, collected stays true (the money was taken once).
    let second = c.place(ada.id, &[(a.id, 5)]).await;
    c.orders
        .change_status(&StatusChange::new(second.id, OrderStatus::Paid))
        .await
        .unwrap();
    assert_eq!(c.stock(a.id).await, 5);
    let refunded = c
        .orders
        .change_status(&StatusChange::new(second.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    assert_eq!(refunded.payment_status, PaymentStatus::Refunded);
    assert!(refunded.payment_collected);
    assert_eq!(c.stock(a.id).await, 10);
    let last = c.orders.history(second.id).await.unwrap().pop().unwrap();
    assert_eq!(last.kind, EventType::OrderCancelled);
    assert_eq!(last.payment_status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn payment_status_guard_refuses_moves() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let placed = c.place(ada.id, &[(a.id, 1)]).await;
    c.orders
        .set_payment_status(
            placed.id,
            vec![PaymentStatus::Unpaid],
            PaymentStatus::Processing,
        )
        .await
        .unwrap();
    // The reconciler expires only orders whose charge is not in flight.
    let mut expire = StatusChange::new(placed.id, OrderStatus::Cancelled);
    expire.payment_status_in = vec![PaymentStatus::Unpaid, PaymentStatus::Failed];
    assert_eq!(
        c.orders.change_status(&expire).await.unwrap_err(),
        ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Pending,
            to: OrderStatus::Cancelled
        })
    );
    assert_eq!(c.stock(a.id).await, 9);
}

#[tokio::test]
async fn set_payment_status_moves_only_payable_orders() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let placed = c.place(ada.id, &[(a.id, 1)]).await;

    let processing = c
        .orders
        .set_payment_status(
            placed.id,
            vec![PaymentStatus::Unpaid, PaymentStatus::Failed],
            PaymentStatus::Processing,
        )
        .await
        .unwrap();
    assert_eq!(processing.payment_status, PaymentStatus::Processing);
    assert_eq!(processing.status, OrderStatus::Pending);
    assert_eq!(processing.version, placed.version + 1);
    assert_eq!(processing.items, placed.items);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM orders WHERE payment_attempted_at IS NOT NULL")
            .await,
        1
    );
    // From a status it is not in.
    assert_eq!(
        c.orders
            .set_payment_status(
                placed.id,
                vec![PaymentStatus::Unpaid],
                PaymentStatus::Failed
            )
            .await
            .unwrap_err(),
        PaymentUpdateError::NotPayable {
            status: OrderStatus::Pending,
            payment_status: PaymentStatus::Processing
        }
    );
    let failed = c
        .orders
        .set_payment_status(
            placed.id,
            vec![PaymentStatus::Processing],
            PaymentStatus::Failed,
        )
        .await
        .unwrap();
    assert_eq!(failed.payment_status, PaymentStatus::Failed);
    // No event for payment-status updates.
    assert_eq!(c.orders.history(placed.id).await.unwrap().len(), 1);

    // Not PENDING any more.
    c.orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    assert!(matches!(
        c.orders
            .set_payment_status(
                placed.id,
                vec![PaymentStatus::Failed],
                PaymentStatus::Processing
            )
            .await,
        Err(PaymentUpdateError::NotPayable {
            status: OrderStatus::Cancelled,
            ..
        })
    ));
    assert_eq!(
        c.orders
            .set_payment_status(
                Uuid::now_v7(),
                vec![PaymentStatus::Unpaid],
                PaymentStatus::Processing
            )
            .await
            .unwrap_err(),
        PaymentUpdateError::NotFound
    );
}

/// Places `n` one-line orders for `user_id` and returns their ids, oldest first.
async fn place_many(c: &crate::support::Ctx, user_id: i64, product_id: i64, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(c.place(user_id, &[(product_id, 1)]).await.id);
    }
    ids
}

/// Every page of `filter` with `limit`, concatenated.
async fn all_pages(c: &crate::support::Ctx, filter: &OrderFilter, limit: u32) -> Vec<Vec<Uuid>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = c.orders.list(filter, after, limit).await.unwrap();
        if page.is_empty() {
            return pages;
        }
        let last = page.last().unwrap();
        after = Some(OrderCursor {
            created_at: last.created_at,
            id: last.id,
        });
        pages.push(page.iter().map(|o| o.id).collect());
    }
}

#[tokio::test]
async fn pagination_with_equal_timestamps_visits_every_order_once() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let mut ids = place_many(&c, ada.id, a.id, 7).await;
    // Every order at the same instant: only the id orders them.
    c.sql("UPDATE orders SET created_at = '2026-01-01T00:00:00Z'")
        .await
        .unwrap();

    let pages = all_pages(&c, &OrderFilter::default(), 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    let seen: Vec<Uuid> = pages.concat();
    ids.sort();
    ids.reverse();
    assert_eq!(seen, ids, "newest (greatest id) first, each exactly once");

    // A limit equal to the count: one full page, then an empty one.
    let pages = all_pages(&c, &OrderFilter::default(), 7).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].len(), 7);
}

#[tokio::test]
async fn lists_are_newest_first_and_per_user() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let ada_orders = place_many(&c, ada.id, a.id, 3).await;
    let bob_orders = place_many(&c, bob.id, a.id, 2).await;
    c.orders
        .change_status(&StatusChange::new(ada_orders[1], OrderStatus::Cancelled))
        .await
        .unwrap();

    let mine = c
        .orders
        .list_for_user(ada.id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|o| o.id).collect::<Vec<_>>(),
        ada_orders.iter().rev().copied().collect::<Vec<_>>()
    );
    assert!(mine.iter().all(|o| o.items.len() == 1));
    let cancelled = c
        .orders
        .list_for_user(ada.id, Some(OrderStatus::Cancelled), None, 10)
        .await
        .unwrap();
    assert_eq!(
        cancelled.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ada_orders[1]]
    );
    let page = c.orders.list_for_user(ada.id, None, None, 2).await.unwrap();
    let last = page.last().unwrap();
    let rest = c
        .orders
        .list_for_user(
            ada.id,
            None,
            Some(OrderCursor {
                created_at: last.created_at,
                id: last.id,
            }),
            2,
        )
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ada_orders[0]]
    );
    let bobs = c
        .orders
        .list_for_user(bob.id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(bobs.len(), bob_orders.len());
    assert!(
        c.orders
            .list_for_user(bob.id + 100, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn admin_filters_each_and_combined() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let cheap = c.product("C-1", 1000, 100).await;
    let dear = c.product("D-1", 10_000, 100).await;
    // ada: small (1000 + 500 shipping = 1500), large (10000, free shipping); bob: small.
    let ada_small = c.place(ada.id, &[(cheap.id, 1)]).await;
    let ada_large = c.place(ada.id, &[(dear.id, 1)]).await;
    let bob_small = c.place(bob.id, &[(cheap.id, 1)]).await;
    assert_eq!(
        (ada_small.total_amount, ada_large.total_amount),
        (1500, 10_000)
    );
    c.orders
        .change_status(&StatusChange::new(ada_large.id, OrderStatus::Paid))
        .await
        .unwrap();
    c.sql(&format!(
        "UPDATE orders SET created_at = CASE id \
           WHEN '{}' THEN timestamptz '2026-01-01T00:00:00Z' \
           WHEN '{}' THEN timestamptz '2026-01-02T00:00:00Z' \
           ELSE timestamptz '2026-01-03T00:00:00Z' END",
        ada_small.id, ada_large.id
    ))
    .await
    .unwrap();

    let ids = |orders: Vec<ports::Order>| orders.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let list = |filter: OrderFilter| {
        let orders = c.orders.clone();
        async move { orders.list(&filter, None, 50).await.unwrap() }
    };
    assert_eq!(
        ids(list(OrderFilter::default()).await),
        [bob_small.id, ada_large.id, ada_small.id]
    );
    let by_status = OrderFilter {
        statuses: vec![OrderStatus::Paid],
        ..Default::default()
    };
    assert_eq!(ids(list(by_status).await), [ada_large.id]);
    let two_statuses = OrderFilter {
        statuses: vec![OrderStatus::Paid, OrderStatus::Pending],
        ..Default::default()
    };
    assert_eq!(ids(list(two_statuses).await).len(), 3);
    let by_user = OrderFilter {
        user_id: Some(bob.id),
        ..Default::default()
    };
    assert_eq!(ids(list(by_user).await), [bob_small.id]);
    let by_email = OrderFilter {
        email: Some("ADA@Example.com".into()),
        ..Default::default()
    };
    assert_eq!(ids(list(by_email).await), [ada_large.id, ada_small.id]);
    let unknown_email = OrderFilter {
        email: Some("nobody@example.com".into()),
        ..Default::default()
    };
    assert!(list(unknown_email).await.is_empty());
    // created_from inclusive, created_to exclusive.
    let window = OrderFilter {
        created_from: Some(datetime!(2026-01-02 0:00 UTC)),
        created_to: Some(datetime!(2026-01-03 0:00 UTC)),
        ..Default::default()
    };
    assert_eq!(ids(list(window).await), [ada_large.id]);
    // min and max inclusive.
    let totals = OrderFilter {
        min_total: Some(1500),
        max_total: Some(1500),
        ..Default::default()
    };
    assert_eq!(ids(list(totals).await), [bob_small.id, ada_small.id]);
    let combined = OrderFilter {
        statuses: vec![OrderStatus::Pending],
        email: Some("ada@example.com".into()),
        min_total: Some(1000),
        created_to: Some(datetime!(2026-01-02 0:00 UTC)),
        ..Default::default()
    };
    assert_eq!(ids(list(combined).await), [ada_small.id]);
    let nothing = OrderFilter {
        user_id: Some(bob.id),
        statuses: vec![OrderStatus::Paid],
        ..Default::default()
    };
    assert!(list(nothing).await.is_empty());
}

/// The whole export of `filter` as text, through PostgreSQL's `COPY`.
async fn export(c: &Ctx, filter: &OrderFilter) -> String {
    use futures_util::StreamExt as _;
    let settings = c.db.settings();
    let export = adapters_postgres::PgOrderExport::new(adapters_postgres::ExportSettings {
        url: settings.url,
        application_name: "oms-test-export".into(),
        connect_timeout: std::time::Duration::from_secs(5),
        max_concurrent: 2,
    });
    let mut chunks = ports::OrderExport::export_csv(&export, filter)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn export_rows_carry_email_and_unit_count() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let b = c.product("B-1", 200, 100).await;
    let first = c.place(ada.id, &[(a.id, 2), (b.id, 5)]).await;
    let second = c.place(ada.id, &[(b.id, 1)]).await;

    let csv = export(&c, &OrderFilter::default()).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,user_id,email,status,payment_status,subtotal,shipping_amount,tax_amount,\
         total_amount,currency,payment_collected,item_count,shipping_name,shipping_city,\
         shipping_country,created_at,updated_at"
    );
    let row = |o: &ports::Order, units: i64| {
        format!(
            "{},{},ada@example.com,PENDING,unpaid,{},{},{},{},USD,false,{units},Ada Lovelace,\
             London,US,{},{}",
            o.id,
            ada.id,
            o.subtotal,
            o.shipping_amount,
            o.tax_amount,
            o.total_amount,
            rfc3339(o.created_at),
            rfc3339(o.updated_at)
        )
    };
    assert_eq!(lines[1..], [row(&second, 1), row(&first, 7)]);
    assert!(csv.ends_with('\n'));

    // An order placed before `item_count` existed (NULL) is counted from its lines.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE orders SET item_count = NULL WHERE id = '{}'",
            first.id
        )),
        &mut c.pool.get().await.unwrap(),
    )
    .await
    .unwrap();
    let again = export(&c, &OrderFilter::default()).await;
    assert_eq!(again, csv);

    let filtered = export(
        &c,
        &OrderFilter {
            email: Some("bob@example.com".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(filtered.lines().count(), 1);
    let hostile = export(
        &c,
        &OrderFilter {
            email: Some("x' OR '1'='1".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(hostile.lines().count(), 1);
}

#[tokio::test]
async fn pending_to_reconcile_finds_expired_and_processing_orders() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let old = c.place(ada.id, &[(a.id, 1)]).await;
    let processing = c.place(ada.id, &[(a.id, 1)]).await;
    let fresh = c.place(ada.id, &[(a.id, 1)]).await;
    let old_paid = c.place(ada.id, &[(a.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(old_paid.id, OrderStatus::Paid))
        .await
        .unwrap();
    c.orders
        .set_payment_status(
            processing.id,
            vec![PaymentStatus::Unpaid],
            PaymentStatus::Processing,
        )
        .await
        .unwrap();
    c.sql(&format!(
        "UPDATE orders SET created_at = now() - interval '1 hour' WHERE id IN ('{}', '{}')",
        old.id, old_paid.id
    ))
    .await
    .unwrap();
    let cutoff = OffsetDateTime::now_utc() - time::Duration::minutes(30);
    // A charge attempted a moment ago may still be waiting for its answer: not yet.
    let before_the_attempt = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let found: Vec<Uuid> = c
        .orders
        .pending_to_reconcile(cutoff, before_the_attempt, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(found, [old.id]);
    let attempted_before = OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let found: Vec<Uuid> = c
        .orders
        .pending_to_reconcile(cutoff, attempted_before, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(found, [old.id, processing.id]);
    assert!(!found.contains(&fresh.id));
    assert_eq!(
        c.orders
            .pending_to_reconcile(cutoff, attempted_before, 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_order_of_nothing_is_refused() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    assert!(matches!(
        c.orders.place(&new_order(ada.id, &[])).await,
        Err(PlaceOrderError::Store(_))
    ));
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 0);
}

#[tokio::test]
async fn the_reconcile_horizon_names_the_oldest_unpaid_order_and_charge_in_flight() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    assert_eq!(
        c.orders.reconcile_horizon().await.unwrap(),
        ports::ReconcileHorizon::default()
    );
    let newer = c.place(ada.id, &[(a.id, 1)]).await;
    let older = c.place(ada.id, &[(a.id, 1)]).await;
    let paid = c.place(ada.id, &[(a.id, 1)]).await;
    let in_flight = c.place(ada.id, &[(a.id, 1)]).await;
    c.sql(&format!(
        "UPDATE orders SET created_at = now() - interval '1 hour' WHERE id IN ('{}', '{}')",
        older.id, paid.id
    ))
    .await
    .unwrap();
    c.orders
        .change_status(&StatusChange::new(paid.id, OrderStatus::Paid))
        .await
        .unwrap();
    let in_flight = c
        .orders
        .set_payment_status(
            in_flight.id,
            vec![PaymentStatus::Unpaid],
            PaymentStatus::Processing,
        )
        .await
        .unwrap();
    let older = c.orders.get(older.id).await.unwrap().unwrap();
    let horizon = c.orders.reconcile_horizon().await.unwrap();
    assert_eq!(horizon.oldest_unpaid, Some(older.created_at));
    assert!(horizon.oldest_unpaid < Some(newer.created_at));
    let attempted = horizon.oldest_processing.expect("a charge in flight");
    assert!(attempted >= in_flight.created_at && attempted <= in_flight.updated_at);
}

#[tokio::test]
async fn paying_again_after_a_failed_attempt_is_the_next_attempt() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let order = c.place(ada.id, &[(a.id, 1)]).await;
    assert_eq!(order.payment_attempt, 1);
    let step = |from: PaymentStatus, to: PaymentStatus| {
        let orders = c.orders.clone();
        async move {
            orders
                .set_payment_status(order.id, vec![from], to)
                .await
                .unwrap()
                .payment_attempt
        }
    };
    // The first charge of an unpaid order is attempt 1; a decline keeps it.
    assert_eq!(
        step(PaymentStatus::Unpaid, PaymentStatus::Processing).await,
        1
    );
    assert_eq!(
        step(PaymentStatus::Processing, PaymentStatus::Failed).await,
        1
    );
    assert_eq!(
        step(PaymentStatus::Failed, PaymentStatus::Processing).await,
        2
    );
    assert_eq!(
        c.orders
            .get(order.id)
            .await
            .unwrap()
            .unwrap()
            .payment_attempt,
        2
    );
}

#[tokio::test]
async fn a_paid_order_with_a_refund_in_flight_is_not_cancelled_until_it_settles() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let placed = c.place(ada.id, &[(a.id, 2)]).await;
    c.orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Paid))
        .await
        .unwrap();
    let refund = c
        .orders
        .reserve_refund(&ports::NewRefund {
            id: Uuid::now_v7(),
            order_id: placed.id,
            items: vec![domain::RefundItem {
                product_id: a.id,
                quantity: 1,
                restock: domain::Restock::Cancel,
            }],
            shipping: false,
            amount: None,
            reason: "changed their mind".into(),
            actor: None,
            expected_version: None,
            audit: None,
        })
        .await
        .unwrap();
    let cancel = StatusChange::new(placed.id, OrderStatus::Cancelled);
    assert!(matches!(
        c.orders.change_status(&cancel).await,
        Err(ChangeStatusError::InvalidTransition(_))
    ));
    assert_eq!(c.stock(a.id).await, 8, "nothing released");
    c.orders
        .settle_refund(
            refund.id,
            &ports::RefundSettlement::Succeeded {
                reference: "re_1".into(),
            },
        )
        .await
        .unwrap();
    let cancelled = c.orders.change_status(&cancel).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    // One unit back by the refund, the other by the cancel: each once.
    assert_eq!(c.stock(a.id).await, 10);
    assert_eq!(cancelled.items[0].quantity_cancelled, 2);
}
