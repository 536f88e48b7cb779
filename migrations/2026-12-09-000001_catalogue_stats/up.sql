-- Product images and the admin statistics (API.md version 3).

-- `null`, an absolute https:// URL or a path starting with `/`, as checked by the domain; the
-- length is held here too.
ALTER TABLE products
    ADD COLUMN image_url TEXT
        CONSTRAINT products_image_url_length CHECK (char_length(image_url) BETWEEN 1 AND 2048);

-- ---------------------------------------------------------------------------------------------
-- Statistics rollups, kept by triggers in the transactions that change orders (see
-- docs/architecture.md, "Admin statistics").
--
-- Every row is split over `slot`s: a writing session claims a slot of its own (a session-level
-- advisory lock, `order_stats_slot()`), so two transactions that run at the same time never
-- update the same rollup row: no waiting, and no lock-order cycle with the product and order
-- rows the writers lock. Readers sum the slots.
-- ---------------------------------------------------------------------------------------------

-- By the hour (UTC) of the orders' creation: `orders` every order; of the orders whose payment
-- was captured (`payment_collected`, kept through refunds): `paid_orders`, their `units`, their
-- `gross` total and what was `refunded` of it.
CREATE TABLE order_stats_hourly (
    hour        TIMESTAMPTZ NOT NULL CHECK (date_trunc('hour', hour, 'UTC') = hour),
    slot        SMALLINT NOT NULL,
    orders      BIGINT NOT NULL DEFAULT 0,
    paid_orders BIGINT NOT NULL DEFAULT 0,
    units       BIGINT NOT NULL DEFAULT 0,
    gross       BIGINT NOT NULL DEFAULT 0,
    refunded    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, slot)
) WITH (fillfactor = 70);

-- Orders by status now, `PENDING` orders waiting for the customer's payment (`unpaid` or
-- `failed`), and the open units (neither shipped nor cancelled) of `PAID` orders.
CREATE TABLE order_stats_counters (
    slot             SMALLINT PRIMARY KEY,
    pending          BIGINT NOT NULL DEFAULT 0,
    paid             BIGINT NOT NULL DEFAULT 0,
    fulfilled        BIGINT NOT NULL DEFAULT 0,
    cancelled        BIGINT NOT NULL DEFAULT 0,
    awaiting_payment BIGINT NOT NULL DEFAULT 0,
    units_to_ship    BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

-- One change of the rollups.
CREATE TYPE order_stats_delta AS (
    hour             TIMESTAMPTZ,
    orders           BIGINT,
    paid_orders      BIGINT,
    units            BIGINT,
    gross            BIGINT,
    refunded         BIGINT,
    pending          BIGINT,
    paid             BIGINT,
    fulfilled        BIGINT,
    cancelled        BIGINT,
    awaiting_payment BIGINT,
    units_to_ship    BIGINT
);

-- This session's slot, 0 to 63: the first whose advisory lock (key 1869574004 = "oms_st", slot)
-- the session takes, held until the session ends. Past 64 writing sessions, a slot shared by pid
-- (64 to 127): still correct, but those sessions may wait for each other.
CREATE FUNCTION order_stats_slot() RETURNS SMALLINT LANGUAGE plpgsql AS $$
DECLARE
    claimed TEXT := current_setting('oms.stats_slot', true);
BEGIN
    IF claimed IS NOT NULL AND claimed <> '' THEN
        RETURN claimed::SMALLINT;
    END IF;
    -- A rolled-back transaction forgets the setting but keeps the lock: the loop finds it again
    -- (advisory locks are re-entrant within a session).
    FOR i IN 0..63 LOOP
        IF pg_try_advisory_lock(1869574004, i) THEN
            PERFORM set_config('oms.stats_slot', i::TEXT, false);
            RETURN i;
        END IF;
    END LOOP;
    RETURN (64 + pg_backend_pid() % 64)::SMALLINT;
END $$;

-- Adds `deltas` to this session's slot: the counters row first, then the hours in order, so a
-- shared slot (past 64 sessions) is still taken in one order.
CREATE FUNCTION order_stats_apply(deltas order_stats_delta[]) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    s SMALLINT;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM unnest(deltas) d
         WHERE (d.orders, d.paid_orders, d.units, d.gross, d.refunded, d.pending, d.paid,
                d.fulfilled, d.cancelled, d.awaiting_payment, d.units_to_ship)
               IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)) THEN
        RETURN;
    END IF;
    s := order_stats_slot();
    INSERT INTO order_stats_counters AS t
           (slot, pending, paid, fulfilled, cancelled, awaiting_payment, units_to_ship)
    SELECT s, coalesce(sum(d.pending), 0), coalesce(sum(d.paid), 0), coalesce(sum(d.fulfilled), 0),
           coalesce(sum(d.cancelled), 0), coalesce(sum(d.awaiting_payment), 0),
           coalesce(sum(d.units_to_ship), 0)
      FROM unnest(deltas) d
    ON CONFLICT (slot) DO UPDATE
       SET pending = t.pending + EXCLUDED.pending,
           paid = t.paid + EXCLUDED.paid,
           fulfilled = t.fulfilled + EXCLUDED.fulfilled,
           cancelled = t.cancelled + EXCLUDED.cancelled,
           awaiting_payment = t.awaiting_payment + EXCLUDED.awaiting_payment,
           units_to_ship = t.units_to_ship + EXCLUDED.units_to_ship;
    INSERT INTO order_stats_hourly AS t (hour, slot, orders, paid_orders, units, gross, refunded)
    SELECT d.hour, s, sum(d.orders), sum(d.paid_orders), sum(d.units), sum(d.gross),
           sum(d.refunded)
      FROM unnest(deltas) d
     GROUP BY d.hour
    HAVING (sum(d.orders), sum(d.paid_orders), sum(d.units), sum(d.gross), sum(d.refunded))
           IS DISTINCT FROM (0, 0, 0, 0, 0)
     ORDER BY d.hour
    ON CONFLICT (hour, slot) DO UPDATE
       SET orders = t.orders + EXCLUDED.orders,
           paid_orders = t.paid_orders + EXCLUDED.paid_orders,
           units = t.units + EXCLUDED.units,
           gross = t.gross + EXCLUDED.gross,
           refunded = t.refunded + EXCLUDED.refunded;
