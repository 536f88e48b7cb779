DROP TABLE simulated_refunds;
ALTER TABLE order_events DROP COLUMN amount, DROP COLUMN refund_id;
ALTER TABLE orders DROP COLUMN refund_count, DROP COLUMN shipping_refunded;
DROP TABLE refund_items;
DROP TABLE refunds;
