//! The email queue on PostgreSQL: the fan-out (which events make which emails, to whom, once;
//! old events passed over), claims racing on one queue (no email twice, leases), records under a
//! stale lease, retries.

use std::collections::HashSet;
use std::time::Duration;

use adapters_postgres::PgMailQueue;
use domain::OrderStatus;
use ports::{ClaimedMail, MailQueue, MailRecord, OrderRepository, StatusChange};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::{Ctx, ctx};

const LEASE: Duration = Duration::from_secs(30);
const SHOP: &str = "shop@example.com";

/// A customer with `n` orders: the first paid, the others cancelled. Returns the customer's
/// address and the orders' ids.
async fn orders(c: &Ctx, n: usize) -> (String, Vec<Uuid>) {
    let email = format!("c{}@example.com", Uuid::now_v7().simple());
    let user = c.customer(&email).await;
    let product = c
        .product(&format!("SKU-{}", Uuid::now_v7().simple()), 1_000, 1_000)
        .await;
    let mut ids = Vec::new();
    for i in 0..n {
        let order = c.place(user.id, &[(product.id, 1)]).await;
        let to = if i == 0 {
            OrderStatus::Paid
        } else {
            OrderStatus::Cancelled
        };
        c.orders
            .change_status(&StatusChange::new(order.id, to))
            .await
            .unwrap();
        ids.push(order.id);
    }
    (email, ids)
}

/// `(kind, recipient, order)` of every queued email, in event order.
async fn queued(c: &Ctx) -> Vec<(String, String, Uuid)> {
    use adapters_postgres::schema::email_deliveries::dsl::*;
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::RunQueryDsl;
    let mut conn = c.pool.get().await.unwrap();
    email_deliveries
        .select((kind, recipient, order_id))
        .order((event_id.asc(), kind.asc()))
        .load(&mut conn)
        .await
        .unwrap()
}

fn record(claim: &ClaimedMail, token: Uuid, sent: bool, retry: Option<Duration>) -> MailRecord {
    MailRecord {
        mail_id: claim.id,
        lease_token: token,
        sent,
        error: (!sent).then(|| "451 try again later".to_owned()),
        next_attempt_at: retry.map(|wait| OffsetDateTime::now_utc() + wait),
    }
}

#[tokio::test]
async fn fan_out_makes_each_email_once_for_the_customer_and_the_shop() {
    let c = ctx().await;
    let queue = PgMailQueue::new(c.pool.clone(), Some(SHOP.to_owned()));
    let (customer, ids) = orders(&c, 2).await;
    // created, paid, created, cancelled
    assert_eq!(queue.fan_out(1_000).await.unwrap(), 4);
    let expected = vec![
        ("new_order".to_owned(), SHOP.to_owned(), ids[0]),
        ("order_paid".to_owned(), customer.clone(), ids[0]),
        ("cancelled".to_owned(), customer.clone(), ids[1]),
    ];
    assert_eq!(queued(&c).await, expected);
    // Nothing new: nothing read, nothing queued twice.
    assert_eq!(queue.fan_out(1_000).await.unwrap(), 0);
    c.sql("UPDATE email_fanout SET last_event_id = 0")
        .await
        .unwrap();
    assert_eq!(queue.fan_out(1_000).await.unwrap(), 4);
    assert_eq!(queued(&c).await, expected, "once per event and recipient");

    // Without ADMIN_EMAIL the shop gets nothing.
    let quiet = PgMailQueue::new(c.pool.clone(), None);
    let (_, more) = orders(&c, 1).await;
    assert_eq!(quiet.fan_out(1_000).await.unwrap(), 2);
    let last = queued(&c).await.pop().unwrap();
    assert_eq!(last, ("order_paid".to_owned(), last.1.clone(), more[0]));
    assert_eq!(
        c.count("SELECT count(*) AS n FROM email_deliveries").await,
        4
    );
}

#[tokio::test]
async fn events_older_than_a_day_are_passed_over() {
    let c = ctx().await;
    let queue = PgMailQueue::new(c.pool.clone(), Some(SHOP.to_owned()));
    orders(&c, 2).await;
    c.sql("UPDATE order_events SET occurred_at = now() - interval '25 hours'")
        .await
        .unwrap();
    assert_eq!(queue.fan_out(1_000).await.unwrap(), 4);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM email_deliveries").await,
        0
    );
    assert_eq!(
        c.count(
            "SELECT count(*) AS n FROM email_fanout \
             WHERE last_event_id = (SELECT max(id) FROM order_events)"
        )
        .await,
        1,
        "the position moved past them"
    );
}

#[tokio::test]
async fn racing_claims_take_each_email_once_and_a_lease_holds_it() {
    let c = ctx().await;
    let queue = PgMailQueue::new(c.pool.clone(), Some(SHOP.to_owned()));
    for _ in 0..5 {
        orders(&c, 4).await; // 2 paid emails + 3 cancelled = 5 emails each
    }
    queue.fan_out(1_000).await.unwrap();
    assert_eq!(
        c.count("SELECT count(*) AS n FROM email_deliveries").await,
        25
    );
    let claims = futures_util::future::join_all((0..6).map(|_| {
        let queue = queue.clone();
        async move {
            let token = Uuid::now_v7();
            (token, queue.claim(5, token, LEASE).await.unwrap())
        }
    }))
    .await;
    let mut seen = HashSet::new();
    for (_, claimed) in &claims {
        for claim in claimed {
            assert!(seen.insert(claim.id), "claimed twice: {}", claim.id);
            assert_eq!(claim.attempts_before, 0);
        }
    }
    assert_eq!(seen.len(), 25, "every email claimed once");
    assert!(
        queue
            .claim(10, Uuid::now_v7(), LEASE)
            .await
            .unwrap()
            .is_empty(),
        "leased emails are not claimed again"
    );
    assert!(
        queue.next_due().await.unwrap().is_some(),
        "a lease runs out"
    );

    // Sent ones are done; a failed one comes back after its wait; a stale token records nothing.
    let (token, first) = claims.iter().find(|(_, c)| c.len() >= 2).unwrap();
    queue
        .record(&[
            record(&first[0], *token, true, None),
            record(&first[1], *token, false, Some(Duration::ZERO)),
            record(&first[1], Uuid::now_v7(), true, None),
        ])
        .await
        .unwrap();
    assert_eq!(
        c.count("SELECT count(*) AS n FROM email_deliveries WHERE status = 'sent'")
            .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = queue.claim(10, Uuid::now_v7(), LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[1].id);
    assert_eq!(again[0].attempts_before, 1);
    assert_eq!(again[0].recipient, first[1].recipient);

    // An expired lease (its holder died) is claimed again.
    c.sql(
        "UPDATE email_deliveries SET leased_until = now() - interval '1 second' \
           WHERE status = 'pending'",
    )
    .await
    .unwrap();
    assert_eq!(
        queue.claim(100, Uuid::now_v7(), LEASE).await.unwrap().len(),
        24
    );
    assert_eq!(
        queue
            .purge_before(OffsetDateTime::now_utc() + time::Duration::minutes(1))
            .await
            .unwrap(),
        25
    );
}