END $$;

-- An order's share of the rollups (`sign` 1 to add it, -1 to take it away), with its items as
-- they are now.
CREATE FUNCTION order_stats_of(o orders, sign BIGINT) RETURNS order_stats_delta
LANGUAGE sql STABLE AS $$
    SELECT ROW(
        date_trunc('hour', o.created_at, 'UTC'),
        sign,
        CASE WHEN o.payment_collected THEN sign ELSE 0 END,
        CASE WHEN o.payment_collected
             THEN sign * (SELECT coalesce(sum(i.quantity), 0) FROM order_items i
                           WHERE i.order_id = o.id)
             ELSE 0 END,
        CASE WHEN o.payment_collected THEN sign * o.total_amount ELSE 0 END,
        CASE WHEN o.payment_collected THEN sign * o.refunded_amount ELSE 0 END,
        CASE WHEN o.status = 'PENDING' THEN sign ELSE 0 END,
        CASE WHEN o.status = 'PAID' THEN sign ELSE 0 END,
        CASE WHEN o.status = 'FULFILLED' THEN sign ELSE 0 END,
        CASE WHEN o.status = 'CANCELLED' THEN sign ELSE 0 END,
        CASE WHEN o.status = 'PENDING' AND o.payment_status IN ('unpaid', 'failed')
             THEN sign ELSE 0 END,
        CASE WHEN o.status = 'PAID'
             THEN sign * (SELECT coalesce(sum(i.quantity - i.quantity_shipped
                                              - i.quantity_cancelled), 0)
                            FROM order_items i WHERE i.order_id = o.id)
             ELSE 0 END
    )::order_stats_delta
$$;

-- Statement-level: one call per statement however many orders it writes (placement and status
-- changes write a batch at once). An update counts only where a field the rollups read changed.
CREATE FUNCTION order_stats_orders_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM order_stats_apply(ARRAY(SELECT order_stats_of(n, 1) FROM new_rows n));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM order_stats_apply(ARRAY(
            SELECT d FROM new_rows n JOIN old_rows o ON o.id = n.id,
                   LATERAL (VALUES (order_stats_of(n, 1)), (order_stats_of(o, -1))) AS v(d)
             WHERE (n.status, n.payment_status, n.payment_collected, n.total_amount,
                    n.refunded_amount, n.created_at)
                   IS DISTINCT FROM (o.status, o.payment_status, o.payment_collected,
                                     o.total_amount, o.refunded_amount, o.created_at)));
    ELSE
        PERFORM order_stats_apply(ARRAY(SELECT order_stats_of(o, -1) FROM old_rows o));
    END IF;
    RETURN NULL;
END $$;

-- Units of items that changed, by order.
CREATE TYPE order_stats_units AS (order_id UUID, units BIGINT, open BIGINT);

