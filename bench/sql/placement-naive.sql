\set a random(:pfirst, :plast - 1)
\set b :a + 1
\set u random(:ufirst, :ulast)
-- (b) The same work as placement-server.sql, sent the way a plain SQL client would write it:
-- one statement per row. Each product locked by its own SELECT ... FOR UPDATE (in id order),
-- the order inserted, then for each line its own stock UPDATE and its own item INSERT; then,
-- like the server, the event lock, the `order.created` event and its NOTIFY (the same
-- guarantees: events in commit order, delivered in real time). The charge and the PENDING ->
-- PAID transaction are single-row statements (the ones the server sent before it batched its
-- writes: one order locked, updated and its event inserted by `WHERE id = ...` and `VALUES`).
-- 21 statements per placement (a: 18, two of them its `SET LOCAL plan_cache_mode`). Same
-- values, order id (a UUID v7 made in SQL) and NOTIFY literals as (a).
-- Variables (-D): pfirst, plast (bench product ids), ufirst, ulast (bench customer ids).
-- pgbench wants its meta-commands (the \set lines above) before any comment.
BEGIN;
SELECT id, name, sku, price, stock_quantity, archived FROM products WHERE id = :a FOR UPDATE;
SELECT id, name, sku, price, stock_quantity, archived FROM products WHERE id = :b FOR UPDATE;
INSERT INTO orders (id, user_id, status, payment_status, payment_attempted_at, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address) VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid, :u, 'PENDING', 'processing', now(), 4500, 500, 0, 5000, 'USD', '{"city": "London", "name": "Ada Lovelace", "line1": "1 Main St", "line2": null, "region": null, "country": "GB", "postal_code": "N1 9GU"}') RETURNING id AS order_id, user_id, status, payment_status, payment_collected, payment_reference, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address, tracking_carrier, tracking_number, version, created_at, updated_at \gset
UPDATE products SET stock_quantity = stock_quantity - 1, version = version + 1, updated_at = now() WHERE id = :a;
UPDATE products SET stock_quantity = stock_quantity - 2, version = version + 1, updated_at = now() WHERE id = :b;
INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) VALUES (:order_id::uuid, :a, 'BENCH-P0001', 'Bench product 1', 1, 1500) RETURNING id, order_id, product_id, sku, name, quantity, unit_price;
INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) VALUES (:order_id::uuid, :b, 'BENCH-P0002', 'Bench product 2', 2, 1500) RETURNING id, order_id, product_id, sku, name, quantity, unit_price;
SELECT pg_advisory_xact_lock(8029200564232811635);
INSERT INTO order_events (order_id, user_id, type, from_status, to_status, payment_status, total_amount) VALUES (:order_id::uuid, :u, 'order.created', NULL, 'PENDING', 'processing', 5000) RETURNING id, order_id, user_id, type, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note, occurred_at;
SELECT pg_notify('oms_events', '[{"id": 1000001, "type": "order.created", "order_id": "01a210f6-dc66-739f-904f-fa202fc40975", "user_id": 2, "from_status": null, "to_status": "PENDING", "payment_status": "processing", "total_amount": 5000, "occurred_at": "2026-11-25T04.29.03.465842Z"}]');
COMMIT;
INSERT INTO simulated_charges (order_id, token, amount, currency, status, reference) VALUES (:order_id::uuid, 'tok_visa', 5000, 'USD', 'captured', 'sim_' || md5(random()::text)) ON CONFLICT (order_id) DO UPDATE SET token = EXCLUDED.token, amount = EXCLUDED.amount, currency = EXCLUDED.currency, status = EXCLUDED.status, reference = EXCLUDED.reference, updated_at = now() WHERE simulated_charges.status = 'declined' RETURNING status, reference;
BEGIN;
SELECT "orders"."id", "orders"."user_id", "orders"."status", "orders"."payment_status", "orders"."payment_collected", "orders"."payment_reference", "orders"."subtotal", "orders"."shipping_amount", "orders"."tax_amount", "orders"."total_amount", "orders"."currency", "orders"."shipping_address", "orders"."tracking_carrier", "orders"."tracking_number", "orders"."version", "orders"."created_at", "orders"."updated_at" FROM "orders" WHERE ("orders"."id" = :order_id::uuid) LIMIT 1 FOR UPDATE;
SELECT "order_items"."id", "order_items"."order_id", "order_items"."product_id", "order_items"."sku", "order_items"."name", "order_items"."quantity", "order_items"."unit_price" FROM "order_items" WHERE ("order_items"."order_id" = :order_id::uuid) ORDER BY "order_items"."id" ASC;
UPDATE "orders" SET "status" = 'PAID', "payment_status" = 'captured', "payment_collected" = true, "payment_reference" = 'sim_01a210f6dc8173e8aec73d1ac4e4acba', "tracking_carrier" = NULL, "tracking_number" = NULL, "version" = ("orders"."version" + 1), "updated_at" = CURRENT_TIMESTAMP WHERE (("orders"."id" = :order_id::uuid) AND ("orders"."status" = 'PENDING')) RETURNING "orders"."id", "orders"."user_id", "orders"."status", "orders"."payment_status", "orders"."payment_collected", "orders"."payment_reference", "orders"."subtotal", "orders"."shipping_amount", "orders"."tax_amount", "orders"."total_amount", "orders"."currency", "orders"."shipping_address", "orders"."tracking_carrier", "orders"."tracking_number", "orders"."version", "orders"."created_at", "orders"."updated_at";
SELECT pg_advisory_xact_lock(8029200564232811635);
INSERT INTO "order_events" ("order_id", "user_id", "type", "from_status", "to_status", "payment_status", "total_amount", "actor_id", "actor_role", "note") VALUES (:order_id::uuid, :u, 'order.paid', 'PENDING', 'PAID', 'captured', 5000, DEFAULT, DEFAULT, DEFAULT) RETURNING "order_events"."id", "order_events"."order_id", "order_events"."user_id", "order_events"."type", "order_events"."from_status", "order_events"."to_status", "order_events"."payment_status", "order_events"."total_amount", "order_events"."actor_id", "order_events"."actor_role", "order_events"."note", "order_events"."occurred_at";
SELECT pg_notify('oms_events', '[{"id": 1000002, "type": "order.paid", "order_id": "01a210f6-dc66-739f-904f-fa202fc40975", "user_id": 2, "from_status": "PENDING", "to_status": "PAID", "payment_status": "captured", "total_amount": 5000, "occurred_at": "2026-11-25T04.29.03.497708Z"}]');
COMMIT;
