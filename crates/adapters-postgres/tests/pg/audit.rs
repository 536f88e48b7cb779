//! The audit log: append-only (the database refuses `UPDATE`, `DELETE` and `TRUNCATE`, also with
//! the purge's flag set by hand), the retention purge (exactly the entries older than its cutoff,
//! never a cutoff younger than a day), each admin write's entry stored in the write's own
//! transaction (a refused or rolled-back write leaves none, a write that changes nothing leaves
//! none), the list's filters and keyset pages, and internal notes.
//!
//! The tests connect as the database's owner (a superuser here): what is refused to it is refused
//! to the application's role too.

use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::product::{NewProduct, ProductPatch, StockChange};
use domain::{OrderStatus, RefundItem, Restock, Role};
use ports::audit::{action, target};
use ports::{
    Actor, AddNoteError, AuditContext, AuditEntry, AuditLog, AuditQuery, AuditTarget,
    ChangeStatusError, NewNote, NewRefund, NewShipment, Order, OrderRepository, ProductRepository,
    ProductWriteError, RefundError, StatusChange, StoredAuditEntry, Tracking, UserRepository,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::group_commit::{Write, queued};
use crate::support::{Ctx, ctx, one_connection};

const ADMIN_ID: i64 = 900;

fn admin() -> Actor {
    Actor {
        id: ADMIN_ID,
        role: Role::Admin,
    }
}

/// Makes the admin of [`admin`] (events and shipments name their actor by a foreign key).
async fn with_admin(c: &Ctx) {
    c.sql(&format!(
        "INSERT INTO users (id, email, password_hash, role) OVERRIDING SYSTEM VALUE \
         VALUES ({ADMIN_ID}, 'root@example.com', 'h', 'ADMIN')"
    ))
    .await
    .unwrap();
}

/// The request context of an admin's request `request_id`.
fn request(request_id: &str) -> AuditContext {
    AuditContext {
        actor: Some(admin()),
        request_id: Some(request_id.to_owned()),
        client_ip: Some("127.0.0.1".into()),
    }
}

/// Every entry, newest first.
async fn entries(c: &Ctx) -> Vec<StoredAuditEntry> {
    c.audit
        .list(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

async fn entry_count(c: &Ctx) -> i64 {
    c.count("SELECT count(*) AS n FROM audit_log").await
}

/// `(action, target, changes, request id)` of an entry.
fn summary(stored: &StoredAuditEntry) -> (String, Option<AuditTarget>, Value, Option<String>) {
    let entry = &stored.entry;
    (
        entry.action.clone(),
        entry.target.clone(),
        entry.changes.as_ref().map_or(Value::Null, |c| c.to_json()),
        entry.request_id.clone(),
    )
}

/// Inserts an entry of `action` (no actor, no target) that occurred `age` ago; returns its id.
async fn entry_aged(c: &Ctx, action: &str, age: Duration) -> i64 {
    let entry = AuditContext::default().entry(action, None);
    entry_at(c, &entry, age).await
}

async fn ids(c: &Ctx) -> Vec<i64> {
    entries(c).await.iter().map(|e| e.id).collect()
}

fn refused(result: Result<usize, diesel::result::Error>, what: &str) {
    match result {
        Err(e) => assert!(
            e.to_string().contains("append-only"),
            "{what}: refused for another reason: {e}"
        ),
        Ok(rows) => panic!("{what} was allowed ({rows} rows)"),
    }
}

#[tokio::test]
async fn updates_deletes_and_truncates_of_the_audit_log_are_refused() {
    let c = ctx().await;
    c.audit
        .record(&request("req-1").entry(action::AUTH_LOGIN, None))
        .await
        .unwrap();
    entry_aged(&c, "product.updated", Duration::days(400)).await;
    for sql in [
        "UPDATE audit_log SET action = 'product.created'",
        "UPDATE audit_log SET occurred_at = now() - interval '10 years'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE occurred_at < now() - interval '1 day'",
        "TRUNCATE audit_log",
        "TRUNCATE audit_log, audit_purges",
    ] {
        refused(c.sql(sql).await, sql);
    }
    assert_eq!(entry_count(&c).await, 2);

    // The purges' own record is append-only too.
    c.audit
        .purge(OffsetDateTime::now_utc() - Duration::days(365))
        .await
        .unwrap();
    for sql in [
        "UPDATE audit_purges SET deleted = 0",
        "DELETE FROM audit_purges",
        "TRUNCATE audit_purges",
    ] {
        refused(c.sql(sql).await, sql);
    }
    assert_eq!(c.count("SELECT count(*) AS n FROM audit_purges").await, 1);
    assert_eq!(entry_count(&c).await, 1, "the purge took the old one");
}

#[tokio::test]
async fn setting_the_purge_flag_by_hand_does_not_let_a_delete_through() {
    let c = ctx().await;
    for _ in 0..3 {
        entry_aged(&c, "product.updated", Duration::days(400)).await;
    }
    let mut conn = c.pool.get().await.unwrap();
    // The flag, set for the transaction, then an ordinary DELETE of entries old enough to purge.
    let in_transaction = conn
        .transaction(async |conn| -> Result<(), diesel::result::Error> {
            diesel::sql_query("SELECT set_config('oms.audit_purge', 'on', true)")
                .execute(conn)
                .await?;
            diesel::sql_query("DELETE FROM audit_log WHERE occurred_at < now() - interval '1 day'")
                .execute(conn)
                .await?;
            Ok(())
        })
        .await;
    refused(in_transaction.map(|()| 0), "DELETE with the flag set");
    // The same from a function body (still trigger depth 1), and with the flag set for the session.
    refused(
        c.sql(
            "DO $$ BEGIN PERFORM set_config('oms.audit_purge', 'on', true); \
             DELETE FROM audit_log; END $$",
        )
        .await,
        "DELETE in a DO block",
    );
    refused(
        diesel::sql_query("SET oms.audit_purge = 'on'")
            .execute(&mut conn)
            .await
            .and(
                diesel::sql_query("DELETE FROM audit_log")
                    .execute(&mut conn)
                    .await,
            ),
        "DELETE with the flag set for the session",
    );
    drop(conn);
    assert_eq!(entry_count(&c).await, 3);
}

#[tokio::test]
async fn the_purge_deletes_exactly_the_entries_older_than_the_cutoff() {
    let c = ctx().await;
    let day = Duration::days(1);
    let mut kept = Vec::new();
    let mut purged = Vec::new();
    for (age, old) in [
        (day * 400, true),
        (day * 366, true),
        (day * 365 + Duration::hours(1), true),
        (day * 365 - Duration::hours(1), false),
        (day * 2, false),
        (Duration::ZERO, false),
    ] {
        let id = entry_aged(&c, "product.updated", age).await;
        if old { &mut purged } else { &mut kept }.push(id);
    }
    let cutoff = OffsetDateTime::now_utc() - day * 365;
    assert_eq!(c.audit.purge(cutoff).await.unwrap(), purged.len() as u64);
    kept.reverse();
    assert_eq!(ids(&c).await, kept, "the younger ones, untouched");
    assert_eq!(
        c.count("SELECT deleted AS n FROM audit_purges").await,
        3,
        "the purge is recorded with its count"
    );
    // Again: nothing left to purge, and nothing recorded (housekeeping runs every few minutes).
    assert_eq!(c.audit.purge(cutoff).await.unwrap(), 0);
    assert_eq!(ids(&c).await, kept);
    assert_eq!(c.count("SELECT count(*) AS n FROM audit_purges").await, 1);
}

#[tokio::test]
async fn a_purge_cutoff_younger_than_a_day_is_refused() {
    let c = ctx().await;
    let recent = entry_aged(&c, "product.updated", Duration::hours(2)).await;
    let month = entry_aged(&c, "product.updated", Duration::days(30)).await;
    let now = OffsetDateTime::now_utc();
    for cutoff in [now, now - Duration::hours(23), now + Duration::days(1)] {
        assert!(
            c.audit.purge(cutoff).await.is_err(),
            "a cutoff of {cutoff} was accepted"
        );
    }
    assert_eq!(ids(&c).await, [month, recent]);
    assert_eq!(c.count("SELECT count(*) AS n FROM audit_purges").await, 0);
    // Just over a day: the month-old entry goes, the two-hour-old one stays.
    assert_eq!(c.audit.purge(now - Duration::hours(25)).await.unwrap(), 1);
    assert_eq!(ids(&c).await, [recent]);
}

fn new_product(sku: &str) -> NewProduct {
    NewProduct {
        name: "Lamp".into(),
        description: None,
        price: 1000,
        stock_quantity: 5,
        sku: sku.into(),
        image_url: None,
    }
}

#[tokio::test]
async fn product_writes_store_their_entry_with_the_fields_that_changed() {
    let c = ctx().await;
    let created = c
        .products
        .create(
            &new_product("LMP-1"),
            Some(request("req-create").entry(action::PRODUCT_CREATED, None)),
        )
        .await
        .unwrap();
    let target = Some(AuditTarget::new(target::PRODUCT, created.id));
    let update =
        |request_id: &str| Some(request(request_id).entry(action::PRODUCT_UPDATED, target.clone()));
    // A price and a stock delta: the delta shows as the stock it made, read under the lock.
    c.products
        .update(
            created.id,
            &ProductPatch {
                price: Some(1250),
                stock: Some(StockChange::Delta(3)),
                name: Some("Lamp".into()),
                ..ProductPatch::default()
            },
            None,
            update("req-update"),
        )
        .await
        .unwrap();
    // Nothing that differs: no entry (the version still moves, as before).
    c.products
        .update(
            created.id,
            &ProductPatch {
                price: Some(1250),
                ..ProductPatch::default()
            },
            None,
            update("req-same"),
        )
        .await
        .unwrap();
    // Refused writes: a stale If-Match, a stock delta below 0, a taken sku.
    let other = c.product("TAKEN", 1, 1).await;
    for (patch, version, refusal) in [
        (
            ProductPatch {
                price: Some(1),
                ..ProductPatch::default()
            },
            Some(created.version),
            ProductWriteError::VersionMismatch,
        ),
        (
            ProductPatch {
                stock: Some(StockChange::Delta(-100)),
                ..ProductPatch::default()
            },
            None,
            ProductWriteError::InsufficientStock { available: 8 },
        ),
        (
            ProductPatch {
                sku: Some(other.sku.to_lowercase()),
                ..ProductPatch::default()
            },
            None,
            ProductWriteError::SkuTaken,
        ),
    ] {
        assert_eq!(
            c.products
                .update(created.id, &patch, version, update("req-refused"))
                .await,
            Err(refusal)
        );
    }
    assert_eq!(
        c.products
            .create(
                &new_product("taken"),
                Some(request("req-dup").entry(action::PRODUCT_CREATED, None)),
            )
            .await,
        Err(ProductWriteError::SkuTaken)
    );
    // Archived, then archived again (nothing changes the second time).
    for request_id in ["req-archive", "req-archive-again"] {
        c.products
            .update(
                created.id,
                &ProductPatch {
                    archived: Some(true),
                    ..ProductPatch::default()
                },
                None,
                Some(request(request_id).entry(action::PRODUCT_ARCHIVED, target.clone())),
            )
            .await
            .unwrap();
    }

    let got: Vec<_> = entries(&c).await.iter().rev().map(summary).collect();
    assert_eq!(
        got,
        [
            (
                "product.created".to_owned(),
                target.clone(),
                json!({
                    "name": [null, "Lamp"], "description": [null, null], "price": [null, 1000],
                    "stock_quantity": [null, 5], "sku": [null, "LMP-1"], "image_url": [null, null], "archived": [null, false]
                }),
                Some("req-create".to_owned()),
            ),
            (
                "product.updated".to_owned(),
                target.clone(),
                json!({"price": [1000, 1250], "stock_quantity": [5, 8]}),
                Some("req-update".to_owned()),
            ),
            (
                "product.archived".to_owned(),
                target.clone(),
                json!({"archived": [false, true]}),
                Some("req-archive".to_owned()),
            ),
        ]
    );
    let first = &entries(&c).await[0].entry;
    assert_eq!(first.actor, Some(admin()));
    assert_eq!(first.client_ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn an_entry_the_database_refuses_takes_its_change_down_with_it() {
    let c = ctx().await;
    with_admin(&c).await;
    let product = c.product("LMP-1", 1000, 5).await;
    // An action the table's CHECK refuses: the entry's INSERT fails after the product's UPDATE,
    // in the same transaction, so the update rolls back with it.
    let bad = request("req-bad").entry("Not An Action", None);
    let result = c
        .products
        .update(
            product.id,
            &ProductPatch {
                price: Some(1),
                ..ProductPatch::default()
            },
            None,
            Some(bad.clone()),
        )
        .await;
    assert!(
        matches!(result, Err(ProductWriteError::Store(_))),
        "{result:?}"
    );
    let now = c.products.get(product.id).await.unwrap().unwrap();
    assert_eq!((now.price, now.version), (1000, product.version));
    assert!(
        c.products
            .create(&new_product("LMP-2"), Some(bad.clone()))
            .await
            .is_err()
    );
    assert_eq!(c.count("SELECT count(*) AS n FROM products").await, 1);

    // The same for an order: its status stays, no event is left behind.
    let ada = c.customer("ada@example.com").await;
    let order = c.place(ada.id, &[(product.id, 1)]).await;
    let events = c.count("SELECT count(*) AS n FROM order_events").await;
    let mut change = StatusChange::new(order.id, OrderStatus::Paid);
    change.audit = Some(bad);
    assert!(matches!(
        c.orders.change_status(&change).await,
        Err(ChangeStatusError::Store(_))
    ));
    assert_eq!(
        c.orders.get(order.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
    assert_eq!(
        c.count("SELECT count(*) AS n FROM order_events").await,
        events
    );
    assert_eq!(entry_count(&c).await, 0);
}

/// A status change of `order` to `to` by the admin, with the entry of `request_id`.
fn audited_change(order: Uuid, to: OrderStatus, request_id: &str) -> StatusChange {
    let mut change = StatusChange::new(order, to);
    change.actor = Some(admin());
    change.audit = Some(request(request_id).entry(
        action::ORDER_STATUS_CHANGED,
        Some(AuditTarget::new(target::ORDER, order)),
    ));
    change
}

#[tokio::test]
async fn status_changes_sharing_a_transaction_store_an_entry_for_each_change_made() {
    let c = ctx().await;
    with_admin(&c).await;
    let ada = c.customer("ada@example.com").await;
    let lamp = c.product("LMP-1", 1000, 50).await;
    let mut orders = Vec::new();
    for _ in 0..5 {
        orders.push(c.place(ada.id, &[(lamp.id, 1)]).await.id);
    }
    let (pool, log) = one_connection(&c).await;
    let repo = adapters_postgres::PgOrderRepository::new(pool.clone());
    // The first alone; the other four together, of which one is refused by the state machine
    // and one by its stale `If-Match`.
    let changes = [
        audited_change(orders[0], OrderStatus::Paid, "req-0"),
        audited_change(orders[1], OrderStatus::Paid, "req-1"),
        audited_change(orders[2], OrderStatus::Fulfilled, "req-2"),
        audited_change(orders[3], OrderStatus::Cancelled, "req-3"),
        {
            let mut stale = audited_change(orders[4], OrderStatus::Paid, "req-4");
            stale.expected_version = Some(99);
            stale
        },
    ];
    let writes: Vec<Write<Result<Order, ChangeStatusError>>> = changes
        .into_iter()
        .map(|change| {
            let repo = repo.clone();
            Box::pin(async move { repo.change_status(&change).await }) as _
        })
        .collect();
    let results = queued(&pool, &repo, writes).await;
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|s| s.trim_start().starts_with("BEGIN"))
            .count(),
        2,
        "the first alone, the rest together"
    );
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
    assert!(matches!(
        results[2],
        Err(ChangeStatusError::InvalidTransition(_))
    ));
    assert_eq!(results[4], Err(ChangeStatusError::PreconditionFailed));

    let order = |i: usize| Some(AuditTarget::new(target::ORDER, orders[i]));
    let got: Vec<_> = entries(&c).await.iter().rev().map(summary).collect();
    assert_eq!(
        got,
        [
            (
                "order.status_changed".to_owned(),
                order(0),
                json!({"status": ["PENDING", "PAID"], "payment_status": ["unpaid", "captured"]}),
                Some("req-0".to_owned()),
            ),
            (
                "order.status_changed".to_owned(),
                order(1),
                json!({"status": ["PENDING", "PAID"], "payment_status": ["unpaid", "captured"]}),
                Some("req-1".to_owned()),
            ),
            (
                "order.status_changed".to_owned(),
                order(3),
                json!({"status": ["PENDING", "CANCELLED"]}),
                Some("req-3".to_owned()),
            ),
        ]
    );
}

#[tokio::test]
async fn a_shared_transaction_the_database_refuses_keeps_each_entry_with_its_own_change() {
    let c = ctx().await;
    with_admin(&c).await;
    let ada = c.customer("ada@example.com").await;
    let lamp = c.product("LMP-1", 1000, 50).await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(c.place(ada.id, &[(lamp.id, 1)]).await.id);
    }
    let (pool, _log) = one_connection(&c).await;
    let repo = adapters_postgres::PgOrderRepository::new(pool.clone());
    // Order 2's entry is one the database refuses: the shared transaction fails, each change is
    // retried alone, and only order 2's change is lost, with its entry.
    let mut bad = audited_change(orders[2], OrderStatus::Paid, "req-2");
    if let Some(entry) = bad.audit.as_mut() {
        entry.action = "Not An Action".into();
    }
    let changes = [
        audited_change(orders[0], OrderStatus::Paid, "req-0"),
        audited_change(orders[1], OrderStatus::Paid, "req-1"),
        bad,
        audited_change(orders[3], OrderStatus::Paid, "req-3"),
    ];
    let writes: Vec<Write<Result<Order, ChangeStatusError>>> = changes
        .into_iter()
        .map(|change| {
            let repo = repo.clone();
            Box::pin(async move { repo.change_status(&change).await }) as _
        })
        .collect();
    let results = queued(&pool, &repo, writes).await;
    let outcomes: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map(|o| o.status))
        .collect();
    assert!(
        outcomes[0].is_ok() && outcomes[1].is_ok() && outcomes[3].is_ok(),
        "{outcomes:?}"
    );
    assert!(matches!(results[2], Err(ChangeStatusError::Store(_))));
    let paid: Vec<OrderStatus> = {
        let mut statuses = Vec::new();
        for id in &orders {
            statuses.push(c.orders.get(*id).await.unwrap().unwrap().status);
        }
        statuses
    };
    assert_eq!(
        paid,
        [
            OrderStatus::Paid,
            OrderStatus::Paid,
            OrderStatus::Pending,
            OrderStatus::Paid
        ]
    );
    let targets: Vec<_> = entries(&c)
        .await
        .iter()
        .rev()
        .map(|e| e.entry.target.clone())
        .collect();
    assert_eq!(
        targets,
        [0, 1, 3].map(|i| Some(AuditTarget::new(target::ORDER, orders[i])))
    );
}

fn shipment(order_id: Uuid, items: Option<Vec<(i64, i64)>>, request_id: &str) -> NewShipment {
    NewShipment {
        id: Uuid::now_v7(),
        order_id,
        items,
        tracking: Some(Tracking {
            carrier: "DHL".into(),
            tracking_number: "TRK-1".into(),
        }),
        note: None,
        actor: Some(admin()),
        expected_version: None,
        audit: Some(request(request_id).entry(
            action::ORDER_SHIPPED,
            Some(AuditTarget::new(target::ORDER, order_id)),
        )),
    }
}

fn refund(order_id: Uuid, items: Vec<RefundItem>, request_id: &str) -> NewRefund {
    NewRefund {
        id: Uuid::now_v7(),
        order_id,
        items,
        shipping: false,
        amount: None,
        reason: "arrived broken".into(),
        actor: Some(admin()),
        expected_version: None,
        audit: Some(request(request_id).entry(
            action::ORDER_REFUNDED,
            Some(AuditTarget::new(target::ORDER, order_id)),
        )),
    }
}

#[tokio::test]
async fn shipments_refunds_and_fulfilments_store_what_they_moved() {
    let c = ctx().await;
    with_admin(&c).await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let b = c.product("B-1", 500, 10).await;
    let placed = c.place(ada.id, &[(a.id, 2), (b.id, 1)]).await;
    let id = placed.id;
    c.orders
        .change_status(&StatusChange::new(id, OrderStatus::Paid))
        .await
        .unwrap();
    // One unit of A ships; B's unit is refunded before it ships.
    let first = shipment(id, Some(vec![(a.id, 1)]), "req-ship");
    c.orders.ship(&first).await.unwrap();
    let cancel = refund(
        id,
        vec![RefundItem {
            product_id: b.id,
            quantity: 1,
            restock: Restock::Cancel,
        }],
        "req-refund",
    );
    let reserved = c.orders.reserve_refund(&cancel).await.unwrap();
    // Refused: more than is open, more than is refundable. No entries.
    assert!(
        c.orders
            .ship(&shipment(id, Some(vec![(a.id, 5)]), "req-too-many"))
            .await
            .is_err()
    );
    assert!(matches!(
        c.orders
            .reserve_refund(&refund(
                id,
                vec![RefundItem {
                    product_id: a.id,
                    quantity: 9,
                    restock: Restock::Return,
                }],
                "req-too-much",
            ))
            .await,
        Err(RefundError::ExceedsRefundable(_))
    ));
    // The rest ships by status (once the refund settled), with tracking.
    c.orders
        .settle_refund(
            reserved.id,
            &ports::RefundSettlement::Succeeded {
                reference: "re_1".into(),
            },
        )
        .await
        .unwrap();
    let mut fulfil = audited_change(id, OrderStatus::Fulfilled, "req-fulfil");
    fulfil.tracking = Some(Tracking {
        carrier: "UPS".into(),
        tracking_number: "1Z".into(),
    });
    c.orders.change_status(&fulfil).await.unwrap();

    let order = Some(AuditTarget::new(target::ORDER, id));
    let got: Vec<_> = entries(&c).await.iter().rev().map(summary).collect();
    assert_eq!(
        got,
        [
            (
                "order.shipped".to_owned(),
                order.clone(),
                json!({
                    "fulfillment_status": ["unfulfilled", "partially_fulfilled"],
                    "shipment": [null, {
                        "id": first.id, "items": [{"product_id": a.id, "quantity": 1}],
                        "carrier": "DHL", "tracking_number": "TRK-1"
                    }]
                }),
                Some("req-ship".to_owned()),
            ),
            (
                "order.refunded".to_owned(),
                order.clone(),
                json!({"refund": [null, {
                    "id": cancel.id, "amount": 500,
                    "items": [{"product_id": b.id, "quantity": 1, "restock": "cancel"}],
                    "shipping": false, "reason": "arrived broken"
                }]}),
                Some("req-refund".to_owned()),
            ),
            (
                "order.status_changed".to_owned(),
                order.clone(),
                json!({
                    "status": ["PAID", "FULFILLED"],
                    "fulfillment_status": ["partially_fulfilled", "fulfilled"],
                    "tracking": [
                        {"carrier": "DHL", "tracking_number": "TRK-1"},
                        {"carrier": "UPS", "tracking_number": "1Z"}
                    ]
                }),
                Some("req-fulfil".to_owned()),
            ),
        ]
    );
}

#[tokio::test]
async fn a_note_is_stored_with_its_entry_and_is_never_an_event() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let root = c.users.upsert_admin("root@example.com", "h").await.unwrap();
    let actor = Actor {
        id: root.id,
        role: Role::Admin,
    };
    let lamp = c.product("LMP-1", 1000, 5).await;
    let order = c.place(ada.id, &[(lamp.id, 1)]).await;
    let events = c.count("SELECT count(*) AS n FROM order_events").await;
    let entry = |order_id| {
        Some(request("req-note").entry(
            action::ORDER_NOTE_ADDED,
            Some(AuditTarget::new(target::ORDER, order_id)),
        ))
    };
    let note = c
        .orders
        .add_note(&NewNote {
            order_id: order.id,
            note: "Customer called.\nLeave it with the neighbour.".into(),
            actor,
            audit: entry(order.id),
        })
        .await
        .unwrap();
    assert_eq!(note.actor, actor);
    assert_eq!(note.order_id, order.id);
    // An unknown order: nothing stored.
    let unknown = Uuid::now_v7();
    assert_eq!(
        c.orders
            .add_note(&NewNote {
                order_id: unknown,
                note: "lost".into(),
                actor,
                audit: entry(unknown),
            })
            .await,
        Err(AddNoteError::NotFound)
    );
    // No event; its id sits between the order's events (one sequence).
    assert_eq!(
        c.count("SELECT count(*) AS n FROM order_events").await,
        events
    );
    let paid = c
        .orders
        .change_status(&StatusChange::new(order.id, OrderStatus::Paid))
        .await
        .unwrap();
    let history = c.orders.history(paid.id).await.unwrap();
    assert!(history[0].id < note.id && note.id < history[1].id);
    assert_eq!(c.orders.notes(order.id).await.unwrap(), vec![note]);
    assert!(c.orders.notes(unknown).await.unwrap().is_empty());

    let got: Vec<_> = entries(&c).await.iter().map(summary).collect();
    assert_eq!(
        got,
        [(
            "order.note_added".to_owned(),
            Some(AuditTarget::new(target::ORDER, order.id)),
            json!({"note": [null, "Customer called.\nLeave it with the neighbour."]}),
            Some("req-note".to_owned()),
        )]
    );
}

/// Inserts `entry` as if it occurred `age` ago; returns its id.
async fn entry_at(c: &Ctx, entry: &AuditEntry, age: Duration) -> i64 {
    use diesel::sql_types::{BigInt, Double, Nullable, Text};
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut conn = c.pool.get().await.unwrap();
    let row: Id = diesel::sql_query(
        "INSERT INTO audit_log (occurred_at, action, actor_id, actor_role, target_type, target_id) \
         VALUES (now() - make_interval(secs => $1), $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind::<Double, _>(age.as_seconds_f64())
    .bind::<Text, _>(&entry.action)
    .bind::<Nullable<BigInt>, _>(entry.actor.map(|a| a.id))
    .bind::<Nullable<Text>, _>(entry.actor.map(|a| a.role.as_str()))
    .bind::<Nullable<Text>, _>(entry.target.as_ref().map(|t| t.kind.as_str()))
    .bind::<Nullable<Text>, _>(entry.target.as_ref().map(|t| t.id.as_str()))
    .get_result(&mut conn)
    .await
    .unwrap();
    row.id
}

#[tokio::test]
async fn the_list_filters_and_pages_newest_first() {
    let c = ctx().await;
    let order = Uuid::now_v7();
    let by = |id: i64| Actor {
        id,
        role: Role::Admin,
    };
    let specs: [(&str, Option<Actor>, Option<AuditTarget>, Duration); 5] = [
        (
            action::PRODUCT_CREATED,
            Some(by(1)),
            Some(AuditTarget::new(target::PRODUCT, 10)),
            Duration::days(3),
        ),
        (
            action::PRODUCT_UPDATED,
            Some(by(1)),
            Some(AuditTarget::new(target::PRODUCT, 10)),
            Duration::days(2),
        ),
        (
            action::ORDER_STATUS_CHANGED,
            Some(by(2)),
            Some(AuditTarget::new(target::ORDER, order)),
            Duration::days(1),
        ),
        (
            action::PRODUCT_UPDATED,
            Some(by(2)),
            Some(AuditTarget::new(target::PRODUCT, 11)),
            Duration::hours(1),
        ),
        (action::AUTH_LOGIN_FAILED, None, None, Duration::ZERO),
    ];
    let mut ids = Vec::new();
    for (action, actor, target, age) in specs {
        let entry = AuditEntry {
            action: action.to_owned(),
            actor,
            target,
            changes: None,
            request_id: None,
            client_ip: None,
        };
        ids.push(entry_at(&c, &entry, age).await);
    }
    let [created, updated, status, updated_11, login_failed] =
        [ids[0], ids[1], ids[2], ids[3], ids[4]];
    let list = async |query: AuditQuery| -> Vec<i64> {
        let limit = if query.limit == 0 { 100 } else { query.limit };
        c.audit
            .list(&AuditQuery { limit, ..query })
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect()
    };
    let all = AuditQuery::default;
    assert_eq!(
        list(all()).await,
        [login_failed, updated_11, status, updated, created]
    );
    let cases: Vec<(AuditQuery, Vec<i64>)> = vec![
        (
            AuditQuery {
                action: Some("product.updated".into()),
                ..all()
            },
            vec![updated_11, updated],
        ),
        (
            AuditQuery {
                actor_id: Some(1),
                ..all()
            },
            vec![updated, created],
        ),
        (
            AuditQuery {
                target_type: Some("product".into()),
                ..all()
            },
            vec![updated_11, updated, created],
        ),
        (
            AuditQuery {
                target_type: Some("product".into()),
                target_id: Some("10".into()),
                ..all()
            },
            vec![updated, created],
        ),
        (
            AuditQuery {
                target_type: Some("order".into()),
                target_id: Some(order.to_string()),
                ..all()
            },
            vec![status],
        ),
        (
            AuditQuery {
                created_from: Some(OffsetDateTime::now_utc() - Duration::hours(36)),
                ..all()
            },
            vec![login_failed, updated_11, status],
        ),
        (
            AuditQuery {
                created_to: Some(OffsetDateTime::now_utc() - Duration::hours(36)),
                ..all()
            },
            vec![updated, created],
        ),
        (
            AuditQuery {
                created_from: Some(OffsetDateTime::now_utc() - Duration::hours(60)),
                created_to: Some(OffsetDateTime::now_utc() - Duration::hours(2)),
                ..all()
            },
            vec![status, updated],
        ),
        (
            AuditQuery {
                action: Some("product.updated".into()),
                actor_id: Some(1),
                ..all()
            },
            vec![updated],
        ),
        (
            AuditQuery {
                action: Some("auth.login_failed".into()),
                actor_id: Some(1),
                ..all()
            },
            vec![],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(list(query.clone()).await, expected, "{query:?}");
    }

    // Keyset pages of two: each below the last id of the one before, nothing repeated or missed.
    let mut seen: Vec<i64> = Vec::new();
    let mut before = None;
    loop {
        let page = list(AuditQuery {
            before_id: before,
            limit: 2,
            ..all()
        })
        .await;
        seen.extend(&page);
        match page.last() {
            Some(last) if page.len() == 2 => before = Some(*last),
            _ => break,
        }
    }
    assert_eq!(seen, [login_failed, updated_11, status, updated, created]);
    // A page with a filter continues below its cursor.
    assert_eq!(
        list(AuditQuery {
            target_type: Some("product".into()),
            before_id: Some(updated_11),
            limit: 1,
            ..all()
        })
        .await,
        [updated]
    );
}
