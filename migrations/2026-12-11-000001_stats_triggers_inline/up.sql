-- The statistics triggers (2026-12-09-000001_catalogue_stats), same rollups, cheaper.
--
-- The first version called SQL functions (`order_stats_of`, `order_stats_of_items`) whose bodies
-- hold subqueries. PostgreSQL 15 inlines no such function and keeps no plan of a SQL function
-- between statements, so every trigger firing parsed and planned those bodies again: about
-- 1.5 ms per placement, a third of the server's throughput and two thirds of pgbench's script (c)
-- (see bench/README.md, "Statistics triggers"). Here each trigger is one PL/pgSQL query whose
-- plan PL/pgSQL keeps for the session, an order's lines are read once (sums of units and of open
-- units together) and only when a share needs them, and nothing is applied when nothing moved.

CREATE OR REPLACE FUNCTION order_stats_orders_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    deltas order_stats_delta[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        deltas := ARRAY(
            SELECT ROW(date_trunc('hour', n.created_at, 'UTC'), 1,
                       CASE WHEN n.payment_collected THEN 1 ELSE 0 END,
                       CASE WHEN n.payment_collected THEN coalesce(u.units, 0) ELSE 0 END,
                       CASE WHEN n.payment_collected THEN n.total_amount ELSE 0 END,
                       CASE WHEN n.payment_collected THEN n.refunded_amount ELSE 0 END,
                       CASE WHEN n.status = 'PENDING' THEN 1 ELSE 0 END,
                       CASE WHEN n.status = 'PAID' THEN 1 ELSE 0 END,
                       CASE WHEN n.status = 'FULFILLED' THEN 1 ELSE 0 END,
                       CASE WHEN n.status = 'CANCELLED' THEN 1 ELSE 0 END,
                       CASE WHEN n.status = 'PENDING' AND n.payment_status IN ('unpaid', 'failed')
                            THEN 1 ELSE 0 END,
                       CASE WHEN n.status = 'PAID' THEN coalesce(u.open, 0) ELSE 0 END
                   )::order_stats_delta
              FROM new_rows n
              LEFT JOIN LATERAL (
                   SELECT sum(i.quantity)::BIGINT AS units,
                          sum(i.quantity - i.quantity_shipped - i.quantity_cancelled)::BIGINT AS open
                     FROM order_items i
                    WHERE i.order_id = n.id AND (n.payment_collected OR n.status = 'PAID')) u
                ON true);
    ELSIF TG_OP = 'UPDATE' THEN
        -- The new share minus the old, where a field the rollups read changed; the lines are the
        -- same for both (this statement changed only orders).
        deltas := ARRAY(
            SELECT ROW(date_trunc('hour', r.created_at, 'UTC'), r.sign,
                       CASE WHEN r.collected THEN r.sign ELSE 0 END,
                       CASE WHEN r.collected THEN r.sign * coalesce(u.units, 0) ELSE 0 END,
                       CASE WHEN r.collected THEN r.sign * r.total ELSE 0 END,
                       CASE WHEN r.collected THEN r.sign * r.refunded ELSE 0 END,
                       CASE WHEN r.status = 'PENDING' THEN r.sign ELSE 0 END,
                       CASE WHEN r.status = 'PAID' THEN r.sign ELSE 0 END,
                       CASE WHEN r.status = 'FULFILLED' THEN r.sign ELSE 0 END,
                       CASE WHEN r.status = 'CANCELLED' THEN r.sign ELSE 0 END,
                       CASE WHEN r.status = 'PENDING' AND r.payment_status IN ('unpaid', 'failed')
                            THEN r.sign ELSE 0 END,
                       CASE WHEN r.status = 'PAID' THEN r.sign * coalesce(u.open, 0) ELSE 0 END
                   )::order_stats_delta
              FROM new_rows n
              JOIN old_rows o ON o.id = n.id
              LEFT JOIN LATERAL (
                   SELECT sum(i.quantity)::BIGINT AS units,
                          sum(i.quantity - i.quantity_shipped - i.quantity_cancelled)::BIGINT AS open
                     FROM order_items i
                    WHERE i.order_id = n.id
                      AND (n.payment_collected OR o.payment_collected
                           OR n.status = 'PAID' OR o.status = 'PAID')) u
                ON true
             CROSS JOIN LATERAL (VALUES
                   (1::BIGINT, n.created_at, n.status, n.payment_status, n.payment_collected,
                    n.total_amount, n.refunded_amount),
                   (-1::BIGINT, o.created_at, o.status, o.payment_status, o.payment_collected,
                    o.total_amount, o.refunded_amount))
                AS r(sign, created_at, status, payment_status, collected, total, refunded)
             WHERE (n.status, n.payment_status, n.payment_collected, n.total_amount,
                    n.refunded_amount, n.created_at)
                   IS DISTINCT FROM (o.status, o.payment_status, o.payment_collected,
                                     o.total_amount, o.refunded_amount, o.created_at));
    ELSE
        deltas := ARRAY(
            SELECT ROW(date_trunc('hour', o.created_at, 'UTC'), -1,
                       CASE WHEN o.payment_collected THEN -1 ELSE 0 END,
                       CASE WHEN o.payment_collected THEN -coalesce(u.units, 0) ELSE 0 END,
                       CASE WHEN o.payment_collected THEN -o.total_amount ELSE 0 END,
                       CASE WHEN o.payment_collected THEN -o.refunded_amount ELSE 0 END,
                       CASE WHEN o.status = 'PENDING' THEN -1 ELSE 0 END,
                       CASE WHEN o.status = 'PAID' THEN -1 ELSE 0 END,
                       CASE WHEN o.status = 'FULFILLED' THEN -1 ELSE 0 END,
                       CASE WHEN o.status = 'CANCELLED' THEN -1 ELSE 0 END,
                       CASE WHEN o.status = 'PENDING' AND o.payment_status IN ('unpaid', 'failed')
                            THEN -1 ELSE 0 END,
                       CASE WHEN o.status = 'PAID' THEN -coalesce(u.open, 0) ELSE 0 END
                   )::order_stats_delta
              FROM old_rows o
              LEFT JOIN LATERAL (
                   SELECT sum(i.quantity)::BIGINT AS units,
                          sum(i.quantity - i.quantity_shipped - i.quantity_cancelled)::BIGINT AS open
                     FROM order_items i
                    WHERE i.order_id = o.id AND (o.payment_collected OR o.status = 'PAID')) u
                ON true);
    END IF;
    IF cardinality(deltas) > 0 THEN
        PERFORM order_stats_apply(deltas);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION order_stats_items_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    deltas order_stats_delta[];
BEGIN
    -- (order, units, open units) added (+) or taken away (-) by this statement, counted where
    -- the order is captured (units) or `PAID` (open units).
    IF TG_OP = 'INSERT' THEN
        deltas := ARRAY(
            SELECT ROW(date_trunc('hour', o.created_at, 'UTC'), 0, 0,
                       CASE WHEN o.payment_collected THEN c.units ELSE 0 END, 0, 0, 0, 0, 0, 0, 0,
                       CASE WHEN o.status = 'PAID' THEN c.open ELSE 0 END)::order_stats_delta
              FROM (SELECT n.order_id, sum(n.quantity)::BIGINT AS units,
                           sum(n.quantity - n.quantity_shipped - n.quantity_cancelled)::BIGINT AS open
                      FROM new_rows n GROUP BY n.order_id) c
              JOIN orders o ON o.id = c.order_id
             WHERE o.payment_collected OR o.status = 'PAID');
    ELSIF TG_OP = 'UPDATE' THEN
        deltas := ARRAY(
            SELECT ROW(date_trunc('hour', o.created_at, 'UTC'), 0, 0,
                       CASE WHEN o.payment_collected THEN c.units ELSE 0 END, 0, 0, 0, 0, 0, 0, 0,
                       CASE WHEN o.status = 'PAID' THEN c.open ELSE 0 END)::order_stats_delta
              FROM (SELECT d.order_id, sum(d.units)::BIGINT AS units, sum(d.open)::BIGINT AS open
                      FROM (SELECT n.order_id, n.quantity AS units,
                                   n.quantity - n.quantity_shipped - n.quantity_cancelled AS open
                              FROM new_rows n
                            UNION ALL
                            SELECT p.order_id, -p.quantity,
                                   -(p.quantity - p.quantity_shipped - p.quantity_cancelled)
                              FROM old_rows p) d
                     GROUP BY d.order_id
                    HAVING sum(d.units) <> 0 OR sum(d.open) <> 0) c
              JOIN orders o ON o.id = c.order_id
             WHERE o.payment_collected OR o.status = 'PAID');
    ELSE
        deltas := ARRAY(
            SELECT ROW(date_trunc('hour', o.created_at, 'UTC'), 0, 0,
                       CASE WHEN o.payment_collected THEN -c.units ELSE 0 END, 0, 0, 0, 0, 0, 0, 0,
                       CASE WHEN o.status = 'PAID' THEN -c.open ELSE 0 END)::order_stats_delta
              FROM (SELECT p.order_id, sum(p.quantity)::BIGINT AS units,
                           sum(p.quantity - p.quantity_shipped - p.quantity_cancelled)::BIGINT AS open
                      FROM old_rows p GROUP BY p.order_id) c
              JOIN orders o ON o.id = c.order_id
             WHERE o.payment_collected OR o.status = 'PAID');
    END IF;
    IF cardinality(deltas) > 0 THEN
        PERFORM order_stats_apply(deltas);
    END IF;
    RETURN NULL;
END $$;
