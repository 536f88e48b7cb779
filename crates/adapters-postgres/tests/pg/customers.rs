//! Customers: the list (filters, keyset pages, figures from the orders), the change of status or
//! role (version, the last-admin rule under concurrent transactions, the token generation, its
//! audit entry and its NOTIFY), password changes and the revocation payloads.

use std::time::Duration;

use adapters_postgres::listener::{Notice, spawn_listener};
use adapters_postgres::{CUSTOMER_LOCK_KEY, PgAuditLog, PgCustomerRepository};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use domain::{AccountChange, AccountChangeRefusal, OrderStatus, Role, UserStatus};
use ports::audit::AuditQuery;
use ports::{
    Actor, AuditContext, AuditLog, Customer, CustomerCursor, CustomerQuery, CustomerRepository,
    OrderRepository, StatusChange, TokenRevocations, UpdateCustomerError, User, UserGeneration,
    UserRepository,
};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use crate::support::{Ctx, ctx};

fn repo(c: &Ctx) -> PgCustomerRepository {
    PgCustomerRepository::new(c.pool.clone())
}

async fn admin(c: &Ctx, email: &str) -> User {
    c.users.upsert_admin(email, "$argon2id$fake").await.unwrap()
}

fn as_admin(user: &User) -> AuditContext {
    AuditContext {
        actor: Some(Actor {
            id: user.id,
            role: Role::Admin,
        }),
        request_id: Some("req-customers".into()),
        client_ip: Some("192.0.2.10".into()),
    }
}

fn query(limit: u32) -> CustomerQuery {
    CustomerQuery {
        limit,
        ..CustomerQuery::default()
    }
}

fn ids(customers: &[Customer]) -> Vec<i64> {
    customers.iter().map(|c| c.id).collect()
}

const DISABLE: AccountChange = AccountChange {
    status: Some(UserStatus::Disabled),
    role: None,
};
const DEMOTE: AccountChange = AccountChange {
    status: None,
    role: Some(Role::Customer),
};

/// Every page of `query`, following the keyset, as ids.
async fn all_pages(repo: &PgCustomerRepository, mut query: CustomerQuery) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let page = repo.list(&query).await.unwrap();
        seen.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() == query.limit as usize => {
                query.after = Some(CustomerCursor::of(last));
            }
            _ => return seen,
        }
    }
}

#[tokio::test]
async fn the_list_is_newest_first_with_keyset_pages_and_filters() {
    let c = ctx().await;
    let repo = repo(&c);
    let mut users = Vec::new();
    for i in 0..7 {
        users.push(c.customer(&format!("user{i}@example.com")).await);
    }
    let root = admin(&c, "root_admin@example.com").await;
    let odd = c.customer("50%_off@example.com").await;
    // Three users share one instant: the id breaks the tie, none is repeated or skipped.
    c.sql(&format!(
        "UPDATE users SET created_at = '2026-11-25T10:00:00Z' WHERE id IN ({}, {}, {})",
        users[1].id, users[2].id, users[3].id
    ))
    .await
    .unwrap();
    c.sql(&format!(
        "UPDATE users SET status = 'disabled' WHERE id = {}",
        users[4].id
    ))
    .await
    .unwrap();

    let everyone = repo.list(&query(100)).await.unwrap();
    assert_eq!(everyone.len(), 9);
    let mut expected: Vec<(OffsetDateTime, i64)> =
        everyone.iter().map(|c| (c.created_at, c.id)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        ids(&everyone),
        expected.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        "created_at, then id, descending"
    );
    for limit in [1, 2, 3, 4] {
        assert_eq!(
            all_pages(&repo, query(limit)).await,
            ids(&everyone),
            "pages of {limit}"
        );
    }

    let with = |f: fn(&mut CustomerQuery)| {
        let mut q = query(100);
        f(&mut q);
        q
    };
    let admins = repo
        .list(&with(|q| q.role = Some(Role::Admin)))
        .await
        .unwrap();
    assert_eq!(ids(&admins), [root.id]);
    let disabled = repo
        .list(&with(|q| q.status = Some(UserStatus::Disabled)))
        .await
        .unwrap();
    assert_eq!(ids(&disabled), [users[4].id]);
    assert_eq!(disabled[0].status, UserStatus::Disabled);
    let active_customers = repo
        .list(&with(|q| {
            q.role = Some(Role::Customer);
            q.status = Some(UserStatus::Active);
        }))
        .await
        .unwrap();
    assert_eq!(active_customers.len(), 7);
    // q: a case-insensitive substring; `%` and `_` match themselves.
    for (q, expected) in [
        ("USER3", vec![users[3].id]),
        ("50%_", vec![odd.id]),
        ("%", vec![odd.id]),
        ("_", vec![root.id, odd.id]),
        ("nobody", vec![]),
    ] {
        let mut found = repo
            .list(&CustomerQuery {
                q: Some(q.into()),
                ..query(100)
            })
            .await
            .unwrap();
        found.sort_by_key(|c| c.id);
        let mut expected = expected;
        expected.sort();
        assert_eq!(ids(&found), expected, "q = {q:?}");
    }
    // Filters and the keyset together.
    let first = repo
        .list(&with(|q| {
            q.role = Some(Role::Customer);
            q.limit = 2;
        }))
        .await
        .unwrap();
    let next = repo
        .list(&CustomerQuery {
            role: Some(Role::Customer),
            after: first.last().map(CustomerCursor::of),
            ..query(100)
        })
        .await
        .unwrap();
    assert_eq!(first.len() + next.len(), 8);
    assert!(next.iter().all(|c| c.role == Role::Customer));
}

