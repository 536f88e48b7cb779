ALTER TABLE order_events DROP COLUMN shipment_id, DROP COLUMN refunded_amount,
    DROP COLUMN fulfillment_status;
ALTER TABLE order_events DROP CONSTRAINT order_events_type_check,
    DROP CONSTRAINT order_events_payment_status_check;
ALTER TABLE order_events
    ADD CONSTRAINT order_events_type_check CHECK (type IN ('order.created', 'order.paid',
        'order.status_changed', 'order.cancelled')),
    ADD CONSTRAINT order_events_payment_status_check CHECK (payment_status IN
        ('unpaid', 'processing', 'captured', 'refunded', 'failed'));
DROP TABLE shipment_items;
DROP TABLE shipments;
ALTER TABLE orders DROP CONSTRAINT orders_fulfilled_is_fulfilled,
    DROP CONSTRAINT orders_refunds_within_total, DROP COLUMN refunded_amount,
    DROP COLUMN fulfillment_status, DROP CONSTRAINT orders_payment_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_payment_status_check CHECK (payment_status IN
    ('unpaid', 'processing', 'captured', 'refunded', 'failed'));
ALTER TABLE order_items DROP CONSTRAINT order_items_units_add_up, DROP COLUMN quantity_returned,
    DROP COLUMN quantity_cancelled, DROP COLUMN quantity_shipped;
