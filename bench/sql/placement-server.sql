\set a random(:pfirst, :plast - 1)
\set b :a + 1
\set u random(:ufirst, :ulast)
-- (a) Exactly the statements `oms serve` sends to PostgreSQL for one `POST /api/orders` of a
-- 2-line order paid with `tok_visa` (simulated provider), in the same order, as one pgbench
-- transaction: 18 statements in three steps.
--   1. the placement transaction (crates/adapters-postgres/src/orders/place.rs, events.rs,
--      batch.rs): no sequential scan (`SET LOCAL enable_seqscan`), lock the
--      products, insert the order, take the stock and insert the items (one
--      statement), the event lock, the `order.created` event, its NOTIFY;
--   2. the simulated provider's charge (payments_simulated.rs), outside any transaction;
--   3. PENDING -> PAID (orders/status.rs, events.rs): `SET LOCAL enable_seqscan`, lock the
--      order, read its items, update it, the event lock, the `order.paid` event, its NOTIFY.
-- The statement texts were captured from the server (diesel's instrumentation, the
-- `round_trips` test) for a transaction of one placement, which is what a pgbench client
-- sends: it has nobody to share a transaction with. Only the values differ: the server binds
-- them as parameters (arrays, one element per order of the batch), here they are literals (the
-- values the bench's HTTP orders have: 1 + 2 units at 1500 cents, 500 shipping, 5000 in all) and
-- the arrays are written ARRAY[...] from pgbench variables (they are scalars).
-- The order id is a UUID v7 made in SQL (the server makes it in Rust). The NOTIFY payloads are
-- literals as long as the real ones, with a space after each colon and dots in the time:
-- pgbench takes a colon followed by a letter or digit for a variable, even inside a literal.
-- Variables (-D): pfirst, plast (bench product ids), ufirst, ulast (bench customer ids).
-- pgbench wants its meta-commands (the \set lines above) before any comment.
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT id, name, sku, price, stock_quantity, archived FROM products WHERE id = ANY(ARRAY[:a, :b]::bigint[]) ORDER BY id FOR UPDATE;
INSERT INTO orders (id, user_id, status, payment_status, payment_attempted_at, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address, item_count) SELECT v.id, v.user_id, 'PENDING', v.payment_status, CASE WHEN v.payment_status = 'processing' THEN now() END, v.subtotal, v.shipping, v.tax, v.total, v.currency, v.address::jsonb, v.units FROM unnest(ARRAY[(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid]::uuid[], ARRAY[:u]::bigint[], ARRAY['processing']::text[], ARRAY[4500]::bigint[], ARRAY[500]::bigint[], ARRAY[0]::bigint[], ARRAY[5000]::bigint[], ARRAY['USD']::text[], ARRAY['{"city": "London", "name": "Ada Lovelace", "line1": "1 Main St", "line2": null, "region": null, "country": "GB", "postal_code": "N1 9GU"}']::text[], ARRAY[3]::bigint[]) AS v(id, user_id, payment_status, subtotal, shipping, tax, total, currency, address, units) RETURNING id, user_id, status, payment_status, payment_collected, payment_reference, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address, tracking_carrier, tracking_number, version, created_at, updated_at \gset
WITH taken AS ( UPDATE products p SET stock_quantity = p.stock_quantity - v.quantity, version = p.version + 1, updated_at = now() FROM unnest(ARRAY[:a, :b]::bigint[], ARRAY[1, 2]::bigint[]) AS v(product_id, quantity) WHERE p.id = v.product_id) INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) SELECT v.order_id, v.product_id, v.sku, v.name, v.quantity, v.unit_price FROM unnest(ARRAY[:id, :id]::uuid[], ARRAY[:a, :b]::bigint[], ARRAY['BENCH-P0001', 'BENCH-P0002']::text[], ARRAY['Bench product 1', 'Bench product 2']::text[], ARRAY[1, 2]::bigint[], ARRAY[1500, 1500]::bigint[]) WITH ORDINALITY AS v(order_id, product_id, sku, name, quantity, unit_price, n) ORDER BY v.n RETURNING id, order_id, product_id, sku, name, quantity, unit_price;
SELECT pg_advisory_xact_lock(8029200564232811635);
INSERT INTO order_events (order_id, user_id, type, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note) SELECT v.order_id, v.user_id, v.type, v.from_status, v.to_status, v.payment_status, v.total_amount, v.actor_id, v.actor_role, v.note FROM unnest(ARRAY[:id]::uuid[], ARRAY[:u]::bigint[], ARRAY['order.created']::text[], ARRAY[NULL]::text[], ARRAY['PENDING']::text[], ARRAY['processing']::text[], ARRAY[5000]::bigint[], ARRAY[NULL]::bigint[], ARRAY[NULL]::text[], ARRAY[NULL]::text[]) WITH ORDINALITY AS v(order_id, user_id, type, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note, n) ORDER BY v.n RETURNING id, order_id, user_id, type AS kind, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note, occurred_at;
SELECT pg_notify('oms_events', '[{"id": 1000001, "type": "order.created", "order_id": "01a210f6-dc66-739f-904f-fa202fc40975", "user_id": 2, "from_status": null, "to_status": "PENDING", "payment_status": "processing", "total_amount": 5000, "occurred_at": "2026-11-25T04.29.03.465842Z"}]');
COMMIT;
INSERT INTO simulated_charges (order_id, token, amount, currency, status, reference) VALUES (:id::uuid, 'tok_visa', 5000, 'USD', 'captured', 'sim_' || md5(random()::text)) ON CONFLICT (order_id) DO UPDATE SET token = EXCLUDED.token, amount = EXCLUDED.amount, currency = EXCLUDED.currency, status = EXCLUDED.status, reference = EXCLUDED.reference, updated_at = now() WHERE simulated_charges.status = 'declined' RETURNING status, reference;
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT "orders"."id", "orders"."user_id", "orders"."status", "orders"."payment_status", "orders"."payment_collected", "orders"."payment_reference", "orders"."subtotal", "orders"."shipping_amount", "orders"."tax_amount", "orders"."total_amount", "orders"."currency", "orders"."shipping_address", "orders"."tracking_carrier", "orders"."tracking_number", "orders"."version", "orders"."created_at", "orders"."updated_at" FROM "orders" WHERE ("orders"."id" = ANY(ARRAY[:id]::uuid[])) ORDER BY "orders"."id" ASC FOR UPDATE;
SELECT "order_items"."id", "order_items"."order_id", "order_items"."product_id", "order_items"."sku", "order_items"."name", "order_items"."quantity", "order_items"."unit_price" FROM "order_items" WHERE ("order_items"."order_id" = ANY(ARRAY[:id]::uuid[])) ORDER BY "order_items"."id" ASC;
UPDATE orders o SET status = v.status, payment_status = v.payment_status, payment_collected = v.collected, payment_reference = v.reference, tracking_carrier = v.carrier, tracking_number = v.number, version = o.version + 1, updated_at = now() FROM unnest(ARRAY[:id]::uuid[], ARRAY['PENDING']::text[], ARRAY['PAID']::text[], ARRAY['captured']::text[], ARRAY[true]::bool[], ARRAY['sim_01a210f6dc8173e8aec73d1ac4e4acba']::text[], ARRAY[NULL]::text[], ARRAY[NULL]::text[]) AS v(id, from_status, status, payment_status, collected, reference, carrier, number) WHERE o.id = v.id AND o.status = v.from_status RETURNING o.id, o.user_id, o.status, o.payment_status, o.payment_collected, o.payment_reference, o.subtotal, o.shipping_amount, o.tax_amount, o.total_amount, o.currency, o.shipping_address, o.tracking_carrier, o.tracking_number, o.version, o.created_at, o.updated_at;
SELECT pg_advisory_xact_lock(8029200564232811635);
INSERT INTO order_events (order_id, user_id, type, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note) SELECT v.order_id, v.user_id, v.type, v.from_status, v.to_status, v.payment_status, v.total_amount, v.actor_id, v.actor_role, v.note FROM unnest(ARRAY[:id]::uuid[], ARRAY[:u]::bigint[], ARRAY['order.paid']::text[], ARRAY['PENDING']::text[], ARRAY['PAID']::text[], ARRAY['captured']::text[], ARRAY[5000]::bigint[], ARRAY[NULL]::bigint[], ARRAY[NULL]::text[], ARRAY[NULL]::text[]) WITH ORDINALITY AS v(order_id, user_id, type, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note, n) ORDER BY v.n RETURNING id, order_id, user_id, type AS kind, from_status, to_status, payment_status, total_amount, actor_id, actor_role, note, occurred_at;
SELECT pg_notify('oms_events', '[{"id": 1000002, "type": "order.paid", "order_id": "01a210f6-dc66-739f-904f-fa202fc40975", "user_id": 2, "from_status": "PENDING", "to_status": "PAID", "payment_status": "captured", "total_amount": 5000, "occurred_at": "2026-11-25T04.29.03.497708Z"}]');
COMMIT;