-- Items move `units` (of a captured order) and `units_to_ship` (of a `PAID` order).
CREATE FUNCTION order_stats_of_items(changes order_stats_units[]) RETURNS order_stats_delta[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY(
        SELECT ROW(date_trunc('hour', o.created_at, 'UTC'), 0, 0,
                   CASE WHEN o.payment_collected THEN c.units ELSE 0 END, 0, 0, 0, 0, 0, 0, 0,
                   CASE WHEN o.status = 'PAID' THEN c.open ELSE 0 END)::order_stats_delta
          FROM unnest(changes) c
          JOIN orders o ON o.id = c.order_id
         WHERE o.payment_collected OR o.status = 'PAID')
$$;

CREATE FUNCTION order_stats_items_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    -- (order, units, open units) added (+) or taken away (-) by this statement.
    IF TG_OP = 'INSERT' THEN
        PERFORM order_stats_apply(order_stats_of_items(ARRAY(
            SELECT ROW(n.order_id, n.quantity,
                       n.quantity - n.quantity_shipped - n.quantity_cancelled)::order_stats_units
              FROM new_rows n)));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM order_stats_apply(order_stats_of_items(ARRAY(
            SELECT ROW(n.order_id, n.quantity - o.quantity,
                       (n.quantity - n.quantity_shipped - n.quantity_cancelled)
                       - (o.quantity - o.quantity_shipped - o.quantity_cancelled)
                   )::order_stats_units
              FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.order_id, n.quantity, n.quantity_shipped, n.quantity_cancelled)
                   IS DISTINCT FROM (o.order_id, o.quantity, o.quantity_shipped,
                                     o.quantity_cancelled))));
    ELSE
        PERFORM order_stats_apply(order_stats_of_items(ARRAY(
            SELECT ROW(o.order_id, -o.quantity,
                       -(o.quantity - o.quantity_shipped - o.quantity_cancelled))::order_stats_units
              FROM old_rows o)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER order_stats_orders_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_stats_orders_changed();
CREATE TRIGGER order_stats_orders_updated AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_stats_orders_changed();
CREATE TRIGGER order_stats_orders_deleted AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_stats_orders_changed();
CREATE TRIGGER order_stats_items_inserted AFTER INSERT ON order_items
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_stats_items_changed();
CREATE TRIGGER order_stats_items_updated AFTER UPDATE ON order_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_stats_items_changed();
CREATE TRIGGER order_stats_items_deleted AFTER DELETE ON order_items
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_stats_items_changed();

-- The order generator (`oms seed-demo --orders N`) sets `session_replication_role = replica` to
-- skip foreign-key checks; these triggers must run even then.
ALTER TABLE orders ENABLE ALWAYS TRIGGER order_stats_orders_inserted;
ALTER TABLE orders ENABLE ALWAYS TRIGGER order_stats_orders_updated;
ALTER TABLE orders ENABLE ALWAYS TRIGGER order_stats_orders_deleted;
ALTER TABLE order_items ENABLE ALWAYS TRIGGER order_stats_items_inserted;
ALTER TABLE order_items ENABLE ALWAYS TRIGGER order_stats_items_updated;
ALTER TABLE order_items ENABLE ALWAYS TRIGGER order_stats_items_deleted;

-- The backfill: the triggers above hold their tables' locks until this migration commits, so no
-- order changes between the count and the commit.
INSERT INTO order_stats_hourly (hour, slot, orders, paid_orders, units, gross, refunded)
SELECT date_trunc('hour', o.created_at, 'UTC'), 0, count(*),
       count(*) FILTER (WHERE o.payment_collected),
       coalesce(sum(u.units) FILTER (WHERE o.payment_collected), 0),
       coalesce(sum(o.total_amount) FILTER (WHERE o.payment_collected), 0),
       coalesce(sum(o.refunded_amount) FILTER (WHERE o.payment_collected), 0)
  FROM orders o
  LEFT JOIN (SELECT order_id, sum(quantity) AS units FROM order_items GROUP BY order_id) u
         ON u.order_id = o.id
 GROUP BY 1;

INSERT INTO order_stats_counters
       (slot, pending, paid, fulfilled, cancelled, awaiting_payment, units_to_ship)
SELECT 0,
       count(*) FILTER (WHERE o.status = 'PENDING'),
       count(*) FILTER (WHERE o.status = 'PAID'),
       count(*) FILTER (WHERE o.status = 'FULFILLED'),
       count(*) FILTER (WHERE o.status = 'CANCELLED'),
       count(*) FILTER (WHERE o.status = 'PENDING' AND o.payment_status IN ('unpaid', 'failed')),
       coalesce(sum(u.open) FILTER (WHERE o.status = 'PAID'), 0)
  FROM orders o
  LEFT JOIN (SELECT order_id, sum(quantity - quantity_shipped - quantity_cancelled) AS open
               FROM order_items GROUP BY order_id) u
         ON u.order_id = o.id;

-- `failed_webhook_deliveries`: counted from this partial index alone.
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (id) WHERE status = 'failed';
