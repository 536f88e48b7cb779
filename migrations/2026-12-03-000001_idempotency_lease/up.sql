-- The idempotency lease (API.md, "Orders"): a request that never answered because its instance
-- died holds its key only until `leased_until`. A retry after that takes the key over with a new
-- `claim` and finishes the work of `resource_id` (the order the first request was creating, or
-- paying). Only the current claim may store the answer or release the key.
ALTER TABLE idempotency_keys
    ADD COLUMN claim        UUID NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN resource_id  UUID,
    ADD COLUMN leased_until TIMESTAMPTZ NOT NULL DEFAULT now();

-- Charges are idempotent at the provider by (order, attempt): a retried attempt never charges
-- twice; paying again after a failed attempt is a new attempt.
ALTER TABLE orders
    ADD COLUMN payment_attempt INTEGER NOT NULL DEFAULT 1
        CONSTRAINT orders_payment_attempt_positive CHECK (payment_attempt >= 1);

ALTER TABLE simulated_charges
    ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1
        CONSTRAINT simulated_charges_attempt_positive CHECK (attempt >= 1);

-- The reconciler's look for its next due time: the oldest charge in flight.
CREATE INDEX orders_processing_idx ON orders (payment_attempted_at)
    WHERE status = 'PENDING' AND payment_status = 'processing';
