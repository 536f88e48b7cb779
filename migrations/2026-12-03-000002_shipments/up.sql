-- Shipments and the unit accounting of lines (API.md version 3, "Shipments and refunds"); the
-- refund tables follow with the refunds.

-- Every unit of a line is open, shipped or cancelled; returned units are shipped units refunded
-- with `return` or `no_restock`. The CHECK holds the accounting against any writer.
ALTER TABLE order_items
    ADD COLUMN quantity_shipped   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN quantity_cancelled BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN quantity_returned  BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_items_units_add_up CHECK (
        quantity_shipped >= 0 AND quantity_cancelled >= 0 AND quantity_returned >= 0
        AND quantity_shipped + quantity_cancelled <= quantity
        AND quantity_returned <= quantity_shipped);

ALTER TABLE orders DROP CONSTRAINT orders_payment_status_check;
ALTER TABLE orders
    ADD CONSTRAINT orders_payment_status_check CHECK (payment_status IN
        ('unpaid', 'processing', 'captured', 'partially_refunded', 'refunded', 'failed')),
    ADD COLUMN fulfillment_status TEXT NOT NULL DEFAULT 'unfulfilled'
        CONSTRAINT orders_fulfillment_status_check
        CHECK (fulfillment_status IN ('unfulfilled', 'partially_fulfilled', 'fulfilled')),
    ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT orders_refunds_within_total
        CHECK (refunded_amount >= 0 AND refunded_amount <= total_amount);

-- Orders fulfilled before shipments existed shipped every unit at once; refunded ones gave back
-- their total.
UPDATE order_items i SET quantity_shipped = i.quantity
  FROM orders o WHERE o.id = i.order_id AND o.status = 'FULFILLED';
UPDATE orders SET fulfillment_status = 'fulfilled' WHERE status = 'FULFILLED';
UPDATE orders SET refunded_amount = total_amount WHERE payment_status = 'refunded';

-- A FULFILLED order has shipped everything it will ship (added once the rows above say so).
ALTER TABLE orders ADD CONSTRAINT orders_fulfilled_is_fulfilled
    CHECK (status <> 'FULFILLED' OR fulfillment_status = 'fulfilled');

CREATE TABLE shipments (
    id              UUID PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    carrier         TEXT CHECK (length(carrier) BETWEEN 1 AND 100),
    tracking_number TEXT CHECK (length(tracking_number) BETWEEN 1 AND 100),
    note            TEXT,
    actor_id        BIGINT REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT shipments_tracking_whole CHECK ((carrier IS NULL) = (tracking_number IS NULL))
);
-- An order's shipments, oldest first.
CREATE INDEX shipments_order_idx ON shipments (order_id, created_at, id);

CREATE TABLE shipment_items (
    shipment_id UUID NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    order_id    UUID NOT NULL,
    product_id  BIGINT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity >= 1),
    PRIMARY KEY (shipment_id, product_id),
    -- Only a product of the order ships.
    FOREIGN KEY (order_id, product_id) REFERENCES order_items (order_id, product_id)
        ON DELETE CASCADE
);

-- Each order fulfilled before shipments existed shipped in one shipment, with its tracking, when it
-- was last updated (the shipment's id is the order's: they are in different tables).
WITH s AS (
    INSERT INTO shipments (id, order_id, carrier, tracking_number, created_at)
    SELECT id, id, tracking_carrier, tracking_number, updated_at
      FROM orders WHERE status = 'FULFILLED'
    RETURNING id, order_id)
INSERT INTO shipment_items (shipment_id, order_id, product_id, quantity)
SELECT s.id, i.order_id, i.product_id, i.quantity
  FROM s JOIN order_items i ON i.order_id = s.order_id;

ALTER TABLE order_events DROP CONSTRAINT order_events_type_check;
ALTER TABLE order_events DROP CONSTRAINT order_events_payment_status_check;
ALTER TABLE order_events
    ADD CONSTRAINT order_events_type_check CHECK (type IN ('order.created', 'order.paid',
        'order.status_changed', 'order.cancelled', 'order.shipped', 'order.refunded')),
    ADD CONSTRAINT order_events_payment_status_check CHECK (payment_status IN
        ('unpaid', 'processing', 'captured', 'partially_refunded', 'refunded', 'failed')),
    -- The order's fulfillment and refunded total after the change, as the real-time JSON shows.
    ADD COLUMN fulfillment_status TEXT NOT NULL DEFAULT 'unfulfilled'
        CHECK (fulfillment_status IN ('unfulfilled', 'partially_fulfilled', 'fulfilled')),
    ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    -- The shipment an `order.shipped` (or a completing `order.status_changed`) reports.
    ADD COLUMN shipment_id UUID;
UPDATE order_events SET fulfillment_status = 'fulfilled' WHERE to_status = 'FULFILLED';
-- Cancelled orders cancelled their open units.
UPDATE order_items i SET quantity_cancelled = i.quantity - i.quantity_shipped
  FROM orders o WHERE o.id = i.order_id AND o.status = 'CANCELLED';
