-- Back to the first version of the statistics triggers (2026-12-09-000001_catalogue_stats).

CREATE OR REPLACE FUNCTION order_stats_orders_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION order_stats_items_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
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