#[tokio::test]
async fn figures_count_every_order_and_spend_captured_minus_refunded() {
    let c = ctx().await;
    let repo = repo(&c);
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let p = c.product("FIG-1", 1000, 1000).await;

    let none = repo.get(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (none.order_count, none.total_spent, none.last_order_at),
        (0, 0, None)
    );

    // 1000 + 500 shipping = 1500 each.
    let pending = c.place(ada.id, &[(p.id, 1)]).await;
    let paid = c.place(ada.id, &[(p.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(paid.id, OrderStatus::Paid))
        .await
        .unwrap();
    let refunded = c.place(ada.id, &[(p.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(refunded.id, OrderStatus::Paid))
        .await
        .unwrap();
    // A partial refund of 400.
    c.sql(&format!(
        "UPDATE orders SET refunded_amount = 400, payment_status = 'partially_refunded' \
         WHERE id = '{}'",
        refunded.id
    ))
    .await
    .unwrap();
    // Paid then cancelled: refunded in full.
    let cancelled = c.place(ada.id, &[(p.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(cancelled.id, OrderStatus::Paid))
        .await
        .unwrap();
    c.orders
        .change_status(&StatusChange::new(cancelled.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    c.place(bob.id, &[(p.id, 3)]).await;

    let figures = repo.get(ada.id).await.unwrap().unwrap();
    assert_eq!(figures.order_count, 4, "every order, whatever its status");
    assert_eq!(
        figures.total_spent,
        1500 + (1500 - 400),
        "captured minus refunded"
    );
    let newest = c
        .orders
        .get(cancelled.id)
        .await
        .unwrap()
        .unwrap()
        .created_at
        .max(pending.created_at);
    assert_eq!(figures.last_order_at, Some(newest));
    // The list computes the same figures.
    let listed = repo.list(&query(10)).await.unwrap();
    let in_list = listed.iter().find(|c| c.id == ada.id).unwrap();
    assert_eq!(in_list, &figures);
    let bobs = listed.iter().find(|c| c.id == bob.id).unwrap();
    assert_eq!((bobs.order_count, bobs.total_spent), (1, 0));
}

#[tokio::test]
async fn the_list_is_one_statement() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let p = c.product("ONE-1", 100, 100).await;
    for _ in 0..3 {
        c.place(ada.id, &[(p.id, 1)]).await;
    }
    c.customer("bob@example.com").await;
    let (pool, log) = crate::support::one_connection(&c).await;
    let page = PgCustomerRepository::new(pool)
        .list(&query(50))
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    let statements = log.lock().unwrap().clone();
    assert_eq!(statements.len(), 1, "{statements:#?}");
    assert!(statements[0].contains("LATERAL"), "{}", statements[0]);
}

/// Listens on the revocation channel; returns the notices' receiver and the listener's stop.
async fn listen(c: &Ctx) -> (mpsc::Receiver<Notice>, watch::Sender<bool>) {
    let (tx, mut rx) = mpsc::channel(64);
    let (stop, stop_rx) = watch::channel(false);
    spawn_listener(c.db.url.clone(), tx, stop_rx);
    assert_eq!(next(&mut rx).await, Notice::Reconnected);
    (rx, stop)
}

async fn next(rx: &mut mpsc::Receiver<Notice>) -> Notice {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("a notice in time")
        .expect("the listener runs")
}

#[tokio::test]
async fn a_change_bumps_version_and_generation_audits_and_notifies_in_its_transaction() {
    let c = ctx().await;
    let repo = repo(&c);
    let root = admin(&c, "root@example.com").await;
    let ada = c.customer("ada@example.com").await;
    let (mut rx, _stop) = listen(&c).await;
    let before = repo.get(ada.id).await.unwrap().unwrap();
    assert_eq!((before.version, ada.token_generation), (1, 0));

    // A stale version changes nothing.
    assert_eq!(
        repo.update(ada.id, DISABLE, Some(7), &as_admin(&root))
            .await
            .unwrap_err(),
        UpdateCustomerError::PreconditionFailed
    );
    assert_eq!(
        repo.update(ada.id + 1000, DISABLE, None, &as_admin(&root))
            .await
            .unwrap_err(),
        UpdateCustomerError::NotFound
    );

    let update = repo
        .update(ada.id, DISABLE, Some(1), &as_admin(&root))
        .await
        .unwrap();
    assert_eq!(update.revoked_below, Some(1));
    let after = update.customer;
    assert_eq!(after.status, UserStatus::Disabled);
    assert_eq!(after.version, 2);
    assert!(after.updated_at > before.updated_at);
    assert_eq!(
        next(&mut rx).await,
        Notice::UserRevoked(UserGeneration {
            user_id: ada.id,
            min_generation: 1
        })
    );
    let stored = c.users.find(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.token_generation),
        (UserStatus::Disabled, 1)
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM users WHERE id = {} \
             AND tokens_revoked_at > now() - interval '1 minute'",
            ada.id
        ))
        .await,
        1
    );

    // One entry, with the fields that changed only.
    let entries = PgAuditLog::new(c.pool.clone())
        .list(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0].entry;
    assert_eq!(entry.action, "customer.updated");
    assert_eq!(
        entry.actor.map(|a| (a.id, a.role)),
        Some((root.id, Role::Admin))
    );
    assert_eq!(
        entry
            .target
            .as_ref()
            .map(|t| (t.kind.as_str(), t.id.clone())),
        Some(("user", ada.id.to_string()))
    );
    assert_eq!(
        entry.changes.as_ref().map(|ch| ch.to_json()),
        Some(serde_json::json!({"status": ["active", "disabled"]}))
    );
    assert_eq!(entry.request_id.as_deref(), Some("req-customers"));
    assert_eq!(entry.client_ip.as_deref(), Some("192.0.2.10"));

    // The same values again: nothing written, no entry, no notice.
    let same = repo
        .update(ada.id, DISABLE, Some(2), &as_admin(&root))
        .await
        .unwrap();
    assert_eq!(same.revoked_below, None);
    assert_eq!(same.customer, after);
    assert_eq!(c.count("SELECT count(*) AS n FROM audit_log").await, 1);

    // Both fields: both recorded, one more generation.
    let both = repo
        .update(
            ada.id,
            AccountChange {
                status: Some(UserStatus::Active),
                role: Some(Role::Admin),
            },
            None,
            &as_admin(&root),
        )
        .await
        .unwrap();
    assert_eq!(both.revoked_below, Some(2));
    assert_eq!(
        (
            both.customer.role,
            both.customer.status,
            both.customer.version
        ),
        (Role::Admin, UserStatus::Active, 3)
    );
    assert_eq!(
        next(&mut rx).await,
        Notice::UserRevoked(UserGeneration {
            user_id: ada.id,
            min_generation: 2
        })
    );
    let changes = c
        .count(
            "SELECT count(*) AS n FROM audit_log WHERE changes = \
             '{\"role\": [\"CUSTOMER\", \"ADMIN\"], \"status\": [\"disabled\", \"active\"]}'::jsonb",
        )
        .await;
    assert_eq!(changes, 1);
}

#[tokio::test]
async fn a_refused_change_writes_nothing() {
    let c = ctx().await;
    let repo = repo(&c);
    let root = admin(&c, "root@example.com").await;
    let other = admin(&c, "other@example.com").await;
    // Disabling the only other admin leaves root: allowed. Root demoting root: refused.
    assert_eq!(
        repo.update(root.id, DEMOTE, None, &as_admin(&root))
            .await
            .unwrap_err(),
        UpdateCustomerError::Refused(AccountChangeRefusal::CannotChangeSelf)
    );
    repo.update(other.id, DISABLE, None, &as_admin(&root))
        .await
        .unwrap();
    // `other` is no longer an active admin: their change of root is last_admin (the rule is
    // decided first), of a customer it is refused as not an admin.
    assert_eq!(
        repo.update(root.id, DEMOTE, None, &as_admin(&other))
            .await
            .unwrap_err(),
        UpdateCustomerError::Refused(AccountChangeRefusal::LastAdmin)
    );
    let ada = c.customer("ada@example.com").await;
    assert_eq!(
        repo.update(ada.id, DISABLE, None, &as_admin(&other))
            .await
            .unwrap_err(),
        UpdateCustomerError::ActorNotAdmin
    );
    let root_now = c.users.find(root.id).await.unwrap().unwrap();
    assert_eq!(
        (root_now.role, root_now.status, root_now.token_generation),
        (Role::Admin, UserStatus::Active, 0)
    );
    assert_eq!(c.count("SELECT count(*) AS n FROM audit_log").await, 1);
    // A disabled admin may be demoted: they are not counted.
    let demoted = repo
        .update(other.id, DEMOTE, None, &as_admin(&root))
        .await
        .unwrap();
    assert_eq!(demoted.customer.role, Role::Customer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let c = ctx().await;
    for round in 0..5 {
        let a = admin(&c, &format!("a{round}@example.com")).await;
        let b = admin(&c, &format!("b{round}@example.com")).await;
        // Only a and b are active admins this round.
        c.sql(&format!(
            "UPDATE users SET role = 'CUSTOMER' WHERE role = 'ADMIN' AND id NOT IN ({}, {})",
            a.id, b.id
        ))
        .await
        .unwrap();
        // Hold the lock so both transactions queue behind it, then let them go together.
        let mut holder = AsyncPgConnection::establish(&c.db.url).await.unwrap();
        holder
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({CUSTOMER_LOCK_KEY})"
            ))
            .await
            .unwrap();
        let first = {
            let repo = repo(&c);
            let (a, b) = (a.clone(), b.clone());
            tokio::spawn(async move { repo.update(b.id, DEMOTE, None, &as_admin(&a)).await })
        };
        let second = {
            let repo = repo(&c);
            let (a, b) = (a.clone(), b.clone());
            tokio::spawn(async move { repo.update(a.id, DEMOTE, None, &as_admin(&b)).await })
        };
        // Both wait on the lock before it is released.
        let waiting = format!(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = '{}')",
            c.db.name
        );
        for _ in 0..500 {
            if c.count(&waiting).await == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(c.count(&waiting).await, 2, "round {round}");
        holder.batch_execute("COMMIT").await.unwrap();

        let results = [first.await.unwrap(), second.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        let last_admin = results
            .iter()
            .filter(|r| {
                **r == Err(UpdateCustomerError::Refused(
                    AccountChangeRefusal::LastAdmin,
                ))
            })
            .count();
        assert_eq!((won, last_admin), (1, 1), "round {round}: {results:?}");
        assert_eq!(
            c.count("SELECT count(*) AS n FROM users WHERE role = 'ADMIN' AND status = 'active'")
                .await,
            1,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn a_password_change_raises_the_generation_audits_and_notifies() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let (mut rx, _stop) = listen(&c).await;
    let ctx = AuditContext {
        actor: Some(Actor {
            id: ada.id,
            role: Role::Customer,
        }),
        request_id: Some("req-pw".into()),
        client_ip: None,
    };
    let entry = ctx.entry(
        "auth.password_changed",
        Some(ports::AuditTarget::new("user", ada.id)),
    );
    let changed = c
        .users
        .change_password(ada.id, "$argon2id$new", &entry)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.token_generation, 1);
    let creds = c.users.credentials(ada.id).await.unwrap().unwrap();
    assert_eq!(creds.password_hash, "$argon2id$new");
    assert_eq!(creds.user, changed);
    assert_eq!(
        next(&mut rx).await,
        Notice::UserRevoked(UserGeneration {
            user_id: ada.id,
            min_generation: 1
        })
    );
    assert_eq!(
        c.count(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.password_changed' \
             AND changes IS NULL AND request_id = 'req-pw'"
        )
        .await,
        1
    );
    // No such user: nothing written.
    assert_eq!(
        c.users
            .change_password(ada.id + 1000, "$argon2id$x", &entry)
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.count("SELECT count(*) AS n FROM audit_log").await, 1);
    // No entry ever holds the hash.
    assert_eq!(
        c.count("SELECT count(*) AS n FROM audit_log WHERE audit_log::text LIKE '%argon2%'")
            .await,
        0
    );
}

#[tokio::test]
async fn user_generations_are_those_revoked_since_and_sign_out_is_audited() {
    let c = ctx().await;
    let root = admin(&c, "root@example.com").await;
    let ada = c.customer("ada@example.com").await;
    let bob = c.customer("bob@example.com").await;
    let old = c.customer("old@example.com").await;
    let repo = repo(&c);
    repo.update(ada.id, DISABLE, None, &as_admin(&root))
        .await
        .unwrap();
    repo.update(old.id, DISABLE, None, &as_admin(&root))
        .await
        .unwrap();
    c.sql(&format!(
        "UPDATE users SET tokens_revoked_at = now() - interval '2 days' WHERE id = {}",
        old.id
    ))
    .await
    .unwrap();
    let since = OffsetDateTime::now_utc() - time::Duration::hours(12);
    assert_eq!(
        c.revocations.user_generations(since).await.unwrap(),
        [UserGeneration {
            user_id: ada.id,
            min_generation: 1
        }]
    );

    let entry = AuditContext {
        actor: Some(Actor {
            id: bob.id,
            role: Role::Customer,
        }),
        ..AuditContext::default()
    }
    .entry("auth.logout", Some(ports::AuditTarget::new("user", bob.id)));
    c.revocations
        .sign_out(
            "jti-bob",
            OffsetDateTime::now_utc() + time::Duration::hours(1),
            &entry,
        )
        .await
        .unwrap();
    assert_eq!(c.revocations.active().await.unwrap(), ["jti-bob"]);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.logout' AND actor_id = {}",
            bob.id
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn the_listener_tells_user_generations_from_jtis() {
    let c = ctx().await;
    let (mut rx, _stop) = listen(&c).await;
    let mut conn = AsyncPgConnection::establish(&c.db.url).await.unwrap();
    conn.transaction(async |conn| {
        for payload in ["user:5:2", "0192f3b1c2d34e5f8a9b0c1d2e3f4a5b", "user:x:1"] {
            diesel::sql_query(format!("SELECT pg_notify('oms_revocations', '{payload}')"))
                .execute(conn)
                .await?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut rx).await,
        Notice::UserRevoked(UserGeneration {
            user_id: 5,
            min_generation: 2
        })
    );
    assert_eq!(
        next(&mut rx).await,
        Notice::Revoked("0192f3b1c2d34e5f8a9b0c1d2e3f4a5b".into())
    );
    assert_eq!(next(&mut rx).await, Notice::Revoked("user:x:1".into()));
}
