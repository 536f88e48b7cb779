//! Placement throughput figures (not a timed test: run on demand).
//!
//! `cargo test -p adapters-postgres --release --test pg -- --ignored --nocapture placement_throughput`
//!
//! Orders per second placed by the repository alone (16 concurrent tasks, 2-line orders, stock
//! ample), next to `pgbench` running the same SQL transaction on the same database in the same run.
//!
//! Seen on the 2-core development machine, shared with other builds (so absolute figures swing
//! with the load): repository 429 / 212 / 316 orders/s against pgbench 488 / 193 / 298 tps in the
//! same runs: the repository keeps up with the bare SQL. (Those figures predate group commit;
//! this test places orders one after another, so each is a transaction of one: 9 round trips,
//! see `round_trips.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ports::OrderRepository;

use crate::support::{ctx, new_order};

const TASKS: usize = 16;
const PRODUCTS: i64 = 20;
const SECONDS: u64 = 10;

/// The transaction `PgOrderRepository::place` runs, statement for statement, for pgbench.
const PGBENCH_SCRIPT: &str = r#"
\set a random(1, 19)
\set b :a + 1
BEGIN;
SELECT id, name, sku, price, stock_quantity, archived FROM products WHERE id = ANY(ARRAY[:a, :b]::bigint[]) ORDER BY id FOR UPDATE;
INSERT INTO orders (id, user_id, status, payment_status, payment_attempted_at, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address) VALUES (gen_random_uuid(), 1, 'PENDING', 'unpaid', NULL, 300, 500, 0, 800, 'USD', '{"name":"Ada Lovelace","line1":"1 Main St","line2":null,"city":"London","region":null,"postal_code":"N1 9GU","country":"US"}') RETURNING id AS order_id, user_id, status, payment_status, payment_collected, payment_reference, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address, tracking_carrier, tracking_number, version, created_at, updated_at \gset
WITH taken AS (UPDATE products p SET stock_quantity = p.stock_quantity - v.quantity, version = p.version + 1, updated_at = now() FROM unnest(ARRAY[:a, :b]::bigint[], ARRAY[1, 2]::bigint[]) AS v(product_id, quantity) WHERE p.id = v.product_id) INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) SELECT ':order_id'::uuid, v.product_id, v.sku, v.name, v.quantity, v.unit_price FROM unnest(ARRAY[:a, :b]::bigint[], ARRAY['S', 'T']::text[], ARRAY['N', 'M']::text[], ARRAY[1, 2]::bigint[], ARRAY[100, 100]::bigint[]) WITH ORDINALITY AS v(product_id, sku, name, quantity, unit_price, n) ORDER BY v.n RETURNING id, order_id, product_id, sku, name, quantity, unit_price;
SELECT pg_advisory_xact_lock(8029200564232811635);
INSERT INTO order_events (order_id, user_id, type, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note) VALUES (':order_id'::uuid, 1, 'order.created', NULL, 'PENDING', 'unpaid', 800, NULL, NULL, NULL) RETURNING *;
SELECT pg_notify('oms_events', '[{"id":1,"type":"order.created","order_id":"00000000-0000-0000-0000-000000000000","user_id":1,"from_status":null,"to_status":"PENDING","payment_status":"unpaid","total_amount":800,"occurred_at":"2026-11-25T00:00:00Z"}]');
COMMIT;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run on demand with --ignored --nocapture"]
async fn placement_throughput() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    assert_eq!(ada.id, 1, "the pgbench script places orders for user 1");
    let mut ids = Vec::new();
    for i in 0..PRODUCTS {
        ids.push(c.product(&format!("P-{i}"), 100, 2_000_000_000).await.id);
    }
    assert_eq!(ids[0], 1, "the pgbench script uses product ids 1..=20");

    let placed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let orders = c.orders.clone();
        let placed = placed.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while Instant::now() < deadline {
                let a = ids[i % (ids.len() - 1)];
                let b = a + 1;
                let lines = if i % 2 == 0 {
                    [(a, 1), (b, 2)]
                } else {
                    [(b, 2), (a, 1)]
                };
                orders.place(&new_order(1, &lines)).await.unwrap();
                placed.fetch_add(1, Ordering::Relaxed);
                i += 7;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let repository_rate = placed.load(Ordering::Relaxed) as f64 / SECONDS as f64;

    let script = std::env::temp_dir().join(format!("{}.pgbench.sql", c.db.name));
    std::fs::write(&script, PGBENCH_SCRIPT).unwrap();
    let (script_path, url) = (script.clone(), c.db.url.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("pgbench")
            .args([
                "-n",
                "-c",
                &TASKS.to_string(),
                "-j",
                "2",
                "-T",
                &SECONDS.to_string(),
                "-f",
            ])
            .arg(&script_path)
            .arg(&url)
            .output()
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&script);
    println!(
        "repository: {repository_rate:.0} orders/s ({TASKS} tasks, 2-line orders, {SECONDS} s)"
    );
    match output {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let tps = text
                .lines()
                .find(|l| l.starts_with("tps"))
                .unwrap_or("no tps line");
            println!("pgbench, same transaction, {TASKS} clients: {tps}");
            if !out.status.success() {
                println!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        Err(e) => println!("pgbench not run: {e}"),
    }
}
