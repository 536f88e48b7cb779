-- Partial refunds and returns (API.md version 3, "Shipments and refunds").

-- A refund is reserved `pending` (its units and amount held against every other refund) before
-- the provider is called, outside any transaction; it becomes `succeeded` (units, stock, money
-- move, exactly once, with its event) or `failed` (the reservation is released).
CREATE TABLE refunds (
    id                 UUID PRIMARY KEY,
    order_id           UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount             BIGINT NOT NULL CHECK (amount >= 0),
    shipping           BOOLEAN NOT NULL DEFAULT false,
    reason             TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_reference TEXT,
    actor_id           BIGINT REFERENCES users (id),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- An order's refunds, oldest first.
CREATE INDEX refunds_order_idx ON refunds (order_id, created_at, id);
-- The reconciler's look for refunds whose provider answer was lost.
CREATE INDEX refunds_pending_idx ON refunds (created_at) WHERE status = 'pending';

CREATE TABLE refund_items (
    refund_id  UUID NOT NULL REFERENCES refunds (id) ON DELETE CASCADE,
    order_id   UUID NOT NULL,
    product_id BIGINT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity >= 1),
    restock    TEXT NOT NULL CHECK (restock IN ('cancel', 'return', 'no_restock')),
    PRIMARY KEY (refund_id, product_id, restock),
    -- Only a product of the order is refunded.
    FOREIGN KEY (order_id, product_id) REFERENCES order_items (order_id, product_id)
        ON DELETE CASCADE
);

-- Whether the shipping amount was refunded (at most once), and how many refunds were reserved
-- (any status): reading an order looks for its refunds only when there are some.
ALTER TABLE orders
    ADD COLUMN shipping_refunded BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN refund_count INTEGER NOT NULL DEFAULT 0 CHECK (refund_count >= 0);

-- The refund an `order.refunded` (or a completing `order.status_changed`) reports, and its amount.
ALTER TABLE order_events ADD COLUMN refund_id UUID, ADD COLUMN amount BIGINT;

-- The simulated provider's refunds, keyed by our refund id (its idempotency key).
CREATE TABLE simulated_refunds (
    refund_id  UUID PRIMARY KEY,
    order_id   UUID NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount >= 0),
    status     TEXT NOT NULL CHECK (status IN ('succeeded', 'refused')),
    reference  TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
