\set a random(:pfirst, :plast - 1)
\set b :a + 1
\set u random(:ufirst, :ulast)
-- (c) An order's minimal writes as one transaction of 10 round trips, as the performance issue
-- defines the database's own limit: the two prices read, the order inserted, its two items
-- inserted, the two stock updates, the PAID update; BEGIN and COMMIT. No event, no NOTIFY, no
-- advisory lock, no charge record: less than the server must do (it keeps the event log in
-- commit order and records the charge outside the transaction), so server/(c) >= 1.0 means the
-- server places orders as fast as a client doing less work in one transaction.
-- Variables (-D): pfirst, plast (bench product ids), ufirst, ulast (bench customer ids).
-- pgbench wants its meta-commands (the \set lines above) before any comment.
BEGIN;
SELECT price FROM products WHERE id = :a;
SELECT price FROM products WHERE id = :b;
INSERT INTO orders (id, user_id, status, payment_status, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address) VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid, :u, 'PENDING', 'unpaid', 4500, 500, 0, 5000, 'USD', '{"city": "London", "name": "Ada Lovelace", "line1": "1 Main St", "line2": null, "region": null, "country": "GB", "postal_code": "N1 9GU"}') RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) VALUES (:order_id::uuid, :a, 'BENCH-P0001', 'Bench product 1', 1, 1500);
INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) VALUES (:order_id::uuid, :b, 'BENCH-P0002', 'Bench product 2', 2, 1500);
UPDATE products SET stock_quantity = stock_quantity - 1 WHERE id = :a;
UPDATE products SET stock_quantity = stock_quantity - 2 WHERE id = :b;
UPDATE orders SET status = 'PAID', payment_status = 'captured', payment_collected = true WHERE id = :order_id::uuid;
COMMIT;
