\set a random(:pfirst, :plast - 1)
\set b :a + 1
\set u random(:ufirst, :ulast)
-- (a) Exactly the statements `oms serve` sends to PostgreSQL for one `POST /api/orders` of a
-- 2-line order paid with `tok_visa` (simulated provider), in the same order, as one pgbench
-- transaction: 16 statements in three steps.
--   1. the placement transaction (crates/adapters-postgres/src/orders/place.rs, events.rs):
--      lock the products, insert the order, take the stock and insert the items (one
--      statement), the event lock, the `order.created` event, its NOTIFY;
--   2. the simulated provider's charge (payments_simulated.rs), outside any transaction;
--   3. PENDING -> PAID (orders/status.rs, events.rs): lock the order, read its items, update it,
--      the event lock, the `order.paid` event, its NOTIFY.
-- The statement texts were captured from the server with `log_statement = 'all'`; only the
-- values differ: the server binds them as parameters, here some are literals (the values the
-- bench's HTTP orders have: 1 + 2 units at 1500 cents, 500 shipping, 5000 in all), and the
-- products' id array is written ARRAY[a, b] from two pgbench variables (they are scalars).
-- The order id is a UUID v7 made in SQL (the server makes it in Rust). The NOTIFY payloads are
-- literals as long as the real ones, with a space after each colon and dots in the time:
-- pgbench takes a colon followed by a letter or digit for a variable, even inside a literal.
-- Variables (-D): pfirst, plast (bench product ids), ufirst, ulast (bench customer ids).
-- pgbench wants its meta-commands (the \set lines above) before any comment.
BEGIN;
SELECT id, name, sku, price, stock_quantity, archived FROM products WHERE id = ANY(ARRAY[:a, :b]::bigint[]) ORDER BY id FOR UPDATE;
INSERT INTO "orders" ("id", "user_id", "status", "payment_status", "payment_attempted_at", "subtotal", "shipping_amount", "tax_amount", "total_amount", "currency", "shipping_address") VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid, :u, 'PENDING', 'processing', now(), 4500, 500, 0, 5000, 'USD', '{"city": "London", "name": "Ada Lovelace", "line1": "1 Main St", "line2": null, "region": null, "country": "GB", "postal_code": "N1 9GU"}') RETURNING "orders"."id" AS order_id, "orders"."user_id", "orders"."status", "orders"."payment_status", "orders"."payment_collected", "orders"."payment_reference", "orders"."subtotal", "orders"."shipping_amount", "orders"."tax_amount", "orders"."total_amount", "orders"."currency", "orders"."shipping_address", "orders"."tracking_carrier", "orders"."tracking_number", "orders"."version", "orders"."created_at", "orders"."updated_at" \gset
WITH taken AS ( UPDATE products p SET stock_quantity = p.stock_quantity - v.quantity, version = p.version + 1, updated_at = now() FROM unnest(ARRAY[:a, :b]::bigint[], ARRAY[1, 2]::bigint[]) AS v(product_id, quantity) WHERE p.id = v.product_id) INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) SELECT :order_id::uuid, v.product_id, v.sku, v.name, v.quantity, v.unit_price FROM unnest(ARRAY[:a, :b]::bigint[], ARRAY['BENCH-P0001', 'BENCH-P0002']::text[], ARRAY['Bench product 1', 'Bench product 2']::text[], ARRAY[1, 2]::bigint[], ARRAY[1500, 1500]::bigint[]) WITH ORDINALITY AS v(product_id, sku, name, quantity, unit_price, n) ORDER BY v.n RETURNING id, order_id, product_id, sku, name, quantity, unit_price;
SELECT pg_advisory_xact_lock(8029200564232811635);
INSERT INTO "order_events" ("order_id", "user_id", "type", "from_status", "to_status", "payment_status", "total_amount", "actor_id", "actor_role", "note") VALUES (:order_id::uuid, :u, 'order.created', DEFAULT, 'PENDING', 'processing', 5000, DEFAULT, DEFAULT, DEFAULT) RETURNING "order_events"."id", "order_events"."order_id", "order_events"."user_id", "order_events"."type", "order_events"."from_status", "order_events"."to_status", "order_events"."payment_status", "order_events"."total_amount", "order_events"."actor_id", "order_events"."actor_role", "order_events"."note", "order_events"."occurred_at";
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
