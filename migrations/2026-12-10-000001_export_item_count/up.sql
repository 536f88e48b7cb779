-- The number of units of each order, kept on the order so that the CSV export (API.md, "Admin
-- orders") reads one row per order instead of aggregating its lines. A line's `quantity` never
-- changes after placement (shipping, cancelling and returning units move the `quantity_*`
-- columns), so the count written with the order stays right.
--
-- NULL means "not counted": an order placed by a binary older than this migration during a
-- rolling deploy. The export then counts that order's lines itself, so it is never wrong, only
-- slower for those few rows.
ALTER TABLE orders ADD COLUMN item_count BIGINT CHECK (item_count >= 0);

UPDATE orders o
   SET item_count = s.units
  FROM (SELECT order_id, sum(quantity)::bigint AS units FROM order_items GROUP BY order_id) s
 WHERE s.order_id = o.id;
